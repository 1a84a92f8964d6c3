// Interface::Impl: the state of one interface and the declarations of its
// parts, shared by the files that implement them.
//
// Theory of operation
// -------------------
// Input walks down one frame at a time: Ethernet filter (our MAC or
// broadcast) -> ARP or IPv4 validation (RFC 1122 3.2.1) -> address filter
// (ours, limited or subnet broadcast; never forwarded) -> reassembly ->
// ICMP, TCP, or protocol unreachable. Every way a frame can be dropped has
// its own counter (InterfaceStats; names in interface_counters.cpp).
// Output: send_ipv4() numbers the datagram (per-destination IDs,
// ipv4_id.hpp), routes it (on-link directly,
// else the gateway, else "no route"), and frames it (fragmented when larger
// than the MTU and DF is clear) or, while the next hop resolves, queues it
// whole in the ArpCache.
//
// Files: link_layer.cpp (Ethernet, ARP), ipv4_input.cpp, icmp_handler.cpp,
// ipv4_output.cpp (routing, fragmenting, TCP's SegmentSink),
// interface_counters.cpp, interface.cpp (construction, timers, public API).
//
// Re-entrancy: TCP calls send_segment() from inside tcp.receive() and
// tcp.poll(). Nothing here calls back into TCP from send_segment(): "host
// unreachable" reports are queued in `unreachable` and delivered at the end
// of the public entry point (flush_unreachable), when TCP is not on the
// stack. Frame headers are built in per-call buffers and the payload is
// the caller's (TCP's segment, a fragment of a datagram) handed to the sink
// as a separate part (FrameSink::transmit_parts), so a sink that feeds
// frames straight back into another interface cannot corrupt one in
// progress.
//
// Non-goals: IP options are accepted and skipped, never acted on (no
// record-route or source-route echo, RFC 1122 3.2.1.8 permits); no
// multicast groups; no forwarding; no UDP.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <vector>

#include "stack/iface/arp_cache.hpp"
#include "stack/iface/counters.hpp"
#include "stack/iface/interface.hpp"
#include "stack/iface/ipv4_id.hpp"
#include "stack/iface/ipv6_layer.hpp"
#include "stack/iface/reassembler.hpp"
#include "stack/iface/token_bucket.hpp"
#include "stack/wire/arp.hpp"
#include "stack/wire/ethernet.hpp"
#include "stack/wire/icmp.hpp"
#include "stack/wire/ipv4.hpp"

