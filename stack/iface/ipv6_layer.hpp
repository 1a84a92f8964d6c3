// Ipv6Layer: IPv6 for one Ethernet interface, beside its IPv4 (RFC 8200,
// RFC 4443, RFC 4861, RFC 4862).
//
// Theory of operation
// -------------------
// The Interface owns one Ipv6Layer and hands it every frame of EtherType
// 0x86dd (and asks it which multicast MACs to accept); the layer hands
// finished frames back through LinkTx, so the Interface keeps counting
// eth.*. Everything IPv6 lives here and in its parts:
//   Ipv6AddressTable  our addresses, DAD, groups joined, source selection
//   NeighborCache     RFC 4861 7.3 states and the datagrams waiting on them
//   Ipv6Routes        on-link prefixes, gateway, default routers (RAs)
//   Reassembler6      fragments (RFC 8200 4.5, RFC 5722)
//   PathMtuCache      Packet Too Big (RFC 8201)
//   TokenBucket       the ICMPv6 error rate (RFC 4443 2.4 (f))
// Input (ipv6_input.cpp): fixed header, address filter, then the extension
// header chain one header at a time, with RFC 8200 4's actions (unknown
// options by their type's high bits, routing headers with segments left
// refused as RFC 5095 asks for type 0, fragments to reassembly or, when
// atomic, processed alone (RFC 6946)), then ICMPv6 (icmpv6_handler.cpp,
// with Neighbour Discovery in ndp_handler.cpp) or a registered transport.
// Output (ipv6_output.cpp): source selection, next hop, neighbour
// resolution, fragmentation of our own datagrams beyond the path MTU.
// Time: the layer starts (DAD) at the first poll() or frame; every timer is
// in poll()/poll_at().
//
// Re-entrancy: nothing here calls a transport from inside send(); failed
// resolutions are reported from poll() only.
//
// Non-goals: forwarding (so no Packet Too Big or Time Exceeded for
// transit traffic); MLD reports; SLAAC (ipv6.accept_ra takes routers and
// on-link prefixes, not addresses); redirects (counted, not followed);
// jumbograms; IPsec (ESP and AH are unrecognised next headers).
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <span>
#include <vector>

#include "stack/metrics.hpp"
#include "stack/iface/counters.hpp"
#include "stack/iface/ipv6_addresses.hpp"
#include "stack/iface/ipv6_config.hpp"
#include "stack/iface/ipv6_counters.hpp"
#include "stack/iface/ipv6_routes.hpp"
#include "stack/iface/ipv6_transport.hpp"
#include "stack/iface/neighbor_cache.hpp"
#include "stack/iface/path_mtu.hpp"
#include "stack/iface/reassembler6.hpp"
#include "stack/iface/token_bucket.hpp"
#include "stack/tcp/siphash.hpp"
#include "stack/time.hpp"
#include "stack/wire/addresses.hpp"
#include "stack/wire/icmpv6.hpp"
#include "stack/wire/ipv6.hpp"
#include "stack/wire/ipv6_ext.hpp"
#include "stack/wire/ndp.hpp"
#include "stack/wire/offload.hpp"

namespace tapstack::iface {

// Where the layer's frames go: the Interface frames nothing itself for
// IPv6, it only hands the parts to its sink and counts.
class LinkTx {
public:
    virtual ~LinkTx() = default;
    // One Ethernet frame given as consecutive parts.
    virtual void transmit_frame_parts(std::span<const wire::Bytes> parts) = 0;
};

// What the link layer knows about a received frame.
struct RxFrameInfo {
    wire::MacAddress src;
    bool link_multicast = false;  // multicast or broadcast destination MAC
    wire::RxOffload offload;
};

class Ipv6Layer {
public:
    // RFC 4861 10 constants.
    static constexpr Duration kMaxRtrSolicitationDelay = seconds(1);
    static constexpr Duration kRtrSolicitationInterval = seconds(4);
    static constexpr std::uint32_t kMaxRtrSolicitations = 3;
    // Extension headers walked in one packet; a longer chain is dropped.
    static constexpr std::size_t kMaxExtensionHeaders = 16;

    Ipv6Layer(const Ipv6Config& config, const wire::MacAddress& mac, std::uint16_t link_mtu, LinkTx& link,
              const tcp::Secret& secret);

    bool enabled() const { return config_.enabled; }
    void receive(Instant now, wire::Bytes packet, const RxFrameInfo& frame);
    bool accepts_link_multicast(const wire::MacAddress& mac) const;
    void poll(Instant now);
    Instant poll_at() const;
    void visit_metrics(const MetricVisitor& visit) const;

    void set_transport(std::uint8_t next_header, Ipv6Transport* transport) { transports_[next_header] = transport; }
    // Sends a datagram we originate; an unspecified header.src is chosen
    // here (RFC 6724). With `neighbor_discovery` the source is the caller's
    // even when unspecified (DAD) and a unicast destination is reached on
    // the link whatever its prefix (ND messages never cross a router).
    // False when it was dropped (queued for resolution counts as sent).
    bool send(Instant now, wire::Ipv6Repr header, wire::Bytes payload, bool neighbor_discovery = false);

