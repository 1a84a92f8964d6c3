// Interface::has_route(): the routing decision IPv4 output makes (RFC 1122
// 3.3.1), asked before a connect so that "no route" is known at once.
#include <doctest/doctest.h>

#include "stack/iface/interface.hpp"

using namespace tapstack;
using wire::Ipv4Address;

namespace {

struct NullSink : iface::FrameSink {
    bool transmit(std::span<const std::uint8_t>) override { return true; }
};

iface::InterfaceConfig config(std::optional<Ipv4Address> gateway) {
    iface::InterfaceConfig c;
    c.mac = wire::MacAddress{{0x02, 0, 0, 0, 0, 2}};
    c.address = wire::Ipv4Cidr{Ipv4Address::from_octets(10, 0, 0, 2), 24};
    c.gateway = gateway;
    return c;
}

}  // namespace

TEST_CASE("RFC 1122 3.3.1: on-link destinations have a route; others only through a gateway") {
    NullSink sink;
    iface::Interface no_gateway(config(std::nullopt), sink, 1);
    CHECK(no_gateway.has_route(Ipv4Address::from_octets(10, 0, 0, 1)));
    CHECK(no_gateway.has_route(Ipv4Address::from_octets(10, 0, 0, 77)));
    CHECK_FALSE(no_gateway.has_route(Ipv4Address::from_octets(192, 0, 2, 1)));

    iface::Interface routed(config(Ipv4Address::from_octets(10, 0, 0, 1)), sink, 1);
    CHECK(routed.has_route(Ipv4Address::from_octets(192, 0, 2, 1)));
    CHECK(routed.has_route(Ipv4Address::from_octets(10, 0, 0, 77)));
}

TEST_CASE("RFC 1122 3.3.1: no route to what cannot be a unicast destination, gateway or not") {
    NullSink sink;
    iface::Interface routed(config(Ipv4Address::from_octets(10, 0, 0, 1)), sink, 1);
    CHECK_FALSE(routed.has_route(Ipv4Address::any()));
    CHECK_FALSE(routed.has_route(Ipv4Address::from_octets(127, 0, 0, 1)));
    CHECK_FALSE(routed.has_route(Ipv4Address::from_octets(224, 0, 0, 1)));
    CHECK_FALSE(routed.has_route(Ipv4Address::from_octets(10, 0, 0, 2)));  // ourselves
}
