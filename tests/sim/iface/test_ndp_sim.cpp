// Neighbour Discovery (RFC 4861) and Duplicate Address Detection
// (RFC 4862) through an Interface on the simulated LAN.
#include <doctest/doctest.h>

#include <algorithm>

#include "tests/sim/iface/sim6.hpp"

using namespace sim;
namespace icmp6 = wire::icmpv6_type;

namespace {

std::vector<Icmp6Seen> from_b(Lan6& lan, std::uint8_t type) {
    std::vector<Icmp6Seen> out;
    for (const Icmp6Seen& s : of_type(icmp6_messages(lan.raw.received()), type)) {
        const bool b_dad = s.ip.src.is_unspecified() && s.nd && (s.nd->target == ip6(2) || s.nd->target == ll6(2));
        if (s.ip.src == ip6(2) || s.ip.src == ll6(2) || b_dad) out.push_back(s);
    }
    return out;
}

// A neighbour solicitation from raw for `target`.
Frame solicitation(const wire::Ipv6Address& src, const wire::Ipv6Address& target, std::uint8_t hop = 255,
                   bool sllao = true, std::optional<wire::Ipv6Address> dst = std::nullopt) {
    wire::NdpRepr ns;
    ns.type = icmp6::kNeighborSolicitation;
    ns.target = target;
    if (sllao) ns.options.source_link_address = mac(3);
    const wire::Ipv6Address to = dst.value_or(target.solicited_node());
    return frame6(src, to, wire::next_header::kIcmpv6, ndp_message(ns, src, to), hop,
                  to.is_multicast() ? to.multicast_mac() : mac(2));
}

Frame advertisement(const wire::Ipv6Address& target, wire::MacAddress tll, bool solicited = false) {
    wire::NdpRepr na;
    na.type = icmp6::kNeighborAdvertisement;
    na.target = target;
    na.override_ = true;
    na.solicited = solicited;
    na.options.target_link_address = tll;
    const wire::Ipv6Address all = wire::Ipv6Address::all_nodes();
    return frame6(target, all, wire::next_header::kIcmpv6, ndp_message(na, target, all), 255, all.multicast_mac());
}

bool answers_ping(Lan6& lan, const wire::Ipv6Address& dst, std::uint16_t seq) {
    const std::size_t before = from_b(lan, icmp6::kEchoReply).size();
    for (const Frame& f : echo6_frames(ip6(3), dst, 7, seq, pattern(56))) lan.raw.send(f);
    lan.hub.run_for(milliseconds(50));
    return from_b(lan, icmp6::kEchoReply).size() == before + 1;
}

}  // namespace

TEST_CASE("RFC 4862 5.4.2: DAD probes from :: to the solicited-node group, hop limit 255, no link-layer option; then preferred") {
    Lan6 lan;
    lan.hub.run_for(milliseconds(10));
    for (const auto& info : lan.b.iface().ipv6_addresses()) CHECK(info.state == iface::Ipv6AddressState::kTentative);
    lan.settle();
    const auto probes = from_b(lan, icmp6::kNeighborSolicitation);
    REQUIRE(probes.size() == 2);  // link-local and fd00::2, one each (DupAddrDetectTransmits 1)
    std::vector<wire::Ipv6Address> targets;
    for (const Icmp6Seen& p : probes) {
        CHECK(p.ip.src.is_unspecified());
        CHECK(p.ip.hop_limit == 255);
        CHECK(p.ip.dst == p.nd->target.solicited_node());
        CHECK(p.eth_dst == p.nd->target.solicited_node().multicast_mac());
        CHECK_FALSE(p.nd->options.source_link_address);
        targets.push_back(p.nd->target);
    }
    std::sort(targets.begin(), targets.end());
    CHECK(targets == std::vector<wire::Ipv6Address>{ip6(2), ll6(2)});
    for (const auto& info : lan.b.iface().ipv6_addresses()) CHECK(info.state == iface::Ipv6AddressState::kPreferred);
    CHECK(lan.b.counter("nd.dad_completed") == 2);
    CHECK(answers_ping(lan, ip6(2), 1));
}

