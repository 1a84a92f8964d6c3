// Ethernet in and out, and ARP (RFC 826, RFC 5227) for the interface.
//
// Input accepts frames to our MAC or broadcast, and IPv6 frames to the
// groups the IPv6 layer joined; other multicast and others' unicast are
// counted and dropped, as are 802.1Q tags and unknown EtherTypes (IPv6
// too, when the interface has no IPv6). ARP
// replies once to a request for our address, and applies the RFC 826
// merge rule to the cache: an ARP from a host we know refreshes its entry;
// an entry is created only for a host that asks for us. Datagrams released
// by a resolution are fragmented and framed here.
#include "stack/iface/interface_impl.hpp"

#include <algorithm>

namespace tapstack::iface {

void Interface::Impl::transmit_frame(Bytes frame) {
    if (sink.transmit(frame)) {
        ++st.eth_tx_frames;
    } else {
        ++st.eth_tx_dropped;
    }
}

void Interface::Impl::transmit_frame_parts(std::span<const Bytes> parts) {
    if (sink.transmit_parts(parts, wire::TxOffload{})) {
        ++st.eth_tx_frames;
    } else {
        ++st.eth_tx_dropped;
    }
}

void Interface::Impl::send_arp(wire::ArpOperation op, MacAddress eth_dst, MacAddress target_mac,
                               Ipv4Address target_ip) {
    std::vector<std::uint8_t> frame(kEthLen + wire::ArpRepr::kLen);
    wire::EthernetRepr{eth_dst, config.mac, wire::ethertype::kArp}.emit(frame);
    wire::ArpRepr{op, config.mac, our_ip(), target_mac, target_ip}.emit(wire::MutBytes(frame).subspan(kEthLen));
    transmit_frame(frame);
}

void Interface::Impl::send_arp_request(Ipv4Address target) {
    ++st.arp_tx_requests;
    send_arp(wire::ArpOperation::kRequest, MacAddress::broadcast(), MacAddress{}, target);
}

void Interface::Impl::receive_frame(Instant now, Bytes frame, const wire::RxOffload& offload) {
    ++st.eth_rx_frames;
    auto eth = wire::EthernetView::check(frame);
    if (!eth) {
        ++st.eth_rx_truncated;
        return;
    }
    const MacAddress dst = eth->dst();
    bool link_broadcast = false;
    if (dst.is_broadcast()) {
        link_broadcast = true;
    } else if (dst.is_multicast()) {
        // Only the IPv6 groups we joined (all-nodes, solicited-node).
        if (eth->ethertype() != wire::ethertype::kIpv6 || !ip6.accepts_link_multicast(dst)) {
            ++st.eth_rx_multicast_dropped;
            return;
        }
        link_broadcast = true;
    } else if (dst != config.mac) {
        ++st.eth_rx_not_for_us;
        return;
    }
    const MacAddress src = eth->src();
    if (src.is_multicast() || src.is_zero() || src == config.mac) {
        ++st.eth_rx_bad_source;
        return;
    }
    switch (eth->ethertype()) {
        case wire::ethertype::kArp:
            receive_arp(now, eth->payload());
            break;
        case wire::ethertype::kIpv4:
            receive_ipv4(now, eth->payload(), link_broadcast, offload);
            break;
        case wire::ethertype::kIpv6:
            if (!ip6.enabled()) {
                ++st.eth_rx_unknown_ethertype;
                break;
            }
            ip6.receive(now, eth->payload(), RxFrameInfo{src, link_broadcast, offload});
            break;
        case wire::ethertype::kVlan:
        case wire::ethertype::kQinQ:
            ++st.eth_rx_vlan_dropped;
            break;
        default:
            ++st.eth_rx_unknown_ethertype;
            break;
    }
}

void Interface::Impl::count_arp_error(wire::ArpError e) {
    switch (e) {
        case wire::ArpError::kTruncated:
            ++st.arp_rx_truncated;
            break;
        case wire::ArpError::kBadHardwareType:
            ++st.arp_rx_bad_hardware_type;
            break;
        case wire::ArpError::kBadProtocolType:
            ++st.arp_rx_bad_protocol_type;
            break;
        case wire::ArpError::kBadAddressLength:
            ++st.arp_rx_bad_address_length;
            break;
        case wire::ArpError::kBadOperation:
            ++st.arp_rx_bad_operation;
            break;
    }
}

// RFC 826 "Packet Reception", with RFC 5227 probes (sender 0.0.0.0)
// answered but never cached.
void Interface::Impl::receive_arp(Instant now, Bytes payload) {
    ++st.arp_rx_packets;
    wire::ArpError err{};
    auto view = wire::ArpView::check(payload, &err);
    std::optional<wire::ArpRepr> arp_pkt;
    if (view) arp_pkt = wire::ArpRepr::parse(*view, &err);
    if (!arp_pkt) {
        count_arp_error(err);
        return;
    }
    const wire::ArpRepr& a = *arp_pkt;
    if (a.operation == wire::ArpOperation::kRequest) {
        ++st.arp_rx_requests;
    } else {
        ++st.arp_rx_replies;
    }
    if (a.sender_mac.is_multicast() || a.sender_mac.is_zero() || a.sender_ip.is_multicast() ||
        is_broadcast(a.sender_ip) || a.sender_ip.is_loopback()) {
        ++st.arp_rx_bad_sender;
        return;
    }
    if (a.sender_ip == our_ip() && !our_ip().is_unspecified()) {
        // Someone else claims our address (RFC 5227 2.4); never cache it.
        ++st.arp_rx_address_conflict;
        return;
    }
    const bool for_us = !our_ip().is_unspecified() && a.target_ip == our_ip();
    if (!a.sender_ip.is_unspecified()) {
        std::vector<ArpCache::Packet> released;
        if (arp.update(now, a.sender_ip, a.sender_mac, for_us, released)) ++st.arp_rx_merged;
        for (const ArpCache::Packet& p : released) {
            // Our own datagram, queued whole: fragment it now.
            if (auto ip = wire::Ipv4View::check(p)) {
                emit_fragments(a.sender_mac, wire::Ipv4Repr::parse(*ip), ip->payload());
            }
        }
    }
    if (!for_us) {
        ++st.arp_rx_not_for_us;
        return;
    }
    if (a.operation == wire::ArpOperation::kRequest) {
        ++st.arp_tx_replies;
        send_arp(wire::ArpOperation::kReply, a.sender_mac, a.sender_mac, a.sender_ip);
    }
}

}  // namespace tapstack::iface
