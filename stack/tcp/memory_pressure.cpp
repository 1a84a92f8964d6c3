// What the stack does about TCP buffer memory (TcpConfig::memory_max):
// charging connections to the budget (memory_budget.hpp) and the pressure
// behaviour, as Linux's tcp_mem.
//
// Theory of operation
// -------------------
// Buffers grow in exactly three ways: step 7 stores a segment in the
// receive ring (memory_admit_rx(), before the write), the application
// queues data in the send ring (send() and send_commit(), bounded by
// memory_send_room(), charged after by recharge()), and auto-tuning enlarges
// the receive ring (memory_admit_growth()). They shrink only when a ring's
// storage is released (idle reclaim, TIME-WAIT, pruning, the TCB freed),
// each followed by recharge() or memory_forget(). Each is O(1).
//
// Under pressure (usage above 2/3 of memory_max until it falls below 1/2):
//   * out-of-order data is pruned when pressure begins, from the connections
//     that have held it longest (ooo_holders_, a FIFO, amortized O(1)),
//     until usage is below the low mark, and no new out-of-order data is
//     stored. Only a receive ring without in-order data is pruned: its
//     storage is then released, which is what gives the memory back. Pruned
//     data was never acknowledged (SACKed at most, RFC 2018 8 lets a
//     receiver renege), so the peer retransmits it; in-order data, which
//     was acknowledged, is never touched;
//   * the window offered for new data is at most 4 segments (as Linux
//     clamps rcv_ssthresh), never moving the right edge left (RFC 9293
//     3.8.6);
//   * auto-tuning does not grow buffers;
//   * empty buffers are released as soon as the connection is visited;
//   * new connections are refused: a SYN takes the cookie path (or is
//     dropped with cookies off), a cookie ACK is dropped, connect() fails
//     with Error::kNoMemory.
// At the hard limit in-order segments are dropped (not acknowledged, the
// peer retransmits) and application writes wait, except within each ring's
// guaranteed first page (kMemGuaranteed), so every connection can still move.
#include <algorithm>

#include "stack/tcp/tcp_stack_impl.hpp"

