// The ARP cache and the packets waiting for a resolution (RFC 826,
// RFC 1122 2.3.2).
//
// Theory of operation
// -------------------
// An entry is either kIncomplete (a request is out; IPv4 packets for that
// next hop wait in a bounded FIFO) or kResolved (a MAC, valid until
// `expires_at`). The cache never sends anything: enqueue() says whether the
// caller must send a first request, poll() returns the next hops whose
// request must be retried and those given up on, update() returns the
// packets released by a resolution. The interface turns those into frames.
//
// Lifetimes (RFC 1122 2.3.2.1): a resolved entry expires entry_lifetime
// after it was last confirmed by an ARP packet from that host and is then
// removed; the next packet toward it starts a new resolution. Any ARP from a
// known host refreshes it (the RFC 826 merge rule, applied by the caller
// through update(create=false)).
// A resolution sends its first request at once, retries every
// retry_interval, and after max_retries retries and one more interval gives
// up: its queued packets are dropped and counted. Packets therefore wait at
// most retry_interval * (max_retries + 1) (RFC 1122 2.3.2.2: queue at least
// one packet, bounded).
// Bounds: at most cache_size entries. A new entry evicts the resolved entry
// closest to expiry; when every entry is incomplete the new packet is
// dropped (an attacker cannot push out resolutions in progress).
#pragma once

#include <cstdint>
#include <deque>
#include <optional>
#include <unordered_map>
#include <vector>

#include "stack/iface/counters.hpp"
#include "stack/time.hpp"
#include "stack/wire/addresses.hpp"
#include "stack/wire/byte_order.hpp"

namespace tapstack::iface {

struct ArpCacheConfig {
    Duration entry_lifetime = seconds(60);
    Duration retry_interval = seconds(1);
    std::uint32_t max_retries = 3;
    std::uint32_t queue_per_host = 16;
    std::uint32_t cache_size = 1024;
    std::uint32_t max_queued_bytes = 1024 * 1024;
};

class ArpCache {
public:
    using Packet = std::vector<std::uint8_t>;

    enum class EnqueueResult : std::uint8_t {
        kQueuedSendRequest,  // new resolution: the caller sends the first request now
        kQueued,             // a request is already out
        kDroppedQueueFull,
        kDroppedCacheFull,
    };

    struct GiveUp {
        wire::Ipv4Address ip;
        std::vector<Packet> dropped;  // the packets that waited, for the caller to inspect
    };

    explicit ArpCache(const ArpCacheConfig& config);

    // The MAC of a resolved, unexpired entry.
    std::optional<wire::MacAddress> lookup(Instant now, wire::Ipv4Address ip) const;
    // Holds an IPv4 packet (no Ethernet header) until `ip` resolves.
    EnqueueResult enqueue(Instant now, wire::Ipv4Address ip, wire::Bytes packet);
    // RFC 826 merge: an existing entry for `ip` takes `mac` and is refreshed;
    // without one, an entry is created only when `create`. Packets that were
    // waiting are appended to `released`. Returns whether an entry was
    // updated or created.
    bool update(Instant now, wire::Ipv4Address ip, wire::MacAddress mac, bool create, std::vector<Packet>& released);
    // Expires entries, lists next hops whose request is due again, gives up
    // on the exhausted ones.
    void poll(Instant now, std::vector<wire::Ipv4Address>& retry, std::vector<GiveUp>& gave_up);
    Instant poll_at() const;

    std::size_t size() const { return entries_.size(); }
    bool contains(wire::Ipv4Address ip) const { return entries_.count(ip.value) != 0; }
    std::size_t queued_packets() const;
    std::size_t queued_bytes() const { return queued_bytes_; }
    void visit_counters(const CounterVisitor& visit) const;

private:
    enum class State : std::uint8_t { kIncomplete, kResolved };
    struct Entry {
        State state = State::kIncomplete;
        wire::MacAddress mac;
        Instant deadline{};         // kResolved: expiry; kIncomplete: next retry or give-up
        std::uint32_t retries = 0;  // retries already sent
        std::deque<Packet> queue;
    };
    struct Stats {
        std::uint64_t inserted = 0;
        std::uint64_t refreshed = 0;
        std::uint64_t expired = 0;
        std::uint64_t evicted = 0;
        std::uint64_t full_dropped = 0;
        std::uint64_t queue_full_dropped = 0;
        std::uint64_t retries = 0;
        std::uint64_t resolve_failed = 0;
        std::uint64_t unresolved_dropped = 0;
    };

    // Makes room for one more entry; false when every entry is incomplete.
    bool make_room();

    ArpCacheConfig config_;
    std::size_t queued_bytes_ = 0;
    std::unordered_map<std::uint32_t, Entry> entries_;
    Stats stats_;
};

}  // namespace tapstack::iface
