// Receive buffer auto-tuning ("dynamic right-sizing", as Linux's
// tcp_rcv_space_adjust): once per receiver RTT, the bytes the application
// read in that RTT measure what the path delivers; when that beats the best
// so far, the buffer grows to twice it plus some slack, up to
// TcpConfig::receive_buffer_max. The advertised window follows the free
// buffer (window_field()), so its right edge only ever moves right; the
// buffer never shrinks. The receiver RTT comes from timestamp echoes or
// one window's arrival time (measure_rcv_rtt()), else from our own SRTT.
#include <algorithm>

#include "stack/tcp/tcp_stack_impl.hpp"

namespace tapstack::tcp {

void TcpStack::Impl::autotune(Instant now, std::uint32_t index) {
    Tcb& t = *tcbs[index];
    const std::size_t cap = t.recv_buf.capacity();
    // Growing is for a window still to be advertised: never once the
    // connection is over (a failed one only drains what it holds).
    if (t.cfg->receive_buffer_max <= cap || !t.established_once || t.state == State::kClosed) return;
    Duration rtt = t.rcv_rtt;
    if (rtt == Duration::zero() && t.rtt.has_sample()) rtt = t.rtt.srtt();
    if (rtt <= Duration::zero()) return;
    if (now - t.rcvq_time < rtt) return;
    const std::uint64_t copied = t.rcvq_copied;
    t.rcvq_time = now;
    t.rcvq_copied = 0;
    if (copied <= t.rcv_space) return;
    t.rcv_space = static_cast<std::uint32_t>(std::min<std::uint64_t>(copied, 0xffffffffu));
    // Twice the per-RTT delivery so the sender can grow its window for the
    // next round (as Linux), plus room for 16 segments of reordering.
    const std::uint64_t target = 2 * copied + 16ull * t.rcv_mss;
    if (target <= cap) return;
    const auto grown = static_cast<std::size_t>(std::min<std::uint64_t>(target, t.cfg->receive_buffer_max));
    if (!memory_admit_growth(index)) return;  // memory_pressure.cpp
    t.recv_buf.grow(grown);
    recharge(index);
    counters.inc(Counter::receive_buffer_grown);
    mark_dirty(index);  // a window update announces the space
}

}  // namespace tapstack::tcp
