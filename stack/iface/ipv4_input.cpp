// IPv4 input (RFC 791, RFC 1122 3.2.1, 3.3.6): validation, the address
// filter, reassembly, and dispatch by protocol.
//
// Validation failures are counted by reason (Ipv4Error) and dropped
// silently (no ICMP parameter problem: RFC 1122 3.2.2.5 only says MAY).
// Accepted destinations: our address, the limited broadcast and the
// subnet-directed broadcast. Sources that cannot name a single host are
// dropped (RFC 1122 3.2.1.3), as is a unicast datagram that came in a
// link-layer broadcast (3.3.6).
//
// Offloads: a frame's RxOffload can only vouch for the TCP
// checksum of an unfragmented TCP datagram; a partial checksum must name
// exactly that field (csum_start at the TCP header, csum_offset 16), and a
// GSO super-frame must be TCP. Anything else is counted and dropped rather
// than guessed at. A super-frame then travels as one datagram whose total
// length may exceed the MTU; TCP takes it as one large segment.
#include "stack/iface/interface_impl.hpp"

namespace tapstack::iface {

void Interface::Impl::count_ipv4_error(wire::Ipv4Error e) {
    switch (e) {
        case wire::Ipv4Error::kTruncated:
            ++st.ipv4_rx_truncated;
            break;
        case wire::Ipv4Error::kBadVersion:
            ++st.ipv4_rx_bad_version;
            break;
        case wire::Ipv4Error::kBadHeaderLength:
            ++st.ipv4_rx_bad_header_length;
            break;
        case wire::Ipv4Error::kBadTotalLength:
            ++st.ipv4_rx_bad_total_length;
            break;
        case wire::Ipv4Error::kBadChecksum:
            ++st.ipv4_rx_bad_checksum;
            break;
    }
}

// RFC 1122 3.2.1 (validation), 3.2.1.3 (addresses), 3.3.6 (broadcasts).
void Interface::Impl::receive_ipv4(Instant now, Bytes payload, bool link_broadcast, const wire::RxOffload& offload) {
    ++st.ipv4_rx_packets;
    wire::Ipv4Error err{};
    auto ip = wire::Ipv4View::check(payload, &err);
    if (!ip) {
        count_ipv4_error(err);
        return;
    }
    const Ipv4Address src = ip->src();
    const Ipv4Address dst = ip->dst();
    // A source must name one other host; 0.0.0.0 is only for a host
    // configuring itself (RFC 1122 3.2.1.3 (a)), which we never answer.
    if (src.is_unspecified() || src.is_multicast() || is_broadcast(src) || src.is_loopback() || src == our_ip()) {
        ++st.ipv4_rx_bad_source;
        return;
    }
    if (dst.is_multicast()) {
        ++st.ipv4_rx_multicast_dropped;
        return;
    }
    const bool ip_broadcast = is_broadcast(dst);
    if (!ip_broadcast && (dst != our_ip() || our_ip().is_unspecified())) {
        ++st.ipv4_rx_not_for_us;
        return;
    }
    if (!ip_broadcast && link_broadcast) {
        ++st.ipv4_rx_unicast_in_link_broadcast;
        return;
    }
    tcp::RxChecksum checksum = tcp::RxChecksum::kVerify;
    if (!offload.none()) {
        const bool tcp_whole = ip->protocol() == wire::ip_protocol::kTcp && !ip->is_fragment();
        const bool names_tcp_field = offload.csum_start == kEthLen + ip->header_len() && offload.csum_offset == 16;
        if ((offload.csum_partial && !(tcp_whole && names_tcp_field)) ||
            (offload.gso != wire::GsoType::kNone && !tcp_whole)) {
            ++st.ipv4_rx_bad_offload;
            return;
        }
        if (offload.gso != wire::GsoType::kNone) ++st.ipv4_rx_gso_frames;
        if (tcp_whole && (offload.csum_partial || offload.csum_valid)) {
            ++st.ipv4_rx_csum_offloaded;
            checksum = tcp::RxChecksum::kTrusted;
        }
    }
    if (ip->is_fragment()) {
        auto whole = reasm.add(now, *ip);
        if (whole) deliver(now, whole->header, whole->payload, link_broadcast, ip_broadcast);
        return;
    }
    deliver(now, wire::Ipv4Repr::parse(*ip), ip->payload(), link_broadcast, ip_broadcast, checksum);
}

void Interface::Impl::deliver(Instant now, const wire::Ipv4Repr& header, Bytes payload, bool link_broadcast,
                              bool ip_broadcast, tcp::RxChecksum checksum) {
    switch (header.protocol) {
        case wire::ip_protocol::kIcmp:
            ++st.ipv4_rx_delivered;
            receive_icmp(now, header, payload, ip_broadcast);
            break;
        case wire::ip_protocol::kTcp:
            if (ip_broadcast) {
                ++st.ipv4_rx_broadcast_tcp_dropped;
                return;
            }
            ++st.ipv4_rx_delivered;
            tcp.receive(now, header.src, header.dst, payload, checksum);
            break;
        default:
            ++st.ipv4_rx_unknown_protocol;
            send_icmp_error(now, wire::icmp_type::kDestUnreachable, wire::icmp_code::kProtocolUnreachable, header,
                            payload, link_broadcast);
            break;
    }
}

}  // namespace tapstack::iface
