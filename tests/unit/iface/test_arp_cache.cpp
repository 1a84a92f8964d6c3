// ArpCache (RFC 826 merge rule, RFC 1122 2.3.2.1-2.3.2.2): queueing while
// resolving, retries, give-up with drops, expiry, refresh, bounds.
#include <doctest/doctest.h>

#include <algorithm>
#include <vector>

#include "stack/iface/arp_cache.hpp"

using namespace tapstack;
using namespace tapstack::iface;
using wire::Ipv4Address;
using wire::MacAddress;

namespace {

const Ipv4Address kHost = Ipv4Address::from_octets(10, 0, 0, 1);
const Ipv4Address kOther = Ipv4Address::from_octets(10, 0, 0, 9);
const MacAddress kMac{{0x02, 0, 0, 0, 0, 0x01}};
const MacAddress kMac2{{0x02, 0, 0, 0, 0, 0x77}};

Instant at_ms(std::int64_t ms) { return instant_from_ns(ms * 1'000'000); }

ArpCacheConfig config() {
    ArpCacheConfig c;
    c.entry_lifetime = seconds(60);
    c.retry_interval = seconds(1);
    c.max_retries = 3;
    c.queue_per_host = 4;
    c.cache_size = 8;
    return c;
}

std::uint64_t counter(const ArpCache& cache, std::string_view name) {
    std::uint64_t value = ~0ull;
    cache.visit_metrics([&](const tapstack::MetricInfo& m, std::uint64_t v) {
        if (m.name == name) value = v;
    });
    REQUIRE(value != ~0ull);
    return value;
}

const std::vector<std::uint8_t> kPacket = {0x45, 1, 2, 3};

}  // namespace

TEST_CASE("RFC 1122 2.3.2.2: the first packet to an unknown host is queued and asks for a request") {
    ArpCache cache(config());
    CHECK_FALSE(cache.lookup(at_ms(0), kHost));
    CHECK(cache.enqueue(at_ms(0), kHost, kPacket) == ArpCache::EnqueueResult::kQueuedSendRequest);
    CHECK(cache.enqueue(at_ms(1), kHost, kPacket) == ArpCache::EnqueueResult::kQueued);
    CHECK(cache.queued_packets() == 2);
    CHECK_FALSE(cache.lookup(at_ms(2), kHost));
}

TEST_CASE("RFC 826: a reply for a pending entry resolves it and releases the queued packets in order") {
    ArpCache cache(config());
    cache.enqueue(at_ms(0), kHost, std::vector<std::uint8_t>{1});
    cache.enqueue(at_ms(0), kHost, std::vector<std::uint8_t>{2});
    std::vector<ArpCache::Packet> released;
    CHECK(cache.update(at_ms(10), kHost, kMac, false, released));
    REQUIRE(released.size() == 2);
    CHECK(released[0] == std::vector<std::uint8_t>{1});
    CHECK(released[1] == std::vector<std::uint8_t>{2});
    CHECK(cache.lookup(at_ms(11), kHost) == kMac);
    CHECK(cache.queued_packets() == 0);
}

TEST_CASE("RFC 1122 2.3.2.2: the per-host queue is bounded and overflow is counted") {
    ArpCache cache(config());
    for (int i = 0; i < 4; ++i)
        CHECK(cache.enqueue(at_ms(0), kHost, kPacket) != ArpCache::EnqueueResult::kDroppedQueueFull);
    CHECK(cache.enqueue(at_ms(0), kHost, kPacket) == ArpCache::EnqueueResult::kDroppedQueueFull);
    CHECK(counter(cache, "arp.queue_full_dropped") == 1);
    CHECK(cache.queued_packets() == 4);
}

TEST_CASE("RFC 1122 2.3.2.1: requests are retried every interval, then given up with the queue dropped") {
    ArpCache cache(config());
    cache.enqueue(at_ms(0), kHost, kPacket);
    cache.enqueue(at_ms(0), kHost, kPacket);
    ArpCache::PollResult due;
    CHECK(cache.poll_at() == at_ms(1000));
    cache.poll(at_ms(999), due);
    CHECK(due.retry.empty());
    for (int i = 1; i <= 3; ++i) {
        due.retry.clear();
        cache.poll(at_ms(1000 * i), due);
        REQUIRE(due.retry.size() == 1);
        CHECK(due.retry[0] == kHost);
        CHECK(due.gave_up.empty());
    }
    due.retry.clear();
    cache.poll(at_ms(4000), due);
    CHECK(due.retry.empty());
    REQUIRE(due.gave_up.size() == 1);
    CHECK(due.gave_up[0].ip == kHost);
    CHECK(due.gave_up[0].dropped.size() == 2);
    CHECK(counter(cache, "arp.resolve_failed") == 1);
    CHECK(counter(cache, "arp.unresolved_dropped") == 2);
    CHECK(counter(cache, "arp.request_retries") == 3);
    CHECK(cache.size() == 0);
    CHECK(cache.poll_at() == kNever);
}

