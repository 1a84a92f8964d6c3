// Ethernet II header: golden bytes, round trip, truncation.
#include <doctest/doctest.h>

#include <vector>

#include "stack/wire/ethernet.hpp"

using namespace tapstack::wire;

TEST_CASE("Ethernet II: golden header parses to its fields") {
    const std::vector<std::uint8_t> frame = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x52, 0x54,
                                             0x00, 0x12, 0x34, 0x56, 0x08, 0x06, 0xaa, 0xbb};
    auto v = EthernetView::check(frame);
    REQUIRE(v);
    CHECK(v->dst().is_broadcast());
    CHECK(v->src() == *MacAddress::parse("52:54:00:12:34:56"));
    CHECK(v->ethertype() == ethertype::kArp);
    CHECK(v->payload().size() == 2);
    const EthernetRepr r = EthernetRepr::parse(*v);
    std::vector<std::uint8_t> out(EthernetRepr::buffer_len());
    r.emit(out);
    CHECK(std::equal(out.begin(), out.end(), frame.begin()));
}

TEST_CASE("Ethernet II: emit then parse round-trips") {
    const EthernetRepr r{*MacAddress::parse("02:00:00:00:00:02"), *MacAddress::parse("02:00:00:00:00:01"),
                         ethertype::kIpv4};
    std::vector<std::uint8_t> out(r.buffer_len());
    r.emit(out);
    auto v = EthernetView::check(out);
    REQUIRE(v);
    CHECK(EthernetRepr::parse(*v) == r);
    CHECK(v->payload().empty());
}

TEST_CASE("Ethernet II: frames shorter than 14 bytes are rejected") {
    for (std::size_t n = 0; n < 14; ++n) {
        const std::vector<std::uint8_t> frame(n, 0x11);
        CHECK_FALSE(EthernetView::check(frame));
    }
}