namespace tapstack::iface {

inline constexpr std::size_t kEthLen = wire::EthernetView::kHeaderLen;

// The interface's figures, X(layer, field, kind, help): the field is
// InterfaceStats::layer_field, the stable name "layer.field". Visited in
// the order eth, arp (then the ArpCache's), ipv4 input (then the
// Reassembler's), ipv4 output and offloads, icmp (interface_counters.cpp).
#define TAPSTACK_ETH_COUNTERS(X)                                                                      \
    X(eth, rx_frames, kCounter, "Ethernet frames received")                                           \
    X(eth, rx_truncated, kCounter, "Frames shorter than an Ethernet header")                          \
    X(eth, rx_not_for_us, kCounter, "Frames to another unicast MAC")                                  \
    X(eth, rx_multicast_dropped, kCounter, "Multicast frames dropped (no groups joined)")             \
    X(eth, rx_bad_source, kCounter, "Frames with a multicast or zero source MAC")                     \
    X(eth, rx_vlan_dropped, kCounter, "802.1Q tagged frames dropped")                                 \
    X(eth, rx_unknown_ethertype, kCounter, "Frames neither ARP nor IPv4")                             \
    X(eth, tx_frames, kCounter, "Ethernet frames handed to the driver")                               \
    X(eth, tx_dropped, kCounter, "Frames the driver refused (TX ring full, oversize)")

#define TAPSTACK_ARP_COUNTERS(X)                                                                      \
    X(arp, rx_packets, kCounter, "Well-formed ARP packets received")                                  \
    X(arp, rx_truncated, kCounter, "ARP packets shorter than their header")                           \
    X(arp, rx_bad_hardware_type, kCounter, "ARP packets not for Ethernet")                            \
    X(arp, rx_bad_protocol_type, kCounter, "ARP packets not for IPv4")                                \
    X(arp, rx_bad_address_length, kCounter, "ARP packets with wrong address lengths")                 \
    X(arp, rx_bad_operation, kCounter, "ARP packets neither request nor reply")                       \
    X(arp, rx_bad_sender, kCounter, "ARP packets with an unusable sender address")                    \
    X(arp, rx_address_conflict, kCounter, "ARP packets claiming our IPv4 address (RFC 5227)")         \
    X(arp, rx_requests, kCounter, "ARP requests received")                                            \
    X(arp, rx_replies, kCounter, "ARP replies received")                                              \
    X(arp, rx_not_for_us, kCounter, "ARP packets for another target address")                         \
    X(arp, rx_merged, kCounter, "Cache entries updated or created from ARP packets (RFC 826)")        \
    X(arp, tx_requests, kCounter, "ARP requests sent")                                                \
    X(arp, tx_replies, kCounter, "ARP replies sent")                                                  \
    X(arp, tx_announcements, kCounter, "Gratuitous ARP announcements sent (RFC 5227)")

#define TAPSTACK_IPV4_RX_COUNTERS(X)                                                                  \
    X(ipv4, rx_packets, kCounter, "IPv4 datagrams with a valid header")                               \
    X(ipv4, rx_truncated, kCounter, "IPv4 datagrams shorter than their header")                       \
    X(ipv4, rx_bad_version, kCounter, "IPv4 datagrams with a version other than 4")                   \
    X(ipv4, rx_bad_header_length, kCounter, "IPv4 datagrams with IHL below 5 or beyond the datagram") \
    X(ipv4, rx_bad_total_length, kCounter, "IPv4 datagrams whose total length exceeds the frame")     \
    X(ipv4, rx_bad_checksum, kCounter, "IPv4 headers with a bad checksum")                            \
    X(ipv4, rx_bad_source, kCounter, "IPv4 datagrams from a broadcast, multicast or zero source")     \
    X(ipv4, rx_not_for_us, kCounter, "IPv4 datagrams for another address (never forwarded)")          \
    X(ipv4, rx_multicast_dropped, kCounter, "IPv4 multicast datagrams dropped")                       \
    X(ipv4, rx_unicast_in_link_broadcast, kCounter, "Unicast IPv4 in a link-layer broadcast dropped") \
    X(ipv4, rx_broadcast_tcp_dropped, kCounter, "TCP to a broadcast address dropped")                 \
    X(ipv4, rx_unknown_protocol, kCounter, "IPv4 datagrams of a protocol other than ICMP or TCP")     \
    X(ipv4, rx_delivered, kCounter, "IPv4 datagrams delivered to ICMP or TCP")

#define TAPSTACK_IPV4_TX_COUNTERS(X)                                                                  \
    X(ipv4, tx_packets, kCounter, "IPv4 datagrams sent")                                              \
    X(ipv4, tx_fragments, kCounter, "IPv4 fragments sent")                                            \
    X(ipv4, tx_no_route, kCounter, "Datagrams dropped: no route to the destination")                  \
    X(ipv4, tx_df_too_big, kCounter, "Datagrams dropped: larger than the MTU with DF set")            \
    X(ipv4, tx_too_big, kCounter, "Datagrams dropped: larger than an IPv4 datagram can be")           \
    X(ipv4, tx_arp_queued, kCounter, "Datagrams queued while the next hop resolves")                  \
    X(ipv4, tx_arp_dropped, kCounter, "Datagrams dropped: the ARP queue was full")                    \
    X(ipv4, rx_gso_frames, kCounter, "GSO super-frames received and taken as one TCP segment")        \
    X(ipv4, rx_csum_offloaded, kCounter, "TCP checksums left to the device (partial or DATA_VALID)")  \
    X(ipv4, rx_bad_offload, kCounter, "Frames dropped: offload metadata does not fit the frame")      \
    X(ipv4, tx_tso_frames, kCounter, "TCP super-segments handed to the driver (TSO)")                 \
    X(ipv4, tx_tso_unresolved, kCounter, "TCP super-segments dropped: next hop not resolved")

#define TAPSTACK_ICMP_COUNTERS(X)                                                                     \
    X(icmp, rx_messages, kCounter, "ICMP messages received")                                          \
    X(icmp, rx_truncated, kCounter, "ICMP messages shorter than their header")                        \
    X(icmp, rx_bad_checksum, kCounter, "ICMP messages with a bad checksum")                           \
    X(icmp, rx_unsupported_type, kCounter, "ICMP messages of a type we ignore")                       \
    X(icmp, rx_echo_requests, kCounter, "ICMP echo requests received")                                \
    X(icmp, rx_echo_broadcast_ignored, kCounter, "Echo requests to a broadcast address ignored")      \
    X(icmp, rx_echo_replies, kCounter, "ICMP echo replies received")                                  \
    X(icmp, rx_dest_unreachable, kCounter, "ICMP destination unreachable messages received")          \
    X(icmp, rx_time_exceeded, kCounter, "ICMP time exceeded messages received")                       \
    X(icmp, rx_errors_for_tcp, kCounter, "ICMP errors quoting a TCP segment of ours: handed to TCP")   \
    X(icmp, rx_errors_not_for_tcp, kCounter, "ICMP errors quoting anything else (or too little of it)") \
    X(icmp, tx_echo_replies, kCounter, "ICMP echo replies sent")                                      \
    X(icmp, tx_dest_unreachable, kCounter, "ICMP destination unreachable messages sent")              \
    X(icmp, tx_time_exceeded, kCounter, "ICMP time exceeded messages sent (reassembly timeout)")      \
    X(icmp, tx_error_suppressed, kCounter, "ICMP errors RFC 1122 3.2.2 forbids (about ICMP errors, broadcasts, ...)")  \
    X(icmp, tx_error_rate_limited, kCounter, "ICMP errors not sent: over the rate limit")

struct InterfaceStats {
#define TAPSTACK_X(layer, field, kind, help) std::uint64_t layer##_##field = 0;
    TAPSTACK_ETH_COUNTERS(TAPSTACK_X)
    TAPSTACK_ARP_COUNTERS(TAPSTACK_X)
    TAPSTACK_IPV4_RX_COUNTERS(TAPSTACK_X)
    TAPSTACK_IPV4_TX_COUNTERS(TAPSTACK_X)
    TAPSTACK_ICMP_COUNTERS(TAPSTACK_X)
#undef TAPSTACK_X
};

// Where an outgoing datagram goes on the link.
struct NextHop {
    bool broadcast = false;
    wire::Ipv4Address ip;
};

struct Interface::Impl final : tcp::SegmentSink, LinkTx {
    // TCP as the IPv6 layer's transport for next header 6 (tcp6_glue.cpp).
    struct Tcp6Glue final : Ipv6Transport {
        explicit Tcp6Glue(Impl& impl) : m(impl) {}
        void receive(Instant now, const Ipv6Delivery& packet) override;
        void unreachable(Instant now, const wire::Ipv6Address& dst) override;
        void path_mtu_lowered(Instant now, const wire::Ipv6Address& dst, std::uint16_t mtu, wire::Bytes quoted) override;
        Impl& m;
    };

