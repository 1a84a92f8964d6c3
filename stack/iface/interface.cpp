// Interface: Ethernet in and out, ARP, IPv4 input/output, ICMP, and the
// glue that carries TCP segments (see interface.hpp for the contract).
//
// Theory of operation
// -------------------
// Input walks down one frame at a time: Ethernet filter (our MAC or
// broadcast) -> ARP or IPv4 validation (RFC 1122 3.2.1) -> address filter
// (ours, limited or subnet broadcast; never forwarded) -> reassembly ->
// ICMP, TCP, or protocol unreachable. Every way a frame can be dropped has
// its own counter.
// Output: send_ipv4() numbers the datagram, routes it (on-link directly,
// else the gateway, else "no route"), fragments it if it is larger than
// the MTU and DF is clear, and hands each fragment to the ARP layer, which
// either frames it at once or queues it while the next hop resolves.
//
// Re-entrancy: TCP calls send_segment() from inside tcp.receive() and
// tcp.poll(). Nothing here calls back into TCP from send_segment(): "host
// unreachable" reports are queued and delivered at the end of the public
// entry point (flush_unreachable), when TCP is not on the stack. Frames are
// built in per-call buffers, so a sink that feeds frames straight back into
// another interface cannot corrupt one in progress.
//
// Non-goals: IP options are accepted and skipped, never acted on (no
// record-route or source-route echo, RFC 1122 3.2.1.8 permits); no
// multicast groups; no forwarding; no UDP.
#include "stack/iface/interface.hpp"

#include <algorithm>
#include <vector>

#include "stack/iface/arp_cache.hpp"
#include "stack/iface/icmp_error_policy.hpp"
#include "stack/iface/ipv4_fragmenter.hpp"
#include "stack/iface/reassembler.hpp"
#include "stack/iface/token_bucket.hpp"
#include "stack/wire/arp.hpp"
#include "stack/wire/ethernet.hpp"
#include "stack/wire/icmp.hpp"
#include "stack/wire/ipv4.hpp"

namespace tapstack::iface {

using wire::Bytes;
using wire::Ipv4Address;
using wire::MacAddress;

namespace {

constexpr std::size_t kEthLen = wire::EthernetView::kHeaderLen;

tcp::TcpConfig tcp_config_for(const InterfaceConfig& c) {
    tcp::TcpConfig t = c.tcp;
    t.local_address = c.address.address;
    t.mtu = c.mtu;
    return t;
}

ArpCacheConfig arp_config_for(const InterfaceConfig& c) {
    return ArpCacheConfig{c.arp_entry_lifetime, c.arp_retry_interval, c.arp_max_retries, c.arp_queue_per_host,
                          c.arp_cache_size, c.arp_queue_max_bytes};
}

ReassemblyConfig reassembly_config_for(const InterfaceConfig& c) {
    return ReassemblyConfig{c.reassembly_timeout, c.reassembly_max_bytes, c.reassembly_max_datagrams};
}

// splitmix64: spreads the seed so the first IP ID is not guessable from it.
std::uint64_t mix(std::uint64_t x) {
    x += 0x9e3779b97f4a7c15ull;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
    return x ^ (x >> 31);
}

struct Stats {
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
struct NextHop {
    bool broadcast = false;
    Ipv4Address ip;
};

}  // namespace

struct Interface::Impl final : tcp::SegmentSink {
    Impl(const InterfaceConfig& c, FrameSink& s, std::uint64_t seed)
        : config(c),
          sink(s),
          arp(arp_config_for(c)),
          reasm(reassembly_config_for(c)),
          icmp_errors(c.icmp_error_rate_per_sec),
          next_ip_id(static_cast<std::uint16_t>(mix(seed))),
          tcp(tcp_config_for(c), *this, seed) {}

    InterfaceConfig config;
    FrameSink& sink;
    ArpCache arp;
    Reassembler reasm;
    TokenBucket icmp_errors;
    std::uint16_t next_ip_id;
    std::vector<Ipv4Address> unreachable;  // reported to TCP at the end of the entry point
    Stats st;
    tcp::TcpStack tcp;  // last: it may call send_segment() as soon as it exists

