// Neighbour Discovery for the IPv6 layer (RFC 4861) with Duplicate Address
// Detection (RFC 4862 5.4) and router discovery (RFC 4861 6.3, with
// ipv6.accept_ra).
//
// Validity (RFC 4861 6.1.2, 7.1.1, 7.1.2; RFC 6980 5): a message in a
// packet with a Fragment header, with a hop limit other than 255 (so it
// cannot come from off the link), a bad checksum, a code other than 0, too
// short, or with a malformed option is discarded and counted; so is a
// solicitation or advertisement for a multicast target, a solicitation
// from :: that is not to a solicited-node group or carries a source
// link-layer address, a solicited advertisement to a multicast address, and
// a router advertisement from a source that is not link-local. Router
// solicitations are for routers: a host discards them (6.2.6).
//
// Solicitations for our address (7.2.3, 7.2.4): from a unicast source, the
// sender is cached (stale) from its link-layer address option and gets a
// solicited advertisement with our MAC (O set); from :: (another node's
// DAD) an advertisement goes to all-nodes (S clear), which defends a
// preferred address; for a tentative address either one means that
// another node is doing DAD for it, and so it is a duplicate (RFC 4862
// 5.4.3); other solicitations for a tentative address are not answered.
// Advertisements update the cache as 7.2.5's table says; one for an
// address of ours is a duplicate when the address is tentative (5.4.4),
// and a conflict, logged, when it is preferred.
// No cache entry is ever made for one of our own addresses.
#include "stack/iface/ipv6_layer.hpp"

