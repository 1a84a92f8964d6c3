// Output and timers (RFC 9293 3.8, 3.10.8; RFC 6298; RFC 5681/6582/6675/3042;
// RFC 7323 and RFC 2018 options; RFC 1122 4.2.3.6 keepalive).
//
// output() decides, for one TCB, everything that should leave now: the SYN
// or SYN-ACK, the retransmissions loss recovery asks for (a fast/NewReno
// retransmission, during SACK recovery whatever NextSeg picks while pipe <
// cwnd: LossRecovery, loss_recovery.hpp), otherwise new data as far as the
// peer's window (never past SND.UNA + SND.WND), cwnd (plus two segments of
// limited transmit), Nagle and sender SWS avoidance allow, the FIN after
// the last byte, and otherwise a pure ACK when one is owed (ack_now, the
// delayed-ACK timer, or a worthwhile window update). It also arms the
// retransmission timer when something is in flight and the persist timer
// when unsent data is blocked by a zero window with nothing in flight, and
// lets recovery arm its tail loss probe (RFC 8985 7).
// emit() adds the per-segment options: timestamps once negotiated, SACK
// blocks while out-of-order data is held.
//
// TSO (TcpConfig::tso): send_one() may take several full segments'
// worth at once (max_send_len()); emit() then hands one super-segment with a
// partial checksum and gso_size = the payload room to the sink, and the
// device cuts it into segments that carry the same options. Sequence space
// is accounted per byte, so ACK processing, recovery and RTT sampling see
// no difference; fast and SACK retransmissions stay one segment each.
#include <algorithm>

#include "stack/tcp/tcp_stack_impl.hpp"