    Ipv4Address our_ip() const { return config.address.address; }
    bool is_subnet_broadcast(Ipv4Address a) const {
        // /31 and /32 have no broadcast address (RFC 3021).
        return config.address.prefix_len < 31 && a == config.address.broadcast();
    }
    bool is_broadcast(Ipv4Address a) const { return a.is_limited_broadcast() || is_subnet_broadcast(a); }

    // --- Link ---
    void transmit_frame(Bytes frame) {
        if (sink.transmit(frame)) {
            ++st.eth_tx_frames;
        } else {
            ++st.eth_tx_dropped;
        }
    }
    void send_arp(wire::ArpOperation op, MacAddress eth_dst, MacAddress target_mac, Ipv4Address target_ip) {
        std::vector<std::uint8_t> frame(kEthLen + wire::ArpRepr::kLen);
        wire::EthernetRepr{eth_dst, config.mac, wire::ethertype::kArp}.emit(frame);
        wire::ArpRepr{op, config.mac, our_ip(), target_mac, target_ip}.emit(wire::MutBytes(frame).subspan(kEthLen));
        transmit_frame(frame);
    }
    void send_arp_request(Ipv4Address target) {
        ++st.arp_tx_requests;
        send_arp(wire::ArpOperation::kRequest, MacAddress::broadcast(), MacAddress{}, target);
    }
    // `frame` has kEthLen bytes of room in front of an IPv4 packet.
    void frame_and_send(MacAddress dst, std::vector<std::uint8_t>& frame) {
        wire::EthernetRepr{dst, config.mac, wire::ethertype::kIpv4}.emit(frame);
        transmit_frame(frame);
    }

    // --- Input ---
    void receive_frame(Instant now, Bytes frame) {
        ++st.eth_rx_frames;
        auto eth = wire::EthernetView::check(frame);
        if (!eth) {
            ++st.eth_rx_truncated;
            return;
        }
        const MacAddress dst = eth->dst();
        bool link_broadcast = false;
        if (dst.is_broadcast()) {
            link_broadcast = true;
        } else if (dst.is_multicast()) {
            ++st.eth_rx_multicast_dropped;
            return;
        } else if (dst != config.mac) {
            ++st.eth_rx_not_for_us;
            return;
        }
        const MacAddress src = eth->src();
        if (src.is_multicast() || src.is_zero() || src == config.mac) {
            ++st.eth_rx_bad_source;
            return;
        }
        switch (eth->ethertype()) {
            case wire::ethertype::kArp:
                receive_arp(now, eth->payload());
                break;
            case wire::ethertype::kIpv4:
                receive_ipv4(now, eth->payload(), link_broadcast);
                break;
            case wire::ethertype::kVlan:
            case wire::ethertype::kQinQ:
                ++st.eth_rx_vlan_dropped;
                break;
            default:
                ++st.eth_rx_unknown_ethertype;
                break;
        }
    }

    void count_arp_error(wire::ArpError e) {
        switch (e) {
            case wire::ArpError::kTruncated: ++st.arp_rx_truncated; break;
            case wire::ArpError::kBadHardwareType: ++st.arp_rx_bad_hardware_type; break;
            case wire::ArpError::kBadProtocolType: ++st.arp_rx_bad_protocol_type; break;
            case wire::ArpError::kBadAddressLength: ++st.arp_rx_bad_address_length; break;
            case wire::ArpError::kBadOperation: ++st.arp_rx_bad_operation; break;
        }
    }

