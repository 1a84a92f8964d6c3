// A listener's SYN queue under a SYN flood (RFC 4987): when to answer with
// a SYN cookie instead of a TCB, the stateless cookie SYN-ACK, and the
// connection made from the ACK that returns a valid cookie.
//
// Theory of operation
// -------------------
// A listener's backlog bounds its half-open plus unaccepted connections
// (its SYN queue). A SYN that finds it full is answered with a cookie
// (TcpConfig::syncookies on-overflow; `always` cookies every SYN) and
// leaves no state; half-open connections already queued keep their place
// (evicting them would answer their final ACK with an RST). A full accept
// queue drops the SYN, cookie or not (as Linux: the application is behind,
// the peer retries). Memory pressure (memory_budget.hpp) makes a SYN take
// the cookie path too, or be dropped with cookies off.
// The final ACK of a cookie handshake finds no TCB and reaches the
// listener; it is checked (SynCookies::check) only within a cookie's
// lifetime after the listener last sent one (Linux's "recent overflow"
// rule), so a listener that never overflowed accepts no blind ACK. A valid
// cookie makes a SYN-RECEIVED TCB with what the SYN had (MSS from the
// cookie; window scale and SACK from the echoed TSval) and the ACK is then
// processed by the ordinary path (RFC 9293 3.10.7.4), which takes it to
// ESTABLISHED and the accept queue, with any data or FIN the ACK carries.
// A pure ACK whose cookie fails is a bad ACK to a listener: RST
// (3.10.7.2). A failed segment that carries data or FIN is dropped instead:
// its sequence number need not be ISN+1 (when the ACK and data were lost, a
// tail loss probe resends the peer's last segment, its FIN, first), so its
// cookie cannot be checked; the peer's retransmission from ISN+1 can be.
// Cookie SYN-ACKs are queued like RSTs and leave at the next poll().
#include <algorithm>

#include "stack/tcp/tcp_stack_impl.hpp"