TEST_CASE("RFC 4862 5.4: a tentative address does not answer pings or address resolution") {
    Lan6 lan;
    lan.hub.run_for(milliseconds(1));
    lan.raw.send(solicitation(ip6(3), ip6(2)));
    for (const Frame& f : echo6_frames(ip6(3), ip6(2), 7, 1, pattern(56))) lan.raw.send(f);
    lan.hub.run_for(milliseconds(20));
    CHECK(from_b(lan, icmp6::kNeighborAdvertisement).empty());
    CHECK(from_b(lan, icmp6::kEchoReply).empty());
    CHECK(lan.b.counter("ipv6.rx_to_tentative") == 1);
}

TEST_CASE("RFC 4862 5.4.4: an advertisement for a tentative address makes it a duplicate, never used") {
    std::vector<iface::Ipv6AddressEvent> events;
    iface::InterfaceConfig c = iface_config6(2);
    c.ipv6.on_address_event = [&](const iface::Ipv6AddressEvent& e) { events.push_back(e); };
    Lan6 lan(1, iface_config6(1), c);
    lan.hub.run_for(milliseconds(1));
    lan.raw.send(advertisement(ip6(2), mac(9)));
    lan.settle();
    bool dup = false;
    for (const auto& e : events) {
        if (e.kind == iface::Ipv6AddressEvent::Kind::kDuplicate && e.address == ip6(2)) {
            dup = true;
            CHECK(e.from == mac(9));
        }
    }
    CHECK(dup);
    CHECK(lan.b.counter("nd.dad_failed") == 1);
    CHECK(lan.b.counter("nd.dad_completed") == 1);  // the link-local one
    CHECK_FALSE(answers_ping(lan, ip6(2), 1));
    CHECK(answers_ping(lan, ll6(2), 2));  // still reachable on its link-local address
    lan.raw.send(solicitation(ip6(3), ip6(2)));
    lan.hub.run_for(milliseconds(20));
    CHECK(from_b(lan, icmp6::kNeighborAdvertisement).empty());
}

TEST_CASE("RFC 4862 5.4.3: a solicitation from :: for a tentative address (another node's DAD) makes it a duplicate") {
    Lan6 lan;
    lan.hub.run_for(milliseconds(1));
    lan.raw.send(solicitation(wire::Ipv6Address::unspecified(), ip6(2), 255, false));
    lan.settle();
    CHECK(lan.b.counter("nd.dad_failed") == 1);
    CHECK_FALSE(answers_ping(lan, ip6(2), 1));
}

TEST_CASE("RFC 4862 5.4.5: a duplicate link-local address turns IPv6 off on the interface") {
    std::vector<iface::Ipv6AddressEvent> events;
    iface::InterfaceConfig c = iface_config6(2);
    c.ipv6.on_address_event = [&](const iface::Ipv6AddressEvent& e) { events.push_back(e); };
    Lan6 lan(1, iface_config6(1), c);
    lan.hub.run_for(milliseconds(1));
    lan.raw.send(advertisement(ll6(2), mac(9)));
    lan.settle();
    CHECK(std::any_of(events.begin(), events.end(),
                      [](const auto& e) { return e.kind == iface::Ipv6AddressEvent::Kind::kDisabled; }));
    CHECK_FALSE(answers_ping(lan, ip6(2), 1));
    CHECK(lan.b.counter("ipv6.rx_disabled") >= 1);
}

TEST_CASE("RFC 4861 7.2.4: a solicitation for our address gets exactly one solicited advertisement with our MAC") {
    Lan6 lan;
    lan.settle();
    lan.raw.received().clear();
    lan.raw.send(solicitation(ip6(3), ip6(2)));
    lan.hub.run_for(milliseconds(20));
    const auto na = from_b(lan, icmp6::kNeighborAdvertisement);
    REQUIRE(na.size() == 1);
    CHECK(na[0].ip.src == ip6(2));
    CHECK(na[0].ip.dst == ip6(3));
    CHECK(na[0].ip.hop_limit == 255);
    CHECK(na[0].eth_dst == mac(3));
    CHECK(na[0].nd->target == ip6(2));
    CHECK(na[0].nd->solicited);
    CHECK(na[0].nd->override_);
    CHECK_FALSE(na[0].nd->router);
    CHECK(na[0].nd->options.target_link_address == mac(2));
    // 7.2.3: the solicitor is now cached, so b answers a ping without resolving it.
    lan.raw.received().clear();
    CHECK(answers_ping(lan, ip6(2), 1));
    CHECK(from_b(lan, icmp6::kNeighborSolicitation).empty());
}