    // RFC 826 "Packet Reception", with RFC 5227 probes (sender 0.0.0.0)
    // answered but never cached.
    void receive_arp(Instant now, Bytes payload) {
        ++st.arp_rx_packets;
        wire::ArpError err{};
        auto view = wire::ArpView::check(payload, &err);
        std::optional<wire::ArpRepr> arp_pkt;
        if (view) arp_pkt = wire::ArpRepr::parse(*view, &err);
        if (!arp_pkt) {
            count_arp_error(err);
            return;
        }
        const wire::ArpRepr& a = *arp_pkt;
        if (a.operation == wire::ArpOperation::kRequest) {
            ++st.arp_rx_requests;
        } else {
            ++st.arp_rx_replies;
        }
        if (a.sender_mac.is_multicast() || a.sender_mac.is_zero() || a.sender_ip.is_multicast() ||
            is_broadcast(a.sender_ip) || a.sender_ip.is_loopback()) {
            ++st.arp_rx_bad_sender;
            return;
        }
        if (a.sender_ip == our_ip() && !our_ip().is_unspecified()) {
            // Someone else claims our address (RFC 5227 2.4); never cache it.
            ++st.arp_rx_address_conflict;
            return;
        }
        const bool for_us = !our_ip().is_unspecified() && a.target_ip == our_ip();
        if (!a.sender_ip.is_unspecified()) {
            std::vector<ArpCache::Packet> released;
            if (arp.update(now, a.sender_ip, a.sender_mac, for_us, released)) ++st.arp_rx_merged;
            for (const ArpCache::Packet& p : released) {
                // Our own datagram, queued whole: fragment it now.
                if (auto ip = wire::Ipv4View::check(p)) {
                    emit_fragments(a.sender_mac, wire::Ipv4Repr::parse(*ip), ip->payload());
                }
            }
        }
        if (!for_us) {
            ++st.arp_rx_not_for_us;
            return;
        }
        if (a.operation == wire::ArpOperation::kRequest) {
            ++st.arp_tx_replies;
            send_arp(wire::ArpOperation::kReply, a.sender_mac, a.sender_mac, a.sender_ip);
        }
    }

    void count_ipv4_error(wire::Ipv4Error e) {
        switch (e) {
            case wire::Ipv4Error::kTruncated: ++st.ipv4_rx_truncated; break;
            case wire::Ipv4Error::kBadVersion: ++st.ipv4_rx_bad_version; break;
            case wire::Ipv4Error::kBadHeaderLength: ++st.ipv4_rx_bad_header_length; break;
            case wire::Ipv4Error::kBadTotalLength: ++st.ipv4_rx_bad_total_length; break;
            case wire::Ipv4Error::kBadChecksum: ++st.ipv4_rx_bad_checksum; break;
        }
    }

    // RFC 1122 3.2.1 (validation), 3.2.1.3 (addresses), 3.3.6 (broadcasts).
    void receive_ipv4(Instant now, Bytes payload, bool link_broadcast) {
        ++st.ipv4_rx_packets;
        wire::Ipv4Error err{};
        auto ip = wire::Ipv4View::check(payload, &err);
        if (!ip) {
            count_ipv4_error(err);
            return;
        }
        const Ipv4Address src = ip->src();
        const Ipv4Address dst = ip->dst();
        if (src.is_multicast() || is_broadcast(src) || src.is_loopback() || src == our_ip()) {
            ++st.ipv4_rx_bad_source;
            return;
        }
        if (dst.is_multicast()) {
            ++st.ipv4_rx_multicast_dropped;
            return;
        }
        const bool ip_broadcast = is_broadcast(dst);
        if (!ip_broadcast && (dst != our_ip() || our_ip().is_unspecified())) {
            ++st.ipv4_rx_not_for_us;
            return;
        }
        if (!ip_broadcast && link_broadcast) {
            ++st.ipv4_rx_unicast_in_link_broadcast;
            return;
        }
        if (ip->is_fragment()) {
            auto whole = reasm.add(now, *ip);
            if (whole) deliver(now, whole->header, whole->payload, link_broadcast, ip_broadcast);
            return;
        }
        deliver(now, wire::Ipv4Repr::parse(*ip), ip->payload(), link_broadcast, ip_broadcast);
    }

