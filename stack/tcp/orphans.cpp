// Orphans: connections the application closed while the stack still
// finishes them alone (Linux's orphaned sockets), and their bounds.
//
// Theory of operation
// -------------------
// close() hands the TCB to the stack (tcb.hpp "orphaned"). Left alone, a
// peer can pin it forever: by keeping its window at zero and answering every
// zero-window probe (each answer restarts the persist count, as MUST-35..37
// require for a connection someone still owns; the "sockstress" pattern),
// or by never acknowledging our FIN. Two bounds apply, as Linux's
// tcp_orphan_retries and tcp_max_orphans:
//   * TcpConfig::orphan_timeout: an orphan in SYN-RECEIVED, FIN-WAIT-1,
//     CLOSING or LAST-ACK (we still have data or a FIN to deliver) whose
//     SND.UNA does not move for that long is reset. The linger timer,
//     unused in those states, carries the deadline; when it fires after
//     progress it is simply re-armed. FIN-WAIT-2 keeps its own 2*MSL bound
//     (close()), TIME-WAIT its 2*MSL.
//   * TcpConfig::max_orphans: orphans not yet in TIME-WAIT are counted;
//     a close() that would exceed the bound resets the oldest orphan
//     (orphan_fifo_, stale entries skipped), or this one when none is older.
// A reset orphan sends RST from SND.MAX (the highest number the peer may
// have seen) and is freed. It holds no data the application could still
// read: close() with unread data already resets instead of orphaning.
#include "stack/tcp/tcp_stack_impl.hpp"

namespace tapstack::tcp {

namespace {

// States in which an orphan waits on the peer to take data or our FIN.
bool orphan_may_stall(State s) {
    return s == State::kSynReceived || s == State::kFinWait1 || s == State::kClosing || s == State::kLastAck;
}

bool counts_as_orphan(State s) { return s != State::kClosed && s != State::kTimeWait && s != State::kListen; }

}  // namespace

void TcpStack::Impl::orphan_adopt(Instant now, std::uint32_t index) {
    Tcb& t = *tcbs[index];
    if (!t.orphaned || t.orphan_counted || !counts_as_orphan(t.state)) return;
    if (orphan_count_ >= config.max_orphans) {
        // Too many orphans (Linux: "too many orphaned sockets"): the oldest
        // goes, or this one when it is the only candidate.
        std::uint32_t victim = index;
        while (!orphan_fifo_.empty()) {
            const ConnId id = orphan_fifo_.front();
            orphan_fifo_.pop_front();
            const Tcb* old = get(id);
            if (old && old->orphan_counted) {
                victim = id.index;
                break;
            }
        }
        orphan_reset(victim, Counter::orphans_overflow);
        release_if_done(victim);
        if (victim == index) return;
    }
    t.orphan_counted = true;
    ++orphan_count_;
    orphan_fifo_.push_back(id_of(index));
    // Stale entries (orphans that finished) are dropped once they dominate.
    if (orphan_fifo_.size() > 2 * std::size_t{orphan_count_} + 64) {
        std::erase_if(orphan_fifo_, [&](const ConnId& id) {
            const Tcb* o = get(id);
            return !o || !o->orphan_counted;
        });
    }
    if (orphan_may_stall(t.state)) {
        t.orphan_una = t.snd_una;
        arm(t.linger_deadline, now + t.cfg->orphan_timeout);
    }
}

bool TcpStack::Impl::orphan_linger_expired(Instant now, std::uint32_t index) {
    Tcb& t = *tcbs[index];
    if (!t.orphaned || !orphan_may_stall(t.state)) return false;
    if (t.snd_una != t.orphan_una) {
        // The peer took data or our FIN meanwhile: it is slow, not stuck.
        t.orphan_una = t.snd_una;
        arm(t.linger_deadline, now + t.cfg->orphan_timeout);
        return true;
    }
    orphan_reset(index, Counter::orphans_timed_out);
    return true;
}

void TcpStack::Impl::orphan_forget(Tcb& t) {
    if (!t.orphan_counted) return;
    t.orphan_counted = false;
    --orphan_count_;
}

void TcpStack::Impl::orphan_reset(std::uint32_t index, Counter why) {
    Tcb& t = *tcbs[index];
    counters.inc(why);
    counters.inc(Counter::conn_aborted);
    queue_reset(PendingReset{t.local, t.remote, t.snd_max, t.rcv_nxt, true});
    fail(index, Error::kAborted);
}

}  // namespace tapstack::tcp
