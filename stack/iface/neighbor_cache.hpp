// The IPv6 neighbour cache and the packets waiting for address resolution
// (RFC 4861 7.2, 7.3): the IPv6 counterpart of ArpCache, with the same
// bounds and the same kinds of counters.
//
// Theory of operation
// -------------------
// Entry states (RFC 4861 7.3.2) and what each allows:
//   kIncomplete  a multicast solicitation is out; datagrams for that next hop
//                wait in a bounded FIFO; lookup() finds nothing. Every
//                retrans_timer another solicitation goes out, at most
//                max_multicast_solicit in all; then resolution has failed:
//                the queued datagrams are dropped and counted (7.2.2).
//   kReachable   confirmed less than reachable_time ago (a solicited
//                advertisement, or the upper layer's confirm()); used as is.
//   kStale       unconfirmed (reachable_time ran out, or learnt from an
//                unsolicited message); used as is, and the first use starts
//                kDelay. An unused stale entry is removed after
//                stale_lifetime.
//   kDelay       used while stale; if nothing confirms it within
//                delay_first_probe, kProbe.
//   kProbe       unicast solicitations every retrans_timer, at most
//                max_unicast_solicit; still used meanwhile; silence after the
//                last one removes the entry (7.3.3).
// The cache never sends anything: enqueue() says when the caller must send
// the first solicitation, poll() lists the solicitations due and the
// resolutions given up, and the update calls return the datagrams a
// resolution released. Updates follow RFC 4861 7.2.3 (a solicitation or a
// router message with a source link-layer address creates or updates an
// entry as stale) and the table of 7.2.5 for advertisements (which never
// create an entry: 7.2.5 "silently discarded").
//
// Bounds: at most cache_size entries. A new entry evicts the non-incomplete
// entry closest to its deadline, stale ones first; when every entry is
// incomplete the new datagram is dropped. Queued datagrams are whole,
// at most queue_per_host per next hop and max_queued_bytes in all.
//
// reachable_time is the value already randomised by the caller (RFC 4861
// 6.3.2: 0.5..1.5 x BaseReachableTime); it and retrans_timer can change
// when a router advertises new values.
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

struct NeighborCacheConfig {
    Duration reachable_time = seconds(30);
    Duration retrans_timer = seconds(1);
    std::uint32_t max_multicast_solicit = 3;
    std::uint32_t max_unicast_solicit = 3;
    Duration delay_first_probe = seconds(5);  // DELAY_FIRST_PROBE_TIME (RFC 4861 10)
    Duration stale_lifetime = seconds(60);
    std::uint32_t queue_per_host = 16;
    std::uint32_t cache_size = 1024;
    std::uint32_t max_queued_bytes = 1024 * 1024;
};

enum class NeighborState : std::uint8_t { kIncomplete, kReachable, kStale, kDelay, kProbe };

#define TAPSTACK_NEIGHBOR_COUNTERS(X)                                                       \
    X(cache_inserted, kCounter, "Entries created")                                          \
    X(cache_confirmed, kCounter, "Entries made REACHABLE by a solicited advertisement")     \
    X(cache_updated, kCounter, "Link-layer address changed by an override or solicitation") \
    X(cache_expired, kCounter, "Stale entries removed unused")                              \
    X(cache_evicted, kCounter, "Entries removed to make room")                              \
    X(cache_full_dropped, kCounter, "Datagrams dropped: every entry incomplete")            \
    X(queue_full_dropped, kCounter, "Datagrams dropped: per-host or total queue full")      \
    X(solicit_retries, kCounter, "Multicast solicitations repeated while INCOMPLETE")       \
    X(probes, kCounter, "Unicast solicitations in PROBE")                                   \
    X(probe_failed, kCounter, "Entries removed after unanswered probes")                    \
    X(resolve_failed, kCounter, "Resolutions given up")                                     \
    X(unresolved_dropped, kCounter, "Datagrams dropped with a failed resolution")

class NeighborCache {
public:
    using Packet = std::vector<std::uint8_t>;

