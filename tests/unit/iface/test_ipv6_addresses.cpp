// Ipv6AddressTable (RFC 4862 5.4 DAD states, RFC 4861 7.2.1 groups,
// RFC 6724 source selection), Ipv6Routes (RFC 4861 5.2, 6.3.4) and the
// ICMPv6 error policy (RFC 4443 2.4).
#include <doctest/doctest.h>

#include <vector>

#include "stack/iface/icmpv6_error_policy.hpp"
#include "stack/iface/ipv6_addresses.hpp"
#include "stack/iface/ipv6_routes.hpp"
#include "stack/wire/icmpv6.hpp"
#include "stack/wire/ipv6.hpp"

using namespace tapstack;
using namespace tapstack::iface;
using wire::Ipv6Address;

namespace {

Ipv6Address a6(const char* t) { return *Ipv6Address::parse(t); }
wire::Ipv6Cidr c6(const char* t) { return *wire::Ipv6Cidr::parse(t); }
Instant at_ms(std::int64_t ms) { return instant_from_ns(ms * 1'000'000); }

const Ipv6Address kLinkLocal = a6("fe80::74:73ff:fe13:4d02");

}  // namespace

TEST_CASE("RFC 4862 5.4: addresses are tentative for the delay plus DupAddrDetectTransmits x RetransTimer") {
    Ipv6AddressTable t(kLinkLocal, {c6("fd00::2/64")}, 2);
    Ipv6AddressTable::Due due;
    t.start(at_ms(0), milliseconds(300), due);
    CHECK(due.solicit.empty());
    CHECK(t.state(kLinkLocal) == Ipv6AddressState::kTentative);
    CHECK(t.poll_at() == at_ms(300));
    t.poll(at_ms(300), due);
    CHECK(due.solicit.size() == 2);  // one probe per address
    t.poll(at_ms(1300), due);
    CHECK(due.solicit.size() == 4);
    CHECK(due.ready.empty());
    CHECK_FALSE(t.source_for(a6("fd00::9")));  // tentative addresses are never a source
    t.poll(at_ms(2300), due);
    CHECK(due.ready.size() == 2);
    CHECK(t.is_preferred(kLinkLocal));
    CHECK(t.is_preferred(a6("fd00::2")));
    CHECK(t.poll_at() == kNever);
}

TEST_CASE("RFC 4862 5.1: DupAddrDetectTransmits 0 makes every address preferred at start") {
    Ipv6AddressTable t(kLinkLocal, {c6("fd00::2/64")}, 0);
    Ipv6AddressTable::Due due;
    t.start(at_ms(0), milliseconds(700), due);
    CHECK(due.solicit.empty());
    CHECK(due.ready.size() == 2);
}

TEST_CASE("RFC 4862 5.4.5: a duplicate is never used; a duplicate link-local address disables IPv6") {
    Ipv6AddressTable t(kLinkLocal, {c6("fd00::2/64")}, 1);
    Ipv6AddressTable::Due due;
    t.start(at_ms(0), milliseconds(0), due);
    CHECK(t.mark_duplicate(a6("fd00::2")));
    CHECK_FALSE(t.mark_duplicate(a6("fd00::2")));
    t.poll(at_ms(5000), due);
    CHECK(t.state(a6("fd00::2")) == Ipv6AddressState::kDuplicate);
    CHECK_FALSE(t.accepts_destination(a6("fd00::2")));
    CHECK_FALSE(t.accepts_destination(a6("fd00::2").solicited_node()));
    CHECK(t.source_for(a6("fd00::9")) == kLinkLocal);  // falls back to link-local
    CHECK_FALSE(t.disabled());
    CHECK(t.mark_duplicate(kLinkLocal));
    CHECK(t.disabled());
    CHECK_FALSE(t.source_for(a6("fe80::1")));
    CHECK_FALSE(t.accepts_destination(wire::Ipv6Address::all_nodes()));
}

