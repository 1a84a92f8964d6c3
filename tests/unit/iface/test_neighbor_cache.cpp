// NeighborCache (RFC 4861 7.2, 7.3): every state and transition of 7.3.2,
// the update rules of 7.2.3 and 7.2.5, retries, give-up with drops, and
// the bounds shared with the ARP cache.
#include <doctest/doctest.h>

#include <vector>

#include "stack/iface/neighbor_cache.hpp"

using namespace tapstack;
using namespace tapstack::iface;
using wire::Ipv6Address;
using wire::MacAddress;

namespace {

const Ipv6Address kHost = *Ipv6Address::parse("fe80::1");
const Ipv6Address kOther = *Ipv6Address::parse("fd00::9");
const MacAddress kMac{{0x02, 0, 0, 0, 0, 0x01}};
const MacAddress kMac2{{0x02, 0, 0, 0, 0, 0x77}};

Instant at_ms(std::int64_t ms) { return instant_from_ns(ms * 1'000'000); }

NeighborCacheConfig config() {
    NeighborCacheConfig c;
    c.reachable_time = seconds(30);
    c.retrans_timer = seconds(1);
    c.max_multicast_solicit = 3;
    c.max_unicast_solicit = 3;
    c.delay_first_probe = seconds(5);
    c.stale_lifetime = seconds(60);
    c.queue_per_host = 4;
    c.cache_size = 8;
    return c;
}

std::uint64_t counter(const NeighborCache& cache, std::string_view name) {
    std::uint64_t value = ~0ull;
    cache.visit_metrics([&](const MetricInfo& m, std::uint64_t v) {
        if (m.name == name) value = v;
    });
    REQUIRE_MESSAGE(value != ~0ull, name);
    return value;
}

const std::vector<std::uint8_t> kPacket = {0x60, 1, 2, 3};

// Resolves kHost with a solicited advertisement at `ms`.
void resolve(NeighborCache& cache, std::int64_t ms) {
    cache.enqueue(at_ms(ms), kHost, kPacket);
    std::vector<NeighborCache::Packet> released;
    cache.advertised(at_ms(ms), kHost, kMac, true, true, false, released);
    REQUIRE(released.size() == 1);
}

}  // namespace

TEST_CASE("RFC 4861 7.2.2: the first packet creates an INCOMPLETE entry, is queued and asks for a solicitation") {
    NeighborCache cache(config());
    CHECK_FALSE(cache.lookup(at_ms(0), kHost));
    CHECK(cache.enqueue(at_ms(0), kHost, kPacket) == NeighborCache::EnqueueResult::kQueuedSendSolicitation);
    CHECK(cache.enqueue(at_ms(1), kHost, kPacket) == NeighborCache::EnqueueResult::kQueued);
    CHECK(cache.state(kHost) == NeighborState::kIncomplete);
    CHECK(cache.queued_packets() == 2);
    CHECK_FALSE(cache.lookup(at_ms(2), kHost));
}

TEST_CASE("RFC 4861 7.2.2: solicitations every RetransTimer, MAX_MULTICAST_SOLICIT in all, then the queue is dropped") {
    NeighborCache cache(config());
    cache.enqueue(at_ms(0), kHost, kPacket);
    cache.enqueue(at_ms(0), kHost, kPacket);
    std::vector<std::size_t> solicits;
    for (std::int64_t ms = 500; ms <= 3500; ms += 500) {
        NeighborCache::PollResult r;
        cache.poll(at_ms(ms), r);
        solicits.push_back(r.solicit.size());
        if (!r.gave_up.empty()) {
            CHECK(ms == 3000);  // the third solicitation went out at 2000; RetransTimer later it fails
            REQUIRE(r.gave_up.size() == 1);
            CHECK(r.gave_up[0].ip == kHost);
            CHECK(r.gave_up[0].dropped.size() == 2);
        }
    }
    CHECK(solicits == std::vector<std::size_t>{0, 1, 0, 1, 0, 0, 0});
    CHECK_FALSE(cache.state(kHost));
    CHECK(counter(cache, "nd.resolve_failed") == 1);
    CHECK(counter(cache, "nd.unresolved_dropped") == 2);
    CHECK(counter(cache, "nd.solicit_retries") == 2);
    CHECK(cache.queued_bytes() == 0);
}

TEST_CASE("RFC 4861 7.2.5: a solicited advertisement for an INCOMPLETE entry makes it REACHABLE and releases the queue in order") {
    NeighborCache cache(config());
    cache.enqueue(at_ms(0), kHost, std::vector<std::uint8_t>{1});
    cache.enqueue(at_ms(0), kHost, std::vector<std::uint8_t>{2});
    std::vector<NeighborCache::Packet> released;
    const auto r = cache.advertised(at_ms(10), kHost, kMac, true, false, false, released);
    CHECK(r.known);
    REQUIRE(released.size() == 2);
    CHECK(released[0] == std::vector<std::uint8_t>{1});
    CHECK(released[1] == std::vector<std::uint8_t>{2});
    CHECK(cache.state(kHost) == NeighborState::kReachable);
    CHECK(cache.lookup(at_ms(11), kHost) == kMac);
    CHECK(counter(cache, "nd.cache_confirmed") == 1);
}

