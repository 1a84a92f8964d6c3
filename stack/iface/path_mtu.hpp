// Path MTU per IPv6 destination (RFC 8201), lowered by ICMPv6 Packet Too
// Big messages and read by whoever sizes packets (our own fragmentation,
// and TCP's MSS over IPv6).
//
// Theory of operation
// -------------------
// No entry means the link MTU. lower() records a smaller MTU for one
// destination, after the checks RFC 8201 and RFC 5927 ask of a host:
//   - never below the IPv6 minimum of 1280 (RFC 8201 5: a smaller report
//     is taken as 1280; RFC 8021 retired atomic fragments);
//   - never an increase (RFC 8201 4: "MUST NOT increase"): a report not
//     below the current value is ignored;
//   - whether the quoted packet was ours at all is the caller's check
//     (it knows our addresses); TCP will also check the quoted sequence
//     number (RFC 5927 4.1) before acting on it.
// An entry expires `lifetime` after it was lowered (RFC 8201 4 suggests
// trying a larger MTU after 10 minutes), which returns the destination to
// the link MTU. At most `capacity` entries; a new one evicts the entry
// closest to expiry (an attacker flooding reports can push out entries,
// which only costs a later Packet Too Big, never a wrong MTU).
#pragma once

#include <cstdint>
#include <unordered_map>

#include "stack/metrics.hpp"
#include "stack/iface/counters.hpp"
#include "stack/time.hpp"
#include "stack/wire/addresses.hpp"

namespace tapstack::iface {

class PathMtuCache {
public:
    enum class Update : std::uint8_t {
        kLowered,         // the destination's path MTU is now the reported value
        kLoweredToFloor,  // reported below 1280: the path MTU is now 1280
        kNotLower,        // not below the current path MTU: ignored
    };

    explicit PathMtuCache(std::size_t capacity = 1024, Duration lifetime = seconds(600));

    // The path MTU toward `dst`: the entry's, capped by `link_mtu`.
    std::uint16_t get(Instant now, const wire::Ipv6Address& dst, std::uint16_t link_mtu) const;
    Update lower(Instant now, const wire::Ipv6Address& dst, std::uint32_t reported, std::uint16_t link_mtu);
    void poll(Instant now);
    Instant poll_at() const;
    std::size_t size() const { return entries_.size(); }
    void visit_metrics(const MetricVisitor& visit) const;

private:
    struct Entry {
        std::uint16_t mtu = 0;
        Instant expires{};
    };
    std::size_t capacity_;
    Duration lifetime_;
    std::unordered_map<wire::Ipv6Address, Entry> entries_;
    std::uint64_t lowered_ = 0;
    std::uint64_t expired_ = 0;
    std::uint64_t evicted_ = 0;
};

}  // namespace tapstack::iface
