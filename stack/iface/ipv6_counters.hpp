// Counters of the IPv6 layer, each with a stable name: "ipv6.*" (IPv6 and
// its extension headers), "icmp6.*" (ICMPv6), "nd.*" (Neighbour Discovery,
// DAD, router discovery). The neighbour cache, the reassembler and the
// path MTU cache list their own in the same groups.
//
// One X-macro holds every counter with its kind and help text, next to nothing else,
// so a counter cannot be added without a name. Names are an interface
// (`tapstack stats`, SIGUSR1, tests): never rename one.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "stack/iface/counters.hpp"
#include "stack/metrics.hpp"

namespace tapstack::iface {

#define TAPSTACK_IPV6_COUNTERS(X)                                                                               \
    X(ipv6, rx_packets, kCounter, "IPv6 frames handed to the layer")                                            \
    X(ipv6, rx_truncated, kCounter, "Shorter than the 40-byte header")                                          \
    X(ipv6, rx_bad_version, kCounter, "Version field not 6")                                                    \
    X(ipv6, rx_bad_payload_length, kCounter, "Payload length beyond the frame")                                 \
    X(ipv6, rx_bad_source, kCounter, "Multicast, loopback, v4-mapped or our own source; :: outside ND")         \
    X(ipv6, rx_bad_destination, kCounter, "Unspecified, loopback or v4-mapped destination")                     \
    X(ipv6, rx_not_for_us, kCounter, "Neither our address nor a group we joined")                               \
    X(ipv6, rx_to_tentative, kCounter, "To an address still in DAD, or found duplicate")                        \
    X(ipv6, rx_disabled, kCounter, "IPv6 off: our link-local address is a duplicate")                           \
    X(ipv6, rx_bad_offload, kCounter, "GSO, or a partial checksum not naming TCP's field, on an IPv6 frame")               \
    X(ipv6, rx_hbh_not_first, kCounter, "Hop-by-hop options after another header (RFC 8200 4.1)")               \
    X(ipv6, rx_ext_truncated, kCounter, "An extension header runs past the packet")                             \
    X(ipv6, rx_bad_option, kCounter, "An option TLV runs past its header")                                      \
    X(ipv6, rx_chain_too_long, kCounter, "More extension headers than we walk")                                 \
    X(ipv6, rx_option_skipped, kCounter, "Unknown option of type 00xxxxxx skipped")                             \
    X(ipv6, rx_option_discarded, kCounter, "Unknown option 01/10/11xxxxxx: packet discarded")                   \
    X(ipv6, rx_routing_ignored, kCounter, "Routing header with segments left 0: skipped")                       \
    X(ipv6, rx_routing_refused, kCounter, "Routing header with segments left: refused (RFC 5095)")              \
    X(ipv6, rx_atomic_fragments, kCounter, "Fragment header with offset 0, M 0 (RFC 6946)")                     \
    X(ipv6, rx_bad_fragment_length, kCounter, "Non-last fragment not a multiple of 8")                          \
    X(ipv6, rx_fragment_too_far, kCounter, "Fragment would reassemble beyond 65535")                            \
    X(ipv6, rx_incomplete_first_fragment, kCounter, "First fragment without the whole header chain (RFC 7112)") \
    X(ipv6, rx_nested_fragment, kCounter, "A fragment header inside a fragment")                                \
    X(ipv6, rx_no_next_header, kCounter, "Next header 59: nothing to deliver")                                  \
    X(ipv6, rx_unknown_next_header, kCounter, "No handler for the upper-layer protocol")                        \
    X(ipv6, rx_multicast_transport_dropped, kCounter, "TCP to a multicast destination")                         \
    X(ipv6, rx_delivered, kCounter, "Handed to ICMPv6 or a transport")                                          \
    X(ipv6, tx_packets, kCounter, "Datagrams framed (each fragment counts)")                                    \
    X(ipv6, tx_fragments, kCounter, "Fragments of datagrams beyond the path MTU")                               \
    X(ipv6, tx_no_route, kCounter, "No on-link prefix and no router for the destination")                       \
    X(ipv6, tx_no_source, kCounter, "No usable source address")                                                 \
    X(ipv6, tx_too_big, kCounter, "Payload beyond 65535")                                                       \
    X(ipv6, tx_nd_queued, kCounter, "Datagrams held while the next hop resolves")                               \
    X(ipv6, tx_nd_dropped, kCounter, "Datagrams dropped: resolution queue or cache full")                       \
    X(ipv6, tx_disabled, kCounter, "Not sent: IPv6 off")                                                        \
    X(icmp6, rx_messages, kCounter, "ICMPv6 messages delivered")                                                \
    X(icmp6, rx_truncated, kCounter, "Shorter than the type's fixed part")                                      \
    X(icmp6, rx_bad_checksum, kCounter, "Checksum over the pseudo-header failed")                               \
    X(icmp6, rx_unsupported_type, kCounter, "A type we neither answer nor act on")                              \
    X(icmp6, rx_mld_ignored, kCounter, "Multicast listener discovery: no MLD here")                             \
    X(icmp6, rx_echo_requests, kCounter, "Echo requests (answered)")                                            \
    X(icmp6, rx_echo_multicast, kCounter, "Of which to a multicast address (RFC 4443 4.2)")                     \
    X(icmp6, rx_echo_replies, kCounter, "Echo replies")                                                         \
    X(icmp6, rx_dest_unreachable, kCounter, "Destination unreachable")                                          \
    X(icmp6, rx_packet_too_big, kCounter, "Packet too big")                                                     \
    X(icmp6, rx_ptb_not_ours, kCounter, "Packet too big quoting a packet we did not send: ignored")             \
    X(icmp6, rx_ptb_not_lower, kCounter, "Packet too big not below the current path MTU: ignored")              \
    X(icmp6, rx_ptb_below_minimum, kCounter, "Packet too big below 1280: path MTU set to 1280")                 \
    X(icmp6, rx_time_exceeded, kCounter, "Time exceeded")                                                       \
    X(icmp6, rx_parameter_problem, kCounter, "Parameter problem")                                               \
    X(icmp6, tx_echo_replies, kCounter, "Echo replies sent")                                                    \
    X(icmp6, tx_parameter_problem, kCounter, "Parameter problem errors sent")                                   \
    X(icmp6, tx_time_exceeded, kCounter, "Time exceeded (reassembly) errors sent")                              \
    X(icmp6, tx_error_suppressed, kCounter, "Not sent: RFC 4443 2.4 (e) (about an error, to multicast...)")     \
    X(icmp6, tx_error_rate_limited, kCounter, "Not sent: over ipv6.icmp_error_rate (RFC 4443 2.4 (f))")         \
    X(nd, rx_router_solicitations, kCounter, "Router solicitations: a host ignores them (RFC 4861 6.2.6)")      \
    X(nd, rx_router_advertisements, kCounter, "Valid router advertisements")                                    \
    X(nd, rx_ra_ignored, kCounter, "Router advertisements while ipv6.accept_ra is off")                         \
    X(nd, rx_neighbor_solicitations, kCounter, "Valid neighbour solicitations")                                 \
    X(nd, rx_neighbor_advertisements, kCounter, "Valid neighbour advertisements")                               \
    X(nd, rx_redirects_ignored, kCounter, "Redirects: not acted on")                                            \
    X(nd, rx_bad_hop_limit, kCounter, "Hop limit not 255 (RFC 4861 7.1): discarded")                            \
    X(nd, rx_bad_code, kCounter, "ICMPv6 code not 0")                                                           \
    X(nd, rx_bad_checksum, kCounter, "Checksum failed")                                                         \
    X(nd, rx_malformed, kCounter, "Too short, or an option of length 0 or past the end")                        \
    X(nd, rx_invalid, kCounter, "Other RFC 4861 6.1/7.1 rules (multicast target, addresses)")                   \
    X(nd, rx_fragmented, kCounter, "ND in a packet with a fragment header (RFC 6980)")                          \
    X(nd, rx_not_for_us, kCounter, "Solicitation for an address that is not ours")                              \
    X(nd, rx_address_conflict, kCounter, "Another node advertises one of our addresses")                        \
    X(nd, tx_neighbor_solicitations, kCounter, "Solicitations for address resolution and probes")               \
    X(nd, tx_neighbor_advertisements, kCounter, "Advertisements sent")                                          \
    X(nd, tx_router_solicitations, kCounter, "Router solicitations sent (ipv6.accept_ra)")                      \
    X(nd, dad_solicitations, kCounter, "DAD probes sent (RFC 4862 5.4.2)")                                      \
    X(nd, dad_completed, kCounter, "Addresses that passed DAD")                                                 \
    X(nd, dad_failed, kCounter, "Addresses found duplicate: not used")                                          \
    X(nd, routers_learned, kCounter, "Default routers added from advertisements")                               \
    X(nd, prefixes_learned, kCounter, "On-link prefixes added from advertisements")                             \
    X(nd, routes_expired, kCounter, "Routers and prefixes whose lifetime ran out")                              \
    X(nd, routes_table_full, kCounter, "Routers or prefixes not added: table full")                             \
    X(nd, link_mtu_updates, kCounter, "MTU options that changed the IPv6 link MTU")

enum class Counter6 : std::size_t {
#define TAPSTACK_X(group, name, kind, help) group##_##name,
    TAPSTACK_IPV6_COUNTERS(TAPSTACK_X)
#undef TAPSTACK_X
        kCount
};

inline constexpr std::array<MetricInfo, static_cast<std::size_t>(Counter6::kCount)> kCounter6Info = {{
#define TAPSTACK_X(group, name, kind, help) {#group "." #name, MetricKind::kind, help},
    TAPSTACK_IPV6_COUNTERS(TAPSTACK_X)
#undef TAPSTACK_X
}};

class Counters6 {
public:
    void inc(Counter6 c, std::uint64_t n = 1) { values_[static_cast<std::size_t>(c)] += n; }
    std::uint64_t get(Counter6 c) const { return values_[static_cast<std::size_t>(c)]; }
    void visit(const MetricVisitor& visit) const {
        for (std::size_t i = 0; i < values_.size(); ++i) visit(kCounter6Info[i], values_[i]);
    }

private:
    std::array<std::uint64_t, static_cast<std::size_t>(Counter6::kCount)> values_{};
};

}  // namespace tapstack::iface