TEST_CASE("RFC 4861 7.2.4: a solicitation for our link-local address from a link-local source is answered") {
    Lan6 lan;
    lan.settle();
    lan.raw.received().clear();
    lan.raw.send(solicitation(ll6(3), ll6(2)));
    lan.hub.run_for(milliseconds(20));
    const auto na = from_b(lan, icmp6::kNeighborAdvertisement);
    REQUIRE(na.size() == 1);
    CHECK(na[0].ip.src == ll6(2));
    CHECK(na[0].nd->target == ll6(2));
}

TEST_CASE("RFC 4862 5.4.3: a DAD solicitation for our preferred address is defended to all-nodes, S clear") {
    Lan6 lan;
    lan.settle();
    lan.raw.received().clear();
    lan.raw.send(solicitation(wire::Ipv6Address::unspecified(), ip6(2), 255, false));
    lan.hub.run_for(milliseconds(20));
    const auto na = from_b(lan, icmp6::kNeighborAdvertisement);
    REQUIRE(na.size() == 1);
    CHECK(na[0].ip.dst == wire::Ipv6Address::all_nodes());
    CHECK_FALSE(na[0].nd->solicited);
    CHECK(na[0].nd->override_);
    CHECK(answers_ping(lan, ip6(2), 1));
}

TEST_CASE("RFC 4861 7.1.1: a solicitation for another address, with hop limit 254, bad code or bad form gets nothing") {
    Lan6 lan;
    lan.settle();
    lan.raw.received().clear();
    lan.raw.send(solicitation(ip6(3), ip6(9), 255, true, ip6(2).solicited_node()));  // not ours
    lan.raw.send(solicitation(ip6(3), ip6(2), 254));                        // off-link
    lan.raw.send(solicitation(ip6(3), wire::Ipv6Address::all_nodes(), 255, true, ip6(2).solicited_node()));  // multicast target
    lan.raw.send(solicitation(wire::Ipv6Address::unspecified(), ip6(2), 255, true));  // :: with a link-layer option
    lan.raw.send(solicitation(wire::Ipv6Address::unspecified(), ip6(2), 255, false, ip6(2)));  // :: to unicast
    {
        wire::NdpRepr ns;
        ns.type = icmp6::kNeighborSolicitation;
        ns.target = ip6(2);
        Frame m = ndp_message(ns, ip6(3), ip6(2).solicited_node());
        m[1] = 1;  // code 1
        const std::uint16_t c = wire::icmpv6_checksum(m, ip6(3), ip6(2).solicited_node());
        m[2] = static_cast<std::uint8_t>(c >> 8);
        m[3] = static_cast<std::uint8_t>(c);
        lan.raw.send(frame6(ip6(3), ip6(2).solicited_node(), wire::next_header::kIcmpv6, m, 255,
                            ip6(2).solicited_node().multicast_mac()));
    }
    lan.hub.run_for(milliseconds(20));
    CHECK(from_b(lan, icmp6::kNeighborAdvertisement).empty());
    CHECK(lan.b.counter("nd.rx_not_for_us") == 1);
    CHECK(lan.b.counter("nd.rx_bad_hop_limit") == 1);
    CHECK(lan.b.counter("nd.rx_invalid") == 3);
    CHECK(lan.b.counter("nd.rx_bad_code") == 1);
}

TEST_CASE("RFC 4861 7.2.2: address resolution: multicast solicitation with our link-layer address, then the queued reply") {
    Lan6 lan;
    lan.settle();
    lan.raw.received().clear();
    CHECK(answers_ping(lan, ip6(2), 1));
    const auto ns = from_b(lan, icmp6::kNeighborSolicitation);
    REQUIRE(ns.size() == 1);
    CHECK(ns[0].ip.src == ip6(2));
    CHECK(ns[0].ip.dst == ip6(3).solicited_node());
    CHECK(ns[0].ip.hop_limit == 255);
    CHECK(ns[0].nd->target == ip6(3));
    CHECK(ns[0].nd->options.source_link_address == mac(2));
    CHECK(lan.b.counter("ipv6.tx_nd_queued") == 1);
}