    void deliver(Instant now, const wire::Ipv4Repr& header, Bytes payload, bool link_broadcast, bool ip_broadcast) {
        switch (header.protocol) {
            case wire::ip_protocol::kIcmp:
                ++st.ipv4_rx_delivered;
                receive_icmp(now, header, payload, ip_broadcast);
                break;
            case wire::ip_protocol::kTcp:
                if (ip_broadcast) {
                    ++st.ipv4_rx_broadcast_tcp_dropped;
                    return;
                }
                ++st.ipv4_rx_delivered;
                tcp.receive(now, header.src, header.dst, payload);
                break;
            default:
                ++st.ipv4_rx_unknown_protocol;
                send_icmp_error(now, wire::icmp_type::kDestUnreachable, wire::icmp_code::kProtocolUnreachable, header,
                                payload, link_broadcast);
                break;
        }
    }

    void receive_icmp(Instant now, const wire::Ipv4Repr& header, Bytes payload, bool ip_broadcast) {
        ++st.icmp_rx_messages;
        wire::IcmpError err{};
        auto view = wire::IcmpView::check(payload, &err);
        std::optional<wire::IcmpRepr> msg;
        if (view) msg = wire::IcmpRepr::parse(*view, &err);
        if (!msg) {
            switch (err) {
                case wire::IcmpError::kTruncated: ++st.icmp_rx_truncated; break;
                case wire::IcmpError::kBadChecksum: ++st.icmp_rx_bad_checksum; break;
                case wire::IcmpError::kUnsupportedType: ++st.icmp_rx_unsupported_type; break;
            }
            return;
        }
        switch (msg->type) {
            case wire::icmp_type::kEchoRequest:
                ++st.icmp_rx_echo_requests;
                if (ip_broadcast) {
                    // RFC 1122 3.2.2.6 allows silently ignoring broadcast pings.
                    ++st.icmp_rx_echo_broadcast_ignored;
                    return;
                }
                send_echo_reply(now, header, *msg);
                break;
            case wire::icmp_type::kEchoReply:
                ++st.icmp_rx_echo_replies;
                break;
            case wire::icmp_type::kDestUnreachable:
                ++st.icmp_rx_dest_unreachable;
                break;
            case wire::icmp_type::kTimeExceeded:
                ++st.icmp_rx_time_exceeded;
                break;
            default:
                ++st.icmp_rx_unsupported_type;
                break;
        }
    }

    // RFC 792 echo / RFC 1122 3.2.2.6: same identifier, sequence and data.
    void send_echo_reply(Instant now, const wire::Ipv4Repr& request_header, const wire::IcmpRepr& request) {
        wire::IcmpRepr reply = request;
        reply.type = wire::icmp_type::kEchoReply;
        reply.code = 0;
        std::vector<std::uint8_t> message(reply.buffer_len());
        reply.emit(message);
        wire::Ipv4Repr out;
        out.src = our_ip();
        out.dst = request_header.src;
        out.protocol = wire::ip_protocol::kIcmp;
        out.ttl = config.ttl;
        out.dscp_ecn = request_header.dscp_ecn;
        if (send_ipv4(now, out, message)) ++st.icmp_tx_echo_replies;
    }

    void send_icmp_error(Instant now, std::uint8_t type, std::uint8_t code, const wire::Ipv4Repr& offending,
                         Bytes leading_payload, bool link_broadcast) {
        if (icmp_error_verdict(offending, leading_payload, link_broadcast, config.address) !=
            IcmpErrorVerdict::kAllowed) {
            ++st.icmp_tx_error_suppressed;
            return;
        }
        if (!icmp_errors.try_take(now)) {
            ++st.icmp_tx_error_rate_limited;
            return;
        }
        const std::vector<std::uint8_t> quote = icmp_error_quote(offending, leading_payload);
        wire::IcmpRepr error;
        error.type = type;
        error.code = code;
        error.data = quote;
        std::vector<std::uint8_t> message(error.buffer_len());
        error.emit(message);
        wire::Ipv4Repr out;
        out.src = our_ip();
        out.dst = offending.src;
        out.protocol = wire::ip_protocol::kIcmp;
        out.ttl = config.ttl;
        if (!send_ipv4(now, out, message)) return;
        if (type == wire::icmp_type::kTimeExceeded) {
            ++st.icmp_tx_time_exceeded;
        } else {
            ++st.icmp_tx_dest_unreachable;
        }
    }

