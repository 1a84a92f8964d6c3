// IPv6 fragment reassembly (RFC 8200 4.5) with RFC 5722's rule for
// overlaps, bounded in memory and time like the IPv4 Reassembler.
//
// Theory of operation
// -------------------
// A partial packet is keyed by (source, destination, identification)
// (RFC 8200 4.5). Its fragmentable part is one buffer grown to the highest
// byte seen, plus the fragments received as a map from offset to end (the
// fragments themselves, not merged: RFC 5722 is about fragments). It
// completes when the last fragment (M = 0) has fixed the length, the first
// (offset 0) has given the unfragmentable part, and the fragments cover
// every byte.
//
// Overlaps (RFC 5722): a fragment that overlaps one already held drops the
// whole packet, and the key stays marked dead until the reassembly timeout,
// so the packet's later fragments are dropped too ("including those not
// yet received"). The one exception is an exact duplicate (same offset,
// length and bytes): RFC 8200 4.5 lets it be dropped alone, and it is,
// counted. A packet whose fragments disagree about its length (a second
// last fragment ending elsewhere, bytes beyond the last fragment's end) is
// dropped the same way. The caller has already checked each fragment alone
// (RFC 8200 4.5: a non-last fragment is a multiple of 8 bytes, none reaches
// beyond 65535; RFC 7112: the first holds the whole header chain;
// RFC 6946: atomic fragments never come here).
//
// The reassembled packet (RFC 8200 4.5 "Reassembly"): the first fragment's
// unfragmentable part (IPv6 header and the extension headers before the
// Fragment header) with its payload length recomputed and the Next Header
// field that named the Fragment header set to the Fragment header's Next
// Header, followed by the fragmentable part.
//
// Bounds: at most max_datagrams packets (dead keys included) and max_bytes
// of buffers, counting the unfragmentable part, the kept quote and a fixed
// overhead per fragment held (so eight-byte fragments cannot eat memory
// the byte budget does not see); a fragment that does not fit evicts the
// oldest packets (counted). A packet lives `timeout` from its first
// fragment (RFC 8200 4.5: 60 seconds); poll() frees it and, when the first
// fragment had arrived, hands back its leading bytes for an ICMPv6 time
// exceeded (code 1).
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <vector>

#include "stack/metrics.hpp"
#include "stack/iface/counters.hpp"
#include "stack/time.hpp"
#include "stack/wire/addresses.hpp"
#include "stack/wire/byte_order.hpp"

namespace tapstack::iface {

struct Reassembly6Config {
    Duration timeout = seconds(60);
    std::uint32_t max_bytes = 4 * 1024 * 1024;
    std::uint32_t max_datagrams = 64;
};

// One received fragment, already checked by the caller.
struct Fragment6 {
    wire::Ipv6Address src;
    wire::Ipv6Address dst;
    std::uint32_t identification = 0;
    std::uint16_t offset = 0;  // bytes
    bool more = false;
    wire::Bytes data;  // the fragment's share of the fragmentable part
    // The whole received packet and where its Fragment header is, for the
    // first fragment's unfragmentable part and the time exceeded quote.
    wire::Bytes packet;
    std::size_t fragment_header_at = 0;
    std::size_t naming_field_at = 0;  // the Next Header byte that named the Fragment header
    std::uint8_t next_header = 0;     // the Fragment header's Next Header
    bool link_multicast = false;
};

struct Reassembled6 {
    std::vector<std::uint8_t> packet;  // IPv6 header onward, payload length set
    std::size_t start = 0;             // where the fragmentable part begins
    std::size_t naming_field_at = 0;   // the Next Header byte that names packet[start]'s type
    std::uint8_t next_header = 0;      // the type of the header at packet[start]
};

class Reassembler6 {
public:
    struct TimedOut {
        std::vector<std::uint8_t> quote;  // the first fragment as received, at most kQuoteLen bytes
        wire::Ipv6Address src;
        wire::Ipv6Address dst;
        bool link_multicast = false;
    };
    // An ICMPv6 error holds at most 1280 - 40 - 8 bytes of the invoking
    // packet (RFC 4443 2.4 (c)).
    static constexpr std::size_t kQuoteLen = 1232;
    // Bytes charged for each fragment held, beyond its data.
    static constexpr std::size_t kPerFragmentOverhead = 64;

    explicit Reassembler6(const Reassembly6Config& config);

    std::optional<Reassembled6> add(Instant now, const Fragment6& fragment);
    void poll(Instant now, std::vector<TimedOut>& timed_out);
    Instant poll_at() const;

    std::size_t datagram_count() const { return datagrams_.size(); }
    std::size_t bytes_held() const { return bytes_held_; }
    void visit_metrics(const MetricVisitor& visit) const;

private:
    struct Key {
        wire::Ipv6Address src;
        wire::Ipv6Address dst;
        std::uint32_t id = 0;
        friend bool operator==(const Key&, const Key&) = default;
    };
    struct Datagram {
        Key key;
        Instant created{};
        bool dead = false;  // dropped (RFC 5722); later fragments are dropped too
        std::vector<std::uint8_t> data;
        std::map<std::uint32_t, std::uint32_t> fragments;  // offset -> end
        std::uint32_t covered = 0;                          // bytes inside fragments
        std::optional<std::uint32_t> total_len;
        std::vector<std::uint8_t> unfragmentable;  // of the first fragment, once it came
        std::size_t naming_field_at = 0;
        std::uint8_t next_header = 0;
        std::vector<std::uint8_t> quote;
        bool link_multicast = false;
        std::size_t charged = 0;  // bytes counted in bytes_held_
    };
    enum class Stat : std::size_t {
        kFragments, kCompleted, kDuplicates, kOverlaps, kDeadDropped, kInconsistent,
        kTimeouts, kEvicted, kTooBig, kCount
    };

    void count(Stat s) { ++stats_[static_cast<std::size_t>(s)]; }
    std::size_t find(const Key& key) const;
    void kill(std::size_t index);  // frees the buffers, keeps the key dead
    void erase(std::size_t index);
    void charge(Datagram& d, std::size_t bytes);
    bool make_room(std::size_t extra, bool new_datagram, std::size_t keep);

    Reassembly6Config config_;
    std::vector<Datagram> datagrams_;  // few (max_datagrams): linear search is fine
    std::size_t bytes_held_ = 0;
    std::array<std::uint64_t, static_cast<std::size_t>(Stat::kCount)> stats_{};
};

}  // namespace tapstack::iface