TEST_CASE("RFC 4861 7.2.1: all-nodes and the solicited-node groups of tentative and preferred addresses are joined") {
    Ipv6AddressTable t(kLinkLocal, {c6("fd00::2/64")}, 1);
    Ipv6AddressTable::Due due;
    t.start(at_ms(0), milliseconds(0), due);
    CHECK(t.accepts_destination(wire::Ipv6Address::all_nodes()));
    CHECK(t.accepts_destination(a6("fd00::2").solicited_node()));
    CHECK_FALSE(t.accepts_destination(a6("fd00::2")));  // tentative: not yet
    CHECK_FALSE(t.accepts_destination(wire::Ipv6Address::all_routers()));
    CHECK(t.accepts_link_multicast(a6("fd00::2").solicited_node().multicast_mac()));
    CHECK(t.accepts_link_multicast(wire::MacAddress{{0x33, 0x33, 0, 0, 0, 1}}));
    CHECK_FALSE(t.accepts_link_multicast(wire::MacAddress{{0x33, 0x33, 0, 0, 0, 2}}));
    CHECK_FALSE(t.accepts_link_multicast(a6("fd00::3").solicited_node().multicast_mac()));
    t.poll(at_ms(1000), due);
    CHECK(t.accepts_destination(a6("fd00::2")));
}

TEST_CASE("RFC 6724 5: the destination itself, link-local for link scope, else the longest matching prefix") {
    Ipv6AddressTable t(kLinkLocal, {c6("fd00:1::2/64"), c6("fd00:2::2/64")}, 0);
    Ipv6AddressTable::Due due;
    t.start(at_ms(0), milliseconds(0), due);
    CHECK(t.source_for(a6("fd00:2::2")) == a6("fd00:2::2"));
    CHECK(t.source_for(a6("fe80::1")) == kLinkLocal);
    CHECK(t.source_for(a6("ff02::1")) == kLinkLocal);
    CHECK(t.source_for(a6("fd00:2::9")) == a6("fd00:2::2"));
    CHECK(t.source_for(a6("fd00:1::9")) == a6("fd00:1::2"));
    CHECK(t.source_for(a6("2001:db8::1")).has_value());
}