    // --- Output ---
    std::optional<NextHop> route(Ipv4Address dst) const {
        if (is_broadcast(dst)) return NextHop{true, dst};
        if (dst.is_multicast() || dst.is_unspecified() || dst == our_ip() || dst.is_loopback()) return std::nullopt;
        if (config.address.contains(dst)) return NextHop{false, dst};
        if (config.gateway && config.address.contains(*config.gateway) && *config.gateway != our_ip()) {
            return NextHop{false, *config.gateway};
        }
        return std::nullopt;
    }

    // Numbers, routes, fragments and sends one datagram. `header.src/dst/
    // protocol/ttl/dont_fragment` are the caller's; the rest is filled here.
    // A datagram waiting for ARP is queued whole and fragmented when its
    // next hop resolves, so one datagram is one queue slot.
    // False when it was dropped here (queued for ARP counts as sent).
    bool send_ipv4(Instant now, wire::Ipv4Repr header, Bytes payload) {
        const auto hop = route(header.dst);
        if (!hop) {
            ++st.ipv4_tx_no_route;
            unreachable.push_back(header.dst);
            return false;
        }
        if (header.header_len() + payload.size() > 65535) {
            ++st.ipv4_tx_too_big;
            return false;
        }
        if (header.header_len() + payload.size() > config.mtu && header.dont_fragment) {
            ++st.ipv4_tx_df_too_big;
            return false;
        }
        header.identification = next_ip_id++;
        header.payload_len = static_cast<std::uint16_t>(payload.size());
        if (hop->broadcast) return emit_fragments(MacAddress::broadcast(), header, payload);
        if (auto mac = arp.lookup(now, hop->ip)) return emit_fragments(*mac, header, payload);
        std::vector<std::uint8_t> datagram(header.buffer_len());
        header.emit(datagram);
        std::copy(payload.begin(), payload.end(), datagram.begin() + static_cast<std::ptrdiff_t>(header.header_len()));
        switch (arp.enqueue(now, hop->ip, datagram)) {
            case ArpCache::EnqueueResult::kQueuedSendRequest:
                ++st.ipv4_tx_arp_queued;
                send_arp_request(hop->ip);
                return true;
            case ArpCache::EnqueueResult::kQueued:
                ++st.ipv4_tx_arp_queued;
                return true;
            case ArpCache::EnqueueResult::kDroppedQueueFull:
            case ArpCache::EnqueueResult::kDroppedCacheFull:
                ++st.ipv4_tx_arp_dropped;
                return false;
        }
        return false;
    }

    // Frames a numbered datagram to `dst`, in fragments if it exceeds the MTU.
    bool emit_fragments(MacAddress dst, const wire::Ipv4Repr& header, Bytes payload) {
        const std::size_t n = fragment_ipv4(header, payload, config.mtu, [&](const wire::Ipv4Repr& f, Bytes chunk) {
            std::vector<std::uint8_t> frame(kEthLen + f.buffer_len());
            f.emit(wire::MutBytes(frame).subspan(kEthLen));
            std::copy(chunk.begin(), chunk.end(),
                      frame.begin() + static_cast<std::ptrdiff_t>(kEthLen + f.header_len()));
            ++st.ipv4_tx_packets;
            frame_and_send(dst, frame);
        });
        if (n == 0) {
            ++st.ipv4_tx_too_big;
            return false;
        }
        if (n > 1) st.ipv4_tx_fragments += n;
        return true;
    }

    // tcp::SegmentSink: TCP's output, in IPv4 with DF (we do PMTU by MSS).
    void send_segment(Ipv4Address src, Ipv4Address dst, std::span<const std::uint8_t> segment) override {
        wire::Ipv4Repr out;
        out.src = src;
        out.dst = dst;
        out.protocol = wire::ip_protocol::kTcp;
        out.ttl = config.ttl;
        out.dont_fragment = true;
        send_ipv4(now_for_tcp, out, segment);
    }
    // TCP's sink has no time argument; the entry point that drove TCP sets it.
    Instant now_for_tcp{};

