// Ipv4IdGenerator: per-destination, keyed IPv4 Identification values
// (RFC 6864, RFC 7739 5.3).
#include <doctest/doctest.h>

#include <algorithm>
#include <set>
#include <vector>

#include "stack/iface/ipv4_id.hpp"
#include "stack/wire/ipv4.hpp"

using namespace tapstack;
using namespace tapstack::iface;

namespace {
const wire::Ipv4Address kUs = wire::Ipv4Address::from_octets(10, 0, 0, 2);
wire::Ipv4Address host(std::uint8_t n) { return wire::Ipv4Address::from_octets(10, 0, 1, n); }
constexpr std::uint8_t kTcp = wire::ip_protocol::kTcp;
}  // namespace

TEST_CASE("RFC 7739 5.3: one destination's IDs run on by one, whatever is sent to others in between") {
    Ipv4IdGenerator g(tcp::Secret(0x1234, 0x5678));
    const std::uint16_t a0 = g.next(kUs, host(1), kTcp);
    for (std::uint8_t n = 2; n < 200; ++n) g.next(kUs, host(n), kTcp);  // others (none shares host 1's bucket here)
    const std::uint16_t a1 = g.next(kUs, host(1), kTcp);
    CHECK(static_cast<std::uint16_t>(a1 - a0) == 1);
    // A TSO super-segment of 5 takes 5 IDs.
    const std::uint16_t b0 = g.next(kUs, host(1), kTcp, 5);
    CHECK(static_cast<std::uint16_t>(b0 - a1) == 1);
    CHECK(static_cast<std::uint16_t>(g.next(kUs, host(1), kTcp) - b0) == 5);
}

TEST_CASE("RFC 7739 5.3: first IDs are spread over the 16-bit space, by destination, protocol and key") {
    Ipv4IdGenerator g(tcp::Secret(1, 2));
    std::vector<std::uint16_t> firsts;
    for (std::uint8_t n = 1; n <= 64; ++n) firsts.push_back(g.next(kUs, host(n), kTcp));
    std::sort(firsts.begin(), firsts.end());
    // Not a run of consecutive values of one counter (63 unit steps).
    int unit_steps = 0;
    for (std::size_t i = 1; i < firsts.size(); ++i) unit_steps += firsts[i] - firsts[i - 1] == 1;
    CHECK(unit_steps < 4);
    CHECK(firsts.back() - firsts.front() > 32768);
    Ipv4IdGenerator g2(tcp::Secret(1, 2));
    CHECK(g2.next(kUs, host(1), wire::ip_protocol::kIcmp) != Ipv4IdGenerator(tcp::Secret(1, 2)).next(kUs, host(1), kTcp));
    // The whole 128-bit secret keys them: the second word alone changes them.
    int differ = 0;
    for (std::uint8_t n = 1; n <= 16; ++n) {
        Ipv4IdGenerator x(tcp::Secret(1, 2)), y(tcp::Secret(1, 3));
        differ += x.next(kUs, host(n), kTcp) != y.next(kUs, host(n), kTcp);
    }
    CHECK(differ >= 15);
}