TEST_CASE("RFC 4861 5.2: on-link prefixes, the gateway, then default routers; RA lifetimes and bounds") {
    Ipv6Routes r({c6("fd00::2/64")}, std::nullopt);
    CHECK(r.next_hop(at_ms(0), a6("fd00::9")) == a6("fd00::9"));
    CHECK(r.next_hop(at_ms(0), a6("fe80::1")) == a6("fe80::1"));
    CHECK_FALSE(r.next_hop(at_ms(0), a6("fd01::9")));
    CHECK(r.router_advertised(at_ms(0), a6("fe80::1"), seconds(30)) == Ipv6Routes::Learned::kAdded);
    CHECK(r.router_advertised(at_ms(0), a6("fe80::2"), seconds(60)) == Ipv6Routes::Learned::kAdded);
    CHECK(r.next_hop(at_ms(1), a6("fd01::9")) == a6("fe80::1"));
    r.router_unreachable(a6("fe80::1"));
    CHECK(r.next_hop(at_ms(1), a6("fd01::9")) == a6("fe80::2"));
    CHECK(r.prefix_advertised(at_ms(0), c6("fd01::/64"), 10) == Ipv6Routes::Learned::kAdded);
    CHECK(r.next_hop(at_ms(1), a6("fd01::9")) == a6("fd01::9"));
    CHECK(r.prefix_advertised(at_ms(0), c6("fe80::/64"), 10) == Ipv6Routes::Learned::kIgnored);
    CHECK(r.poll_at() == at_ms(10'000));
    CHECK(r.poll(at_ms(10'000)) == 1);
    CHECK(r.next_hop(at_ms(10'000), a6("fd01::9")) == a6("fe80::2"));
    CHECK(r.poll(at_ms(30'000)) == 1);
    CHECK(r.router_advertised(at_ms(30'000), a6("fe80::2"), seconds(0)) == Ipv6Routes::Learned::kRemoved);
    CHECK_FALSE(r.next_hop(at_ms(30'000), a6("fd01::9")));
    for (int i = 0; i < 20; ++i) {
        Ipv6Address a = a6("fe80::100");
        a.bytes[15] = static_cast<std::uint8_t>(i);
        const auto learned = r.router_advertised(at_ms(40'000), a, seconds(100));
        CHECK(learned == (i < 16 ? Ipv6Routes::Learned::kAdded : Ipv6Routes::Learned::kTableFull));
    }
    Ipv6Routes g({}, a6("fe80::1"));
    CHECK(g.next_hop(at_ms(0), a6("fd09::1")) == a6("fe80::1"));
}

namespace {

std::vector<std::uint8_t> packet(const char* src, const char* dst, std::uint8_t nh, std::vector<std::uint8_t> payload) {
    wire::Ipv6Repr h;
    h.src = a6(src);
    h.dst = a6(dst);
    h.next_header = nh;
    h.payload_len = static_cast<std::uint16_t>(payload.size());
    std::vector<std::uint8_t> p(h.buffer_len());
    h.emit(p);
    std::copy(payload.begin(), payload.end(), p.begin() + 40);
    return p;
}

}  // namespace

TEST_CASE("RFC 4443 2.4 (e): never about an error or a redirect, to multicast (two exceptions), or from no single node") {
    using V = Icmpv6ErrorVerdict;
    const std::vector<std::uint8_t> echo = {wire::icmpv6_type::kEchoRequest, 0, 0, 0, 0, 0, 0, 0};
    const std::vector<std::uint8_t> unreach = {wire::icmpv6_type::kDestUnreachable, 0, 0, 0, 0, 0, 0, 0};
    const std::vector<std::uint8_t> redirect = {wire::icmpv6_type::kRedirect, 0, 0, 0};
    CHECK(icmpv6_error_verdict(packet("fd00::1", "fd00::2", 58, echo), false, false) == V::kAllowed);
    CHECK(icmpv6_error_verdict(packet("fd00::1", "fd00::2", 58, unreach), false, false) == V::kAboutError);
    CHECK(icmpv6_error_verdict(packet("fd00::1", "fd00::2", 58, redirect), false, false) == V::kAboutError);
    // Behind a destination options header, still an error message.
    std::vector<std::uint8_t> behind = {58, 0, 1, 4, 0, 0, 0, 0};
    behind.insert(behind.end(), unreach.begin(), unreach.end());
    CHECK(icmpv6_error_verdict(packet("fd00::1", "fd00::2", 60, behind), false, false) == V::kAboutError);
    CHECK(icmpv6_error_verdict(packet("fd00::1", "ff02::1", 58, echo), false, false) == V::kMulticastDestination);
    CHECK(icmpv6_error_verdict(packet("fd00::1", "fd00::2", 58, echo), true, false) == V::kMulticastDestination);
    CHECK(icmpv6_error_verdict(packet("fd00::1", "ff02::1", 58, echo), true, true) == V::kAllowed);
    CHECK(icmpv6_error_verdict(packet("::", "fd00::2", 58, echo), false, false) == V::kBadSource);
    CHECK(icmpv6_error_verdict(packet("ff02::1", "fd00::2", 58, echo), false, false) == V::kBadSource);
    CHECK(icmpv6_error_verdict(packet("::ffff:10.0.0.1", "fd00::2", 17, {}), false, false) == V::kBadSource);
    CHECK(icmpv6_error_verdict(std::vector<std::uint8_t>(39), false, false) == V::kTruncated);
    // ICMPv6 named, but its type cut off (RFC 7112): not known to be an error.
    CHECK(icmpv6_error_verdict(packet("fd00::1", "fd00::2", 58, {}), false, false) == V::kAllowed);
    std::vector<std::uint8_t> big(2000);
    CHECK(icmpv6_error_quote(big).size() == 1232);
    CHECK(icmpv6_error_quote(std::span(big).first(100)).size() == 100);
}
