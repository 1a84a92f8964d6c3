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
// Output: send_ipv4() numbers the datagram, routes it (on-link directly,
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
#include "stack/iface/ipv6_layer.hpp"
#include "stack/iface/reassembler.hpp"
#include "stack/iface/token_bucket.hpp"
#include "stack/wire/arp.hpp"
#include "stack/wire/ethernet.hpp"
#include "stack/wire/icmp.hpp"
#include "stack/wire/ipv4.hpp"

namespace tapstack::iface {

inline constexpr std::size_t kEthLen = wire::EthernetView::kHeaderLen;

struct InterfaceStats {
    // Ethernet
    std::uint64_t eth_rx_frames = 0;
    std::uint64_t eth_rx_truncated = 0;
    std::uint64_t eth_rx_not_for_us = 0;
    std::uint64_t eth_rx_multicast_dropped = 0;
    std::uint64_t eth_rx_bad_source = 0;
    std::uint64_t eth_rx_vlan_dropped = 0;
    std::uint64_t eth_rx_unknown_ethertype = 0;
    std::uint64_t eth_tx_frames = 0;
    std::uint64_t eth_tx_dropped = 0;
    // ARP
    std::uint64_t arp_rx_packets = 0;
    std::uint64_t arp_rx_truncated = 0;
    std::uint64_t arp_rx_bad_hardware_type = 0;
    std::uint64_t arp_rx_bad_protocol_type = 0;
    std::uint64_t arp_rx_bad_address_length = 0;
    std::uint64_t arp_rx_bad_operation = 0;
    std::uint64_t arp_rx_bad_sender = 0;
    std::uint64_t arp_rx_address_conflict = 0;
    std::uint64_t arp_rx_requests = 0;
    std::uint64_t arp_rx_replies = 0;
    std::uint64_t arp_rx_not_for_us = 0;
    std::uint64_t arp_rx_merged = 0;
    std::uint64_t arp_tx_requests = 0;
    std::uint64_t arp_tx_replies = 0;
    std::uint64_t arp_tx_announcements = 0;
    // IPv4
    std::uint64_t ipv4_rx_packets = 0;
    std::uint64_t ipv4_rx_truncated = 0;
    std::uint64_t ipv4_rx_bad_version = 0;
    std::uint64_t ipv4_rx_bad_header_length = 0;
    std::uint64_t ipv4_rx_bad_total_length = 0;
    std::uint64_t ipv4_rx_bad_checksum = 0;
    std::uint64_t ipv4_rx_bad_source = 0;
    std::uint64_t ipv4_rx_not_for_us = 0;
    std::uint64_t ipv4_rx_multicast_dropped = 0;
    std::uint64_t ipv4_rx_unicast_in_link_broadcast = 0;
    std::uint64_t ipv4_rx_broadcast_tcp_dropped = 0;
    std::uint64_t ipv4_rx_unknown_protocol = 0;
    std::uint64_t ipv4_rx_delivered = 0;
    std::uint64_t ipv4_tx_packets = 0;
    std::uint64_t ipv4_tx_fragments = 0;
    std::uint64_t ipv4_tx_no_route = 0;
    std::uint64_t ipv4_tx_df_too_big = 0;
    std::uint64_t ipv4_tx_too_big = 0;
    std::uint64_t ipv4_tx_arp_queued = 0;
    std::uint64_t ipv4_tx_arp_dropped = 0;
    // Offloads (issue 5)
    std::uint64_t ipv4_rx_gso_frames = 0;        // super-frames taken as one segment
    std::uint64_t ipv4_rx_csum_offloaded = 0;    // TCP checksum left unverified (partial / DATA_VALID)
    std::uint64_t ipv4_rx_bad_offload = 0;       // metadata that does not fit the frame: dropped
    std::uint64_t ipv4_tx_tso_frames = 0;        // TCP super-segments handed to the sink
    std::uint64_t ipv4_tx_tso_unresolved = 0;    // super-segments dropped: next hop not resolved
    // ICMP
    std::uint64_t icmp_rx_messages = 0;
    std::uint64_t icmp_rx_truncated = 0;
    std::uint64_t icmp_rx_bad_checksum = 0;
    std::uint64_t icmp_rx_unsupported_type = 0;
    std::uint64_t icmp_rx_echo_requests = 0;
    std::uint64_t icmp_rx_echo_broadcast_ignored = 0;
    std::uint64_t icmp_rx_echo_replies = 0;
    std::uint64_t icmp_rx_dest_unreachable = 0;
    std::uint64_t icmp_rx_time_exceeded = 0;
    std::uint64_t icmp_tx_echo_replies = 0;
    std::uint64_t icmp_tx_dest_unreachable = 0;
    std::uint64_t icmp_tx_time_exceeded = 0;
    std::uint64_t icmp_tx_error_suppressed = 0;
    std::uint64_t icmp_tx_error_rate_limited = 0;
};

// Where an outgoing datagram goes on the link.
// Where an outgoing datagram goes on the link.
struct NextHop {
    bool broadcast = false;
    wire::Ipv4Address ip;
};

struct Interface::Impl final : tcp::SegmentSink, LinkTx {
    using Bytes = wire::Bytes;
    using Ipv4Address = wire::Ipv4Address;
    using MacAddress = wire::MacAddress;

    Impl(const InterfaceConfig& c, FrameSink& s, std::uint64_t seed);

    InterfaceConfig config;
    FrameSink& sink;
    ArpCache arp;
    Reassembler reasm;
    TokenBucket icmp_errors;
    std::uint16_t next_ip_id;
    std::vector<Ipv4Address> unreachable;  // reported to TCP at the end of the entry point
    // TCP's sink has no time argument; the entry point that drove TCP sets it.
    Instant now_for_tcp{};
    InterfaceStats st;
    Ipv6Layer ip6;      // IPv6 beside IPv4 (ipv6_layer.hpp); frames leave through transmit_frame_parts()
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
    void send_echo_reply(Instant now, const wire::Ipv4Repr& request_header, const wire::IcmpRepr& request);
    void send_icmp_error(Instant now, std::uint8_t type, std::uint8_t code, const wire::Ipv4Repr& offending,
                         Bytes leading_payload, bool link_broadcast);
    // ipv4_output.cpp
    std::optional<NextHop> route(Ipv4Address dst) const;
    bool send_ipv4(Instant now, wire::Ipv4Repr header, Bytes payload);
    bool emit_fragments(MacAddress dst, const wire::Ipv4Repr& header, Bytes payload);
    void send_ipv4_frame(MacAddress dst, const wire::Ipv4Repr& header, std::span<const Bytes> payload_parts,
                         const wire::TxOffload& offload);
    void send_segment(Ipv4Address src, Ipv4Address dst, std::span<const std::uint8_t> segment) override;
    void send_segment_offload(Ipv4Address src, Ipv4Address dst, std::span<std::uint8_t> segment,
                              const wire::TxOffload& offload) override;
    void send_segment_parts(Ipv4Address src, Ipv4Address dst, tcp::SegmentSink::Parts parts,
                            const wire::TxOffload& offload) override;
    wire::Ipv4Repr tcp_datagram_header(Ipv4Address src, Ipv4Address dst, std::size_t segment_len,
                                       const wire::TxOffload& offload);
    // interface_counters.cpp
    void visit_counters(const CounterVisitor& v) const;
    // interface.cpp
    void flush_unreachable(Instant now);
    void poll(Instant now);
    Instant poll_at() const;
};

}  // namespace tapstack::iface