TEST_CASE("RFC 4861 7.2.2: an unanswered resolution retries MAX_MULTICAST_SOLICIT times, then drops and counts") {
    Lan6 lan;
    lan.settle();
    lan.raw.answer_nd = false;
    lan.raw.received().clear();
    for (std::uint16_t seq = 1; seq <= 3; ++seq) {
        for (const Frame& f : echo6_frames(ip6(3), ip6(2), 7, seq, pattern(56))) lan.raw.send(f);
    }
    lan.hub.run_for(seconds(5));
    CHECK(from_b(lan, icmp6::kNeighborSolicitation).size() == 3);
    CHECK(from_b(lan, icmp6::kEchoReply).empty());
    CHECK(lan.b.counter("nd.resolve_failed") == 1);
    CHECK(lan.b.counter("nd.unresolved_dropped") == 3);
    CHECK(lan.b.counter("nd.queued_bytes") == 0);
}

TEST_CASE("RFC 4861 7.3.3: after ReachableTime a used entry is probed by unicast solicitations") {
    Lan6 lan;
    lan.settle();
    CHECK(answers_ping(lan, ip6(2), 1));
    lan.hub.run_for(seconds(50));  // past 1.5 x 30 s: STALE
    lan.raw.received().clear();
    CHECK(answers_ping(lan, ip6(2), 2));  // used while stale: DELAY, the reply goes at once
    lan.hub.run_for(seconds(6));          // DELAY_FIRST_PROBE_TIME: PROBE
    const auto ns = from_b(lan, icmp6::kNeighborSolicitation);
    REQUIRE(ns.size() == 1);
    CHECK(ns[0].ip.dst == ip6(3));  // unicast
    CHECK(ns[0].eth_dst == mac(3));
    CHECK(lan.b.counter("nd.probes") == 1);
}

TEST_CASE("RFC 6980 5: neighbour discovery in a packet with a fragment header is ignored") {
    Lan6 lan;
    lan.settle();
    lan.raw.received().clear();
    wire::NdpRepr ns;
    ns.type = icmp6::kNeighborSolicitation;
    ns.target = ip6(2);
    ns.options.source_link_address = mac(3);
    const wire::Ipv6Address to = ip6(2).solicited_node();
    std::vector<std::uint8_t> body = {wire::next_header::kIcmpv6, 0, 0, 0, 0, 0, 0, 5};  // atomic fragment
    const Frame m = ndp_message(ns, ip6(3), to);
    body.insert(body.end(), m.begin(), m.end());
    lan.raw.send(frame6(ip6(3), to, wire::next_header::kFragment, body, 255, to.multicast_mac()));
    lan.hub.run_for(milliseconds(20));
    CHECK(from_b(lan, icmp6::kNeighborAdvertisement).empty());
    CHECK(lan.b.counter("nd.rx_fragmented") == 1);
}

