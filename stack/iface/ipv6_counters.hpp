// Counters of the IPv6 layer, each with a stable name: "ipv6.*" (IPv6 and
// its extension headers), "icmp6.*" (ICMPv6), "nd.*" (Neighbour Discovery,
// DAD, router discovery). The neighbour cache, the reassembler and the
// path MTU cache list their own in the same groups.
//
// One X-macro holds every counter with its meaning, next to nothing else,
// so a counter cannot be added without a name. Names are an interface
// (`tapstack stats`, SIGUSR1, tests): never rename one.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "stack/iface/counters.hpp"

namespace tapstack::iface {

#define TAPSTACK_IPV6_COUNTERS(X)                                                                          \
    X(ipv6, rx_packets)                 /* IPv6 frames handed to the layer */                               \
    X(ipv6, rx_truncated)               /* shorter than the 40-byte header */                              \
    X(ipv6, rx_bad_version)             /* version field not 6 */                                          \
    X(ipv6, rx_bad_payload_length)      /* payload length beyond the frame */                              \
    X(ipv6, rx_bad_source)              /* multicast, loopback, v4-mapped or our own source; :: outside ND */ \
    X(ipv6, rx_bad_destination)         /* unspecified, loopback or v4-mapped destination */              \
    X(ipv6, rx_not_for_us)              /* neither our address nor a group we joined */                    \
    X(ipv6, rx_to_tentative)            /* to an address still in DAD, or found duplicate */               \
    X(ipv6, rx_disabled)                /* IPv6 off: our link-local address is a duplicate */              \
    X(ipv6, rx_bad_offload)             /* checksum or GSO metadata on an IPv6 frame: not supported */     \
    X(ipv6, rx_hbh_not_first)           /* hop-by-hop options after another header (RFC 8200 4.1) */       \
    X(ipv6, rx_ext_truncated)           /* an extension header runs past the packet */                     \
    X(ipv6, rx_bad_option)              /* an option TLV runs past its header */                           \
    X(ipv6, rx_chain_too_long)          /* more extension headers than we walk */                          \
    X(ipv6, rx_option_skipped)          /* unknown option of type 00xxxxxx skipped */                      \
    X(ipv6, rx_option_discarded)        /* unknown option 01/10/11xxxxxx: packet discarded */              \
    X(ipv6, rx_routing_ignored)         /* routing header with segments left 0: skipped */                 \
    X(ipv6, rx_routing_refused)         /* routing header with segments left: refused (RFC 5095) */       \
    X(ipv6, rx_atomic_fragments)        /* fragment header with offset 0, M 0 (RFC 6946) */               \
    X(ipv6, rx_bad_fragment_length)     /* non-last fragment not a multiple of 8 */                        \
    X(ipv6, rx_fragment_too_far)        /* fragment would reassemble beyond 65535 */                       \
    X(ipv6, rx_incomplete_first_fragment) /* first fragment without the whole header chain (RFC 7112) */  \
    X(ipv6, rx_nested_fragment)         /* a fragment header inside a fragment */                          \
    X(ipv6, rx_no_next_header)          /* next header 59: nothing to deliver */                           \
    X(ipv6, rx_unknown_next_header)     /* no handler for the upper-layer protocol */                      \
    X(ipv6, rx_multicast_transport_dropped) /* TCP to a multicast destination */                          \
    X(ipv6, rx_delivered)               /* handed to ICMPv6 or a transport */                              \
    X(ipv6, tx_packets)                 /* datagrams framed (each fragment counts) */                      \
    X(ipv6, tx_fragments)               /* fragments of datagrams beyond the path MTU */                   \
    X(ipv6, tx_no_route)                /* no on-link prefix and no router for the destination */          \
    X(ipv6, tx_no_source)               /* no usable source address */                                     \
    X(ipv6, tx_too_big)                 /* payload beyond 65535 */                                         \
    X(ipv6, tx_nd_queued)               /* datagrams held while the next hop resolves */                   \
    X(ipv6, tx_nd_dropped)              /* datagrams dropped: resolution queue or cache full */            \
    X(ipv6, tx_disabled)                /* not sent: IPv6 off */                                           \
    X(icmp6, rx_messages)               /* ICMPv6 messages delivered */                                    \
    X(icmp6, rx_truncated)              /* shorter than the type's fixed part */                           \
    X(icmp6, rx_bad_checksum)           /* checksum over the pseudo-header failed */                       \
    X(icmp6, rx_unsupported_type)       /* a type we neither answer nor act on */                          \
    X(icmp6, rx_mld_ignored)            /* multicast listener discovery: no MLD here */                    \
    X(icmp6, rx_echo_requests)          /* echo requests (answered) */                                     \
    X(icmp6, rx_echo_multicast)         /* of which to a multicast address (RFC 4443 4.2) */               \
    X(icmp6, rx_echo_replies)           /* echo replies */                                                 \
    X(icmp6, rx_dest_unreachable)       /* destination unreachable */                                      \
    X(icmp6, rx_packet_too_big)         /* packet too big */                                               \
    X(icmp6, rx_ptb_not_ours)           /* packet too big quoting a packet we did not send: ignored */     \
    X(icmp6, rx_ptb_not_lower)          /* packet too big not below the current path MTU: ignored */       \
    X(icmp6, rx_ptb_below_minimum)      /* packet too big below 1280: path MTU set to 1280 */              \
    X(icmp6, rx_time_exceeded)          /* time exceeded */                                                \
    X(icmp6, rx_parameter_problem)      /* parameter problem */                                            \
    X(icmp6, tx_echo_replies)           /* echo replies sent */                                            \
    X(icmp6, tx_parameter_problem)      /* parameter problem errors sent */                                \
    X(icmp6, tx_time_exceeded)          /* time exceeded (reassembly) errors sent */                       \
    X(icmp6, tx_error_suppressed)       /* not sent: RFC 4443 2.4 (e) (about an error, to multicast...) */  \
    X(icmp6, tx_error_rate_limited)     /* not sent: over ipv6.icmp_error_rate (RFC 4443 2.4 (f)) */       \
    X(nd, rx_router_solicitations)      /* router solicitations: a host ignores them (RFC 4861 6.2.6) */   \
    X(nd, rx_router_advertisements)     /* valid router advertisements */                                  \
    X(nd, rx_ra_ignored)                /* router advertisements while ipv6.accept_ra is off */            \
    X(nd, rx_neighbor_solicitations)    /* valid neighbour solicitations */                                \
    X(nd, rx_neighbor_advertisements)   /* valid neighbour advertisements */                               \
    X(nd, rx_redirects_ignored)         /* redirects: not acted on */                                      \
    X(nd, rx_bad_hop_limit)             /* hop limit not 255 (RFC 4861 7.1): discarded */                  \
    X(nd, rx_bad_code)                  /* ICMPv6 code not 0 */                                            \
    X(nd, rx_bad_checksum)              /* checksum failed */                                              \
    X(nd, rx_malformed)                 /* too short, or an option of length 0 or past the end */          \
    X(nd, rx_invalid)                   /* other RFC 4861 6.1/7.1 rules (multicast target, addresses) */   \
    X(nd, rx_fragmented)                /* ND in a packet with a fragment header (RFC 6980) */             \
    X(nd, rx_not_for_us)                /* solicitation for an address that is not ours */                \
    X(nd, rx_address_conflict)          /* another node advertises one of our addresses */                 \
    X(nd, tx_neighbor_solicitations)    /* solicitations for address resolution and probes */             \
    X(nd, tx_neighbor_advertisements)   /* advertisements sent */                                          \
    X(nd, tx_router_solicitations)      /* router solicitations sent (ipv6.accept_ra) */                  \
    X(nd, dad_solicitations)            /* DAD probes sent (RFC 4862 5.4.2) */                             \
    X(nd, dad_completed)                /* addresses that passed DAD */                                    \
    X(nd, dad_failed)                   /* addresses found duplicate: not used */                          \
    X(nd, routers_learned)              /* default routers added from advertisements */                    \
    X(nd, prefixes_learned)             /* on-link prefixes added from advertisements */                   \
    X(nd, routes_expired)               /* routers and prefixes whose lifetime ran out */                  \
    X(nd, routes_table_full)            /* routers or prefixes not added: table full */                    \
    X(nd, link_mtu_updates)             /* MTU options that changed the IPv6 link MTU */

enum class Counter6 : std::size_t {
#define TAPSTACK_X(group, name) group##_##name,
    TAPSTACK_IPV6_COUNTERS(TAPSTACK_X)
#undef TAPSTACK_X
        kCount
};

inline constexpr std::array<std::string_view, static_cast<std::size_t>(Counter6::kCount)> kCounter6Names = {
#define TAPSTACK_X(group, name) #group "." #name,
    TAPSTACK_IPV6_COUNTERS(TAPSTACK_X)
#undef TAPSTACK_X
};

class Counters6 {
public:
    void inc(Counter6 c, std::uint64_t n = 1) { values_[static_cast<std::size_t>(c)] += n; }
    std::uint64_t get(Counter6 c) const { return values_[static_cast<std::size_t>(c)]; }
    void visit(const CounterVisitor& visit) const {
        for (std::size_t i = 0; i < values_.size(); ++i) visit(kCounter6Names[i], values_[i]);
    }

private:
    std::array<std::uint64_t, static_cast<std::size_t>(Counter6::kCount)> values_{};
};

}  // namespace tapstack::iface