TEST_CASE("RFC 4861 7.2.5: an unsolicited advertisement resolves INCOMPLETE to STALE; one without a link-layer address does nothing") {
    NeighborCache cache(config());
    cache.enqueue(at_ms(0), kHost, kPacket);
    std::vector<NeighborCache::Packet> released;
    cache.advertised(at_ms(1), kHost, std::nullopt, true, true, false, released);
    CHECK(cache.state(kHost) == NeighborState::kIncomplete);
    CHECK(released.empty());
    cache.advertised(at_ms(2), kHost, kMac, false, true, false, released);
    CHECK(cache.state(kHost) == NeighborState::kStale);
    CHECK(released.size() == 1);
}

TEST_CASE("RFC 4861 7.2.5: an advertisement for an unknown neighbour creates nothing") {
    NeighborCache cache(config());
    std::vector<NeighborCache::Packet> released;
    CHECK_FALSE(cache.advertised(at_ms(0), kHost, kMac, true, true, false, released).known);
    CHECK(cache.size() == 0);
}

TEST_CASE("RFC 4861 7.3.2/7.3.3: REACHABLE -> STALE -> DELAY on use -> PROBE -> removed after unanswered probes") {
    NeighborCache cache(config());
    resolve(cache, 0);
    NeighborCache::PollResult r;
    cache.poll(at_ms(29'999), r);
    CHECK(cache.state(kHost) == NeighborState::kReachable);
    cache.poll(at_ms(30'000), r);
    CHECK(cache.state(kHost) == NeighborState::kStale);
    CHECK(cache.lookup(at_ms(31'000), kHost) == kMac);  // still used while stale
    CHECK(cache.state(kHost) == NeighborState::kDelay);
    cache.poll(at_ms(35'999), r);
    CHECK(r.probe.empty());
    cache.poll(at_ms(36'000), r);
    CHECK(cache.state(kHost) == NeighborState::kProbe);
    REQUIRE(r.probe.size() == 1);
    CHECK(r.probe[0].ip == kHost);
    CHECK(r.probe[0].mac == kMac);  // unicast
    CHECK(cache.lookup(at_ms(36'500), kHost) == kMac);  // used while probing
    cache.poll(at_ms(37'000), r);
    cache.poll(at_ms(38'000), r);
    CHECK(r.probe.size() == 3);  // MAX_UNICAST_SOLICIT
    CHECK(r.gave_up.empty());
    cache.poll(at_ms(39'000), r);
    REQUIRE(r.gave_up.size() == 1);
    CHECK_FALSE(cache.state(kHost));
    CHECK(counter(cache, "nd.probes") == 3);
    CHECK(counter(cache, "nd.probe_failed") == 1);
}

TEST_CASE("RFC 4861 7.3.3: a solicited advertisement in DELAY or PROBE returns the entry to REACHABLE") {
    for (std::int64_t confirm_at : {33'000, 36'500}) {
        CAPTURE(confirm_at);
        NeighborCache cache(config());
        resolve(cache, 0);
        NeighborCache::PollResult r;
        cache.poll(at_ms(30'000), r);
        cache.lookup(at_ms(31'000), kHost);
        cache.poll(at_ms(confirm_at), r);
        CHECK(cache.state(kHost) == (confirm_at < 36'000 ? NeighborState::kDelay : NeighborState::kProbe));
        std::vector<NeighborCache::Packet> released;
        cache.advertised(at_ms(confirm_at + 1), kHost, kMac, true, false, false, released);
        CHECK(cache.state(kHost) == NeighborState::kReachable);
    }
}

TEST_CASE("RFC 4861 7.3.1: an upper-layer confirmation makes the entry REACHABLE without any probe") {
    NeighborCache cache(config());
    resolve(cache, 0);
    NeighborCache::PollResult r;
    cache.poll(at_ms(30'000), r);
    cache.lookup(at_ms(31'000), kHost);
    cache.confirm(at_ms(32'000), kHost);
    CHECK(cache.state(kHost) == NeighborState::kReachable);
    cache.poll(at_ms(40'000), r);
    CHECK(r.probe.empty());
}

TEST_CASE("RFC 4861 7.2.5: override clear with another address: REACHABLE becomes STALE, the address stays") {
    NeighborCache cache(config());
    resolve(cache, 0);
    std::vector<NeighborCache::Packet> released;
    cache.advertised(at_ms(100), kHost, kMac2, true, false, false, released);
    CHECK(cache.state(kHost) == NeighborState::kStale);
    CHECK(cache.mac(kHost) == kMac);
    // Override set: the new address is taken, and a solicited one is REACHABLE.
    cache.advertised(at_ms(200), kHost, kMac2, true, true, false, released);
    CHECK(cache.mac(kHost) == kMac2);
    CHECK(cache.state(kHost) == NeighborState::kReachable);
    // Override set, unsolicited, another address: STALE with the new address.
    cache.advertised(at_ms(300), kHost, kMac, false, true, false, released);
    CHECK(cache.mac(kHost) == kMac);
    CHECK(cache.state(kHost) == NeighborState::kStale);
    CHECK(counter(cache, "nd.cache_updated") == 2);
}

TEST_CASE("RFC 4861 7.2.5: IsRouter going from true to false is reported") {
    NeighborCache cache(config());
    std::vector<NeighborCache::Packet> released;
    cache.solicited_by(at_ms(0), kHost, kMac, true, released);
    auto r = cache.advertised(at_ms(1), kHost, kMac, false, true, true, released);
    CHECK_FALSE(r.router_cleared);
    r = cache.advertised(at_ms(2), kHost, kMac, false, true, false, released);
    CHECK(r.router_cleared);
}

TEST_CASE("RFC 4861 7.2.3: a solicitation creates a STALE entry, and a changed address makes it STALE again") {
    NeighborCache cache(config());
    std::vector<NeighborCache::Packet> released;
    cache.solicited_by(at_ms(0), kHost, kMac, false, released);
    CHECK(cache.state(kHost) == NeighborState::kStale);
    CHECK(cache.mac(kHost) == kMac);
    cache.advertised(at_ms(10), kHost, kMac, true, false, false, released);
    CHECK(cache.state(kHost) == NeighborState::kReachable);
    cache.solicited_by(at_ms(20), kHost, kMac, false, released);
    CHECK(cache.state(kHost) == NeighborState::kReachable);  // same address: unchanged
    cache.solicited_by(at_ms(30), kHost, kMac2, false, released);
    CHECK(cache.state(kHost) == NeighborState::kStale);
    CHECK(cache.mac(kHost) == kMac2);
    // A solicitation resolves an INCOMPLETE entry and releases its queue.
    cache.enqueue(at_ms(40), kOther, kPacket);
    cache.solicited_by(at_ms(41), kOther, kMac, false, released);
    CHECK(released.size() == 1);
    CHECK(cache.state(kOther) == NeighborState::kStale);
}

TEST_CASE("An unused STALE entry is removed after stale_lifetime") {
    NeighborCache cache(config());
    std::vector<NeighborCache::Packet> released;
    cache.solicited_by(at_ms(0), kHost, kMac, false, released);
    NeighborCache::PollResult r;
    cache.poll(at_ms(59'999), r);
    CHECK(cache.state(kHost));
    cache.poll(at_ms(60'000), r);
    CHECK_FALSE(cache.state(kHost));
    CHECK(counter(cache, "nd.cache_expired") == 1);
}

TEST_CASE("Bounds: per-host and total queues, and a full cache of INCOMPLETE entries refuses new ones") {
    NeighborCache cache(config());
    for (int i = 0; i < 4; ++i) CHECK(cache.enqueue(at_ms(0), kHost, kPacket) != NeighborCache::EnqueueResult::kDroppedQueueFull);
    CHECK(cache.enqueue(at_ms(0), kHost, kPacket) == NeighborCache::EnqueueResult::kDroppedQueueFull);
    for (std::uint8_t i = 1; i < 8; ++i) {
        Ipv6Address a = kOther;
        a.bytes[15] = i;
        CHECK(cache.enqueue(at_ms(0), a, kPacket) == NeighborCache::EnqueueResult::kQueuedSendSolicitation);
    }
    CHECK(cache.size() == 8);
    Ipv6Address extra = kOther;
    extra.bytes[14] = 1;
    CHECK(cache.enqueue(at_ms(0), extra, kPacket) == NeighborCache::EnqueueResult::kDroppedCacheFull);
    CHECK(counter(cache, "nd.cache_full_dropped") == 1);
    NeighborCacheConfig small = config();
    small.max_queued_bytes = 6;
    NeighborCache tight(small);
    CHECK(tight.enqueue(at_ms(0), kHost, kPacket) == NeighborCache::EnqueueResult::kQueuedSendSolicitation);
    CHECK(tight.enqueue(at_ms(0), kHost, kPacket) == NeighborCache::EnqueueResult::kDroppedQueueFull);
}

TEST_CASE("Bounds: a new entry evicts a STALE one before a REACHABLE one") {
    NeighborCacheConfig c = config();
    c.cache_size = 2;
    NeighborCache cache(c);
    resolve(cache, 0);  // kHost REACHABLE
    std::vector<NeighborCache::Packet> released;
    cache.solicited_by(at_ms(1), kOther, kMac2, false, released);  // STALE
    Ipv6Address third = kOther;
    third.bytes[15] = 0x42;
    CHECK(cache.enqueue(at_ms(2), third, kPacket) == NeighborCache::EnqueueResult::kQueuedSendSolicitation);
    CHECK(cache.state(kHost) == NeighborState::kReachable);
    CHECK_FALSE(cache.state(kOther));
    CHECK(counter(cache, "nd.cache_evicted") == 1);
}
