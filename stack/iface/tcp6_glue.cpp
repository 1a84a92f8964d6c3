// TCP over IPv6: the Interface hands TCP the segments the IPv6 layer
// delivers for next header 6, and TCP's IPv6 output to that layer.
//
// Theory of operation
// -------------------
// The IPv6 layer has already validated the header and the extension header
// chain, reassembled fragments and checked that the destination is one of
// our addresses (or a group we joined, which TCP refuses); TCP verifies its
// checksum over the IPv6 pseudo-header (RFC 8200 8.1) unless the device did.
// Address resolution failures fail connections still opening toward that
// host, as ARP's do. A Packet Too Big (already checked by the layer: it
// quotes a packet from one of our addresses, RFC 5927 first check, and
// lowered the cached path MTU) is handed to TCP as IPv4's "fragmentation
// needed" is, with the quoted TCP header: TCP applies the second check
// (the quoted sequence number in flight) and lowers that connection's MSS.
// Outgoing segments leave with the layer's hop limit; a segment larger than
// the path MTU (before TCP learned it) is fragmented by the layer, as
// RFC 8200 5 allows for a source.
#include <algorithm>

#include "stack/iface/interface_impl.hpp"
#include "stack/wire/icmp.hpp"
#include "stack/wire/ipv6_ext.hpp"

namespace tapstack::iface {

void Interface::Impl::Tcp6Glue::receive(Instant now, const Ipv6Delivery& packet) {
    m.now_for_tcp = now;
    m.tcp.receive(now, packet.src, packet.dst, packet.payload,
                  packet.checksum_trusted ? tcp::RxChecksum::kTrusted : tcp::RxChecksum::kVerify);
}

void Interface::Impl::Tcp6Glue::unreachable(Instant now, const wire::Ipv6Address& dst) {
    m.tcp.host_unreachable(now, dst);
}

void Interface::Impl::Tcp6Glue::path_mtu_lowered(Instant now, const wire::Ipv6Address& dst, std::uint16_t mtu,
                                                 wire::Bytes quoted) {
    constexpr std::size_t kHeader = wire::Ipv6View::kHeaderLen;
    if (quoted.size() < kHeader) return;
    const auto chain = wire::ipv6_chain_end(quoted.subspan(kHeader), quoted[6], Ipv6Layer::kMaxExtensionHeaders);
    if (!chain || chain->next_header != wire::ip_protocol::kTcp) return;
    const std::size_t at = kHeader + chain->offset;
    if (at + 8 > quoted.size()) return;
    wire::Ipv6Address src;
    std::copy_n(quoted.begin() + 8, 16, src.bytes.begin());
    tcp::IcmpErrorReport report;
    report.type = wire::icmp_type::kDestUnreachable;
    report.code = wire::icmp_code::kFragmentationNeeded;
    report.next_hop_mtu = mtu;
    report.src = src;
    report.dst = dst;
    report.tcp = quoted.subspan(at);
    m.now_for_tcp = now;
    m.tcp.icmp_error(now, report);
}

void Interface::Impl::send_segment6(const wire::Ipv6Address& src, const wire::Ipv6Address& dst,
                                    std::span<const std::uint8_t> segment) {
    wire::Ipv6Repr header;
    header.src = src;
    header.dst = dst;
    header.next_header = wire::ip_protocol::kTcp;
    header.hop_limit = ip6.hop_limit();
    ip6.send(now_for_tcp, header, segment);
}

}  // namespace tapstack::iface
