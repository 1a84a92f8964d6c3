// TcpStack zero-copy calls: send_spans()/send_commit() and
// recv_spans()/recv_consume(), so the daemon can readv() from an
// application's socket straight into a connection's send buffer and writev()
// from its receive buffer straight to the socket.
//
// Theory of operation
// -------------------
// These are send() and recv() cut in two at the copy: the span calls expose
// the ring's free space / queued bytes (buf::RingBuffer::writable_spans(),
// readable_spans()), the caller moves bytes with its own I/O, and the
// commit/consume calls run the bookkeeping send()/recv() run after their
// copy, and nothing else. Whether sending is allowed is taken from info()
// (send_free), the one place that rule lives, so the two paths cannot
// disagree about a shut or closing connection.
//
// Invariants kept: only bytes the caller says it consumed leave the receive
// buffer, so info().eof (FIN received AND the buffer empty) still means the
// application got every byte before EOF; free space committed here was never
// used by the stack (the send ring has no out-of-order storage).
// Non-goals: spans that outlive the next stack call (see tcp_stack.hpp).
#include <algorithm>

#include "stack/tcp/tcp_stack.hpp"
#include "stack/tcp/tcp_stack_impl.hpp"

namespace tapstack::tcp {

std::array<std::span<std::uint8_t>, 2> TcpStack::send_spans(ConnId conn) {
    Impl& m = *impl_;
    if (Tcb* t = m.get_owned(conn)) m.memory_prepare_send(*t);
    const std::size_t allowed = info(conn).send_free;
    Tcb* t = m.get_owned(conn);
    if (!t || allowed == 0) return {};
    // Only as far as the memory budget lets the ring grow.
    auto spans = t->send_buf.writable_spans();
    if (spans[0].size() >= allowed) return {spans[0].first(allowed), {}};
    spans[1] = spans[1].first(std::min(spans[1].size(), allowed - spans[0].size()));
    return spans;
}

std::size_t TcpStack::send_commit(Instant now, ConnId conn, std::size_t n) {
    Impl& m = *impl_;
    m.last_now_ = std::max(m.last_now_, now);
    n = std::min(n, info(conn).send_free);
    Tcb* t = m.get_owned(conn);
    if (!t || n == 0) return 0;
    t->send_buf.commit(n);
    m.recharge(conn.index);
    m.mark_dirty(conn.index);  // as send(): output() decides (Nagle, window, TSO)
    return n;
}

std::array<std::span<const std::uint8_t>, 2> TcpStack::recv_spans(ConnId conn) const {
    const Impl& m = *impl_;
    const Tcb* t = m.get_owned(conn);
    if (!t) return {};
    return t->recv_buf.readable_spans();
}

std::size_t TcpStack::recv_consume(Instant now, ConnId conn, std::size_t n) {
    Impl& m = *impl_;
    m.last_now_ = std::max(m.last_now_, now);
    Tcb* t = m.get_owned(conn);
    if (!t) return 0;
    n = std::min(n, t->recv_buf.size());
    t->recv_buf.consume(n);
    // From here on exactly recv()'s bookkeeping (tcp_stack.cpp).
    t->rcvq_copied += n;
    if (n > 0) m.autotune(now, conn.index);
    if (n > 0 && m.window_update_due(*t)) m.mark_dirty(conn.index);
    return n;
}

}  // namespace tapstack::tcp
