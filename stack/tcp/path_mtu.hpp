// PathMtu: how large one connection's segments may be on its path (RFC 1191
// path MTU discovery, RFC 4821 packetization-layer probing), and
// PathMtuCache, what ICMP taught about each destination.
//
// Theory of operation
// -------------------
// Every size here is an MSS as TCB.snd_mss holds it: the largest segment
// payload plus per-segment options, i.e. the path MTU less 40 bytes of
// IPv4 and TCP headers (60 bytes of IPv6 and TCP headers over IPv6, where
// ICMPv6 Packet Too Big never goes below 1280). `ceiling` is what the
// handshake allows (the peer's
// MSS option, our own MTU); `mss()` is what we send now, never above it.
//   * RFC 1191: an ICMP "fragmentation needed" (already checked by the
//     caller against RFC 5927: it quotes a sequence number in flight)
//     lowers mss() to the next-hop MTU less 40, never raises it, and never
//     below kMinIcmpMtu (as Linux's min_pmtu: a forged tiny MTU must not
//     make us crawl). The destination cache keeps it for new connections
//     for kCacheLifetime (RFC 1191 6.3: try a larger size after 10 min).
//   * RFC 4821 (when TcpConfig::mtu_probing allows): a path that drops
//     large segments without telling us (a black hole: ICMP filtered) shows
//     as repeated RTOs of full-sized segments. Then mss() falls to kBaseMss
//     (RFC 4821 7.2, Linux's tcp_base_mss), and further halves on later
//     black holes (never below kFloorMss), and the search for the real
//     size begins: one probe segment at a time of the size halfway between
//     `search_low` (known to pass) and `search_high` (the ceiling, or the
//     largest size not yet failed). A probe that is acknowledged raises
//     search_low and mss(); one that has to be retransmitted lowers
//     search_high. The search ends when the two are within kSearchDone
//     bytes and starts again, from the ceiling, after kReprobeInterval
//     (RFC 4821 7.7). In mode "always" every connection starts at kBaseMss
//     and searches upward from the first window (Linux tcp_mtu_probing=2).
// The caller (TCP output) decides when a probe may go (not in recovery,
// enough data and window: RFC 4821 7.5) and sends it as one new segment of
// probe_mss(); this class only keeps the sizes.
#pragma once

#include <cstdint>
#include <map>

#include "stack/tcp/seq_num.hpp"
#include "stack/tcp/tcp_stack.hpp"
#include "stack/time.hpp"

namespace tapstack::tcp {

class PathMtu {
public:
    static constexpr std::uint16_t kHeaders = 40;        // IPv4 + TCP without options
    static constexpr std::uint16_t kHeaders6 = 60;       // IPv6 + TCP without options
    static constexpr std::uint16_t kBaseMss = 1024;      // RFC 4821 7.2 initial search_low
    static constexpr std::uint16_t kFloorMss = 256;      // black holes never take us below this
    static constexpr std::uint16_t kMinIcmpMtu = 552;    // ICMP never takes the path MTU below this
    static constexpr std::uint16_t kMinIcmpMtu6 = 1280;  // nor, over IPv6, below its minimum link MTU (RFC 8200 5)
    static constexpr std::uint16_t kSearchDone = 8;      // bytes: close enough (Linux tcp_probe_threshold)
    static constexpr Duration kReprobeInterval = std::chrono::minutes(10);

    // At the handshake: the largest MSS the peer and our MTU allow, and the
    // path MTU the destination cache holds (0: none).
    // `ipv6`: sizes count 60 bytes of headers and ICMP's floor is 1280.
    void start(MtuProbing mode, std::uint16_t ceiling, std::uint16_t cached_path_mtu, bool ipv6 = false);
    std::uint16_t mss() const { return mss_; }

    // RFC 1191: the path takes at most `mtu`; true when mss() shrank.
    bool on_packet_too_big(std::uint16_t mtu);
    // RFC 4821 black-hole detection: repeated RTOs of the segment at
    // SND.UNA, whose length (payload) is `segment_len`; true when mss() shrank.
    bool on_repeated_rto(std::uint32_t segment_len, std::uint16_t options_len);

    // The MSS of the next probe, or 0 when none is due (not searching, one
    // is in flight, the search is done and not yet due again).
    std::uint16_t probe_mss(Instant now);
    void on_probe_sent(SeqNum begin, SeqNum end, std::uint16_t size);
    bool searching() const { return searching_; }
    bool probe_in_flight() const { return probe_out_; }
    // The cumulative ACK reached `una`; true when it acknowledged a probe
    // (mss() may have grown).
    bool on_acked(SeqNum una, Instant now);
    // [begin, end) is being sent again; true when that is a probe, lost.
    bool on_retransmit(SeqNum begin, SeqNum end, Instant now);

private:
    void search_done_check(Instant now);

    MtuProbing mode_ = MtuProbing::kOff;
    std::uint16_t headers_ = kHeaders;
    std::uint16_t min_icmp_mtu_ = kMinIcmpMtu;
    std::uint16_t ceiling_ = 0;
    std::uint16_t mss_ = 0;
    bool searching_ = false;      // RFC 4821 search active (black hole seen, or mode "always")
    std::uint16_t search_low_ = 0;
    std::uint16_t search_high_ = 0;
    Instant reprobe_at_ = kNever;
    bool probe_out_ = false;
    SeqNum probe_begin_;
    SeqNum probe_end_;
    std::uint16_t probe_size_ = 0;
};

// Path MTUs ICMP reported, by destination (RFC 1191 6.3), bounded.
class PathMtuCache {
public:
    static constexpr std::size_t kMaxEntries = 1024;
    static constexpr Duration kLifetime = std::chrono::minutes(10);

    void lower(const IpAddress& dst, std::uint16_t mtu, Instant now);
    // The cached path MTU toward `dst`, or 0.
    std::uint16_t lookup(const IpAddress& dst, Instant now) const;

private:
    struct Entry {
        std::uint16_t mtu;
        Instant expires;
    };
    std::map<IpAddress, Entry> entries_;
};

}  // namespace tapstack::tcp
