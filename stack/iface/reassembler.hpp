// IPv4 fragment reassembly (RFC 791 section 3.2, RFC 815, RFC 1122 3.3.2).
//
// Theory of operation
// -------------------
// A partial datagram is keyed by (src, dst, protocol, identification)
// (RFC 791). Its payload is one contiguous buffer grown to the highest byte
// seen, plus a sorted list of the byte ranges received (the complement of
// RFC 815's hole list). It completes when the last fragment (MF=0) has
// fixed the total length and the ranges cover [0, total).
//
// Overlaps (documented rule): bytes that arrive again must equal the bytes
// already held. An exact or partial duplicate with identical content is
// accepted and counted; any difference drops the whole partial datagram
// (as RFC 5722 does for IPv6), because no choice between two contents is
// safe. Likewise a datagram whose fragments disagree about the total length
// (a second last fragment, data beyond the last fragment's end) is dropped.
// Fragments other than the last must carry a multiple of 8 bytes, and no
// fragment may reach beyond 65535 - 20 bytes of payload: such fragments are
// dropped alone.
//
// Bounds: at most max_datagrams partial datagrams and max_bytes of buffers
// together; a new fragment that does not fit evicts the oldest partial
// datagrams (counted). A partial datagram lives `timeout` from its first
// fragment (RFC 1122 3.3.2 fixed timer); poll() frees it and, when its first
// fragment (offset 0) had arrived, hands back that fragment's header and
// leading bytes so the interface can send ICMP time exceeded, code 1
// (RFC 792, RFC 1122 3.3.2).
// The header of the reassembled datagram is that of the first fragment
// (its options included), with MF cleared and the full payload length.
#pragma once

#include <cstdint>
#include <optional>
#include <vector>

#include "stack/iface/counters.hpp"
#include "stack/metrics.hpp"
#include "stack/time.hpp"
#include "stack/wire/ipv4.hpp"

namespace tapstack::iface {

// Reassembly counters, X(field, kind, help); named "ipv4.reasm_<field>".
#define TAPSTACK_REASSEMBLY_COUNTERS(X)                                                               \
    X(fragments, kCounter, "IPv4 fragments received")                                                 \
    X(completed, kCounter, "Datagrams reassembled")                                                   \
    X(duplicates, kCounter, "Fragments wholly covered by data already held")                          \
    X(overlap_conflicts, kCounter, "Overlapping fragments with different data: datagram dropped")     \
    X(inconsistent, kCounter, "Fragments contradicting the datagram's length: datagram dropped")      \
    X(bad_fragments, kCounter, "Fragments with an impossible offset or length")                       \
    X(timeouts, kCounter, "Datagrams dropped incomplete after the reassembly timeout")                \
    X(evicted, kCounter, "Incomplete datagrams dropped to make room")                                 \
    X(too_big, kCounter, "Fragments dropped: beyond 64 KiB or the reassembly memory limit")

struct ReassemblyConfig {
    Duration timeout = seconds(30);
    std::uint32_t max_bytes = 4 * 1024 * 1024;
    std::uint32_t max_datagrams = 64;
};

struct Reassembled {
    wire::Ipv4Repr header;
    std::vector<std::uint8_t> payload;
};

class Reassembler {
public:
    // Header plus the first bytes of payload of a timed-out datagram's first
    // fragment: what ICMP time exceeded quotes.
    struct TimedOut {
        wire::Ipv4Repr header;
        std::vector<std::uint8_t> leading_payload;
    };

    // How many payload bytes of the first fragment are kept for the quote
    // (RFC 792 asks for 64 bits; RFC 1812 4.3.2.3 allows up to 576 total).
    static constexpr std::size_t kQuotedPayload = 8;

    explicit Reassembler(const ReassemblyConfig& config);

    // `fragment` is a validated datagram with MF set or a nonzero offset.
    std::optional<Reassembled> add(Instant now, const wire::Ipv4View& fragment);
    // Frees timed-out datagrams; those whose first fragment arrived are
    // appended to `timed_out`.
    void poll(Instant now, std::vector<TimedOut>& timed_out);
    Instant poll_at() const;

    std::size_t datagram_count() const { return datagrams_.size(); }
    std::size_t bytes_held() const { return bytes_held_; }
    // "ipv4.reasm_fragments", ... and the gauges of what is held.
    void visit_metrics(const MetricVisitor& visit) const;

private:
    struct Key {
        std::uint32_t src = 0;
        std::uint32_t dst = 0;
        std::uint16_t id = 0;
        std::uint8_t protocol = 0;
        friend bool operator==(const Key&, const Key&) = default;
    };
    struct Range {
        std::uint32_t begin = 0;
        std::uint32_t end = 0;
    };
    struct Datagram {
        Key key;
        Instant created{};
        std::vector<std::uint8_t> data;
        std::vector<Range> ranges;  // sorted, disjoint, non-adjacent
        std::optional<std::uint32_t> total_len;
        std::optional<TimedOut> first;  // the offset-0 fragment's header and leading bytes
    };
    struct Stats {
        TAPSTACK_REASSEMBLY_COUNTERS(TAPSTACK_METRIC_FIELD)
    };

    void drop(std::size_t index);
    // Frees the oldest datagrams other than `keep` until `extra` more bytes
    // and (when `new_datagram`) one more datagram fit. False if they cannot.
    bool make_room(std::size_t extra, bool new_datagram, const Datagram* keep);

    ReassemblyConfig config_;
    std::vector<Datagram> datagrams_;  // few (max_datagrams): linear search is fine
    std::size_t bytes_held_ = 0;
    Stats stats_;
};

}  // namespace tapstack::iface