    void flush_unreachable(Instant now) {
        if (unreachable.empty()) return;
        std::vector<Ipv4Address> hosts;
        hosts.swap(unreachable);
        std::sort(hosts.begin(), hosts.end());
        hosts.erase(std::unique(hosts.begin(), hosts.end()), hosts.end());
        for (Ipv4Address h : hosts) tcp.host_unreachable(now, h);
    }

    void poll(Instant now) {
        now_for_tcp = now;
        std::vector<Ipv4Address> retry;
        std::vector<ArpCache::GiveUp> gave_up;
        arp.poll(now, retry, gave_up);
        for (Ipv4Address ip : retry) send_arp_request(ip);
        for (const ArpCache::GiveUp& g : gave_up) {
            // Tell TCP about every destination that waited on this next hop
            // (the gateway stands for many).
            unreachable.push_back(g.ip);
            for (const ArpCache::Packet& p : g.dropped) {
                auto ip = wire::Ipv4View::check(p);
                if (ip) unreachable.push_back(ip->dst());
            }
        }
        std::vector<Reassembler::TimedOut> timed_out;
        reasm.poll(now, timed_out);
        for (const Reassembler::TimedOut& t : timed_out) {
            send_icmp_error(now, wire::icmp_type::kTimeExceeded, wire::icmp_code::kReassemblyTimeExceeded, t.header,
                            t.leading_payload, false);
        }
        tcp.poll(now);
        flush_unreachable(now);
    }

    Instant poll_at() const {
        if (!unreachable.empty()) return Instant{};
        return std::min({arp.poll_at(), reasm.poll_at(), tcp.poll_at()});
    }