    std::uint16_t link_mtu() const { return link_mtu_; }
    // The hop limit of the datagrams we originate (config, or a router's RA).
    std::uint8_t hop_limit() const { return hop_limit_; }
    std::uint16_t path_mtu(Instant now, const wire::Ipv6Address& dst) const { return pmtu_.get(now, dst, link_mtu_); }
    std::optional<wire::Ipv6Address> source_for(const wire::Ipv6Address& dst) const {
        return addresses_.source_for(dst);
    }
    std::vector<Ipv6AddressInfo> addresses() const { return addresses_.list(); }
    std::optional<NeighborState> neighbor_state(const wire::Ipv6Address& ip) const { return neighbors_.state(ip); }
    std::uint64_t counter(Counter6 c) const { return st_.get(c); }

private:
    // One packet on its way up, as received (or as reassembled).
    struct Packet {
        wire::Bytes bytes;  // the IPv6 header onward, exactly 40 + payload length
        wire::Ipv6Repr header;
        RxFrameInfo frame;
        bool fragmented = false;  // carried a Fragment header (RFC 6980)
    };

    void inc(Counter6 c, std::uint64_t n = 1) { st_.inc(c, n); }
    // A source an answer can go to: one node, not us (ND aside).
    bool usable_source(const wire::Ipv6Address& src) const {
        return !src.is_unspecified() && !addresses_.state(src).has_value();
    }
    std::uint64_t random64();
    void start(Instant now);
    void address_event(Ipv6AddressEvent::Kind kind, const wire::Ipv6Address& a,
                       std::optional<wire::MacAddress> from = std::nullopt);
    void handle_due(Instant now, const Ipv6AddressTable::Due& due);
    void set_base_reachable_time(Duration base);

    // ipv6_input.cpp
    void walk(Instant now, const Packet& p, std::size_t at, std::uint8_t nh, std::size_t naming_at);
    bool process_options(Instant now, const Packet& p, std::size_t at);
    void handle_fragment(Instant now, const Packet& p, std::size_t at, std::size_t naming_at);
    void deliver(Instant now, const Packet& p, std::uint8_t nh, std::size_t at, std::size_t naming_at);
    // icmpv6_handler.cpp
    void receive_icmpv6(Instant now, const Packet& p, std::size_t at);
    void send_echo_reply(Instant now, const Packet& p, const wire::Icmpv6Repr& request);
    void packet_too_big(Instant now, const wire::Icmpv6Repr& ptb);
    void send_error(Instant now, const Packet& p, std::uint8_t type, std::uint8_t code, std::uint32_t pointer,
                    bool multicast_exception = false);
    void send_error_about(Instant now, wire::Bytes invoking, bool link_multicast, std::uint8_t type,
                          std::uint8_t code, std::uint32_t pointer, bool multicast_exception);
    // ndp_handler.cpp
    void receive_ndp(Instant now, const Packet& p, const wire::Icmpv6View& view);
    void neighbor_solicitation(Instant now, const Packet& p, const wire::NdpRepr& ns);
    void neighbor_advertisement(Instant now, const Packet& p, const wire::NdpRepr& na);
    void router_advertisement(Instant now, const Packet& p, const wire::NdpRepr& ra);
    void dad_conflict(const wire::Ipv6Address& a, std::optional<wire::MacAddress> from);
    void send_ndp(Instant now, const wire::Ipv6Address& src, const wire::Ipv6Address& dst, const wire::NdpRepr& m);
    void send_neighbor_solicitation(Instant now, const wire::Ipv6Address& target, const wire::Ipv6Address& dst,
                                    bool dad);
    void send_router_solicitation(Instant now);
    // ipv6_output.cpp
    void emit_datagram(Instant now, const wire::MacAddress& dst, const wire::Ipv6Repr& header, wire::Bytes payload);
    void send_frame(const wire::MacAddress& dst, const wire::Ipv6Repr& header,
                    const std::optional<wire::Ipv6FragmentRepr>& fragment, wire::Bytes payload);
    void send_released(Instant now, const wire::MacAddress& mac, std::vector<NeighborCache::Packet>& released);

    Ipv6Config config_;
    wire::MacAddress mac_;
    std::uint16_t link_mtu_;
    std::uint16_t configured_mtu_;
    LinkTx& link_;
    tcp::SipKey random_key_;
    std::uint64_t random_counter_ = 0;
    Ipv6AddressTable addresses_;
    NeighborCache neighbors_;
    Ipv6Routes routes_;
    Reassembler6 reasm_;
    PathMtuCache pmtu_;
    TokenBucket icmp_errors_;
    Counters6 st_;
    std::array<Ipv6Transport*, 256> transports_{};
    std::vector<wire::Ipv6Address> unreachable_;  // reported to the transports at the end of poll()
    bool started_ = false;
    std::uint8_t hop_limit_;
    Duration base_reachable_time_;
    // Router solicitation (RFC 4861 6.3.7), with accept_ra.
    std::uint32_t rs_sent_ = 0;
    Instant rs_next_ = kNever;
};

}  // namespace tapstack::iface