TEST_CASE("RFC 1122 2.3.2.1: a resolved entry expires after its lifetime and resolution starts again") {
    ArpCache cache(config());
    std::vector<ArpCache::Packet> released;
    cache.update(at_ms(0), kHost, kMac, true, released);
    CHECK(cache.poll_at() == at_ms(60'000));
    CHECK(cache.lookup(at_ms(59'999), kHost) == kMac);
    CHECK_FALSE(cache.lookup(at_ms(60'000), kHost));
    // Used after expiry but before poll() swept it: a new resolution.
    CHECK(cache.enqueue(at_ms(60'001), kHost, kPacket) == ArpCache::EnqueueResult::kQueuedSendRequest);
}

TEST_CASE("RFC 1122 2.3.2.1: an entry unused since its confirmation is removed at expiry") {
    ArpCache cache(config());
    std::vector<ArpCache::Packet> released;
    cache.update(at_ms(0), kHost, kMac, true, released);
    ArpCache::PollResult due;
    cache.poll(at_ms(60'000), due);
    CHECK(cache.size() == 0);
    CHECK(counter(cache, "arp.cache_expired") == 1);
    CHECK(due.retry.empty());
    CHECK(due.gave_up.empty());
}

TEST_CASE("RFC 826 merge: ARP from a known host refreshes its entry and takes a new MAC") {
    ArpCache cache(config());
    std::vector<ArpCache::Packet> released;
    cache.update(at_ms(0), kHost, kMac, true, released);
    CHECK(cache.update(at_ms(50'000), kHost, kMac2, false, released));
    CHECK(cache.lookup(at_ms(100'000), kHost) == kMac2);  // lifetime restarted at 50 s
    CHECK(counter(cache, "arp.cache_confirmed") == 1);
}

TEST_CASE("RFC 826 merge: ARP from an unknown host creates nothing unless asked to") {
    ArpCache cache(config());
    std::vector<ArpCache::Packet> released;
    CHECK_FALSE(cache.update(at_ms(0), kOther, kMac, false, released));
    CHECK_FALSE(cache.contains(kOther));
    CHECK(cache.update(at_ms(0), kOther, kMac, true, released));
    CHECK(cache.contains(kOther));
}

TEST_CASE("ARP cache size is bounded: resolved entries are evicted, pending ones never") {
    ArpCacheConfig c = config();
    c.cache_size = 3;
    ArpCache cache(c);
    std::vector<ArpCache::Packet> released;
    cache.update(at_ms(0), Ipv4Address::from_octets(10, 0, 0, 10), kMac, true, released);
    cache.update(at_ms(5), Ipv4Address::from_octets(10, 0, 0, 11), kMac, true, released);
    cache.enqueue(at_ms(6), Ipv4Address::from_octets(10, 0, 0, 12), kPacket);
    // Full: the resolved entry closest to expiry (10.0.0.10) makes room.
    CHECK(cache.enqueue(at_ms(7), Ipv4Address::from_octets(10, 0, 0, 13), kPacket) ==
          ArpCache::EnqueueResult::kQueuedSendRequest);
    CHECK_FALSE(cache.contains(Ipv4Address::from_octets(10, 0, 0, 10)));
    CHECK(cache.contains(Ipv4Address::from_octets(10, 0, 0, 11)));
    CHECK(cache.enqueue(at_ms(8), Ipv4Address::from_octets(10, 0, 0, 14), kPacket) ==
          ArpCache::EnqueueResult::kQueuedSendRequest);
    // Now every entry is pending: a new host cannot push one out.
    CHECK(cache.enqueue(at_ms(9), Ipv4Address::from_octets(10, 0, 0, 15), kPacket) ==
          ArpCache::EnqueueResult::kDroppedCacheFull);
    CHECK(cache.size() == 3);
    CHECK(counter(cache, "arp.cache_evicted") == 2);
    CHECK(counter(cache, "arp.cache_full_dropped") == 1);
}

TEST_CASE("RFC 1122 2.3.2.2: queued bytes are bounded over all next hops") {
    ArpCacheConfig c = config();
    c.max_queued_bytes = 10'000;
    ArpCache cache(c);
    const std::vector<std::uint8_t> big(4000, 0x45);
    CHECK(cache.enqueue(at_ms(0), kHost, big) == ArpCache::EnqueueResult::kQueuedSendRequest);
    CHECK(cache.enqueue(at_ms(0), kOther, big) == ArpCache::EnqueueResult::kQueuedSendRequest);
    CHECK(cache.enqueue(at_ms(0), kHost, big) == ArpCache::EnqueueResult::kDroppedQueueFull);
    CHECK(cache.queued_bytes() == 8000);
    std::vector<ArpCache::Packet> released;
    cache.update(at_ms(1), kHost, kMac, false, released);
    CHECK(cache.queued_bytes() == 4000);
    CHECK(cache.enqueue(at_ms(2), kOther, big) == ArpCache::EnqueueResult::kQueued);
    ArpCache::PollResult due;
    while (cache.poll_at() != kNever) cache.poll(cache.poll_at(), due);
    CHECK(due.gave_up.size() == 1);
    CHECK(cache.queued_bytes() == 0);
}

TEST_CASE("RFC 1122 2.3.2.1: an entry in use is re-confirmed by unicast requests and keeps working meanwhile") {
    ArpCache cache(config());
    std::vector<ArpCache::Packet> released;
    cache.update(at_ms(0), kHost, kMac, true, released);
    CHECK(cache.lookup(at_ms(1000), kHost) == kMac);
    ArpCache::PollResult due;
    cache.poll(at_ms(60'000), due);
    REQUIRE(due.refresh.size() == 1);
    CHECK(due.refresh[0].ip == kHost);
    CHECK(due.refresh[0].mac == kMac);
    CHECK(cache.lookup(at_ms(60'500), kHost) == kMac);  // no stall while refreshing
    // The reply re-confirms it for a full lifetime.
    cache.update(at_ms(60'600), kHost, kMac2, false, released);
    CHECK(cache.poll_at() == at_ms(120'600));
    CHECK(cache.lookup(at_ms(120'000), kHost) == kMac2);
    CHECK(counter(cache, "arp.refresh_requests") == 1);
    CHECK(counter(cache, "arp.refresh_failed") == 0);
    CHECK(released.empty());
}

TEST_CASE("RFC 1122 2.3.2.1: an entry in use that stops answering is removed after max retries") {
    ArpCache cache(config());
    std::vector<ArpCache::Packet> released;
    cache.update(at_ms(0), kHost, kMac, true, released);
    cache.lookup(at_ms(1), kHost);
    ArpCache::PollResult due;
    for (std::int64_t t = 60'000; t <= 63'000; t += 1000) {
        cache.poll(at_ms(t), due);
        CHECK(cache.lookup(at_ms(t + 500), kHost) == kMac);
    }
    CHECK(due.refresh.size() == 4);  // the first unicast request and 3 retries
    cache.poll(at_ms(64'000), due);
    CHECK_FALSE(cache.contains(kHost));
    CHECK(due.refresh.size() == 4);
    CHECK(due.gave_up.empty());  // nothing was queued: nothing to give up
    CHECK(counter(cache, "arp.refresh_failed") == 1);
}

TEST_CASE("set_config: new timings apply to what starts afterwards, a running resolution keeps its deadline") {
    ArpCache cache(config());  // retry every 1 s
    cache.enqueue(at_ms(0), kHost, kPacket);
    ArpCacheConfig faster = config();
    faster.retry_interval = milliseconds(100);
    faster.queue_per_host = 1;
    cache.set_config(faster);
    CHECK(cache.config().retry_interval == milliseconds(100));
    // kHost's first retry stays due at 1 s (set before the change).
    ArpCache::PollResult due;
    cache.poll(at_ms(500), due);
    CHECK(due.retry.empty());
    // A resolution started now retries after the new 100 ms.
    cache.enqueue(at_ms(500), kOther, kPacket);
    cache.poll(at_ms(600), due);
    REQUIRE(due.retry.size() == 1);
    CHECK(due.retry[0] == kOther);
    // The new per-host bound applies to new datagrams: kOther holds one.
    CHECK(cache.enqueue(at_ms(600), kOther, kPacket) == ArpCache::EnqueueResult::kDroppedQueueFull);
    due.retry.clear();
    cache.poll(at_ms(1000), due);
    CHECK(std::find(due.retry.begin(), due.retry.end(), kHost) != due.retry.end());
}
