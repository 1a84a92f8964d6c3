// PathMtuCache (RFC 8201): lowered only, never below 1280, capped by the
// link MTU, expiring after its lifetime, bounded.
#include <doctest/doctest.h>

#include "stack/iface/path_mtu.hpp"

using namespace tapstack;
using namespace tapstack::iface;
using wire::Ipv6Address;

namespace {
const Ipv6Address kDst = *Ipv6Address::parse("fd00::9");
Instant at_s(std::int64_t s) { return instant_from_ns(s * 1'000'000'000); }
}  // namespace

TEST_CASE("RFC 8201 4: a Packet Too Big lowers the path MTU of its destination only") {
    PathMtuCache c;
    CHECK(c.get(at_s(0), kDst, 1500) == 1500);
    CHECK(c.lower(at_s(0), kDst, 1400, 1500) == PathMtuCache::Update::kLowered);
    CHECK(c.get(at_s(1), kDst, 1500) == 1400);
    CHECK(c.get(at_s(1), *Ipv6Address::parse("fd00::8"), 1500) == 1500);
    CHECK(c.get(at_s(1), kDst, 1300) == 1300);  // capped by a smaller link MTU
}

TEST_CASE("RFC 8201 4: never increased by a Packet Too Big; RFC 8201 5: never below 1280") {
    PathMtuCache c;
    c.lower(at_s(0), kDst, 1400, 1500);
    CHECK(c.lower(at_s(0), kDst, 1450, 1500) == PathMtuCache::Update::kNotLower);
    CHECK(c.lower(at_s(0), kDst, 1400, 1500) == PathMtuCache::Update::kNotLower);
    CHECK(c.lower(at_s(0), kDst, 1600, 1500) == PathMtuCache::Update::kNotLower);
    CHECK(c.get(at_s(0), kDst, 1500) == 1400);
    CHECK(c.lower(at_s(0), kDst, 576, 1500) == PathMtuCache::Update::kLoweredToFloor);
    CHECK(c.get(at_s(0), kDst, 1500) == 1280);
    CHECK(c.lower(at_s(0), kDst, 68, 1500) == PathMtuCache::Update::kNotLower);
}

TEST_CASE("RFC 8201 4: the entry expires after its lifetime, back to the link MTU") {
    PathMtuCache c(16, seconds(600));
    c.lower(at_s(0), kDst, 1400, 1500);
    CHECK(c.poll_at() == at_s(600));
    CHECK(c.get(at_s(599), kDst, 1500) == 1400);
    CHECK(c.get(at_s(600), kDst, 1500) == 1500);
    c.poll(at_s(600));
    CHECK(c.size() == 0);
}

TEST_CASE("Bounded: a full cache evicts the entry closest to expiry") {
    PathMtuCache c(2, seconds(600));
    c.lower(at_s(0), *Ipv6Address::parse("fd00::1"), 1400, 1500);
    c.lower(at_s(1), *Ipv6Address::parse("fd00::2"), 1400, 1500);
    c.lower(at_s(2), *Ipv6Address::parse("fd00::3"), 1400, 1500);
    CHECK(c.size() == 2);
    CHECK(c.get(at_s(3), *Ipv6Address::parse("fd00::1"), 1500) == 1500);
    CHECK(c.get(at_s(3), *Ipv6Address::parse("fd00::3"), 1500) == 1400);
}