    enum class EnqueueResult : std::uint8_t {
        kQueuedSendSolicitation,  // new resolution: the caller sends the first solicitation now
        kQueued,                  // a solicitation is already out
        kDroppedQueueFull,
        kDroppedCacheFull,
    };
    struct GiveUp {
        wire::Ipv6Address ip;
        std::vector<Packet> dropped;
        bool was_router = false;
    };
    struct Probe {
        wire::Ipv6Address ip;
        wire::MacAddress mac;  // unicast the solicitation here
    };
    struct PollResult {
        std::vector<wire::Ipv6Address> solicit;  // multicast a solicitation again
        std::vector<Probe> probe;
        std::vector<GiveUp> gave_up;  // incomplete entries given up, and probed entries removed
    };
    struct AdvertResult {
        bool known = false;           // an entry existed (else the advertisement was ignored)
        bool router_cleared = false;  // IsRouter went from true to false (7.2.5)
    };

    explicit NeighborCache(const NeighborCacheConfig& config);

    void set_reachable_time(Duration d) { config_.reachable_time = d; }
    void set_retrans_timer(Duration d) { config_.retrans_timer = d; }

    // The MAC to send to, for any state but kIncomplete; a stale entry
    // starts kDelay (7.3.3 "the first time a node sends a packet").
    std::optional<wire::MacAddress> lookup(Instant now, const wire::Ipv6Address& ip);
    // Holds an IPv6 datagram (no Ethernet header) until `ip` resolves.
    EnqueueResult enqueue(Instant now, const wire::Ipv6Address& ip, wire::Bytes packet);
    // A solicitation, or a router message, with a source link-layer address
    // (RFC 4861 7.2.3, 6.3.4): creates the entry as stale, or makes it
    // stale when the address differs; `router` marks a router.
    void solicited_by(Instant now, const wire::Ipv6Address& ip, const wire::MacAddress& mac, bool router,
                      std::vector<Packet>& released);
    // An advertisement (RFC 4861 7.2.5).
    AdvertResult advertised(Instant now, const wire::Ipv6Address& ip, const std::optional<wire::MacAddress>& mac,
                            bool solicited, bool override_flag, bool router, std::vector<Packet>& released);
    // Upper-layer reachability confirmation (RFC 4861 7.3.1).
    void confirm(Instant now, const wire::Ipv6Address& ip);
    void poll(Instant now, PollResult& out);
    Instant poll_at() const;

    std::optional<NeighborState> state(const wire::Ipv6Address& ip) const;
    std::optional<wire::MacAddress> mac(const wire::Ipv6Address& ip) const;
    std::size_t size() const { return entries_.size(); }
    std::size_t queued_packets() const;
    std::size_t queued_bytes() const { return queued_bytes_; }
    void visit_metrics(const MetricVisitor& visit) const;

private:
    struct Entry {
        NeighborState state = NeighborState::kIncomplete;
        wire::MacAddress mac;
        Instant deadline{};        // the next transition or retransmission
        std::uint32_t probes = 0;  // solicitations sent in kIncomplete / kProbe
        bool router = false;
        std::deque<Packet> queue;  // kIncomplete only
    };
    enum class Stat : std::size_t {
#define TAPSTACK_X(name, kind, help) name,
        TAPSTACK_NEIGHBOR_COUNTERS(TAPSTACK_X)
#undef TAPSTACK_X
            kCount
    };

    void count(Stat s, std::uint64_t n = 1) { stats_[static_cast<std::size_t>(s)] += n; }
    bool make_room();
    Entry* create(Instant now, const wire::Ipv6Address& ip);
    void set_state(Instant now, Entry& e, NeighborState s);
    void release(Entry& e, std::vector<Packet>& released);

    NeighborCacheConfig config_;
    std::size_t queued_bytes_ = 0;
    std::unordered_map<wire::Ipv6Address, Entry> entries_;
    std::array<std::uint64_t, static_cast<std::size_t>(Stat::kCount)> stats_{};
};

}  // namespace tapstack::iface