namespace tapstack::tcp {

void TcpStack::Impl::recharge(std::uint32_t index) {
    if (index >= tcbs.size() || !tcbs[index]) return;
    Tcb& t = *tcbs[index];
    const std::size_t now_charged = t.send_buf.footprint() + t.recv_buf.footprint();
    if (now_charged == t.mem_charged) return;
    const std::size_t before = t.mem_charged;
    t.mem_charged = now_charged;
    if (budget_.adjust(before, now_charged)) {
        counters.inc(Counter::memory_pressure_entered);
        prune_ooo(index);
    }
}

void TcpStack::Impl::memory_forget(Tcb& t) {
    budget_.adjust(t.mem_charged, 0);
    t.mem_charged = 0;
}

bool TcpStack::Impl::memory_admit_rx(std::uint32_t index, std::size_t offset, std::size_t len) {
    Tcb& t = *tcbs[index];
    // A ring that holds nothing starts again at its first page.
    if (t.recv_buf.empty() && t.ooo.empty()) t.recv_buf.rewind();
    const std::size_t before = t.recv_buf.footprint();
    const std::size_t after = t.recv_buf.footprint_after_write(offset, len);
    if (after > before) {
        const std::size_t growth = after - before;
        if (offset > 0) {
            if (budget_.under_pressure() || !budget_.fits(growth)) {
                counters.inc(Counter::memory_ooo_dropped);
                return false;
            }
        } else if (!budget_.fits(growth) && after > kMemGuaranteed) {
            prune_ooo(index);
            if (!budget_.fits(growth)) {
                counters.inc(Counter::memory_rx_dropped);
                return false;
            }
        }
        // Charged now, for exactly the footprint the write will leave.
        const std::size_t charged = t.send_buf.footprint() + after;
        const std::size_t previous = t.mem_charged;
        t.mem_charged = charged;
        if (budget_.adjust(previous, charged)) {
            counters.inc(Counter::memory_pressure_entered);
            prune_ooo(index);
        }
    }
    if (offset > 0 && !t.in_ooo_fifo) {
        t.in_ooo_fifo = true;
        ooo_holders_.push_back(id_of(index));
    }
    return true;
}

void TcpStack::Impl::memory_prepare_send(Tcb& t) {
    if (t.send_buf.empty()) t.send_buf.rewind();
}

std::size_t TcpStack::Impl::memory_send_room(const Tcb& t) const {
    if (!budget_.limited()) return t.send_buf.free();
    const std::size_t have = t.send_buf.footprint();
    const std::uint64_t guaranteed = have < kMemGuaranteed ? kMemGuaranteed - have : 0;
    const std::uint64_t extra = std::min<std::uint64_t>(std::max(budget_.headroom(), guaranteed), SIZE_MAX);
    return t.send_buf.writable_within(static_cast<std::size_t>(extra));
}

bool TcpStack::Impl::memory_admit_growth(std::uint32_t index) {
    const Tcb& t = *tcbs[index];
    if (!budget_.limited()) return true;
    // Growing copies the ring: the new storage is written up to the old capacity.
    const std::size_t after = t.recv_buf.footprint() > 0 ? t.recv_buf.capacity() : 0;
    const std::size_t growth = after > t.recv_buf.footprint() ? after - t.recv_buf.footprint() : 0;
    if (budget_.under_pressure() || !budget_.fits(growth)) {
        counters.inc(Counter::memory_autotune_suppressed);
        return false;
    }
    return true;
}

std::uint32_t TcpStack::Impl::memory_window_limit(const Tcb& t, std::uint32_t cur, std::uint32_t wnd) const {
    if (!budget_.under_pressure()) return wnd;
    return std::min(wnd, std::max(cur, 4 * t.rcv_mss));
}

std::uint32_t TcpStack::Impl::memory_window_cap(const Tcb& t, std::uint32_t cur, std::uint32_t wnd) {
    const std::uint32_t limited = memory_window_limit(t, cur, wnd);
    if (limited < wnd) counters.inc(Counter::memory_window_clamped);
    return limited;
}

bool TcpStack::Impl::memory_admit_connection() {
    if (!budget_.under_pressure()) return true;
    prune_ooo(kNoListener);
    return !budget_.under_pressure();
}

void TcpStack::Impl::memory_release_empty(std::uint32_t index) {
    if (!budget_.under_pressure() || index >= tcbs.size() || !tcbs[index]) return;
    Tcb& t = *tcbs[index];
    if (t.mem_charged == 0) return;
    bool released = false;
    if (t.send_buf.empty() && t.send_buf.footprint() > 0) {
        t.send_buf.release();
        released = true;
    }
    if (t.recv_buf.empty() && t.ooo.empty() && t.recv_buf.footprint() > 0) {
        t.recv_buf.release();
        released = true;
    }
    if (!released) return;
    counters.inc(Counter::memory_buffers_released);
    recharge(index);
}

// Oldest holders first, until usage is below the low mark. `keep_index` is
// the connection whose segment is being stored: its data stays.
void TcpStack::Impl::prune_ooo(std::uint32_t keep_index) {
    std::size_t budget_steps = ooo_holders_.size();
    while (budget_steps-- > 0 && !ooo_holders_.empty() && budget_.usage() >= budget_.low_mark()) {
        const ConnId id = ooo_holders_.front();
        ooo_holders_.pop_front();
        Tcb* t = get(id);
        if (!t || !t->in_ooo_fifo) continue;
        if (id.index == keep_index) {
            ooo_holders_.push_back(id);  // keeps its place at the back
            continue;
        }
        t->in_ooo_fifo = false;
        // Only a ring without in-order data can give its storage back.
        if (t->ooo.empty() || !t->recv_buf.empty()) continue;
        counters.inc(Counter::memory_ooo_pruned);
        counters.inc(Counter::memory_ooo_pruned_bytes, t->ooo.buffered_bytes());
        t->ooo.clear();
        t->sack_recent.clear();
        t->recv_buf.release();
        recharge(id.index);
    }
}

}  // namespace tapstack::tcp