namespace tapstack::iface {

void Ipv6Layer::receive_ndp(Instant now, const Packet& p, const wire::Icmpv6View& view) {
    if (p.fragmented) {
        inc(Counter6::nd_rx_fragmented);
        return;
    }
    if (p.header.hop_limit != 255) {
        inc(Counter6::nd_rx_bad_hop_limit);
        return;
    }
    wire::NdpError err{};
    auto m = wire::NdpRepr::parse(view, p.header.src, p.header.dst, &err);
    if (!m) {
        inc(err == wire::NdpError::kBadChecksum ? Counter6::nd_rx_bad_checksum : Counter6::nd_rx_malformed);
        return;
    }
    if (view.code() != 0) {
        inc(Counter6::nd_rx_bad_code);
        return;
    }
    const bool from_unspecified = p.header.src.is_unspecified();
    switch (m->type) {
        case wire::icmpv6_type::kRouterSolicitation:
            inc(Counter6::nd_rx_router_solicitations);
            return;
        case wire::icmpv6_type::kRouterAdvertisement:
            if (!p.header.src.is_link_local()) break;
            router_advertisement(now, p, *m);
            return;
        case wire::icmpv6_type::kNeighborSolicitation:
            if (m->target.is_multicast()) break;
            if (from_unspecified &&
                (!p.header.dst.is_solicited_node_multicast() || m->options.source_link_address)) {
                break;
            }
            neighbor_solicitation(now, p, *m);
            return;
        case wire::icmpv6_type::kNeighborAdvertisement:
            if (m->target.is_multicast() || (p.header.dst.is_multicast() && m->solicited)) break;
            neighbor_advertisement(now, p, *m);
            return;
        case wire::icmpv6_type::kRedirect:
            inc(Counter6::nd_rx_redirects_ignored);
            return;
        default:
            break;
    }
    inc(Counter6::nd_rx_invalid);
}

void Ipv6Layer::neighbor_solicitation(Instant now, const Packet& p, const wire::NdpRepr& ns) {
    inc(Counter6::nd_rx_neighbor_solicitations);
    const auto state = addresses_.state(ns.target);
    if (!state || *state == Ipv6AddressState::kDuplicate) {
        inc(Counter6::nd_rx_not_for_us);
        return;
    }
    const bool from_unspecified = p.header.src.is_unspecified();
    if (*state == Ipv6AddressState::kTentative) {
        if (from_unspecified) dad_conflict(ns.target, p.frame.src);
        return;
    }
    wire::NdpRepr na;
    na.type = wire::icmpv6_type::kNeighborAdvertisement;
    na.target = ns.target;
    na.override_ = true;
    na.options.target_link_address = mac_;
    if (from_unspecified) {
        // RFC 4861 7.2.4: to all-nodes, S clear.
        inc(Counter6::nd_tx_neighbor_advertisements);
        send_ndp(now, ns.target, wire::Ipv6Address::all_nodes(), na);
        return;
    }
    if (addresses_.state(p.header.src)) {
        inc(Counter6::nd_rx_address_conflict);
        return;
    }
    if (ns.options.source_link_address) {
        std::vector<NeighborCache::Packet> released;
        neighbors_.solicited_by(now, p.header.src, *ns.options.source_link_address, false, released);
        send_released(now, *ns.options.source_link_address, released);
    }
    na.solicited = true;
    inc(Counter6::nd_tx_neighbor_advertisements);
    send_ndp(now, ns.target, p.header.src, na);
}

void Ipv6Layer::neighbor_advertisement(Instant now, const Packet& p, const wire::NdpRepr& na) {
    inc(Counter6::nd_rx_neighbor_advertisements);
    const auto from = na.options.target_link_address ? na.options.target_link_address : std::optional(p.frame.src);
    if (const auto state = addresses_.state(na.target)) {
        if (*state == Ipv6AddressState::kTentative) {
            dad_conflict(na.target, from);
        } else if (*state == Ipv6AddressState::kPreferred) {
            inc(Counter6::nd_rx_address_conflict);
            address_event(Ipv6AddressEvent::Kind::kConflict, na.target, from);
        }
        return;
    }
    std::vector<NeighborCache::Packet> released;
    const auto result = neighbors_.advertised(now, na.target, na.options.target_link_address, na.solicited,
                                              na.override_, na.router, released);
    if (result.router_cleared) routes_.remove_router(na.target);
    if (const auto mac = neighbors_.mac(na.target)) send_released(now, *mac, released);
}

// RFC 4861 6.3.4, for the parts a host without SLAAC uses.
void Ipv6Layer::router_advertisement(Instant now, const Packet& p, const wire::NdpRepr& ra) {
    inc(Counter6::nd_rx_router_advertisements);
    if (!config_.accept_ra) {
        inc(Counter6::nd_rx_ra_ignored);
        return;
    }
    rs_next_ = kNever;  // 6.3.7: an advertisement ends the solicitations
    const wire::Ipv6Address router = p.header.src;
    switch (routes_.router_advertised(now, router, seconds(ra.router_lifetime))) {
        case Ipv6Routes::Learned::kAdded: inc(Counter6::nd_routers_learned); break;
        case Ipv6Routes::Learned::kTableFull: inc(Counter6::nd_routes_table_full); break;
        default: break;
    }
    if (ra.cur_hop_limit != 0) hop_limit_ = ra.cur_hop_limit;
    constexpr std::uint32_t kMaxReachableTimeMs = 3'600'000;  // RFC 4861 10 MAX_REACHABLE_TIME
    if (ra.reachable_time != 0 && ra.reachable_time <= kMaxReachableTimeMs &&
        milliseconds(ra.reachable_time) != base_reachable_time_) {
        set_base_reachable_time(milliseconds(ra.reachable_time));
    }
    if (ra.retrans_timer != 0) {
        neighbors_.set_retrans_timer(milliseconds(ra.retrans_timer));
        addresses_.set_retrans_timer(milliseconds(ra.retrans_timer));
    }
    if (ra.options.source_link_address && !addresses_.state(router)) {
        std::vector<NeighborCache::Packet> released;
        neighbors_.solicited_by(now, router, *ra.options.source_link_address, true, released);
        send_released(now, *ra.options.source_link_address, released);
    }
    if (ra.options.mtu && *ra.options.mtu >= wire::kIpv6MinimumMtu && *ra.options.mtu <= configured_mtu_ &&
        *ra.options.mtu != link_mtu_) {
        link_mtu_ = static_cast<std::uint16_t>(*ra.options.mtu);
        inc(Counter6::nd_link_mtu_updates);
    }
    for (const wire::NdpPrefixInfo& info : ra.options.prefixes) {
        if (!info.on_link) continue;
        const wire::Ipv6Cidr prefix{info.prefix, info.prefix_len};
        switch (routes_.prefix_advertised(now, prefix, info.valid_lifetime)) {
            case Ipv6Routes::Learned::kAdded: inc(Counter6::nd_prefixes_learned); break;
            case Ipv6Routes::Learned::kTableFull: inc(Counter6::nd_routes_table_full); break;
            default: break;
        }
    }
}

void Ipv6Layer::dad_conflict(const wire::Ipv6Address& a, std::optional<wire::MacAddress> from) {
    if (!addresses_.mark_duplicate(a)) return;
    inc(Counter6::nd_dad_failed);
    address_event(Ipv6AddressEvent::Kind::kDuplicate, a, from);
    if (addresses_.disabled()) address_event(Ipv6AddressEvent::Kind::kDisabled, a, from);
}

void Ipv6Layer::send_ndp(Instant now, const wire::Ipv6Address& src, const wire::Ipv6Address& dst,
                         const wire::NdpRepr& m) {
    std::vector<std::uint8_t> message(m.buffer_len());
    m.emit(message, src, dst);
    wire::Ipv6Repr h;
    h.src = src;
    h.dst = dst;
    h.next_header = wire::next_header::kIcmpv6;
    h.hop_limit = 255;
    send(now, h, message, true);
}

// RFC 4861 7.2.2 (resolution, to the solicited-node group, with our
// link-layer address), 7.3.3 (probes, unicast) and RFC 4862 5.4.2 (DAD:
// from ::, without a link-layer address option).
void Ipv6Layer::send_neighbor_solicitation(Instant now, const wire::Ipv6Address& target,
                                           const wire::Ipv6Address& dst, bool dad) {
    wire::NdpRepr ns;
    ns.type = wire::icmpv6_type::kNeighborSolicitation;
    ns.target = target;
    wire::Ipv6Address src;
    if (!dad) {
        const auto chosen = source_for(target);
        if (!chosen) {
            inc(Counter6::ipv6_tx_no_source);
            return;
        }
        src = *chosen;
        ns.options.source_link_address = mac_;
        inc(Counter6::nd_tx_neighbor_solicitations);
    }
    send_ndp(now, src, dst, ns);
}

// RFC 4861 6.3.7: from the link-local address, with our link-layer address.
void Ipv6Layer::send_router_solicitation(Instant now) {
    ++rs_sent_;
    rs_next_ = rs_sent_ < kMaxRtrSolicitations ? now + kRtrSolicitationInterval : kNever;
    if (!addresses_.is_preferred(addresses_.link_local())) return;
    wire::NdpRepr rs;
    rs.type = wire::icmpv6_type::kRouterSolicitation;
    rs.options.source_link_address = mac_;
    inc(Counter6::nd_tx_router_solicitations);
    send_ndp(now, addresses_.link_local(), wire::Ipv6Address::all_routers(), rs);
}

}  // namespace tapstack::iface
