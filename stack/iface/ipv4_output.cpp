// IPv4 output (RFC 791, RFC 1122 3.3.1): routing, numbering, fragmenting,
// and handing frames to ARP; also the tcp::SegmentSink for TCP's output.
//
// Routing: the limited and subnet broadcast go to the Ethernet broadcast,
// on-link destinations directly, everything else to the gateway when it is
// configured and on-link; otherwise "no route" is counted and TCP is told
// (deferred, see interface_impl.hpp). TCP output carries DF (we size
// segments by MSS); other datagrams larger than the MTU are fragmented.
// A TSO super-segment (send_segment_offload()) leaves as one frame
// beyond the MTU for the device to cut; it is never fragmented nor queued
// for ARP (a datagram held there is fragmented by the MTU when released):
// with the next hop unresolved it is counted and dropped, and TCP's
// retransmission, one segment after the timeout, goes the ordinary way.
#include "stack/iface/interface_impl.hpp"

#include <algorithm>
#include <array>

#include "stack/iface/ipv4_fragmenter.hpp"

namespace tapstack::iface {

namespace {
// A TCP segment comes as its header and at most two payload runs.
constexpr std::size_t kMaxSegmentParts = 3;
}  // namespace

std::optional<NextHop> Interface::Impl::route(Ipv4Address dst) const {
    if (is_broadcast(dst)) return NextHop{true, dst};
    if (dst.is_multicast() || dst.is_unspecified() || dst == our_ip() || dst.is_loopback()) return std::nullopt;
    if (config.address.contains(dst)) return NextHop{false, dst};
    if (config.gateway && config.address.contains(*config.gateway) && *config.gateway != our_ip()) {
        return NextHop{false, *config.gateway};
    }
    return std::nullopt;
}

// Numbers, routes, fragments and sends one datagram. `header.src/dst/
// protocol/ttl/dont_fragment` are the caller's; the rest is filled here.
// A datagram waiting for ARP is queued whole and fragmented when its
// next hop resolves, so one datagram is one queue slot.
// False when it was dropped here (queued for ARP counts as sent).
bool Interface::Impl::send_ipv4(Instant now, wire::Ipv4Repr header, Bytes payload) {
    const auto hop = route(header.dst);
    if (!hop) {
        ++st.ipv4_tx_no_route;
        unreachable.push_back(header.dst);
        return false;
    }
    if (header.header_len() + payload.size() > 65535) {
        ++st.ipv4_tx_too_big;
        return false;
    }
    if (header.header_len() + payload.size() > config.mtu && header.dont_fragment) {
        ++st.ipv4_tx_df_too_big;
        return false;
    }
    header.identification = ip_ids.next(header.src, header.dst, header.protocol);
    header.payload_len = static_cast<std::uint16_t>(payload.size());
    if (hop->broadcast) return emit_fragments(MacAddress::broadcast(), header, payload);
    if (auto mac = arp.lookup(now, hop->ip)) return emit_fragments(*mac, header, payload);
    std::vector<std::uint8_t> datagram(header.buffer_len());
    header.emit(datagram);
    std::copy(payload.begin(), payload.end(), datagram.begin() + static_cast<std::ptrdiff_t>(header.header_len()));
    switch (arp.enqueue(now, hop->ip, datagram)) {
        case ArpCache::EnqueueResult::kQueuedSendRequest:
            ++st.ipv4_tx_arp_queued;
            send_arp_request(hop->ip);
            return true;
        case ArpCache::EnqueueResult::kQueued:
            ++st.ipv4_tx_arp_queued;
            return true;
        case ArpCache::EnqueueResult::kDroppedQueueFull:
        case ArpCache::EnqueueResult::kDroppedCacheFull:
            ++st.ipv4_tx_arp_dropped;
            return false;
    }
    return false;
}

// Frames a numbered datagram to `dst`, in fragments if it exceeds the MTU.
// Each frame is its headers (built here, on the stack) and its piece of
// `payload`, handed to the sink as two parts: the payload is not copied.
bool Interface::Impl::emit_fragments(MacAddress dst, const wire::Ipv4Repr& header, Bytes payload) {
    const std::size_t n = fragment_ipv4(header, payload, config.mtu, [&](const wire::Ipv4Repr& f, Bytes chunk) {
        ++st.ipv4_tx_packets;
        send_ipv4_frame(dst, f, std::span<const Bytes>(&chunk, 1), wire::TxOffload{});
    });
    if (n == 0) {
        ++st.ipv4_tx_too_big;
        return false;
    }
    if (n > 1) st.ipv4_tx_fragments += n;
    return true;
}

// tcp::SegmentSink: TCP's output, in IPv4 with DF (we do PMTU by MSS);
// IPv6 segments go to the IPv6 layer (tcp6_glue.cpp).
void Interface::Impl::send_segment(const wire::IpAddress& src, const wire::IpAddress& dst,
                                   std::span<const std::uint8_t> segment) {
    if (src.is_ipv6()) {
        send_segment6(src.ipv6(), dst.ipv6(), segment);
        return;
    }
    wire::Ipv4Repr out;
    out.src = src.ipv4();
    out.dst = dst.ipv4();
    out.protocol = wire::ip_protocol::kTcp;
    out.ttl = config.ttl;
    out.dont_fragment = true;
    send_ipv4(now_for_tcp, out, segment);
}

void Interface::Impl::send_segment_offload(const wire::IpAddress& src_ip, const wire::IpAddress& dst_ip,
                                           std::span<std::uint8_t> segment, const wire::TxOffload& offload) {
    if (src_ip.is_ipv6()) {  // TCP hands IPv6 no offload; complete it anyway
        wire::complete_partial_checksum(segment, offload);
        send_segment(src_ip, dst_ip, segment);
        return;
    }
    const Ipv4Address src = src_ip.ipv4();
    const Ipv4Address dst = dst_ip.ipv4();
    const auto hop = route(dst);
    if (offload.gso == wire::GsoType::kNone || !hop || hop->broadcast || segment.size() > 65535 - 20) {
        // Nothing to segment, or nowhere to send it: the ordinary path counts.
        wire::complete_partial_checksum(segment, offload);
        send_segment(src, dst, segment);
        return;
    }
    const auto mac = arp.lookup(now_for_tcp, hop->ip);
    if (!mac) {
        ++st.ipv4_tx_tso_unresolved;
        return;
    }
    const wire::Ipv4Repr header = tcp_datagram_header(src, dst, segment.size(), offload);
    const Bytes whole(segment);
    send_ipv4_frame(*mac, header, std::span<const Bytes>(&whole, 1), offload.prepended(kEthLen + header.header_len()));
}

// The IPv4 header of a TCP segment that leaves as one frame; numbers it
// (a TSO super-segment takes one ID per segment the device cuts, as Linux's
// TCPV4 GSO without FIXEDID does) and counts it.
wire::Ipv4Repr Interface::Impl::tcp_datagram_header(Ipv4Address src, Ipv4Address dst, std::size_t segment_len,
                                                    const wire::TxOffload& offload) {
    wire::Ipv4Repr header;
    header.src = src;
    header.dst = dst;
    header.protocol = wire::ip_protocol::kTcp;
    header.ttl = config.ttl;
    header.dont_fragment = true;
    header.payload_len = static_cast<std::uint16_t>(segment_len);
    std::size_t count = 1;
    if (offload.gso != wire::GsoType::kNone) {
        const std::size_t payload = segment_len > offload.hdr_len ? segment_len - offload.hdr_len : 0;
        count = std::max<std::size_t>(offload.gso_size > 0 ? (payload + offload.gso_size - 1) / offload.gso_size : 1, 1);
        ++st.ipv4_tx_tso_frames;
    }
    header.identification = ip_ids.next(src, dst, header.protocol, static_cast<std::uint16_t>(count));
    ++st.ipv4_tx_packets;
    return header;
}

// TCP's data segments: framed from TCP's own parts (its
// header, then the payload where it lies in the send buffer), so the data is
// copied once, by the sink into the device. A segment that cannot leave at
// once as one frame (no route, broadcast, next hop unresolved, or larger
// than the MTU without TSO) is joined and takes send_segment() /
// send_segment_offload(), which count, queue for ARP or drop.
void Interface::Impl::send_segment_parts(const wire::IpAddress& src_ip, const wire::IpAddress& dst_ip,
                                         tcp::SegmentSink::Parts parts, const wire::TxOffload& offload) {
    if (src_ip.is_ipv6()) {  // joined, then as send_segment()
        tcp::SegmentSink::send_segment_parts(src_ip, dst_ip, parts, offload);
        return;
    }
    const Ipv4Address src = src_ip.ipv4();
    const Ipv4Address dst = dst_ip.ipv4();
    std::size_t len = 0;
    for (const auto& p : parts) len += p.size();
    const bool gso = offload.gso != wire::GsoType::kNone;
    const auto hop = route(dst);
    std::optional<MacAddress> mac;
    if (hop && !hop->broadcast && len + wire::Ipv4View::kMinHeaderLen <= (gso ? 65535 : config.mtu))
        mac = arp.lookup(now_for_tcp, hop->ip);
    if (!mac || parts.size() > kMaxSegmentParts) {
        tcp::SegmentSink::send_segment_parts(src, dst, parts, offload);
        return;
    }
    const wire::Ipv4Repr header = tcp_datagram_header(src, dst, len, offload);
    send_ipv4_frame(*mac, header, parts,
                    offload.none() ? offload : offload.prepended(kEthLen + header.header_len()));
}

// One IPv4 frame to the sink: Ethernet + IPv4 header (options included)
// built in a buffer on the stack, then the payload as a second part.
void Interface::Impl::send_ipv4_frame(MacAddress dst, const wire::Ipv4Repr& header,
                                      std::span<const Bytes> payload_parts, const wire::TxOffload& offload) {
    std::array<std::uint8_t, kEthLen + wire::Ipv4View::kMaxHeaderLen> headers{};
    const std::size_t hlen = kEthLen + header.header_len();
    wire::EthernetRepr{dst, config.mac, wire::ethertype::kIpv4}.emit(headers);
    header.emit(wire::MutBytes(headers).subspan(kEthLen, header.header_len()));
    std::array<Bytes, 1 + kMaxSegmentParts> parts{};
    parts[0] = Bytes(headers.data(), hlen);
    const std::size_t n = std::min(payload_parts.size(), kMaxSegmentParts);
    std::copy_n(payload_parts.begin(), n, parts.begin() + 1);
    if (sink.transmit_parts(std::span<const Bytes>(parts.data(), 1 + n), offload)) {
        ++st.eth_tx_frames;
    } else {
        ++st.eth_tx_dropped;
    }
}

}  // namespace tapstack::iface