    using Bytes = wire::Bytes;
    using Ipv4Address = wire::Ipv4Address;
    using MacAddress = wire::MacAddress;

    Impl(const InterfaceConfig& c, FrameSink& s, const tcp::Secret& secret);

    InterfaceConfig config;
    FrameSink& sink;
    ArpCache arp;
    Reassembler reasm;
    TokenBucket icmp_errors;
    Ipv4IdGenerator ip_ids;
    std::vector<Ipv4Address> unreachable;  // reported to TCP at the end of the entry point
    // TCP's sink has no time argument; the entry point that drove TCP sets it.
    Instant now_for_tcp{};
    InterfaceStats st;
    Ipv6Layer ip6;      // IPv6 beside IPv4 (ipv6_layer.hpp); frames leave through transmit_frame_parts()
    Tcp6Glue tcp6{*this};
    tcp::TcpStack tcp;  // last: it may call send_segment() as soon as it exists

    Ipv4Address our_ip() const { return config.address.address; }
    bool is_subnet_broadcast(Ipv4Address a) const {
        // /31 and /32 have no broadcast address (RFC 3021).
        return config.address.prefix_len < 31 && a == config.address.broadcast();
    }
    bool is_broadcast(Ipv4Address a) const { return a.is_limited_broadcast() || is_subnet_broadcast(a); }