TEST_CASE("RFC 4861 6.3.4: with accept_ra, a router advertisement gives a default router and an on-link prefix") {
    iface::InterfaceConfig c = iface_config6(2);
    c.ipv6.accept_ra = true;
    Lan6 lan(1, iface_config6(1), c);
    lan.settle();
    lan.hub.run_for(seconds(1));
    const auto rs = from_b(lan, icmp6::kRouterSolicitation);
    REQUIRE_FALSE(rs.empty());
    CHECK(rs[0].ip.src == ll6(2));
    CHECK(rs[0].ip.dst == wire::Ipv6Address::all_routers());
    CHECK(rs[0].nd->options.source_link_address == mac(2));
    // Without a router, an off-link destination has no route.
    const wire::Ipv6Address far = *wire::Ipv6Address::parse("fd09::5");
    for (const Frame& f : echo6_frames(far, ip6(2), 7, 1, pattern(56))) lan.raw.send(f);
    lan.hub.run_for(milliseconds(20));
    CHECK(lan.b.counter("ipv6.tx_no_route") == 1);
    wire::NdpRepr ra;
    ra.type = icmp6::kRouterAdvertisement;
    ra.cur_hop_limit = 33;
    ra.router_lifetime = 600;
    ra.options.source_link_address = mac(3);
    ra.options.prefixes.push_back(wire::NdpPrefixInfo{64, true, false, 3600, 1800, *wire::Ipv6Address::parse("fd01::")});
    const wire::Ipv6Address all = wire::Ipv6Address::all_nodes();
    lan.raw.send(frame6(ll6(3), all, wire::next_header::kIcmpv6, ndp_message(ra, ll6(3), all), 255, all.multicast_mac()));
    lan.hub.run_for(milliseconds(20));
    CHECK(lan.b.counter("nd.routers_learned") == 1);
    CHECK(lan.b.counter("nd.prefixes_learned") == 1);
    lan.raw.received().clear();
    for (const Frame& f : echo6_frames(far, ip6(2), 7, 2, pattern(56))) lan.raw.send(f);
    lan.hub.run_for(milliseconds(20));
    const auto replies = of_type(icmp6_messages(lan.raw.received()), icmp6::kEchoReply);
    REQUIRE(replies.size() == 1);
    CHECK(replies[0].ip.dst == far);
    CHECK(replies[0].eth_dst == mac(3));  // through the router
    CHECK(replies[0].ip.hop_limit == 33);
    // A later solicitation stops: the router answered.
    lan.raw.received().clear();
    lan.hub.run_for(seconds(10));
    CHECK(from_b(lan, icmp6::kRouterSolicitation).empty());
}

TEST_CASE("RFC 4861 6.3.4: without accept_ra, router advertisements are counted and ignored") {
    Lan6 lan;
    lan.settle();
    CHECK(from_b(lan, icmp6::kRouterSolicitation).empty());
    wire::NdpRepr ra;
    ra.type = icmp6::kRouterAdvertisement;
    ra.router_lifetime = 600;
    const wire::Ipv6Address all = wire::Ipv6Address::all_nodes();
    lan.raw.send(frame6(ll6(3), all, wire::next_header::kIcmpv6, ndp_message(ra, ll6(3), all), 255, all.multicast_mac()));
    // From a global source: invalid (6.1.2).
    lan.raw.send(frame6(ip6(3), all, wire::next_header::kIcmpv6, ndp_message(ra, ip6(3), all), 255, all.multicast_mac()));
    lan.hub.run_for(milliseconds(20));
    CHECK(lan.b.counter("nd.rx_ra_ignored") == 1);
    CHECK(lan.b.counter("nd.rx_invalid") == 1);
    CHECK(lan.b.counter("nd.routers") == 0);
}

TEST_CASE("Frames to multicast groups we did not join are dropped at the link layer") {
    Lan6 lan;
    lan.settle();
    const std::uint64_t start = lan.b.counter("eth.rx_multicast_dropped");
    lan.raw.send(solicitation(ip6(3), ip6(9)));  // to ff02::1:ff00:9, a group b did not join
    lan.hub.run_for(milliseconds(20));
    const std::uint64_t before = lan.b.counter("eth.rx_multicast_dropped");
    CHECK(before == start + 1);
    CHECK(lan.b.counter("nd.rx_not_for_us") == 0);
    // An IPv4 frame to a group we joined for IPv6 is not taken either.
    lan.raw.send(ethernet(ip6(2).solicited_node().multicast_mac(), mac(3), wire::ethertype::kIpv4, pattern(40)));
    lan.hub.run_for(milliseconds(20));
    CHECK(lan.b.counter("eth.rx_multicast_dropped") == before + 1);
}

TEST_CASE("RFC 4861 7.2.4: the advertisement goes straight back on the link, even to a source outside our prefixes") {
    Lan6 lan;
    lan.settle();
    lan.raw.received().clear();
    const wire::Ipv6Address far = *wire::Ipv6Address::parse("fd09::5");  // no route to it: no gateway
    lan.raw.send(solicitation(far, ip6(2)));
    lan.hub.run_for(milliseconds(20));
    const auto na = from_b(lan, icmp6::kNeighborAdvertisement);
    REQUIRE(na.size() == 1);
    CHECK(na[0].ip.dst == far);
    CHECK(na[0].eth_dst == mac(3));
    CHECK(lan.b.counter("ipv6.tx_no_route") == 0);
}