namespace tapstack::tcp {

namespace {

bool receives_data(State s) { return s == State::kEstablished || s == State::kFinWait1 || s == State::kFinWait2; }

}  // namespace

// Receiver silly-window avoidance (RFC 9293 3.8.6.2.2, RFC 1122 4.2.3.3): the
// right edge moves right only by at least min(buffer/2, MSS), and never left
// by more than the window scale's rounding. We never promise more than the
// buffer can hold: with a scale shift S the edge is a multiple of 2^S from
// RCV.NXT, so when the previous edge is not representable any more and the
// next multiple does not fit in the buffer, the edge moves left by less
// than 2^S (RFC 7323 2.4 anticipates this retraction). Rounding up instead
// would let the edge creep past the buffer one ACK at a time while the
// application does not read, and the peer's in-window data would have to
// be dropped forever (its retransmissions time out).
std::uint16_t TcpStack::Impl::window_field(Tcb& t) {
    const std::uint8_t shift = t.wscale_ok ? t.rcv_wscale : 0;
    const std::uint32_t cur = t.rcv_wnd();
    const auto free = static_cast<std::uint32_t>(t.recv_buf.free());
    const std::uint32_t threshold =
        std::min<std::uint32_t>(static_cast<std::uint32_t>(t.recv_buf.capacity() / 2), t.snd_mss);
    // While out-of-order data is held the right edge stays put, so the
    // duplicate ACKs we send stay duplicates for the peer (RFC 5681 2 (e):
    // a changed window makes an ACK a window update, not a duplicate).
    std::uint32_t wnd = (t.ooo.empty() && free >= cur + std::max<std::uint32_t>(threshold, 1)) ? free : cur;
    wnd = std::min<std::uint32_t>({wnd, free, 65535u << shift});
    wnd = memory_window_cap(t, cur, wnd);  // small new windows under memory pressure
    std::uint32_t field = wnd >> shift;
    if ((field << shift) < cur) {
        const std::uint32_t up = std::min<std::uint32_t>((cur + (1u << shift) - 1) >> shift, 65535);
        if ((up << shift) <= free) field = up;
    }
    t.rcv_adv = seq_max(t.rcv_adv, t.rcv_nxt + (field << shift));
    return static_cast<std::uint16_t>(field);
}

bool TcpStack::Impl::window_update_due(const Tcb& t) const {
    if (!receives_data(t.state) || t.fin_received || !t.ooo.empty()) return false;
    const std::uint32_t cur = t.rcv_wnd();
    // As much as window_field() would offer (memory pressure keeps it small).
    const auto free = memory_window_limit(t, cur, static_cast<std::uint32_t>(t.recv_buf.free()));
    const std::uint32_t threshold =
        std::min<std::uint32_t>(static_cast<std::uint32_t>(t.recv_buf.capacity() / 2), t.snd_mss);
    const std::uint8_t shift = t.wscale_ok ? t.rcv_wscale : 0;
    if (cur >= (65535u << shift)) return false;  // already the largest window we can express
    return free >= cur + std::max<std::uint32_t>(threshold, 1);
}

std::uint32_t TcpStack::Impl::ts_now(const Tcb& t) const {
    // RFC 7323 5.4: a 1 ms clock with a per-connection offset.
    return static_cast<std::uint32_t>(to_ns(last_now_) / 1'000'000) + t.ts_offset;
}

std::size_t TcpStack::Impl::sack_blocks_to_send(const Tcb& t) const {
    if (!t.sack_ok || t.ooo.empty()) return 0;
    // RFC 2018 3: 3 blocks fit beside the timestamp option, 4 without.
    return std::min<std::size_t>(t.ooo.range_count(), t.ts_ok ? 3 : 4);
}

// RFC 2018 4: the first block holds the most recently received segment; the
// others repeat the most recently reported blocks, then any remaining ones.
// RFC 2883 4: a pending D-SACK block goes first, on a pure ACK only (a TSO
// super-segment would repeat it in every piece), and only once.
void TcpStack::Impl::fill_sack_blocks(Tcb& t, wire::TcpOptions& o, bool pure_ack) {
    o.sack_count = 0;
    if (pure_ack && t.dsack_pending && t.sack_ok) {
        t.dsack_pending = false;
        o.sack_blocks[o.sack_count++] = wire::SackBlock{t.dsack_left.raw(), t.dsack_right.raw()};
    }
    // RFC 2018 3: 3 blocks fit beside the timestamp option, 4 without.
    const std::size_t max = std::min<std::size_t>(sack_blocks_to_send(t) + o.sack_count, t.ts_ok ? 3 : 4);
    if (max == o.sack_count) return;
    const auto& ranges = t.ooo.ranges();
    std::vector<bool> used(ranges.size(), false);
    auto add = [&](std::size_t i) {
        used[i] = true;
        o.sack_blocks[o.sack_count++] = wire::SackBlock{(t.rcv_nxt + static_cast<std::uint32_t>(ranges[i].begin)).raw(),
                                                        (t.rcv_nxt + static_cast<std::uint32_t>(ranges[i].end)).raw()};
    };
    auto add_anchor = [&](SeqNum anchor) {
        if (o.sack_count >= max || anchor < t.rcv_nxt) return;
        const std::size_t off = SeqNum::distance(anchor, t.rcv_nxt);
        for (std::size_t i = 0; i < ranges.size(); ++i) {
            if (ranges[i].begin <= off && off < ranges[i].end) {
                if (!used[i]) add(i);
                return;
            }
        }
    };
    // The duplicate ACKs of one batch answer its out-of-order segments
    // oldest first, each naming the block of "its" segment first.
    if (sack_first_anchor_ < t.sack_recent.size()) add_anchor(t.sack_recent[sack_first_anchor_]);
    for (SeqNum anchor : t.sack_recent) add_anchor(anchor);
    for (std::size_t i = ranges.size(); i-- > 0 && o.sack_count < max;) {
        if (!used[i]) add(i);
    }
}

// Payload of a full segment now: the effective MSS less the SACK blocks
// this segment will carry (the option area is shared, RFC 6691).
std::uint32_t TcpStack::Impl::segment_payload_room(const Tcb& t) const {
    const std::size_t blocks = sack_blocks_to_send(t);
    const std::uint32_t opt = blocks > 0 ? static_cast<std::uint32_t>(4 + 8 * blocks) : 0;
    return t.eff_mss() > opt + 1 ? t.eff_mss() - opt : 1;
}

std::uint32_t TcpStack::Impl::max_send_len(const Tcb& t, std::uint32_t room) const {
    if (!tso(t) || room == 0) return room;
    // The super-segment's IPv4 total length must fit 16 bits (20 bytes of
    // IPv4 header, at most 60 of TCP header).
    constexpr std::uint32_t kMaxPayload = 65535 - 20 - 60;
    return std::max(room, (kMaxPayload / room) * room);
}

void TcpStack::Impl::emit(Tcb& t, SeqNum seq, std::uint8_t flags, std::span<const std::uint8_t> payload,
                          const wire::TcpOptions& options, std::uint32_t gso_size,
                          std::span<const std::uint8_t> payload_tail) {
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
        // RFC 7323 3.2: once negotiated, every segment carries timestamps
        // (TSecr = TS.Recent, 4.3 (3)); RFC 2018: SACK blocks while data
        // is held out of order.
        if (t.ts_ok) r.options.timestamps = wire::TcpTimestamps{ts_now(t), t.ts_recent};
        if (flags & wire::tcp_flag::kAck) fill_sack_blocks(t, r.options, payload.empty() && payload_tail.empty());
    }
    if (flags & wire::tcp_flag::kAck) {
        r.ack = t.rcv_nxt.raw();
        t.rcv_acked = t.rcv_nxt;
        t.ack_mark = t.rcv_nxt;
        t.ack_now = false;
        t.delack_deadline = kNever;
    }
    counters.inc(Counter::tx_segments);
    ++t.segments_sent;
    const std::size_t payload_len = payload.size() + payload_tail.size();
    t.bytes_sent += payload_len;
    if (payload_len == 0) {
        const std::size_t len = r.buffer_len();
        r.emit(std::span<std::uint8_t>(tx_buf).first(len), t.local.address, t.remote.address);
        sink.send_segment(t.local.address, t.remote.address, std::span<const std::uint8_t>(tx_buf).first(len));
        return;
    }
    // Data leaves from the send buffer itself: the header is built in
    // tx_buf and the payload runs follow it as parts.
    // With TcpConfig::tso the device also takes the checksum (a partial
    // one, virtio 1.x 5.1.6.2) and cuts a super-segment.
    const std::size_t hlen = r.header_len();
    const std::array<std::span<const std::uint8_t>, 2> data{payload, payload_tail};
    const std::span<const std::span<const std::uint8_t>> data_parts(data.data(), payload_tail.empty() ? 1 : 2);
    wire::TxOffload offload;
    if (tso(t)) {
        offload.partial_csum = true;
        offload.csum_start = 0;
        offload.csum_offset = 16;  // the TCP checksum field (RFC 9293 3.1)
        if (gso_size > 0 && payload_len > gso_size) {
            offload.gso = wire::GsoType::kTcpv4;
            offload.gso_size = static_cast<std::uint16_t>(gso_size);
            offload.hdr_len = static_cast<std::uint16_t>(hlen);
        }
    }
    r.payload = {};
    r.emit_header(std::span<std::uint8_t>(tx_buf).first(hlen), t.local.address, t.remote.address, data_parts,
                  offload.partial_csum);
    const std::array<std::span<const std::uint8_t>, 3> parts{std::span<const std::uint8_t>(tx_buf).first(hlen),
                                                              payload, payload_tail};
    sink.send_segment_parts(t.local.address, t.remote.address,
                            std::span<const std::span<const std::uint8_t>>(parts.data(), 1 + data_parts.size()),
                            offload);
}