namespace tapstack::tcp {

bool TcpStack::Impl::admit_syn(Instant now, std::uint32_t li, const Segment& seg, IpEndpoint local,
                               IpEndpoint remote) {
    const Listener& l = listeners[li];
    if (l.accept_queue.size() >= l.backlog) {
        counters.inc(Counter::rx_backlog_full);
        return false;
    }
    const bool queue_full = l.embryonic.size() + l.accept_queue.size() >= l.backlog;
    const bool no_memory = !memory_admit_connection();
    const auto mode = config.syncookies;
    if (mode == SynCookieMode::kAlways || (mode == SynCookieMode::kOnOverflow && (queue_full || no_memory))) {
        queue_cookie_synack(now, li, seg, local, remote);
        return false;
    }
    if (queue_full) {
        counters.inc(Counter::rx_syn_queue_full);
        return false;
    }
    if (no_memory) {
        counters.inc(Counter::memory_conn_refused);
        return false;
    }
    return true;
}

void TcpStack::Impl::queue_cookie_synack(Instant now, std::uint32_t li, const Segment& seg, IpEndpoint local,
                                         IpEndpoint remote) {
    if (cookie_synacks_.size() >= kMaxPendingCookies) {
        counters.inc(Counter::syncookies_unsent);
        return;
    }
    PendingSynAck p;
    p.local = local;
    p.remote = remote;
    p.ack = seg.seq + 1;
    const std::uint16_t peer_mss = seg.options.mss.value_or(kDefaultMss);
    p.iss = cookies_.make(now, local, remote, seg.seq, SynCookies::mss_index(peer_mss));
    // The window in a SYN is never scaled (RFC 7323 2.2); what a fresh TCB
    // would offer.
    p.window = static_cast<std::uint16_t>(std::min<std::uint32_t>(config.receive_buffer, 65535));
    p.options.mss = our_mss(remote.address);
    // Window scale and SACK only where the cookie can carry them: in the
    // TSval, so only when the peer offered timestamps.
    if (config.timestamps && seg.options.timestamps) {
        CookieOptions o;
        if (config.window_scaling && seg.options.window_scale) {
            o.wscale_ok = true;
            o.snd_wscale = std::min<std::uint8_t>(*seg.options.window_scale, 14);
            p.options.window_scale = our_wscale();
        }
        if (config.sack && seg.options.sack_permitted) {
            o.sack_ok = true;
            p.options.sack_permitted = true;
        }
        const auto clock = static_cast<std::uint32_t>(to_ns(last_now_) / 1'000'000) +
                           isn.ts_offset(local.address, remote.address);
        p.options.timestamps = wire::TcpTimestamps{SynCookies::encode_ts(clock, o), seg.options.timestamps->tsval};
    }
    cookie_synacks_.push_back(p);
    listeners[li].last_cookie_sent = now;
    counters.inc(Counter::syncookies_sent);
}

void TcpStack::Impl::flush_cookie_synacks() {
    for (const PendingSynAck& p : cookie_synacks_) {
        wire::TcpRepr r;
        r.src_port = p.local.port;
        r.dst_port = p.remote.port;
        r.seq = p.iss.raw();
        r.ack = p.ack.raw();
        r.flags = wire::tcp_flag::kSyn | wire::tcp_flag::kAck;
        r.window = p.window;
        r.options = p.options;
        const std::size_t len = r.buffer_len();
        r.emit(std::span<std::uint8_t>(tx_buf).first(len), p.local.address, p.remote.address);
        counters.inc(Counter::tx_segments);
        sink.send_segment(p.local.address, p.remote.address, std::span<const std::uint8_t>(tx_buf).first(len));
    }
    cookie_synacks_.clear();
}

bool TcpStack::Impl::cookie_ack(Instant now, std::uint32_t li, const Segment& seg, IpEndpoint local,
                                IpEndpoint remote) {
    if (config.syncookies == SynCookieMode::kOff || seg.syn || seg.rst || !seg.ack_flag) return false;
    Listener& l = listeners[li];
    if (l.last_cookie_sent == kNever || now - l.last_cookie_sent > SynCookies::kLifetime) return false;
    const std::optional<std::uint16_t> mss = cookies_.check(now, local, remote, seg.seq - 1, seg.ack - 1);
    CookieOptions opts;
    bool valid = mss.has_value();
    if (valid && seg.options.timestamps) {
        // Options come back in TSecr; one we would not have offered means
        // the echo is not ours (as Linux cookie_timestamp_decode).
        opts = SynCookies::decode_ts(seg.options.timestamps->tsecr);
        valid = config.timestamps && (!opts.sack_ok || config.sack) && (!opts.wscale_ok || config.window_scaling);
    }
    if (!valid) {
        counters.inc(Counter::syncookies_rejected);
        return !seg.payload.empty() || seg.fin;  // dropped (see above), else RST
    }
    // A valid cookie: the handshake is complete for the peer. Without room
    // the ACK is dropped; the peer's next segment (a retransmission or its
    // data) carries the same cookie and tries again while it is valid.
    if (l.accept_queue.size() >= l.backlog) {
        counters.inc(Counter::rx_backlog_full);
        return true;
    }
    if (!memory_admit_connection()) {
        counters.inc(Counter::memory_conn_refused);
        return true;
    }
    const std::uint32_t index = alloc_tcb();
    if (index == kNoListener) {
        counters.inc(Counter::rx_table_full);
        return true;
    }
    counters.inc(Counter::syncookies_accepted);
    Tcb& t = *tcbs[index];
    t.local = local;
    t.remote = remote;
    t.passive = true;
    t.listener = li;
    t.state = State::kSynReceived;
    t.rcv_wscale = t.cfg->window_scaling ? our_wscale() : 0;
    // The SYN as far as the cookie remembers it.
    Segment syn;
    syn.syn = true;
    syn.seq = seg.seq - 1;
    syn.options.mss = *mss;
    if (seg.options.timestamps) {
        if (opts.wscale_ok) syn.options.window_scale = opts.snd_wscale;
        syn.options.sack_permitted = opts.sack_ok;
        syn.options.timestamps = wire::TcpTimestamps{seg.options.timestamps->tsval, 0};
    }
    apply_peer_syn_options(t, syn, t.cfg->window_scaling);
    init_send_side(t, now);
    // Our SYN-ACK (ISS = the cookie) is out and acknowledged by this ACK.
    const SeqNum iss = seg.ack - 1;
    t.iss = iss;
    t.snd_una = iss;
    t.snd_nxt = iss + 1;
    t.snd_max = iss + 1;
    t.snd_buf_seq = iss + 1;
    t.recovery.init(iss);
    t.cwnd_usage_seq = iss;
    t.snd_wl1 = syn.seq;
    t.snd_wl2 = iss;
    // Our TSvals go on from the SYN-ACK's clock.
    if (t.ts_ok) t.ts_offset = isn.ts_offset(local.address, remote.address);
    t.irs = syn.seq;
    t.rcv_nxt = seg.seq;
    t.rcv_acked = t.rcv_nxt;
    t.rcv_adv = t.rcv_nxt + static_cast<std::uint32_t>(std::min<std::size_t>(t.recv_buf.free(), 65535));
    table_insert(index);
    // The ACK itself, through the ordinary SYN-RECEIVED path.
    Segment ack = seg;
    other_states(now, index, ack, nullptr);
    // A TCB made from a cookie has no SYN-ACK to retransmit: if the ACK did
    // not establish it, it must not linger.
    if (tcbs[index] && tcbs[index]->state == State::kSynReceived) fail(index, Error::kRefused);
    release_if_done(index);
    return true;
}

}  // namespace tapstack::tcp