    // link_layer.cpp
    void transmit_frame(Bytes frame);
    void transmit_frame_parts(std::span<const Bytes> parts) override;  // LinkTx, for the IPv6 layer
    void send_arp(wire::ArpOperation op, MacAddress eth_dst, MacAddress target_mac, Ipv4Address target_ip);
    void send_arp_request(Ipv4Address target);
    void receive_frame(Instant now, Bytes frame, const wire::RxOffload& offload);
    void count_arp_error(wire::ArpError e);
    void receive_arp(Instant now, Bytes payload);
    // ipv4_input.cpp
    void count_ipv4_error(wire::Ipv4Error e);
    void receive_ipv4(Instant now, Bytes payload, bool link_broadcast, const wire::RxOffload& offload);
    void deliver(Instant now, const wire::Ipv4Repr& header, Bytes payload, bool link_broadcast, bool ip_broadcast,
                 tcp::RxChecksum checksum = tcp::RxChecksum::kVerify);
    // icmp_handler.cpp
    void receive_icmp(Instant now, const wire::Ipv4Repr& header, Bytes payload, bool ip_broadcast);
    void icmp_error_to_tcp(Instant now, const wire::IcmpRepr& error);
    void send_echo_reply(Instant now, const wire::Ipv4Repr& request_header, const wire::IcmpRepr& request);
    void send_icmp_error(Instant now, std::uint8_t type, std::uint8_t code, const wire::Ipv4Repr& offending,
                         Bytes leading_payload, bool link_broadcast);
    // ipv4_output.cpp
    std::optional<NextHop> route(Ipv4Address dst) const;
    bool send_ipv4(Instant now, wire::Ipv4Repr header, Bytes payload);
    bool emit_fragments(MacAddress dst, const wire::Ipv4Repr& header, Bytes payload);
    void send_ipv4_frame(MacAddress dst, const wire::Ipv4Repr& header, std::span<const Bytes> payload_parts,
                         const wire::TxOffload& offload);
    void send_segment(const wire::IpAddress& src, const wire::IpAddress& dst,
                      std::span<const std::uint8_t> segment) override;
    void send_segment_offload(const wire::IpAddress& src, const wire::IpAddress& dst, std::span<std::uint8_t> segment,
                              const wire::TxOffload& offload) override;
    void send_segment_parts(const wire::IpAddress& src, const wire::IpAddress& dst, tcp::SegmentSink::Parts parts,
                            const wire::TxOffload& offload) override;
    std::optional<wire::Ipv6Address> source_for(const wire::Ipv6Address& dst) override { return ip6.source_for(dst); }
    // tcp6_glue.cpp: a TCP segment in an IPv6 datagram.
    void send_segment6(const wire::Ipv6Address& src, const wire::Ipv6Address& dst, std::span<const std::uint8_t> segment);
    wire::Ipv4Repr tcp_datagram_header(Ipv4Address src, Ipv4Address dst, std::size_t segment_len,
                                       const wire::TxOffload& offload);
    // interface_counters.cpp
    void visit_metrics(const MetricVisitor& v) const;
    // interface.cpp
    void flush_unreachable(Instant now);
    void poll(Instant now);
    Instant poll_at() const;
};

}  // namespace tapstack::iface
