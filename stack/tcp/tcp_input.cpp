// Segment arrival (RFC 9293 3.10.7), one function per state group and, for
// the synchronized states, one per numbered step of 3.10.7.4, in order.
// RFC 7323 PAWS runs before step 1 and TS.Recent is updated after step 5; step 5
// also feeds RTTM and hands each ACK to the connection's LossRecovery
// (loss_recovery.hpp); step 7 records what the receiver owes: SACK anchors,
// duplicate ACKs and the one cumulative ACK of a batch.
//
// Nothing here sends: replies are requested with `ack_now` / mark_dirty()
// or queued RSTs, and leave at the next poll(). Nothing here frees a TCB:
// a connection that ends goes to kClosed and the caller (receive()) frees it
// afterwards through release_if_done().
#include <algorithm>

#include "stack/tcp/tcp_stack_impl.hpp"

namespace tapstack::tcp {

namespace {

bool receives_text(State s) { return s == State::kEstablished || s == State::kFinWait1 || s == State::kFinWait2; }

bool listener_accepts(ListenFamily f, const IpAddress& dst) {
    return f == ListenFamily::kBoth || (f == ListenFamily::kIpv4) == dst.is_ipv4();
}

}  // namespace

void TcpStack::Impl::segment_arrives(Instant now, const IpAddress& src, const IpAddress& dst,
                                     const wire::TcpRepr& repr) {
    if (src.is_unspecified() || src.is_limited_broadcast() || src.is_multicast() || repr.src_port == 0 ||
        repr.dst_port == 0) {
        counters.inc(Counter::rx_bad_source);
        return;
    }
    Segment seg;
    seg.seq = SeqNum(repr.seq);
    seg.ack = SeqNum(repr.ack);
    seg.syn = repr.has(wire::tcp_flag::kSyn);
    seg.ack_flag = repr.has(wire::tcp_flag::kAck);
    seg.rst = repr.has(wire::tcp_flag::kRst);
    seg.fin = repr.has(wire::tcp_flag::kFin);
    seg.window = repr.window;
    seg.options = repr.options;
    seg.payload = repr.payload;
    const IpEndpoint local{dst, repr.dst_port};
    const IpEndpoint remote{src, repr.src_port};

    const std::uint32_t index = lookup(TupleKey{dst, src, repr.dst_port, repr.src_port});
    std::optional<SeqNum> prior_snd_max;  // a TIME-WAIT incarnation gave way (RFC 6191)
    if (index != kNoListener) {
        bool done = true;
        if (tcbs[index]->state == State::kSynSent) {
            syn_sent_state(now, index, seg);
        } else {
            done = other_states(now, index, seg, &prior_snd_max);
        }
        release_if_done(index);
        if (done) return;
    }
    auto li = listener_by_port.find(repr.dst_port);
    if (li != listener_by_port.end() && listener_accepts(listeners[li->second].family, dst)) {
        listen_state(now, li->second, seg, local, remote, prior_snd_max);
    } else {
        closed_state(seg, local, remote);
    }
}

// RFC 9293 3.10.7.1: no TCB. An RST answers everything but an RST.
void TcpStack::Impl::closed_state(const Segment& seg, IpEndpoint local, IpEndpoint remote) {
    counters.inc(Counter::rx_no_listener);
    if (seg.rst) return;
    if (seg.ack_flag) {
        queue_reset(PendingReset{local, remote, seg.ack, SeqNum(0), false});  // <SEQ=SEG.ACK><CTL=RST>
    } else {
        // <SEQ=0><ACK=SEG.SEQ+SEG.LEN><CTL=RST,ACK>
        queue_reset(PendingReset{local, remote, SeqNum(0), seg.seq + seg.len(), true});
    }
}

// RFC 9293 3.10.7.2
void TcpStack::Impl::listen_state(Instant now, std::uint32_t li, const Segment& seg, IpEndpoint local,
                                  IpEndpoint remote, std::optional<SeqNum> prior_snd_max) {
    if (seg.rst) return;  // first: an RST to a listener is ignored
    if (seg.ack_flag) {   // second: any ACK is bad here, unless it returns a SYN cookie
        if (cookie_ack(now, li, seg, local, remote)) return;
        counters.inc(Counter::rx_listen_dropped);
        queue_reset(PendingReset{local, remote, seg.ack, SeqNum(0), false});
        return;
    }
    if (!seg.syn) {  // fourth: anything else is dropped
        counters.inc(Counter::rx_listen_dropped);
        return;
    }
    // third: SYN. The backlog bounds embryonic + unaccepted connections
    // together; beyond it a SYN gets a cookie or is dropped, never at the
    // expense of a queued half-open connection (syn_cookie_listen.cpp).
    if (!admit_syn(now, li, seg, local, remote)) return;
    const std::uint32_t index = alloc_tcb();
    if (index == kNoListener) {
        counters.inc(Counter::rx_table_full);
        return;
    }
    Tcb& t = *tcbs[index];
    t.local = local;
    t.remote = remote;
    t.passive = true;
    t.listener = li;
    t.state = State::kSynReceived;
    t.rcv_wscale = t.cfg->window_scaling ? our_wscale() : 0;
    apply_peer_syn_options(t, seg, t.cfg->window_scaling);
    init_send_side(t, now, prior_snd_max);
    t.irs = seg.seq;
    t.rcv_nxt = seg.seq + 1;
    t.rcv_acked = t.rcv_nxt;
    t.rcv_adv = t.rcv_nxt;
    t.snd_wnd = seg.window;  // never scaled in a SYN (RFC 7323 2.2)
    t.max_snd_wnd = t.snd_wnd;
    t.snd_wl1 = seg.seq;
    t.snd_wl2 = t.iss;
    // Data or FIN carried by the SYN is not acknowledged; the peer sends it
    // again once the connection is established.
    table_insert(index);
    listeners[li].embryonic.push_back(index);
    mark_dirty(index);
}

void TcpStack::Impl::apply_peer_syn_options(Tcb& t, const Segment& seg, bool we_offered_wscale) {
    // RFC 9293 3.7.1: 536 when absent; tiny values are raised so that a
    // hostile MSS cannot make us crawl (or divide by zero).
    std::uint16_t mss = seg.options.mss.value_or(kDefaultMss);
    mss = std::clamp<std::uint16_t>(mss, kMinMss, our_mss(t.remote.address));
    // What the path allows, as far as ICMP told us (RFC 1191) or probing
    // finds out (RFC 4821): path_mtu.hpp.
    t.pmtu.start(t.cfg->mtu_probing, mss, pmtu_cache.lookup(t.remote.address, last_now_), t.remote.address.is_ipv6());
    t.snd_mss = t.pmtu.mss();
    // RFC 7323 2.2/2.3: scaling only when both sides offered it; shift > 14 is 14.
    if (we_offered_wscale && seg.options.window_scale) {
        t.wscale_ok = true;
        t.snd_wscale = std::min<std::uint8_t>(*seg.options.window_scale, 14);
    } else {
        t.wscale_ok = false;
        t.snd_wscale = 0;
        t.rcv_wscale = 0;
    }
    // RFC 7323 3.2 / RFC 2018 2: timestamps and SACK only when both sides
    // offered them (we offer exactly when the config says so, on SYN and,
    // answering an offer, on SYN-ACK).
    t.ts_ok = t.cfg->timestamps && seg.options.timestamps.has_value();
    if (t.ts_ok) {
        t.ts_recent = seg.options.timestamps->tsval;
        t.ts_recent_age = last_now_;
    }
    t.sack_ok = t.cfg->sack && seg.options.sack_permitted;
}

// A bare ACK from before the peer's FIN, arriving (reordered) in TIME-WAIT,
// carries nothing to answer: the peer has sent its FIN and is in LAST-ACK or
// already closed. Answering it, as 3.10.7.4 first step suggests (a SHOULD),
// would make a peer that already closed send an RST. A retransmitted FIN
// (which is not a bare ACK) is still re-acknowledged.
bool TcpStack::Impl::stale_ack_in_time_wait(const Tcb& t, const Segment& seg) const {
    return t.state == State::kTimeWait && seg.ack_flag && !seg.syn && !seg.fin && !seg.rst && seg.payload.empty() &&
           seg.seq < t.rcv_nxt;
}

// RFC 6191 2: with timestamps on the old incarnation and the new SYN, a
// newer TSval (or the same TSval and a higher sequence number); otherwise a
// sequence number beyond the old RCV.NXT. Anything else is left to TIME-WAIT.
bool TcpStack::Impl::time_wait_reusable(const Tcb& t, const Segment& seg) const {
    const bool seq_newer = seg.seq > t.rcv_nxt;
    if (!t.ts_ok || !t.cfg->timestamps || !seg.options.timestamps) return seq_newer;
    const auto d = static_cast<std::int32_t>(seg.options.timestamps->tsval - t.ts_recent);
    return d > 0 || (d == 0 && seq_newer);
}

bool TcpStack::Impl::paws_rejects(Instant now, Tcb& t, const Segment& seg) {
    if (!t.ts_ok || seg.rst) return false;
    if (!seg.options.timestamps) {
        // RFC 7323 3.2 says SHOULD drop; Linux and most stacks accept, and
        // so do we (a middlebox stripping options must not kill the
        // connection). Counted so it can be seen.
        counters.inc(Counter::rx_missing_timestamps);
        return false;
    }
    const std::uint32_t tsval = seg.options.timestamps->tsval;
    if (static_cast<std::int32_t>(tsval - t.ts_recent) >= 0) return false;
    if (now - t.ts_recent_age > kPawsIdle) {
        // RFC 7323 5.5: after 24 days idle TS.Recent is invalid (the
        // peer's clock may have wrapped its sign bit): accept and restart.
        t.ts_recent = tsval;
        t.ts_recent_age = now;
        return false;
    }
    return true;
}

void TcpStack::Impl::update_ts_recent(Instant now, Tcb& t, const Segment& seg, SeqNum original_seq) {
    if (!t.ts_ok || !seg.options.timestamps) return;
    const std::uint32_t tsval = seg.options.timestamps->tsval;
    // RFC 7323 4.3 (2) / 5.3 R3: SEG.TSval >= TS.Recent and SEG.SEQ <=
    // Last.ACK.sent, so TS.Recent echoes the segment that triggered our
    // next ACK (the earliest unacknowledged one with delayed ACKs).
    if (static_cast<std::int32_t>(tsval - t.ts_recent) >= 0 && original_seq <= t.rcv_acked) {
        t.ts_recent = tsval;
        t.ts_recent_age = now;
    }
}

void TcpStack::Impl::measure_rcv_rtt(Instant now, Tcb& t, const Segment& seg) {
    Duration sample{-1};
    if (t.ts_ok && seg.options.timestamps && seg.options.timestamps->tsecr != 0) {
        const std::uint32_t d = ts_now(t) - seg.options.timestamps->tsecr;
        if (d < 0x7fffffffu) sample = milliseconds(std::max<std::uint32_t>(d, 1));
    } else if (!t.rcv_rtt_timing) {
        // Without timestamps: the time one window takes to arrive (as Linux
        // tcp_rcv_rtt_measure), an upper bound of the RTT.
        t.rcv_rtt_timing = true;
        t.rcv_rtt_seq = t.rcv_nxt + std::max<std::uint32_t>(t.rcv_wnd(), 1);
        t.rcv_rtt_start = now;
    } else if (t.rcv_nxt >= t.rcv_rtt_seq) {
        t.rcv_rtt_timing = false;
        sample = std::max<Duration>(now - t.rcv_rtt_start, milliseconds(1));
    }
    if (sample < Duration::zero()) return;
    if (t.rcv_rtt == Duration::zero() || sample < t.rcv_rtt)
        t.rcv_rtt = sample;
    else
        t.rcv_rtt += (sample - t.rcv_rtt) / 8;
}

void TcpStack::Impl::note_peer_alive(Instant now, Tcb& t) {
    t.last_rx = now;
    t.keepalive_probes = 0;
    if (t.keepalive) arm(t.keepalive_deadline, now + t.cfg->keepalive_idle);
}

// RFC 9293 3.10.7.3
void TcpStack::Impl::syn_sent_state(Instant now, std::uint32_t index, Segment& seg) {
    Tcb& t = *tcbs[index];
    // first: the ACK bit
    if (seg.ack_flag && (seg.ack <= t.iss || seg.ack > t.snd_max)) {
        counters.inc(Counter::rx_bad_ack);
        if (!seg.rst) queue_reset(PendingReset{t.local, t.remote, seg.ack, SeqNum(0), false});
        return;
    }
    // second: the RST bit (only with an acceptable ACK, RFC 5961 3.2 keeps
    // blind resets out)
    if (seg.rst) {
        if (seg.ack_flag) {
            counters.inc(Counter::resets_received);
            counters.inc(Counter::conn_refused);
            fail(index, Error::kRefused);
        }
        return;
    }
    // third: security, not applicable. fourth: the SYN bit
    if (!seg.syn) {
        counters.inc(Counter::rx_syn_sent_dropped);
        return;
    }
    t.irs = seg.seq;
    t.rcv_nxt = seg.seq + 1;
    t.rcv_acked = t.rcv_nxt;
    apply_peer_syn_options(t, seg, t.cfg->window_scaling);
    t.rcv_adv = t.rcv_nxt + static_cast<std::uint32_t>(std::min<std::size_t>(t.recv_buf.free(), 65535));
    t.snd_wnd = seg.window;  // unscaled in a SYN
    t.max_snd_wnd = t.snd_wnd;
    t.snd_wl1 = seg.seq;
    t.snd_wl2 = seg.ack;
    if (seg.ack_flag) {
        t.snd_una = seg.ack;
        if (t.rtt_timing && t.retries == 0) t.rtt.sample(now - t.rtt_start);
        t.rtt_timing = false;
        t.retries = 0;
        t.rtx_deadline = kNever;
        t.ack_now = true;
        established(index, now);
        // "If there are other controls or text in the segment, then continue
        // processing at the sixth step" (3.10.7.3 fourth): text and FIN that
        // came with the SYN-ACK, cut to our window.
        seg.syn = false;
        seg.seq = seg.seq + 1;
        if (!seg.payload.empty() || seg.fin) {
            const std::size_t room = std::min<std::size_t>(t.rcv_wnd(), t.recv_buf.free());
            if (seg.payload.size() > room) {
                seg.payload = seg.payload.first(room);
                seg.fin = false;
            }
            if (step7_text(now, index, seg)) step8_fin(now, index, seg);
        }
    } else {
        // Simultaneous open (RFC 9293 3.5 figure 7): answer with SYN-ACK.
        t.state = State::kSynReceived;
        notify(index);
        t.snd_nxt = t.iss;
        mark_dirty(index);
    }
}

// RFC 9293 3.10.7.4: SYN-RECEIVED and every synchronized state.
bool TcpStack::Impl::other_states(Instant now, std::uint32_t index, Segment& seg,
                                  std::optional<SeqNum>* prior_snd_max) {
    Tcb& t = *tcbs[index];
    // A SYN-ACK of ours was lost and the peer repeats its SYN: repeat the
    // SYN-ACK at once rather than waiting for our timer.
    if (t.state == State::kSynReceived && seg.syn && !seg.ack_flag && !seg.rst && seg.seq == t.irs) {
        t.snd_nxt = t.iss;
        mark_dirty(index);
        return true;
    }
    // A new SYN for a tuple in TIME-WAIT that cannot be an old duplicate
    // starts a new incarnation (RFC 1122 4.2.2.13, RFC 6191), whose ISS
    // lies beyond the old SND.MAX.
    if (t.state == State::kTimeWait && seg.syn && !seg.ack_flag && !seg.rst &&
        listener_by_port.contains(t.local.port) && time_wait_reusable(t, seg)) {
        counters.inc(Counter::time_wait_reused);
        if (prior_snd_max) *prior_snd_max = t.snd_max;
        close_orderly(index);
        release_if_done(index);
        return false;
    }
    // Simultaneous open, RFC 9293 3.5 figure 7 line 7: the peer's SYN-ACK
    // (SEQ = IRS, acknowledging our SYN) completes the handshake. Its SYN is
    // already counted in RCV.NXT, so it is processed as the ACK it also is
    // (as Linux does; RFC 5961 4.2 leaves this case to it).
    if (t.state == State::kSynReceived && !t.passive && seg.syn && seg.ack_flag && !seg.rst && seg.seq == t.irs &&
        t.snd_una < seg.ack && seg.ack <= t.snd_max) {
        seg.syn = false;
        seg.seq = seg.seq + 1;
    }
    const bool had_syn = seg.syn;
    ++t.segments_received;
    // RFC 7323 5.3 R1 (PAWS) comes before the sequence number check.
    if (paws_rejects(now, t, seg)) {
        counters.inc(Counter::rx_paws_rejected);
        ++t.paws_rejected;
        if (!stale_ack_in_time_wait(t, seg)) invalid_segment_ack(now, index, seg);
        return true;
    }
    const SeqNum original_seq = seg.seq;
    if (!step1_check_sequence(now, index, seg)) return true;
    if (!seg.rst) note_peer_alive(now, t);
    if (seg.rst) {
        step2_rst(now, index, seg);
        return true;
    }
    // third: security and precedence (RFC 9293 3.10.7.4) do not apply.
    if (had_syn) {
        step4_syn(now, index);
        return true;
    }
    if (!seg.ack_flag) {
        // fifth, first bullet: without ACK the segment is dropped, its data
        // is not queued.
        counters.inc(Counter::rx_no_ack);
        return true;
    }
    if (!step5_ack(now, index, seg)) return true;
    // RFC 7323 4.3 / 5.3 R3: TS.Recent only from a segment that passed every
    // check (sequence, RST, SYN, ACK): a blind segment with an in-window
    // sequence number and a far-future TSval that fails a later check would
    // otherwise make PAWS drop the real peer from then on.
    update_ts_recent(now, t, seg, original_seq);
    // sixth: URG. Urgent mode is not supported (RFC 6093 advises against
    // it); the urgent pointer is ignored and its bytes are ordinary data.
    if (!step7_text(now, index, seg)) return true;
    step8_fin(now, index, seg);
    return true;
}

// first: sequence number check, the four-case acceptability test, then
// trimming to the window.
bool TcpStack::Impl::step1_check_sequence(Instant now, std::uint32_t index, Segment& seg) {
    Tcb& t = *tcbs[index];
    const std::uint32_t wnd = t.rcv_wnd();
    const std::uint32_t len = seg.len();
    const SeqNum right = t.rcv_nxt + wnd;
    bool acceptable;
    if (len == 0) {
        acceptable = wnd == 0 ? seg.seq == t.rcv_nxt : seq_in_range(t.rcv_nxt, seg.seq, right);
    } else if (wnd == 0) {
        // Strictly not acceptable; but a segment exactly at RCV.NXT is let
        // through for its ACK, RST and FIN (which need no buffer space) while
        // its data is trimmed below (3.10.7.4: "special allowance should be
        // made to accept valid ACKs, URGs, and RSTs"). This is what lets a
        // FIN that follows a full window be taken without a retransmission.
        acceptable = seg.seq == t.rcv_nxt;
    } else {
        acceptable = seq_in_range(t.rcv_nxt, seg.seq, right) || seq_in_range(t.rcv_nxt, seg.seq + (len - 1), right);
    }
    if (!acceptable) {
        if (seg.seq + len <= t.rcv_nxt) {
            counters.inc(Counter::rx_duplicate_segments);
            ++t.dup_segments;
            if (!seg.payload.empty())
                note_duplicate(t, seg.seq, seg.seq + static_cast<std::uint32_t>(seg.payload.size()));
        } else
            counters.inc(Counter::rx_out_of_window);
        if (t.state == State::kTimeWait && seg.fin && !seg.rst) {
            // TIME-WAIT: a retransmitted FIN is re-acknowledged and restarts
            // the 2 MSL wait (3.10.7.4 eighth step, TIME-WAIT).
            arm(t.linger_deadline, now + 2 * t.cfg->msl);
        }
        if (!seg.rst && !stale_ack_in_time_wait(t, seg)) invalid_segment_ack(now, index, seg);
        return false;
    }
    if (seg.rst) return true;  // RST is judged on its exact sequence number in step 2
    // Trim what precedes RCV.NXT (old, already received)...
    if (seg.seq < t.rcv_nxt) {
        std::uint32_t d = SeqNum::distance(t.rcv_nxt, seg.seq);
        if (seg.syn) {
            seg.syn = false;
            --d;
            seg.seq = seg.seq + 1;
        }
        const auto take = static_cast<std::uint32_t>(std::min<std::size_t>(d, seg.payload.size()));
        seg.payload = seg.payload.subspan(take);
        seg.seq = seg.seq + take;
        if (take > 0) {
            counters.inc(Counter::rx_partial_duplicates);
            ++t.dup_segments;
            note_duplicate(t, seg.seq - take, seg.seq);  // seg.seq already trimmed
        }
        if (d > take) seg.fin = false;
        t.ack_now = true;
        mark_dirty(index);
    }
    // ...and what lies beyond the right edge (or beyond real buffer space).
    const std::uint32_t room = static_cast<std::uint32_t>(std::min<std::size_t>(wnd, t.recv_buf.free()));
    const std::uint32_t offset = SeqNum::distance(seg.seq, t.rcv_nxt);
    const std::uint32_t allowed = room > offset ? room - offset : 0;
    if (seg.payload.size() > allowed) {
        counters.inc(Counter::rx_beyond_window, seg.payload.size() - allowed);
        seg.payload = seg.payload.first(allowed);
        seg.fin = false;
        t.ack_now = true;
        mark_dirty(index);
    }
    return true;
}

// RFC 2883 4: remember data received twice below RCV.NXT for the D-SACK
// block of the next ACK (the newest duplicate wins; one block suffices for
// the peer's undo and reordering logic).
void TcpStack::Impl::note_duplicate(Tcb& t, SeqNum left, SeqNum right) {
    if (!t.sack_ok) return;
    t.dsack_pending = true;
    t.dsack_left = left;
    t.dsack_right = right;
}

// second: the RST bit (RFC 5961 3.2).
void TcpStack::Impl::step2_rst(Instant now, std::uint32_t index, const Segment& seg) {
    Tcb& t = *tcbs[index];
    if (seg.seq != t.rcv_nxt) {
        counters.inc(Counter::rx_rst_in_window);
        challenge_ack(now, index);
        return;
    }
    switch (t.state) {
        case State::kSynReceived:
            counters.inc(Counter::resets_received);
            if (t.passive) {
                // Back to LISTEN: the embryonic connection simply disappears.
                fail(index, Error::kRefused);
            } else {
                counters.inc(Counter::conn_refused);
                fail(index, Error::kRefused);
            }
            return;
        case State::kEstablished:
        case State::kFinWait1:
        case State::kFinWait2:
        case State::kCloseWait:
            counters.inc(Counter::resets_received);
            counters.inc(Counter::conn_reset);
            fail(index, Error::kReset);
            return;
        case State::kClosing:
        case State::kLastAck:
            counters.inc(Counter::resets_received);
            if (t.app_owned)
                fail(index, Error::kReset);
            else
                close_orderly(index);
            return;
        case State::kTimeWait:
            // RFC 1337 ("TIME-WAIT assassination"): an RST in TIME-WAIT is
            // ignored, the state runs its full 2*MSL.
            counters.inc(Counter::rx_rst_time_wait_ignored);
            return;
        default: return;
    }
}

// fourth: the SYN bit (RFC 5961 4.2, RFC 9293 3.10.7.4).
void TcpStack::Impl::step4_syn(Instant now, std::uint32_t index) {
    Tcb& t = *tcbs[index];
    counters.inc(Counter::rx_syn_in_window);
    if (t.state == State::kSynReceived && t.passive) {
        // "return this connection to the LISTEN state": drop the embryo.
        fail(index, Error::kRefused);
        return;
    }
    challenge_ack(now, index);
}

// As Linux's tcp_oow_rate_limited(): a segment that carries data or FIN
// (and no SYN) is answered every time, it cannot be part of an ACK loop and
// its sender may need our RCV.NXT to stop retransmitting; a bare ACK or a
// SYN at most once per invalid_ack_ratelimit.
void TcpStack::Impl::invalid_segment_ack(Instant now, std::uint32_t index, const Segment& seg) {
    Tcb& t = *tcbs[index];
    const bool carries_data = (!seg.payload.empty() || seg.fin) && !seg.syn;
    if (!carries_data && t.cfg->invalid_ack_ratelimit > Duration::zero()) {
        if (t.last_invalid_ack && now - *t.last_invalid_ack < t.cfg->invalid_ack_ratelimit) {
            counters.inc(Counter::invalid_acks_suppressed);
            return;
        }
        t.last_invalid_ack = now;
    }
    t.ack_now = true;
    mark_dirty(index);
}

void TcpStack::Impl::challenge_ack(Instant now, std::uint32_t index) {
    Tcb& t = *tcbs[index];
    if (now - t.challenge_window_start >= seconds(1)) {
        t.challenge_window_start = now;
        t.challenge_count = 0;
    }
    if (t.challenge_count >= kChallengeAcksPerSecond) {
        counters.inc(Counter::challenge_acks_suppressed);
        return;
    }
    ++t.challenge_count;
    counters.inc(Counter::challenge_acks);
    t.ack_now = true;
    mark_dirty(index);
}

// fifth: the ACK field (RFC 9293 3.10.7.4, "fifth, check the ACK field").
// Returns false when processing stops here. What the ACK means for loss
// recovery (SACK blocks, duplicate ACKs, recovery episodes, RACK) is
// LossRecovery's (loss_recovery.hpp); this step keeps the RFC's own rules.
bool TcpStack::Impl::step5_ack(Instant now, std::uint32_t index, const Segment& seg) {
    Tcb& t = *tcbs[index];
    if (t.state == State::kSynReceived) {
        // SYN-RECEIVED: "If SND.UNA < SEG.ACK =< SND.NXT, then enter
        // ESTABLISHED state ...; If the segment acknowledgment is not
        // acceptable, form a reset segment".
        if (!(t.snd_una < seg.ack && seg.ack <= t.snd_max)) {
            counters.inc(Counter::rx_bad_ack);
            queue_reset(PendingReset{t.local, t.remote, seg.ack, SeqNum(0), false});
            return false;
        }
        t.snd_una = seg.ack;
        if (t.rtt_timing && t.retries == 0) t.rtt.sample(now - t.rtt_start);
        t.rtt_timing = false;
        t.retries = 0;
        t.rtx_deadline = kNever;
        t.snd_wnd = std::uint32_t{seg.window} << t.snd_wscale;
        t.max_snd_wnd = std::max(t.max_snd_wnd, t.snd_wnd);
        t.snd_wl1 = seg.seq;
        t.snd_wl2 = seg.ack;
        established(index, now);
        return true;  // the segment's text and FIN are processed as in ESTABLISHED
    }
    if (seg.ack > t.snd_max) {
        // "If the ACK acks something not yet sent (SEG.ACK > SND.NXT) then
        // send an ACK, drop the segment, and return."
        counters.inc(Counter::rx_bad_ack);
        invalid_segment_ack(now, index, seg);
        return false;
    }
    if (t.snd_una - t.max_snd_wnd > seg.ack) {
        // RFC 5961 5.2: older than any window the peer can have seen.
        counters.inc(Counter::rx_old_ack);
        invalid_segment_ack(now, index, seg);
        return false;
    }
    RecoveryPort port(*this, index);
    const std::uint32_t seg_wnd = std::uint32_t{seg.window} << t.snd_wscale;
    AckEvent ack{.ack = seg.ack};
    // RFC 6675 Update() first, so that this ACK's SACK blocks count for
    // every recovery decision.
    ack.newly_sacked = t.recovery.on_sack_blocks(t, seg.ack, seg.options);
    if (seg.ack > t.snd_una) {
        // "If SND.UNA < SEG.ACK =< SND.NXT, then set SND.UNA <- SEG.ACK. Any
        // segments on the retransmission queue that are thereby entirely
        // acknowledged are removed."
        ack.acked = SeqNum::distance(seg.ack, t.snd_una);
        ack.flight_before = t.flight();
        std::size_t data_acked = 0;
        if (seg.ack > t.snd_buf_seq)
            data_acked = std::min<std::size_t>(SeqNum::distance(seg.ack, t.snd_buf_seq), t.send_buf.size());
        t.send_buf.consume(data_acked);
        t.snd_buf_seq = t.snd_buf_seq + static_cast<std::uint32_t>(data_acked);
        t.bytes_acked += data_acked;
        t.snd_una = seg.ack;
        if (t.snd_nxt < t.snd_una) t.snd_nxt = t.snd_una;
        t.soft_error = Error::kNone;  // something got through (RFC 1122 4.2.3.9)
        // An RFC 4821 probe that got through raises the MSS (path_mtu.hpp).
        if (t.pmtu.on_acked(t.snd_una, now)) {
            counters.inc(Counter::pmtu_probe_successes);
            t.snd_mss = t.pmtu.mss();
        }
        if (t.ts_ok && seg.options.timestamps && seg.options.timestamps->tsecr != 0) {
            // RFC 7323 4.1 RTTM: every ACK that advances SND.UNA gives a
            // sample from the echoed TSval, retransmissions included (the
            // echo says which transmission it answers, so Karn is moot).
            const std::uint32_t d = ts_now(t) - seg.options.timestamps->tsecr;
            if (d < 0x7fffffffu) {
                const std::uint32_t expected = std::max<std::uint32_t>(1, ack.flight_before / (2 * t.eff_mss()));
                t.rtt.sample(milliseconds(d), expected);
                if (t.cc) t.cc->on_rtt_sample(now, milliseconds(d), t.rtt.srtt());
            }
            t.rtt_timing = false;
        } else if (t.rtt_timing && seg.ack > t.rtt_seq) {
            // RFC 6298 / Karn: only segments never retransmitted are timed.
            t.rtt.sample(now - t.rtt_start);
            if (t.cc) t.cc->on_rtt_sample(now, now - t.rtt_start, t.rtt.srtt());
            t.rtt_timing = false;
        }
        t.retries = 0;
        t.probes = 0;
        // RFC 6298 5.2/5.3: stop or restart the timer.
        if (t.snd_una == t.snd_max)
            t.rtx_deadline = kNever;
        else
            arm(t.rtx_deadline, now + t.rtt.rto());
        if (data_acked > 0) notify(index);  // send space freed
        mark_dirty(index);
    } else {
        // "If the ACK is a duplicate (SEG.ACK =< SND.UNA), it can be
        // ignored": for the RFC; RFC 5681 2 counts it when it carries
        // nothing else (recovery decides).
        ack.bare_same_window = seg.payload.empty() && !seg.fin && seg_wnd == t.snd_wnd;
    }
    t.recovery.on_ack(port, t, now, ack);
    // "If SND.UNA =< SEG.ACK =< SND.NXT, the send window should be updated":
    // only from a segment not older than the one that last set the window.
    bool window_opened = false;
    if (t.snd_una <= seg.ack && seg.ack <= t.snd_max &&
        (t.snd_wl1 < seg.seq || (t.snd_wl1 == seg.seq && t.snd_wl2 <= seg.ack))) {
        window_opened = t.snd_wnd == 0 && seg_wnd > 0;
        if (seg_wnd > t.snd_wnd) mark_dirty(index);
        t.snd_wnd = seg_wnd;
        t.max_snd_wnd = std::max(t.max_snd_wnd, seg_wnd);
        t.snd_wl1 = seg.seq;
        t.snd_wl2 = seg.ack;
    }
    if (window_opened) {
        t.persist_deadline = kNever;
        t.persist_interval = t.rtt.rto();
        t.probes = 0;
        mark_dirty(index);
    }
    // Any acceptable ACK proves the peer is alive for the persist logic.
    if (t.snd_wnd == 0) t.probes = 0;

    // The states' own additions to step 5.
    switch (t.state) {
        case State::kFinWait1:
            // "if our FIN is now acknowledged, then enter FIN-WAIT-2"
            if (t.fin_acked()) {
                set_state(index, State::kFinWait2);
                t.rtx_deadline = kNever;
                if (t.orphaned) arm(t.linger_deadline, now + 2 * t.cfg->msl);
            }
            break;
        case State::kClosing:
            // "if the ACK acknowledges our FIN, then enter the TIME-WAIT state"
            if (t.fin_acked()) enter_time_wait(index, now);
            break;
        case State::kLastAck:
            // "If our FIN is now acknowledged, delete the TCB"
            if (t.fin_acked()) {
                close_orderly(index);
                return false;
            }
            break;
        default: break;
    }
    return true;
}

// seventh: segment text. Returns false when processing stops here.
bool TcpStack::Impl::step7_text(Instant now, std::uint32_t index, const Segment& seg) {
    Tcb& t = *tcbs[index];
    if (seg.payload.empty()) return true;
    if (!receives_text(t.state)) return true;  // after the peer's FIN: ignored
    if (t.orphaned) {
        // The application closed and will never read this: tell the peer
        // (RFC 1122 4.2.2.13, as Linux does).
        counters.inc(Counter::rx_data_after_close);
        queue_abort_reset(t);
        fail(index, Error::kAborted);
        return false;
    }
    t.rcv_mss = std::max<std::uint32_t>(
        t.rcv_mss, std::min<std::uint32_t>(static_cast<std::uint32_t>(seg.payload.size()), our_mss(t.remote.address)));
    measure_rcv_rtt(now, t, seg);
    const std::size_t offset = SeqNum::distance(seg.seq, t.rcv_nxt);
    if (!memory_admit_rx(index, offset, seg.payload.size())) {
        t.ack_now = true;  // not stored, not acknowledged: the peer sends it again
        mark_dirty(index);
        return false;
    }
    const std::size_t stored = t.recv_buf.write_at(offset, seg.payload);
    if (stored == 0) {
        t.ack_now = true;
        mark_dirty(index);
        return false;
    }
    if (!t.ooo.add(offset, stored)) {
        counters.inc(Counter::rx_ooo_dropped);
        t.ack_now = true;
        mark_dirty(index);
        return false;
    }
    if (offset > 0) {
        // RFC 5681 4.2: out-of-order data is acknowledged at once (a
        // duplicate ACK that drives the peer's fast retransmit).
        counters.inc(Counter::rx_out_of_order);
        ++t.ooo_segments;
        // RFC 2018 4: the block holding the newest segment is reported first.
        // One anchor per block: older anchors inside the block that now
        // holds this segment are dropped.
        if (t.sack_ok) {
            for (const auto& r : t.ooo.ranges()) {
                if (r.begin <= offset && offset < r.end) {
                    std::erase_if(t.sack_recent, [&](SeqNum a) {
                        if (a < t.rcv_nxt) return true;
                        const std::size_t off = SeqNum::distance(a, t.rcv_nxt);
                        return r.begin <= off && off < r.end;
                    });
                    break;
                }
            }
            t.sack_recent.insert(t.sack_recent.begin(), seg.seq);
            if (t.sack_recent.size() > kMaxSackAnchors) t.sack_recent.pop_back();
        }
        if (t.dup_acks_owed < kMaxOwedDupAcks) ++t.dup_acks_owed;
        t.ack_now = true;
        mark_dirty(index);
        return true;
    }
    const bool filled_hole = t.ooo.range_count() > 1 || t.ooo.ranges().front().end > stored;
    const std::size_t advanced = t.ooo.take_front();
    t.recv_buf.commit(advanced);
    t.rcv_nxt = t.rcv_nxt + static_cast<std::uint32_t>(advanced);
    t.bytes_received += advanced;
    std::erase_if(t.sack_recent, [&](SeqNum s) { return s < t.rcv_nxt; });
    notify(index);  // readable data
    // ACK at the next poll() (RFC 5681 4.2, RFC 1122 4.2.3.2) once two
    // full-sized segments are unacknowledged, for data that fills a hole
    // (or leaves one: the SACK blocks changed), or when the window is too
    // small for another full segment (the peer is blocked until it hears
    // from us); otherwise the delayed-ACK timer. All in-order data of one
    // batch (everything received between two poll()s) shares that one
    // cumulative ACK, a stretch ACK as with Linux GRO, so a burst costs one
    // TAP write rather than one per two segments.
    if (t.ack_mark < t.rcv_acked) t.ack_mark = t.rcv_acked;
    if (SeqNum::distance(t.rcv_nxt, t.ack_mark) >= 2u * t.rcv_mss) t.ack_mark = t.rcv_nxt;
    if (filled_hole || !t.ooo.empty() || SeqNum::distance(t.rcv_nxt, t.rcv_acked) >= 2u * t.rcv_mss ||
        t.recv_buf.free() < t.rcv_mss || t.cfg->delayed_ack_timeout == Duration::zero()) {
        t.ack_now = true;
        mark_dirty(index);
    } else if (t.delack_deadline == kNever) {
        arm(t.delack_deadline, now + t.cfg->delayed_ack_timeout);
    }
    return true;
}

// eighth: the FIN bit, acted on only at its own sequence position.
void TcpStack::Impl::step8_fin(Instant now, std::uint32_t index, const Segment& seg) {
    Tcb& t = *tcbs[index];
    if (seg.fin) {
        const SeqNum fin_seq = seg.seq + static_cast<std::uint32_t>(seg.payload.size());
        if (t.state == State::kTimeWait) {
            // TIME-WAIT: re-acknowledge and restart the 2 MSL timeout.
            t.ack_now = true;
            mark_dirty(index);
            arm(t.linger_deadline, now + 2 * t.cfg->msl);
            return;
        }
        if (!receives_text(t.state)) return;  // a FIN was already taken
        if (fin_seq == t.rcv_nxt) {
            accept_fin(now, index);
            return;
        }
        if (fin_seq > t.rcv_nxt) {
            // Ahead of a hole: remember it, acknowledge nothing beyond RCV.NXT.
            t.pending_fin = fin_seq;
            t.ack_now = true;
            mark_dirty(index);
            return;
        }
    }
    if (t.pending_fin) {
        if (*t.pending_fin == t.rcv_nxt && receives_text(t.state))
            accept_fin(now, index);
        else if (*t.pending_fin < t.rcv_nxt)
            t.pending_fin.reset();  // data went past it: the peer changed its mind
    }
}

void TcpStack::Impl::accept_fin(Instant now, std::uint32_t index) {
    Tcb& t = *tcbs[index];
    t.rcv_nxt = t.rcv_nxt + 1;
    t.fin_received = true;
    t.pending_fin.reset();
    t.ack_now = true;  // a FIN is acknowledged at once
    t.delack_deadline = kNever;
    mark_dirty(index);
    switch (t.state) {
        case State::kSynReceived:
        case State::kEstablished: set_state(index, State::kCloseWait); break;
        case State::kFinWait1:
            if (t.fin_acked())
                enter_time_wait(index, now);
            else
                set_state(index, State::kClosing);
            break;
        case State::kFinWait2: enter_time_wait(index, now); break;
        default: break;
    }
    notify(index);  // EOF once the buffer is drained
}

}  // namespace tapstack::tcp
