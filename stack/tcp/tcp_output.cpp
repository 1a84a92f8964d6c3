// Output and timers (RFC 9293 3.8, 3.10.8; RFC 6298; RFC 5681/6582).
//
// output() decides, for one TCB, everything that should leave now: the SYN
// or SYN-ACK, a pending fast/NewReno retransmission, new data as far as the
// peer's window (never past SND.UNA + SND.WND) and cwnd allow, the FIN after
// the last byte, and otherwise a pure ACK when one is owed (ack_now, the
// delayed-ACK timer, or a worthwhile window update). It also arms the
// retransmission timer when something is in flight and the persist timer
// when unsent data is blocked by a zero window with nothing in flight.
#include <algorithm>

#include "stack/tcp/tcp_stack_impl.hpp"

namespace tapstack::tcp {

namespace {

bool sends_data(State s) {
    return s == State::kEstablished || s == State::kCloseWait || s == State::kFinWait1 || s == State::kClosing ||
           s == State::kLastAck;
}

bool receives_data(State s) { return s == State::kEstablished || s == State::kFinWait1 || s == State::kFinWait2; }

}  // namespace

// Receiver silly-window avoidance (RFC 9293 3.8.6.2.2, RFC 1122 4.2.3.3): the
// right edge moves right only by at least min(buffer/2, MSS), and never left.
std::uint16_t TcpStack::Impl::window_field(Tcb& t) {
    const std::uint8_t shift = t.wscale_ok ? t.rcv_wscale : 0;
    const std::uint32_t cur = t.rcv_wnd();
    const auto free = static_cast<std::uint32_t>(t.recv_buf.free());
    const std::uint32_t threshold =
        std::min<std::uint32_t>(static_cast<std::uint32_t>(t.recv_buf.capacity() / 2), t.snd_mss);
    std::uint32_t wnd = (free >= cur + std::max<std::uint32_t>(threshold, 1)) ? free : cur;
    wnd = std::min<std::uint32_t>(wnd, 65535u << shift);
    std::uint32_t field = wnd >> shift;
    if ((field << shift) < cur) field = std::min<std::uint32_t>((cur + (1u << shift) - 1) >> shift, 65535);
    t.rcv_adv = seq_max(t.rcv_adv, t.rcv_nxt + (field << shift));
    return static_cast<std::uint16_t>(field);
}

bool TcpStack::Impl::window_update_due(const Tcb& t) const {
    if (!receives_data(t.state) || t.fin_received) return false;
    const std::uint32_t cur = t.rcv_wnd();
    const auto free = static_cast<std::uint32_t>(t.recv_buf.free());
    const std::uint32_t threshold =
        std::min<std::uint32_t>(static_cast<std::uint32_t>(t.recv_buf.capacity() / 2), t.snd_mss);
    const std::uint8_t shift = t.wscale_ok ? t.rcv_wscale : 0;
    if (cur >= (65535u << shift)) return false;  // already the largest window we can express
    return free >= cur + std::max<std::uint32_t>(threshold, 1);
}

void TcpStack::Impl::emit(Tcb& t, SeqNum seq, std::uint8_t flags, std::span<const std::uint8_t> payload,
                          const wire::TcpOptions& options) {
    wire::TcpRepr r;
    r.src_port = t.local.port;
    r.dst_port = t.remote.port;
    r.seq = seq.raw();
    r.flags = flags;
    r.options = options;
    r.payload = payload;
    if (flags & wire::tcp_flag::kSyn) {
        // The window in a SYN is never scaled (RFC 7323 2.2).
        const auto w = static_cast<std::uint16_t>(std::min<std::size_t>(t.recv_buf.free(), 65535));
        r.window = w;
        if (t.state == State::kSynReceived) t.rcv_adv = seq_max(t.rcv_adv, t.rcv_nxt + w);
    } else {
        r.window = window_field(t);
    }
    if (flags & wire::tcp_flag::kAck) {
        r.ack = t.rcv_nxt.raw();
        t.rcv_acked = t.rcv_nxt;
        t.ack_now = false;
        t.delack_deadline = kNever;
    }
    const std::size_t len = r.buffer_len();
    r.emit(std::span<std::uint8_t>(tx_buf).first(len), t.local.address, t.remote.address);
    counters.inc(Counter::tx_segments);
    sink.send_segment(t.local.address, t.remote.address, std::span<const std::uint8_t>(tx_buf).first(len));
}

void TcpStack::Impl::send_syn(Instant now, Tcb& t) {
    wire::TcpOptions o;
    o.mss = our_mss();  // RFC 9293 3.7.1: MSS only in SYN segments
    const bool offer_ws = t.state == State::kSynSent ? config.window_scaling : t.wscale_ok;
    if (offer_ws) o.window_scale = t.rcv_wscale;
    const bool again = t.snd_max > t.iss;
    std::uint8_t flags = wire::tcp_flag::kSyn;
    if (t.state == State::kSynReceived) flags |= wire::tcp_flag::kAck;
    if (again) counters.inc(Counter::retransmissions);
    emit(t, t.iss, flags, {}, o);
    t.snd_nxt = t.iss + 1;
    t.snd_max = seq_max(t.snd_max, t.snd_nxt);
    if (!again && t.retries == 0) {
        t.rtt_timing = true;
        t.rtt_seq = t.iss;
        t.rtt_start = now;
    }
    if (t.rtx_deadline == kNever) arm(t.rtx_deadline, now + t.rtt.rto());
}

void TcpStack::Impl::send_data(Instant now, Tcb& t, SeqNum seq, std::uint32_t len, bool fin, bool retransmission) {
    std::span<const std::uint8_t> payload;
    if (len > 0) {
        const std::size_t offset = SeqNum::distance(seq, t.snd_buf_seq);
        const std::size_t n = t.send_buf.peek(offset, std::span<std::uint8_t>(payload_buf).first(len));
        payload = std::span<const std::uint8_t>(payload_buf).first(n);
    }
    std::uint8_t flags = wire::tcp_flag::kAck;
    if (fin) flags |= wire::tcp_flag::kFin;
    // PSH on the segment that empties what the application queued.
    if (len > 0 && seq + len == t.data_end()) flags |= wire::tcp_flag::kPsh;
    emit(t, seq, flags, payload, {});
    if (retransmission) {
        counters.inc(Counter::retransmissions);
        t.rtt_timing = false;  // Karn: no sample across a retransmission
    } else if (!t.rtt_timing && len > 0) {
        t.rtt_timing = true;
        t.rtt_seq = seq;
        t.rtt_start = now;
    }
}

// Pure ACKs carry SND.MAX, not SND.NXT: after an RTO pulled SND.NXT back
// (go-back-N), an ACK numbered below what the peer already received would
// fail the peer's acceptability test (3.10.7.4 step 1) and be dropped with
// its ACK field unread; two stacks doing so to each other livelock. BSD
// does the same ("use snd_max instead of snd_nxt" for ACK-only segments).
void TcpStack::Impl::send_ack(Tcb& t, SeqNum seq) { emit(t, seq, wire::tcp_flag::kAck, {}, {}); }

void TcpStack::Impl::output(Instant now, std::uint32_t index) {
    Tcb& t = *tcbs[index];
    switch (t.state) {
        case State::kClosed:
        case State::kListen: return;
        case State::kSynSent:
            if (t.snd_nxt == t.iss) send_syn(now, t);
            return;
        case State::kSynReceived:
            if (t.snd_nxt == t.iss)
                send_syn(now, t);
            else if (t.ack_now)
                send_ack(t, t.snd_max);
            return;
        case State::kTimeWait:
            if (t.ack_now) send_ack(t, t.snd_max);
            return;
        default: break;
    }

    bool sent = false;
    const std::uint32_t mss = t.snd_mss;
    if (t.retransmit_pending) {
        // Fast retransmit / NewReno partial ACK: the segment at SND.UNA.
        t.retransmit_pending = false;
        if (t.snd_una < t.snd_max) {
            const SeqNum end = t.data_end();
            // Even a retransmission stays inside the peer's window.
            const std::uint32_t len =
                t.snd_una < end ? std::min({mss, SeqNum::distance(end, t.snd_una), t.snd_wnd}) : 0;
            const bool fin = t.fin_sent && t.snd_una + len == end;
            if (len > 0 || (fin && t.snd_una == end)) {
                send_data(now, t, t.snd_una, len, fin, true);
                sent = true;
                arm(t.rtx_deadline, now + t.rtt.rto());
            }
        }
    }
    if (sends_data(t.state)) {
        const std::uint32_t cwnd = t.cc ? t.cc->cwnd() : 0xffffffffu;
        for (;;) {
            const SeqNum end = t.data_end();
            if (t.snd_nxt < end) {
                const SeqNum wnd_edge = t.snd_una + t.snd_wnd;  // never beyond the peer's right edge
                const SeqNum cwnd_edge = t.snd_una + cwnd;
                const SeqNum limit = seq_min(wnd_edge, cwnd_edge);
                const std::uint32_t room = limit > t.snd_nxt ? SeqNum::distance(limit, t.snd_nxt) : 0;
                const std::uint32_t avail = SeqNum::distance(end, t.snd_nxt);
                const std::uint32_t len = std::min({mss, avail, room});
                if (len == 0) break;
                if (len < mss) {
                    // Nagle (RFC 896, RFC 9293 3.7.4) in its minimal form: a
                    // short segment waits while data is in flight, unless it
                    // is the last one before our FIN.
                    const bool in_flight = t.snd_nxt > t.snd_una;
                    const bool last_piece = len == avail && t.write_closed;
                    if (in_flight && !last_piece) break;
                }
                const bool fin = t.write_closed && t.snd_nxt + len == end;
                send_data(now, t, t.snd_nxt, len, fin, t.snd_nxt < t.snd_max);
                t.snd_nxt = t.snd_nxt + len + (fin ? 1u : 0u);
                if (fin) t.fin_sent = true;
                sent = true;
            } else if (t.write_closed && t.snd_nxt == end) {
                // The FIN alone (also its retransmission after an RTO).
                send_data(now, t, t.snd_nxt, 0, true, t.fin_sent);
                t.snd_nxt = t.snd_nxt + 1;
                t.fin_sent = true;
                sent = true;
                break;
            } else {
                break;
            }
        }
        t.snd_max = seq_max(t.snd_max, t.snd_nxt);
        if (t.snd_max > t.snd_una && t.rtx_deadline == kNever) arm(t.rtx_deadline, now + t.rtt.rto());
        // Persist (RFC 9293 3.8.6.1): unsent data, nothing in flight, and the
        // window does not let anything out.
        if (!sent && t.snd_una == t.snd_max && t.snd_nxt < t.data_end() && t.persist_deadline == kNever) {
            if (t.persist_interval == Duration::zero()) t.persist_interval = t.rtt.rto();
            arm(t.persist_deadline, now + t.persist_interval);
        }
    }
    if (!sent) {
        if (t.ack_now) {
            send_ack(t, t.snd_max);
        } else if (window_update_due(t)) {
            counters.inc(Counter::window_updates);
            send_ack(t, t.snd_max);
        }
    }
}

void TcpStack::Impl::run_timers(Instant now, std::uint32_t index) {
    Tcb& t = *tcbs[index];
    if (t.rtx_deadline <= now) on_retransmit_timeout(now, index);
    if (t.state == State::kClosed) {
        release_if_done(index);
        return;
    }
    if (t.persist_deadline <= now) on_persist_timeout(now, index);
    if (t.state == State::kClosed) {
        release_if_done(index);
        return;
    }
    if (t.delack_deadline <= now) {
        t.delack_deadline = kNever;
        t.ack_now = true;
    }
    if (t.linger_deadline <= now) {
        t.linger_deadline = kNever;
        if (t.state == State::kTimeWait) counters.inc(Counter::time_wait_expired);
        // TIME-WAIT over (3.10.8), or an orphaned FIN-WAIT-2 given up.
        close_orderly(index);
        release_if_done(index);
    }
}

// RFC 6298 5.4-5.7; RFC 9293 3.8.3 (R2: give up after a bounded number).
void TcpStack::Impl::on_retransmit_timeout(Instant now, std::uint32_t index) {
    Tcb& t = *tcbs[index];
    t.rtx_deadline = kNever;
    if (t.snd_max == t.snd_una) return;
    counters.inc(Counter::rto_expiries);
    const bool handshake = t.state == State::kSynSent || t.state == State::kSynReceived;
    const std::uint32_t limit = handshake ? config.max_syn_retransmits : config.max_retransmits;
    if (t.retries >= limit) {
        counters.inc(Counter::conn_timed_out);
        fail(index, Error::kTimedOut);
        return;
    }
    if (!handshake && t.snd_wnd == 0) {
        // The peer closed its window with data of ours still unacknowledged
        // (it shrank the window, RFC 9293 3.8.6, or dropped what no longer
        // fit). Retransmitting would only send past its right edge, so the
        // timer turns into the persist timer: probe for the window and keep
        // the connection as long as the probes are answered (MUST-35..37).
        if (t.probes >= config.max_retransmits) {
            counters.inc(Counter::conn_timed_out);
            fail(index, Error::kTimedOut);
            return;
        }
        ++t.probes;
        counters.inc(Counter::persist_probes);
        t.rtt.backoff();
        t.rtt_timing = false;
        t.snd_nxt = t.snd_una;  // resend from SND.UNA once the window opens
        send_ack(t, t.snd_una - 1);
        arm(t.rtx_deadline, now + t.rtt.rto());
        return;
    }
    ++t.retries;
    t.rtt.backoff();
    t.rtt_timing = false;
    if (handshake) {
        t.snd_nxt = t.iss;
    } else {
        if (t.cc) t.cc->on_rto(now, t.flight());
        t.in_recovery = false;
        t.recover = t.snd_max;
        t.dupacks = 0;
        t.retransmit_pending = false;
        t.snd_nxt = t.snd_una;  // go back: resend from the first unacknowledged byte
    }
    mark_dirty(index);
}

// RFC 9293 3.8.6.1: probe a zero window, with exponential backoff; the
// connection stays as long as the probes are answered.
void TcpStack::Impl::on_persist_timeout(Instant now, std::uint32_t index) {
    Tcb& t = *tcbs[index];
    t.persist_deadline = kNever;
    if (!sends_data(t.state) || t.snd_una != t.snd_max || t.snd_nxt >= t.data_end()) return;
    if (t.snd_wnd > 0) {
        mark_dirty(index);  // the window opened meanwhile
        return;
    }
    if (t.probes >= config.max_retransmits) {
        counters.inc(Counter::conn_timed_out);
        fail(index, Error::kTimedOut);
        return;
    }
    ++t.probes;
    counters.inc(Counter::persist_probes);
    // SEQ = SND.UNA - 1 with no data: outside the peer's window, so any
    // RFC 9293 receiver must answer with an ACK carrying its current window.
    send_ack(t, t.snd_una - 1);
    t.persist_interval = std::min(t.persist_interval * 2, config.max_rto);
    arm(t.persist_deadline, now + t.persist_interval);
}

void TcpStack::Impl::note_deadlines(const Tcb& t) {
    next_timer_ = std::min({next_timer_, t.rtx_deadline, t.persist_deadline, t.linger_deadline, t.delack_deadline});
}

void TcpStack::Impl::flush_resets() {
    for (const PendingReset& p : resets) {
        wire::TcpRepr r;
        r.src_port = p.local.port;
        r.dst_port = p.remote.port;
        r.seq = p.seq.raw();
        r.ack = p.with_ack ? p.ack.raw() : 0;
        r.flags = wire::tcp_flag::kRst | (p.with_ack ? wire::tcp_flag::kAck : 0);
        const std::size_t len = r.buffer_len();
        r.emit(std::span<std::uint8_t>(tx_buf).first(len), p.local.address, p.remote.address);
        counters.inc(Counter::resets_sent);
        counters.inc(Counter::tx_segments);
        sink.send_segment(p.local.address, p.remote.address, std::span<const std::uint8_t>(tx_buf).first(len));
    }
    resets.clear();
}

}  // namespace tapstack::tcp
