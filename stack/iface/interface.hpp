// Interface: one Ethernet interface with one IPv4 address, and its TCP.
//
// CONTRACT (written before the implementation; keep the public API):
// Frames in: receive_frame(). Frames out: the FrameSink. Time: handed in.
// Owns ARP (cache + pending queues), IPv4 (validation, reassembly, routing to
// the on-link subnet or the gateway), ICMP (echo, rate-limited errors), and
// the TcpStack (it implements tcp::SegmentSink to wrap TCP in IPv4).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string_view>
#include <vector>

#include "stack/metrics.hpp"
#include "stack/iface/frame_sink.hpp"
#include "stack/iface/ipv6_addresses.hpp"
#include "stack/iface/ipv6_config.hpp"
#include "stack/iface/ipv6_transport.hpp"
#include "stack/tcp/tcp_stack.hpp"
#include "stack/time.hpp"
#include "stack/wire/addresses.hpp"

namespace tapstack::iface {

struct InterfaceConfig {
    wire::MacAddress mac;                       // our MAC
    wire::Ipv4Cidr address;                     // our address and on-link prefix
    std::optional<wire::Ipv4Address> gateway;   // next hop for off-link destinations
    std::uint16_t mtu = 1500;                   // IP MTU (frame = mtu + 14)
    // ARP (RFC 826, RFC 1122 2.3.2)
    Duration arp_entry_lifetime = seconds(60);  // a resolved entry is refreshed after this
    Duration arp_retry_interval = seconds(1);
    std::uint32_t arp_max_retries = 3;          // then give up: queued packets dropped and counted
    std::uint32_t arp_queue_per_host = 16;      // packets held while resolving one next hop
    std::uint32_t arp_cache_size = 1024;
    std::uint32_t arp_queue_max_bytes = 1024 * 1024;  // all queued datagrams together
    // IPv4 reassembly (RFC 791, RFC 1122 3.3.2)
    Duration reassembly_timeout = seconds(30);
    std::uint32_t reassembly_max_bytes = 4 * 1024 * 1024;  // all partial datagrams together
    std::uint32_t reassembly_max_datagrams = 64;
    // ICMP errors (RFC 1122 3.2.2): token bucket
    std::uint32_t icmp_error_rate_per_sec = 100;
    std::uint8_t ttl = 64;
    tcp::TcpConfig tcp;                         // local_address and mtu are filled from the above
    Ipv6Config ipv6;                            // IPv6 beside IPv4 (off unless enabled; see ipv6_config.hpp)
    // tcp.tso: TCP super-segments leave as one frame (no
    // fragmentation, beyond the MTU) through FrameSink::transmit_offload().
};

class Interface {
public:
    // `secret` keys every unpredictable choice (ISNs, timestamps, ports,
    // IPv4 IDs): 128 bits from getrandom() in the daemon, fixed in tests.
    Interface(const InterfaceConfig& config, FrameSink& sink, const tcp::Secret& secret);
    ~Interface();

    // One Ethernet frame as received (no virtio-net header, no FCS).
    void receive_frame(Instant now, std::span<const std::uint8_t> frame);
    // A frame with the driver's offload metadata. A GSO
    // super-frame (IPv4 total length up to 64 KiB, beyond the MTU) is
    // processed as one large TCP segment; the TCP checksum is not verified
    // when it is partial (NEEDS_CSUM, and then only if it names the TCP
    // checksum field) or the device verified it (DATA_VALID). Frames whose
    // metadata does not fit them are counted (ipv4.rx_bad_offload) and dropped.
    void receive_frame(Instant now, std::span<const std::uint8_t> frame, const wire::RxOffload& offload);
    // Runs ARP, reassembly and TCP timers; emits pending output.
    void poll(Instant now);
    Instant poll_at() const;
    // Gratuitous ARP announcing our address (RFC 5227 announcement).
    void announce(Instant now);

    tcp::TcpStack& tcp();
    const InterfaceConfig& config() const;
    // Takes the arp_* fields of `config` (everything else is ignored): the
    // ARP cache's timings and bounds for what happens from now on
    // (ArpCache::set_config). TCP's settings change through tcp().set_config().
    void set_arp_config(const InterfaceConfig& config);
    // True when a datagram to `dst` has a next hop: on-link, or through the
    // gateway (what a TCP connect to it would use); false for "no route".
    bool has_route(wire::Ipv4Address dst) const;
    // IPv6 (ipv6_layer.hpp). A transport for an upper-layer protocol
    // (next header value); nullptr removes it.
    void set_ipv6_transport(std::uint8_t next_header, Ipv6Transport* transport);
    // The path MTU toward `dst` (link MTU unless a Packet Too Big lowered it).
    std::uint16_t ipv6_path_mtu(Instant now, const wire::Ipv6Address& dst) const;
    // Our source address for `dst` (RFC 6724); nullopt while none is usable.
    std::optional<wire::Ipv6Address> ipv6_source_for(const wire::Ipv6Address& dst) const;
    // Our IPv6 addresses, link-local first, with their DAD state.
    std::vector<Ipv6AddressInfo> ipv6_addresses() const;
    // Every counter and gauge of every layer (eth, arp, ipv4, icmp, ipv6, icmp6, nd, tcp),
    // each with its stable name, kind and help (stack/metrics.hpp).
    void visit_metrics(const MetricVisitor& visit) const;
    // The same figures by stable name only, e.g. "ipv4.rx_bad_checksum".
    void visit_counters(const std::function<void(std::string_view name, std::uint64_t value)>& visit) const;

private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

}  // namespace tapstack::iface
