// ICMP errors about our segments (RFC 1122 4.2.3.9, RFC 1191, RFC 5927)
// and the path MTU probes of RFC 4821 (path_mtu.hpp holds the sizes).
//
// An ICMP error is believed only as far as it proves it saw our traffic:
// the quoted 4-tuple must name a live connection and the quoted sequence
// number must be in flight, SND.UNA <= SEQ < SND.MAX (RFC 5927 4.1). An
// off-path attacker then has to guess a window of sequence numbers, as for
// a blind RST (RFC 5961), to lower an MSS or to fail a connect.
#include <algorithm>
#include <array>

#include "stack/tcp/tcp_stack_impl.hpp"
#include "stack/wire/byte_order.hpp"
#include "stack/wire/icmp.hpp"

namespace tapstack::tcp {

namespace {

// RFC 1191 7: when a router does not say the next-hop MTU, the largest
// plateau below the length of the datagram it refused.
std::uint16_t plateau_below(std::uint16_t length) {
    constexpr std::array<std::uint16_t, 10> kPlateaus = {32000, 17914, 8166, 4352, 2002, 1492, 1006, 508, 296, 68};
    for (std::uint16_t p : kPlateaus)
        if (p < length) return p;
    return 0;
}

}  // namespace

void TcpStack::Impl::icmp_error(Instant now, const IcmpErrorReport& r) {
    if (r.tcp.size() < 8 || r.src.family() != r.dst.family() ||
        (r.src.is_ipv4() && r.src != IpAddress(config.local_address))) {
        counters.inc(Counter::icmp_unmatched);
        return;
    }
    const std::uint16_t local_port = wire::load_be16(r.tcp.data());
    const std::uint16_t remote_port = wire::load_be16(r.tcp.data() + 2);
    const SeqNum seq(wire::load_be32(r.tcp.data() + 4));
    const std::uint32_t index = lookup(TupleKey{r.src, r.dst, local_port, remote_port});
    if (index == kNoListener) {
        counters.inc(Counter::icmp_unmatched);
        return;
    }
    Tcb& t = *tcbs[index];
    if (!(t.snd_una <= seq && seq < t.snd_max)) {
        counters.inc(Counter::icmp_out_of_window);
        return;
    }
    if (r.type == wire::icmp_type::kDestUnreachable && r.code == wire::icmp_code::kFragmentationNeeded) {
        const std::uint16_t mtu = r.next_hop_mtu != 0 ? r.next_hop_mtu : plateau_below(r.quoted_length);
        if (mtu == 0) return;
        const std::uint16_t floor = t.remote.address.is_ipv6() ? PathMtu::kMinIcmpMtu6 : PathMtu::kMinIcmpMtu;
        pmtu_cache.lower(t.remote.address, std::max(mtu, floor), now);
        if (!t.pmtu.on_packet_too_big(mtu)) return;
        counters.inc(Counter::pmtu_lowered);
        t.snd_mss = t.pmtu.mss();
        // What was in flight at the old size was dropped on the way: send it
        // again now at the new one, without a congestion response (the
        // path, not congestion, lost it; as Linux tcp_simple_retransmit).
        // Inside SACK recovery the holes go at the new size anyway.
        if (sends_data(t.state) && !t.recovery.controls_sending(t)) {
            t.snd_nxt = t.snd_una;
            t.rtt_timing = false;
        }
        mark_dirty(index);
        return;
    }
    // Unreachable (other codes) and time exceeded.
    const bool refused = r.type == wire::icmp_type::kDestUnreachable &&
                         (r.code == wire::icmp_code::kPortUnreachable || r.code == wire::icmp_code::kProtocolUnreachable);
    const Error e = refused ? Error::kRefused : Error::kHostUnreachable;
    if (t.state == State::kSynSent || t.state == State::kSynReceived) {
        // Nothing has been delivered yet: give up at once (as Linux does;
        // RFC 5927 5.2 leaves hard errors in these states to the stack).
        counters.inc(Counter::icmp_aborted_opens);
        if (t.state == State::kSynSent) counters.inc(refused ? Counter::conn_refused : Counter::conn_unreachable);
        fail(index, e);
        release_if_done(index);
        return;
    }
    counters.inc(Counter::icmp_soft_errors);
    t.soft_error = e;
}

// RFC 4821 7.5 (as Linux tcp_mtu_probe): one probe of PathMtu::probe_mss()
// as a new segment, outside recovery, when cwnd, the peer's window and the
// queued data allow it and enough follows it that a lost probe is found
// by SACKs or duplicate ACKs rather than the RTO.
bool TcpStack::Impl::send_mtu_probe(Instant now, Tcb& t, std::uint32_t cwnd) {
    if (!t.pmtu.searching() || t.recovery.in_recovery() || t.retries > 0 || t.snd_nxt != t.snd_max || !t.cc)
        return false;
    const std::uint16_t size = t.pmtu.probe_mss(now);
    if (size <= t.snd_mss) return false;
    const std::uint32_t options = t.ts_ok ? 12u : 0u;
    const std::uint32_t len = size - options;
    const std::uint32_t mss = t.eff_mss();
    if (t.cc->cwnd() < kMtuProbeMinCwndSegments * mss) return false;
    const std::uint32_t unsent = SeqNum::distance(t.data_end(), t.snd_nxt);
    if (unsent < len + 2 * mss) return false;
    if (t.flight() + len > cwnd || t.snd_nxt + len > t.snd_una + t.snd_wnd) return false;
    const SeqNum begin = t.snd_nxt;
    send_data(now, t, begin, len, false, false, true);
    t.snd_nxt = begin + len;
    t.snd_max = seq_max(t.snd_max, t.snd_nxt);
    t.pmtu.on_probe_sent(begin, t.snd_nxt, size);
    counters.inc(Counter::pmtu_probes);
    return true;
}

}  // namespace tapstack::tcp
