// The ARP cache and the packets waiting for a resolution (RFC 826,
// RFC 1122 2.3.2).
//
// Theory of operation
// -------------------
// Entry states and what each allows:
//   kIncomplete  a broadcast request is out; datagrams for that next hop wait
//                in a bounded FIFO; lookup() finds nothing.
//   kResolved    a MAC, confirmed by an ARP packet from that host less than
//                entry_lifetime ago; lookup() returns it (and marks it used).
//   kRefreshing  the lifetime ran out while the entry was in use: the MAC is
//                still used, and unicast requests to it are retried every
//                retry_interval; a reply makes it kResolved again, silence
//                after max_retries removes it. An entry unused at expiry is
//                simply removed. (RFC 1122 2.3.2.1: timeout plus unicast
//                poll, so a busy flow never stalls on re-resolution.)
// The cache never sends anything: enqueue() says whether the caller must
// send a first request, poll() lists the requests due (retries, refreshes)
// and the resolutions given up, update() returns the datagrams released by
// a resolution. The interface turns those into frames.
//
// Any ARP from a known host updates and re-confirms its entry (the RFC 826
// merge rule, update(create=false)); entries are created only when asked
// (create=true: the host asked for us) or by enqueue().
// A resolution sends its first request at once, retries every
// retry_interval, and after max_retries retries and one more interval gives
// up: its queued datagrams are dropped and counted. They therefore wait at
// most retry_interval * (max_retries + 1) (RFC 1122 2.3.2.2).
//
// Bounds: at most cache_size entries. A new entry evicts the resolved or
// refreshing entry closest to expiry; when every entry is incomplete the
// new datagram is dropped (an attacker cannot push out resolutions in
// progress). Queued datagrams are whole (fragmented only when released),
// at most queue_per_host per next hop and max_queued_bytes in all.
#pragma once

#include <cstdint>
#include <deque>
#include <optional>
#include <unordered_map>
#include <vector>

#include "stack/iface/counters.hpp"
#include "stack/metrics.hpp"
#include "stack/time.hpp"
#include "stack/wire/addresses.hpp"
#include "stack/wire/byte_order.hpp"

namespace tapstack::iface {

// The cache's counters, X(field, kind, help); named "arp.<field>".
#define TAPSTACK_ARP_CACHE_COUNTERS(X)                                                                \
    X(cache_inserted, kCounter, "ARP cache entries created")                                          \
    X(cache_confirmed, kCounter, "ARP cache entries confirmed by a reply")                            \
    X(cache_expired, kCounter, "ARP cache entries removed at the end of their lifetime")                                    \
    X(cache_evicted, kCounter, "ARP cache entries evicted to make room")                              \
    X(cache_full_dropped, kCounter, "Resolutions not started: cache full of incomplete entries")      \
    X(queue_full_dropped, kCounter, "Datagrams dropped: the queues waiting for resolution are full")   \
    X(request_retries, kCounter, "ARP requests sent again for an unresolved address")                 \
    X(refresh_requests, kCounter, "Unicast ARP requests confirming an entry in use")                  \
    X(refresh_failed, kCounter, "Entries in use that stopped answering and were removed")             \
    X(resolve_failed, kCounter, "Addresses that never answered ARP")                                  \
    X(unresolved_dropped, kCounter, "Datagrams dropped because their next hop never resolved")

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
        std::vector<Packet> dropped;  // the datagrams that waited, for the caller to inspect
    };
    struct Refresh {
        wire::Ipv4Address ip;
        wire::MacAddress mac;  // send the request unicast to this MAC
    };
    // What poll() asks the caller to do.
    struct PollResult {
        std::vector<wire::Ipv4Address> retry;  // broadcast a request again
        std::vector<Refresh> refresh;          // unicast a request to confirm an entry in use
        std::vector<GiveUp> gave_up;
    };

    explicit ArpCache(const ArpCacheConfig& config);
    // New timings and bounds for what happens from now on: deadlines already
    // set run out as they were set, and a smaller cache_size or
    // queue_per_host evicts or drops nothing by itself (only new entries
    // and new datagrams meet the new bounds).
    void set_config(const ArpCacheConfig& config);
    const ArpCacheConfig& config() const { return config_; }

    // The MAC of a resolved or refreshing entry; marks it used.
    std::optional<wire::MacAddress> lookup(Instant now, wire::Ipv4Address ip);
    // Holds an IPv4 datagram (no Ethernet header) until `ip` resolves.
    EnqueueResult enqueue(Instant now, wire::Ipv4Address ip, wire::Bytes packet);
    // RFC 826 merge: an existing entry for `ip` takes `mac` and is
    // re-confirmed; without one, an entry is created only when `create`.
    // Datagrams that were waiting are appended to `released`. Returns
    // whether an entry was updated or created.
    bool update(Instant now, wire::Ipv4Address ip, wire::MacAddress mac, bool create, std::vector<Packet>& released);
    // Runs every deadline that is due at `now` (call at poll_at()).
    void poll(Instant now, PollResult& out);
    Instant poll_at() const;

    std::size_t size() const { return entries_.size(); }
    bool contains(wire::Ipv4Address ip) const { return entries_.count(ip.value) != 0; }
    std::size_t queued_packets() const;
    std::size_t queued_bytes() const { return queued_bytes_; }
    // The cache's counters ("arp.cache_inserted", ...) and gauges.
    void visit_metrics(const MetricVisitor& visit) const;

private:
    enum class State : std::uint8_t { kIncomplete, kResolved, kRefreshing };
    struct Entry {
        State state = State::kIncomplete;
        wire::MacAddress mac;
        Instant deadline{};         // kResolved: expiry; otherwise: next retry or give-up
        std::uint32_t retries = 0;  // retries already sent in this state
        bool used = false;          // looked up since the last confirmation
        std::deque<Packet> queue;   // kIncomplete only
    };
    struct Stats {
        TAPSTACK_ARP_CACHE_COUNTERS(TAPSTACK_METRIC_FIELD)
    };

    // Makes room for one more entry; false when every entry is incomplete.
    bool make_room();

    ArpCacheConfig config_;
    std::size_t queued_bytes_ = 0;
    std::unordered_map<std::uint32_t, Entry> entries_;
    Stats stats_;
};

}  // namespace tapstack::iface
