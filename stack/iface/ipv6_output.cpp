// IPv6 output (RFC 8200, RFC 4861 5.2, 7.2.2): source selection, next hop,
// neighbour resolution and fragmentation of the datagrams we originate.
//
// Multicast destinations go to their 33:33 group MAC (RFC 2464 7). Unicast
// goes to the next hop (Ipv6Routes: on-link, gateway, default router)
// resolved through the neighbour cache; while it resolves, the datagram
// waits whole in the cache's queue and is framed when released. A datagram
// larger than the path MTU toward its destination (the link MTU for
// multicast) is fragmented (RFC 8200 4.5): the Fragment header goes right
// after the fixed header (we send no other extension header), every
// fragment but the last carries the largest multiple of 8 bytes that fits,
// and the identification is unpredictable (RFC 7739), drawn per datagram.
// No destination is ever "unreachable" for lack of a route alone without
// being counted (ipv6.tx_no_route) and reported to the transports at the
// next poll().
#include <algorithm>
#include <array>

#include "stack/iface/ipv6_layer.hpp"
#include "stack/wire/ethernet.hpp"
#include "stack/wire/ipv6_ext.hpp"

namespace tapstack::iface {

bool Ipv6Layer::send(Instant now, wire::Ipv6Repr header, wire::Bytes payload, bool neighbor_discovery) {
    if (!config_.enabled || addresses_.disabled()) {
        inc(Counter6::ipv6_tx_disabled);
        return false;
    }
    start(now);
    if (header.src.is_unspecified() && !neighbor_discovery) {
        const auto src = source_for(header.dst);
        if (!src) {
            inc(Counter6::ipv6_tx_no_source);
            return false;
        }
        header.src = *src;
    }
    if (payload.size() > 65535) {
        inc(Counter6::ipv6_tx_too_big);
        return false;
    }
    header.payload_len = static_cast<std::uint16_t>(payload.size());
    if (header.dst.is_multicast()) {
        emit_datagram(now, header.dst.multicast_mac(), header, payload);
        return true;
    }
    const auto hop = neighbor_discovery ? std::optional(header.dst) : routes_.next_hop(now, header.dst);
    if (!hop || addresses_.state(header.dst)) {
        inc(Counter6::ipv6_tx_no_route);
        unreachable_.push_back(header.dst);
        return false;
    }
    if (const auto mac = neighbors_.lookup(now, *hop)) {
        emit_datagram(now, *mac, header, payload);
        return true;
    }
    std::vector<std::uint8_t> datagram(header.buffer_len());
    header.emit(datagram);
    std::copy(payload.begin(), payload.end(), datagram.begin() + wire::Ipv6View::kHeaderLen);
    switch (neighbors_.enqueue(now, *hop, datagram)) {
        case NeighborCache::EnqueueResult::kQueuedSendSolicitation:
            inc(Counter6::ipv6_tx_nd_queued);
            send_neighbor_solicitation(now, *hop, hop->solicited_node(), false);
            return true;
        case NeighborCache::EnqueueResult::kQueued:
            inc(Counter6::ipv6_tx_nd_queued);
            return true;
        case NeighborCache::EnqueueResult::kDroppedQueueFull:
        case NeighborCache::EnqueueResult::kDroppedCacheFull:
            inc(Counter6::ipv6_tx_nd_dropped);
            return false;
    }
    return false;
}

void Ipv6Layer::emit_datagram(Instant now, const wire::MacAddress& dst, const wire::Ipv6Repr& header,
                              wire::Bytes payload) {
    const std::size_t mtu = header.dst.is_multicast() ? link_mtu_ : pmtu_.get(now, header.dst, link_mtu_);
    if (wire::Ipv6View::kHeaderLen + payload.size() <= mtu) {
        inc(Counter6::ipv6_tx_packets);
        send_frame(dst, header, std::nullopt, payload);
        return;
    }
    const std::size_t chunk = (mtu - wire::Ipv6View::kHeaderLen - wire::Ipv6FragmentView::kLen) / 8 * 8;
    wire::Ipv6FragmentRepr frag;
    frag.next_header = header.next_header;
    frag.identification = static_cast<std::uint32_t>(random64());
    wire::Ipv6Repr h = header;
    h.next_header = wire::next_header::kFragment;
    for (std::size_t offset = 0; offset < payload.size(); offset += chunk) {
        const std::size_t n = std::min(chunk, payload.size() - offset);
        frag.fragment_offset = static_cast<std::uint16_t>(offset);
        frag.more_fragments = offset + n < payload.size();
        h.payload_len = static_cast<std::uint16_t>(wire::Ipv6FragmentView::kLen + n);
        inc(Counter6::ipv6_tx_packets);
        inc(Counter6::ipv6_tx_fragments);
        send_frame(dst, h, frag, payload.subspan(offset, n));
    }
}

// One frame: Ethernet, IPv6 and (for a fragment) Fragment header built on
// the stack, the payload as a second part, not copied.
void Ipv6Layer::send_frame(const wire::MacAddress& dst, const wire::Ipv6Repr& header,
                           const std::optional<wire::Ipv6FragmentRepr>& fragment, wire::Bytes payload) {
    constexpr std::size_t kEth = wire::EthernetView::kHeaderLen;
    std::array<std::uint8_t, kEth + wire::Ipv6View::kHeaderLen + wire::Ipv6FragmentView::kLen> headers{};
    wire::EthernetRepr{dst, mac_, wire::ethertype::kIpv6}.emit(headers);
    header.emit(wire::MutBytes(headers).subspan(kEth));
    std::size_t len = kEth + wire::Ipv6View::kHeaderLen;
    if (fragment) {
        fragment->emit(wire::MutBytes(headers).subspan(len));
        len += wire::Ipv6FragmentView::kLen;
    }
    const std::array<wire::Bytes, 2> parts = {wire::Bytes(headers.data(), len), payload};
    link_.transmit_frame_parts(std::span<const wire::Bytes>(parts.data(), payload.empty() ? 1 : 2));
}

void Ipv6Layer::send_released(Instant now, const wire::MacAddress& mac,
                              std::vector<NeighborCache::Packet>& released) {
    for (const NeighborCache::Packet& packet : released) {
        if (auto v = wire::Ipv6View::check(packet)) emit_datagram(now, mac, wire::Ipv6Repr::parse(*v), v->payload());
    }
    released.clear();
}

}  // namespace tapstack::iface