    void visit_counters(const CounterVisitor& v) const {
        v("eth.rx_frames", st.eth_rx_frames);
        v("eth.rx_truncated", st.eth_rx_truncated);
        v("eth.rx_not_for_us", st.eth_rx_not_for_us);
        v("eth.rx_multicast_dropped", st.eth_rx_multicast_dropped);
        v("eth.rx_bad_source", st.eth_rx_bad_source);
        v("eth.rx_vlan_dropped", st.eth_rx_vlan_dropped);
        v("eth.rx_unknown_ethertype", st.eth_rx_unknown_ethertype);
        v("eth.tx_frames", st.eth_tx_frames);
        v("eth.tx_dropped", st.eth_tx_dropped);
        v("arp.rx_packets", st.arp_rx_packets);
        v("arp.rx_truncated", st.arp_rx_truncated);
        v("arp.rx_bad_hardware_type", st.arp_rx_bad_hardware_type);
        v("arp.rx_bad_protocol_type", st.arp_rx_bad_protocol_type);
        v("arp.rx_bad_address_length", st.arp_rx_bad_address_length);
        v("arp.rx_bad_operation", st.arp_rx_bad_operation);
        v("arp.rx_bad_sender", st.arp_rx_bad_sender);
        v("arp.rx_address_conflict", st.arp_rx_address_conflict);
        v("arp.rx_requests", st.arp_rx_requests);
        v("arp.rx_replies", st.arp_rx_replies);
        v("arp.rx_not_for_us", st.arp_rx_not_for_us);
        v("arp.rx_merged", st.arp_rx_merged);
        v("arp.tx_requests", st.arp_tx_requests);
        v("arp.tx_replies", st.arp_tx_replies);
        v("arp.tx_announcements", st.arp_tx_announcements);
        arp.visit_counters(v);
        v("ipv4.rx_packets", st.ipv4_rx_packets);
        v("ipv4.rx_truncated", st.ipv4_rx_truncated);
        v("ipv4.rx_bad_version", st.ipv4_rx_bad_version);
        v("ipv4.rx_bad_header_length", st.ipv4_rx_bad_header_length);
        v("ipv4.rx_bad_total_length", st.ipv4_rx_bad_total_length);
        v("ipv4.rx_bad_checksum", st.ipv4_rx_bad_checksum);
        v("ipv4.rx_bad_source", st.ipv4_rx_bad_source);
        v("ipv4.rx_not_for_us", st.ipv4_rx_not_for_us);
        v("ipv4.rx_multicast_dropped", st.ipv4_rx_multicast_dropped);
        v("ipv4.rx_unicast_in_link_broadcast", st.ipv4_rx_unicast_in_link_broadcast);
        v("ipv4.rx_broadcast_tcp_dropped", st.ipv4_rx_broadcast_tcp_dropped);
        v("ipv4.rx_unknown_protocol", st.ipv4_rx_unknown_protocol);
        v("ipv4.rx_delivered", st.ipv4_rx_delivered);
        reasm.visit_counters(v);
        v("ipv4.tx_packets", st.ipv4_tx_packets);
        v("ipv4.tx_fragments", st.ipv4_tx_fragments);
        v("ipv4.tx_no_route", st.ipv4_tx_no_route);
        v("ipv4.tx_df_too_big", st.ipv4_tx_df_too_big);
        v("ipv4.tx_too_big", st.ipv4_tx_too_big);
        v("ipv4.tx_arp_queued", st.ipv4_tx_arp_queued);
        v("ipv4.tx_arp_dropped", st.ipv4_tx_arp_dropped);
        v("icmp.rx_messages", st.icmp_rx_messages);
        v("icmp.rx_truncated", st.icmp_rx_truncated);
        v("icmp.rx_bad_checksum", st.icmp_rx_bad_checksum);
        v("icmp.rx_unsupported_type", st.icmp_rx_unsupported_type);
        v("icmp.rx_echo_requests", st.icmp_rx_echo_requests);
        v("icmp.rx_echo_broadcast_ignored", st.icmp_rx_echo_broadcast_ignored);
        v("icmp.rx_echo_replies", st.icmp_rx_echo_replies);
        v("icmp.rx_dest_unreachable", st.icmp_rx_dest_unreachable);
        v("icmp.rx_time_exceeded", st.icmp_rx_time_exceeded);
        v("icmp.tx_echo_replies", st.icmp_tx_echo_replies);
        v("icmp.tx_dest_unreachable", st.icmp_tx_dest_unreachable);
        v("icmp.tx_time_exceeded", st.icmp_tx_time_exceeded);
        v("icmp.tx_error_suppressed", st.icmp_tx_error_suppressed);
        v("icmp.tx_error_rate_limited", st.icmp_tx_error_rate_limited);
    }
};

Interface::Interface(const InterfaceConfig& config, FrameSink& sink, std::uint64_t secret_seed)
    : impl_(std::make_unique<Impl>(config, sink, secret_seed)) {}

Interface::~Interface() = default;

void Interface::receive_frame(Instant now, std::span<const std::uint8_t> frame) {
    impl_->now_for_tcp = now;
    impl_->receive_frame(now, frame);
    impl_->flush_unreachable(now);
}

void Interface::poll(Instant now) { impl_->poll(now); }

Instant Interface::poll_at() const { return impl_->poll_at(); }

void Interface::announce(Instant /*now*/) {
    // RFC 5227 2.3: an ARP request with sender and target both our address.
    if (impl_->our_ip().is_unspecified()) return;
    ++impl_->st.arp_tx_announcements;
    impl_->send_arp(wire::ArpOperation::kRequest, MacAddress::broadcast(), MacAddress{}, impl_->our_ip());
}

tcp::TcpStack& Interface::tcp() { return impl_->tcp; }

const InterfaceConfig& Interface::config() const { return impl_->config; }

void Interface::visit_counters(const std::function<void(std::string_view, std::uint64_t)>& visit) const {
    impl_->visit_counters(visit);
    impl_->tcp.visit_counters(visit);
}

}  // namespace tapstack::iface
