// IPv4 Identification values seen from outside (RFC 6864, RFC 7739): what
// one host receives from us tells it nothing about what we send to others.
#include <doctest/doctest.h>

#include "tests/sim/iface/lan.hpp"

using namespace sim;

namespace {

// Echo requests to b (10.0.0.2) that claim to come from `from`: b answers
// `from`. Returns the IPv4 IDs of the replies the raw station (.3) saw.
std::vector<std::uint16_t> ping_b(Lan& lan, wire::Ipv4Address from, std::uint16_t count, std::uint16_t seq0) {
    const auto data = pattern(56, 1);
    for (std::uint16_t i = 0; i < count; ++i) {
        for (const Frame& f : echo_request_frames(mac(2), lan.raw.mac(), from, ip(2), 0x77, static_cast<std::uint16_t>(seq0 + i),
                                                  data, static_cast<std::uint16_t>(seq0 + i)))
            lan.raw.send(f);
    }
    lan.hub.run_for(milliseconds(100));
    std::vector<std::uint16_t> ids;
    for (const IcmpSeen& m : icmp_messages(lan.raw.received())) ids.push_back(m.ip.identification);
    lan.raw.received().clear();
    return ids;
}

}  // namespace

TEST_CASE("RFC 6864 / RFC 7739 5.3: the IDs one host sees do not count what we send to other hosts") {
    Lan lan;
    // The observer (.3) pings b, b talks to a (.1) a hundred times, the
    // observer pings again: its two replies carry consecutive IDs. With a
    // single global counter (an idle scan's side channel) they would be
    // 101 apart.
    ping_b(lan, ip(1), 1, 99);  // b resolves a's address first (its ARP queue is short)
    const auto before = ping_b(lan, ip(3), 1, 1);
    REQUIRE(before.size() == 1);
    ping_b(lan, ip(1), 100, 100);  // replies go to a, not to the observer
    CHECK(lan.b.counter("icmp.tx_echo_replies") == 102);
    const auto after = ping_b(lan, ip(3), 1, 2);
    REQUIRE(after.size() == 1);
    CHECK(static_cast<std::uint16_t>(after[0] - before[0]) == 1);
}