void TcpStack::Impl::send_syn(Instant now, Tcb& t) {
    wire::TcpOptions o;
    o.mss = our_mss(t.remote.address);  // RFC 9293 3.7.1: MSS only in SYN segments
    const bool active = t.state == State::kSynSent;
    const bool offer_ws = active ? t.cfg->window_scaling : t.wscale_ok;
    if (offer_ws) o.window_scale = t.rcv_wscale;
    // RFC 2018 2 / RFC 7323 3.2: offered on a SYN; on a SYN-ACK only in
    // answer to the peer's offer.
    if (active ? t.cfg->sack : t.sack_ok) o.sack_permitted = true;
    if (active ? t.cfg->timestamps : t.ts_ok)
        o.timestamps = wire::TcpTimestamps{ts_now(t), active ? 0u : t.ts_recent};
    const bool again = t.snd_max > t.iss;
    std::uint8_t flags = wire::tcp_flag::kSyn;
    if (t.state == State::kSynReceived) flags |= wire::tcp_flag::kAck;
    if (again) {
        counters.inc(Counter::retransmissions);
        ++t.retransmissions;
    }
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

void TcpStack::Impl::send_data(Instant now, Tcb& t, SeqNum seq, std::uint32_t len, bool fin, bool retransmission,
                               bool whole) {
    std::array<std::span<const std::uint8_t>, 2> payload{};  // two runs across the ring's end
    if (len > 0) payload = t.send_buf.peek_spans(SeqNum::distance(seq, t.snd_buf_seq), len);
    const std::size_t payload_len = payload[0].size() + payload[1].size();
    std::uint8_t flags = wire::tcp_flag::kAck;
    if (fin) flags |= wire::tcp_flag::kFin;
    // PSH on the segment that empties what the application queued.
    if (len > 0 && seq + len == t.data_end()) flags |= wire::tcp_flag::kPsh;
    // Longer than one segment only with TSO (send_one()): the device cuts it.
    const std::uint32_t room = segment_payload_room(t);
    emit(t, seq, flags, payload[0], {}, (payload_len > room && !whole) ? room : 0, payload[1]);
    if (retransmission) {
        counters.inc(Counter::retransmissions);
        ++t.retransmissions;
        t.recovery.on_retransmitted(t, now, seq, seq + len + (fin ? 1u : 0u));
        if (t.pmtu.on_retransmit(seq, seq + len, now)) counters.inc(Counter::pmtu_probe_failures);
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

std::uint32_t TcpStack::Impl::retransmit_from(Instant now, Tcb& t, SeqNum seq, SeqNum end) {
    if (!(seq < end)) return 0;
    const SeqNum data_end = t.data_end();
    const std::uint32_t room = segment_payload_room(t);
    std::uint32_t len = 0;
    if (seq < data_end) {
        // Even a retransmission stays inside the peer's window.
        len = std::min({room, SeqNum::distance(seq_min(end, data_end), seq), t.snd_wnd});
        if (len == 0) return 0;
    }
    const bool fin = t.fin_sent && seq + len == data_end && end > data_end;
    if (len == 0 && !fin) return 0;
    send_data(now, t, seq, len, fin, true);
    if (t.rtx_deadline == kNever) arm(t.rtx_deadline, now + t.rtt.rto());
    return len + (fin ? 1u : 0u);
}

bool TcpStack::Impl::send_one(Instant now, Tcb& t, SeqNum cwnd_edge) {
    const std::uint32_t mss = segment_payload_room(t);
    const SeqNum end = t.data_end();
    if (t.snd_nxt < t.snd_max) {
        // Go-back-N after an RTO: what the peer SACKed since need not go
        // again (RFC 6675 5.1).
        t.snd_nxt = t.recovery.skip_sacked(t.snd_nxt, t.snd_max);
    }
    if (t.snd_nxt < end) {
        const SeqNum wnd_edge = t.snd_una + t.snd_wnd;  // never beyond the peer's right edge
        const SeqNum limit = seq_min(wnd_edge, cwnd_edge);
        const std::uint32_t room = limit > t.snd_nxt ? SeqNum::distance(limit, t.snd_nxt) : 0;
        std::uint32_t avail = SeqNum::distance(end, t.snd_nxt);
        const bool again = t.snd_nxt < t.snd_max;
        if (again) avail = std::min(avail, SeqNum::distance(t.recovery.next_sacked(t.snd_nxt, end), t.snd_nxt));
        std::uint32_t len = std::min({max_send_len(t, mss), avail, room});
        if (len == 0) return false;
        // A TSO super-segment holds whole segments unless it ends the data;
        // the remainder then goes as a short segment would (SWS, Nagle).
        if (len > mss && len < avail) len -= len % mss;
        if (len < mss && !again) {
            const bool in_flight = t.snd_nxt > t.snd_una;
            const bool nagle = !t.nodelay;
            if (len < avail) {
                // Sender silly-window avoidance (RFC 9293 3.8.6.2.1): the
                // window (peer's or cwnd) allows only a piece of what is
                // queued. Send it only if it is at least half the largest
                // window the peer offered (with nothing in flight under
                // Nagle), or when the override timer fired.
                const bool half = len >= std::max<std::uint32_t>(t.max_snd_wnd / 2, 1);
                if (!t.sws_override && !(half && (!in_flight || !nagle))) {
                    if (!in_flight && t.sws_deadline == kNever) arm(t.sws_deadline, now + kSwsOverride);
                    return false;
                }
            } else if (in_flight && nagle && !t.write_closed) {
                // Nagle (RFC 896, RFC 9293 3.7.4): a short segment waits
                // while data is in flight, unless it is the last one before
                // our FIN.
                return false;
            }
        }
        const bool fin = t.write_closed && t.snd_nxt + len == end;
        send_data(now, t, t.snd_nxt, len, fin, again);
        if (!again && t.cc && t.snd_nxt + len > t.snd_una + t.cc->cwnd()) counters.inc(Counter::limited_transmits);
        t.snd_nxt = t.snd_nxt + len + (fin ? 1u : 0u);
        if (fin) t.fin_sent = true;
        t.sws_override = false;
        t.sws_deadline = kNever;
        t.snd_max = seq_max(t.snd_max, t.snd_nxt);
        return true;
    }
    if (t.write_closed && t.snd_nxt == end && !(t.fin_sent && t.snd_nxt == t.snd_max)) {
        // The FIN alone (also its retransmission after an RTO).
        send_data(now, t, t.snd_nxt, 0, true, t.fin_sent);
        t.snd_nxt = t.snd_nxt + 1;
        t.fin_sent = true;
        t.snd_max = seq_max(t.snd_max, t.snd_nxt);
        return true;
    }
    return false;
}

// RFC 7661 / RFC 9438 4.6: remember whether cwnd, rather than the peer's
// window, the send buffer or the application, stopped this transmission,
// for a window's worth of data (Linux tcp_cwnd_validate()).
void TcpStack::Impl::note_cwnd_use(Tcb& t, std::uint32_t cwnd) {
    const bool limited_now = t.flight() + t.eff_mss() > cwnd;
    if (t.snd_una >= t.cwnd_usage_seq || limited_now) {
        t.cwnd_limited = limited_now;
        t.cwnd_usage_seq = t.snd_max;
    }
}

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

    // Did in-order data of this batch earn a cumulative ACK (two full
    // segments, see step7_text)? Then the ACK below is that one and not a
    // duplicate answering an out-of-order segment.
    const bool cumulative_owed = t.rcv_acked < t.rcv_nxt && t.ack_mark == t.rcv_nxt;
    const std::uint32_t dup_acks = t.dup_acks_owed;
    t.dup_acks_owed = 0;
    // Retransmissions first: entering recovery, a NewReno partial ACK, a
    // retransmission found lost (loss_recovery.hpp).
    RecoveryPort port(*this, index);
    bool sent = t.recovery.retransmit_due(port, t, now);
    if (sends_data(t.state)) {
        const SeqNum max_before = t.snd_max;
        if (t.recovery.controls_sending(t) && t.cc) {
            sent |= t.recovery.sack_recovery_output(port, t, now);
        } else {
            const std::uint32_t cwnd = (t.cc ? t.cc->cwnd() : 0x3fffffffu) + t.recovery.limited_transmit(t);
            if (send_mtu_probe(now, t, cwnd)) sent = true;  // RFC 4821, tcp_icmp.cpp
            while (send_one(now, t, t.snd_una + cwnd)) sent = true;
            note_cwnd_use(t, cwnd);
        }
        t.snd_max = seq_max(t.snd_max, t.snd_nxt);
        if (t.snd_max > t.snd_una && t.rtx_deadline == kNever) arm(t.rtx_deadline, now + t.rtt.rto());
        t.recovery.after_send(port, t, now, t.snd_max > max_before);
        // Persist (RFC 9293 3.8.6.1): unsent data, nothing in flight, and the
        // peer's window does not let anything out.
        if (!sent && t.snd_una == t.snd_max && t.snd_nxt < t.data_end() && t.snd_wnd == 0 &&
            t.persist_deadline == kNever) {
            if (t.persist_interval == Duration::zero()) t.persist_interval = t.rtt.rto();
            arm(t.persist_deadline, now + t.persist_interval);
        }
    }
    std::uint32_t pure_acks = 0;
    // k-th duplicate ACK of the batch (oldest first): names the k-th oldest
    // block first, the last one the newest (RFC 2018 4), so every block is
    // reported even when more blocks exist than one option can hold.
    const std::size_t anchors = t.sack_recent.size();
    auto anchor_for = [&](std::uint32_t k) -> std::size_t {
        const std::size_t from_newest = k < dup_acks ? dup_acks - 1 - k : 0;
        return anchors == 0 ? 0 : std::min(from_newest, anchors - 1);
    };
    if (!sent) {
        if (t.ack_now) {
            if (!cumulative_owed) sack_first_anchor_ = anchor_for(0);
            send_ack(t, t.snd_max);
            sack_first_anchor_ = 0;
            if (!cumulative_owed) ++pure_acks;  // it answers the out-of-order segment
        } else if (window_update_due(t)) {
            counters.inc(Counter::window_updates);
            send_ack(t, t.snd_max);
        }
    }
    // One duplicate ACK per out-of-order segment of the batch (segments
    // carrying data do not count as duplicates for the peer).
    for (; pure_acks < dup_acks; ++pure_acks) {
        sack_first_anchor_ = anchor_for(pure_acks);
        send_ack(t, t.snd_max);
    }
    sack_first_anchor_ = 0;
}

void TcpStack::Impl::run_timers(Instant now, std::uint32_t index) {
    Tcb& t = *tcbs[index];
    // First, so that a probe deadline left behind by a connection that has
    // closed meanwhile is cleared (it sends nothing then).
    if (t.recovery.next_deadline() <= now) {
        RecoveryPort port(*this, index);
        t.recovery.run_timers(port, t, now);
    }
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
    if (t.sws_deadline <= now) {
        t.sws_deadline = kNever;
        t.sws_override = true;  // RFC 9293 3.8.6.2.1 (4): send what the window allows
    }
    if (t.keepalive_deadline <= now) on_keepalive_timeout(now, index);
    if (t.state == State::kClosed) {
        release_if_done(index);
        return;
    }
    if (t.linger_deadline <= now) {
        t.linger_deadline = kNever;
        if (orphan_linger_expired(now, index)) {  // orphans.cpp: reset or re-armed
            release_if_done(index);
            return;
        }
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
    t.recovery.on_rto_expiry();
    if (t.snd_max == t.snd_una) return;
    counters.inc(Counter::rto_expiries);
    ++t.rto_expiries;
    const bool handshake = t.state == State::kSynSent || t.state == State::kSynReceived;
    const std::uint32_t limit = handshake ? t.cfg->max_syn_retransmits : t.cfg->max_retransmits;
    if (t.retries >= limit) {
        counters.inc(Counter::conn_timed_out);
        // An ICMP error received meanwhile says why (RFC 1122 4.2.3.9).
        fail(index, t.soft_error != Error::kNone ? t.soft_error : Error::kTimedOut);
        return;
    }
    if (!handshake && t.snd_wnd == 0) {
        // The peer closed its window with data of ours still unacknowledged
        // (it shrank the window, RFC 9293 3.8.6, or dropped what no longer
        // fit). Retransmitting would only send past its right edge, so the
        // timer turns into the persist timer: probe for the window and keep
        // the connection as long as the probes are answered (MUST-35..37).
        if (t.probes >= t.cfg->max_retransmits) {
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
        t.syn_timed_out = true;
        t.snd_nxt = t.iss;
    } else {
        if (t.cc) t.cc->on_rto(now, t.flight());
        t.recovery.on_rto(t);
        t.snd_nxt = t.snd_una;  // go back: resend from the first unacknowledged byte
        // RFC 4821 black hole: the same segment timed out again and again;
        // perhaps it is too large for the path and no ICMP says so.
        if (t.retries >= kBlackholeRtos) {
            const SeqNum data_top = seq_min(t.snd_max, t.data_end());
            const std::uint32_t seg_len =
                data_top > t.snd_una ? std::min(SeqNum::distance(data_top, t.snd_una), t.eff_mss()) : 0;
            if (t.pmtu.on_repeated_rto(seg_len, static_cast<std::uint16_t>(t.snd_mss - t.eff_mss()))) {
                counters.inc(Counter::pmtu_black_holes);
                t.snd_mss = t.pmtu.mss();
            }
        }
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
    if (t.probes >= t.cfg->max_retransmits) {
        counters.inc(Counter::conn_timed_out);
        fail(index, Error::kTimedOut);
        return;
    }
    ++t.probes;
    counters.inc(Counter::persist_probes);
    // SEQ = SND.UNA - 1 with no data: outside the peer's window, so any
    // RFC 9293 receiver must answer with an ACK carrying its current window.
    send_ack(t, t.snd_una - 1);
    t.persist_interval = std::min(t.persist_interval * 2, t.cfg->max_rto);
    arm(t.persist_deadline, now + t.persist_interval);
}

// RFC 1122 4.2.3.6: after keepalive_idle without a segment from the peer,
// probe (SEQ = SND.UNA - 1, no data: any live peer answers with an ACK) every
// keepalive_interval; keepalive_count unanswered probes end the connection.
// Only an idle connection is probed: with data outstanding the
// retransmission and persist timers already watch the peer.
void TcpStack::Impl::on_keepalive_timeout(Instant now, std::uint32_t index) {
    Tcb& t = *tcbs[index];
    t.keepalive_deadline = kNever;
    if (!t.keepalive) return;
    if (t.state != State::kEstablished && t.state != State::kCloseWait && t.state != State::kFinWait2) return;
    if (t.snd_max != t.snd_una || t.snd_nxt < t.data_end()) {
        arm(t.keepalive_deadline, now + t.cfg->keepalive_idle);
        return;
    }
    if (t.keepalive_probes >= t.cfg->keepalive_count) {
        counters.inc(Counter::keepalive_timeouts);
        counters.inc(Counter::conn_timed_out);
        fail(index, Error::kTimedOut);
        return;
    }
    ++t.keepalive_probes;
    counters.inc(Counter::keepalive_probes);
    send_ack(t, t.snd_una - 1);
    arm(t.keepalive_deadline, now + t.cfg->keepalive_interval);
}

// The one list of every deadline a TCB has (run_timers() acts on each); the
// timer wheel keeps the TCB at the earliest of them.
Instant TcpStack::Impl::earliest_deadline(const Tcb& t) const {
    return std::min({t.rtx_deadline, t.recovery.next_deadline(), t.persist_deadline, t.linger_deadline,
                     t.delack_deadline, t.sws_deadline, t.keepalive_deadline});
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
