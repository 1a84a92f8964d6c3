// ICMPv6 for the IPv6 layer (RFC 4443): echo replies, counted handling of
// the messages we receive, Packet Too Big into the path MTU cache
// (RFC 8201), and rate-limited error messages that obey
// icmpv6_error_policy. Neighbour Discovery types go to ndp_handler.cpp,
// MLD is counted and ignored.
//
// Echo replies (4.2) carry the request's identifier, sequence number and
// data, whatever their size (fragmented as needed), and come from the
// address the request was sent to, or, for a request to a multicast
// address, from our best source address for the requester.
// Errors come from the invoking packet's destination when that is one of
// our addresses, else from our best source for its sender (RFC 4443 2.2).
#include "stack/iface/icmpv6_error_policy.hpp"
#include "stack/iface/ipv6_layer.hpp"

namespace tapstack::iface {

namespace {

bool is_mld(std::uint8_t type) {
    return type == wire::icmpv6_type::kMldQuery || type == wire::icmpv6_type::kMldReport ||
           type == wire::icmpv6_type::kMldDone || type == wire::icmpv6_type::kMldv2Report;
}

wire::Ipv6Address address_at(wire::Bytes b, std::size_t at) {
    wire::Ipv6Address a;
    std::copy(b.begin() + static_cast<std::ptrdiff_t>(at), b.begin() + static_cast<std::ptrdiff_t>(at + 16),
              a.bytes.begin());
    return a;
}

}  // namespace

void Ipv6Layer::receive_icmpv6(Instant now, const Packet& p, std::size_t at) {
    inc(Counter6::icmp6_rx_messages);
    wire::Icmpv6Error err{};
    auto view = wire::Icmpv6View::check(p.bytes.subspan(at), &err);
    if (!view) {
        inc(Counter6::icmp6_rx_truncated);
        return;
    }
    if (wire::is_ndp_type(view->type())) {
        receive_ndp(now, p, *view);
        return;
    }
    if (is_mld(view->type())) {
        inc(Counter6::icmp6_rx_mld_ignored);
        return;
    }
    if (!usable_source(p.header.src)) {
        inc(Counter6::ipv6_rx_bad_source);
        return;
    }
    auto msg = wire::Icmpv6Repr::parse(*view, p.header.src, p.header.dst, &err);
    if (!msg) {
        switch (err) {
            case wire::Icmpv6Error::kTruncated: inc(Counter6::icmp6_rx_truncated); break;
            case wire::Icmpv6Error::kBadChecksum: inc(Counter6::icmp6_rx_bad_checksum); break;
            case wire::Icmpv6Error::kUnsupportedType: inc(Counter6::icmp6_rx_unsupported_type); break;
        }
        return;
    }
    switch (msg->type) {
        case wire::icmpv6_type::kEchoRequest:
            inc(Counter6::icmp6_rx_echo_requests);
            if (p.header.dst.is_multicast()) inc(Counter6::icmp6_rx_echo_multicast);
            send_echo_reply(now, p, *msg);
            break;
        case wire::icmpv6_type::kEchoReply:
            inc(Counter6::icmp6_rx_echo_replies);
            break;
        case wire::icmpv6_type::kDestUnreachable:
            inc(Counter6::icmp6_rx_dest_unreachable);
            break;
        case wire::icmpv6_type::kPacketTooBig:
            inc(Counter6::icmp6_rx_packet_too_big);
            packet_too_big(now, *msg);
            break;
        case wire::icmpv6_type::kTimeExceeded:
            inc(Counter6::icmp6_rx_time_exceeded);
            break;
        case wire::icmpv6_type::kParameterProblem:
            inc(Counter6::icmp6_rx_parameter_problem);
            break;
        default:
            inc(Counter6::icmp6_rx_unsupported_type);
            break;
    }
}

void Ipv6Layer::send_echo_reply(Instant now, const Packet& p, const wire::Icmpv6Repr& request) {
    const auto src = addresses_.is_preferred(p.header.dst) ? std::optional(p.header.dst) : source_for(p.header.src);
    if (!src) {
        inc(Counter6::ipv6_tx_no_source);
        return;
    }
    wire::Icmpv6Repr reply = request;
    reply.type = wire::icmpv6_type::kEchoReply;
    reply.code = 0;
    std::vector<std::uint8_t> message(reply.buffer_len());
    reply.emit(message, *src, p.header.src);
    wire::Ipv6Repr out;
    out.src = *src;
    out.dst = p.header.src;
    out.next_header = wire::next_header::kIcmpv6;
    out.hop_limit = hop_limit_;
    if (send(now, out, message)) inc(Counter6::icmp6_tx_echo_replies);
}

// RFC 8201 4 with RFC 5927's first check: the quoted packet must be one we
// sent (its source one of our addresses); the cache applies the floor of
// 1280 and ignores anything not lower.
void Ipv6Layer::packet_too_big(Instant now, const wire::Icmpv6Repr& ptb) {
    const wire::Ipv6Address quoted_src = address_at(ptb.data, 8);
    const wire::Ipv6Address quoted_dst = address_at(ptb.data, 24);
    if (!addresses_.is_preferred(quoted_src) || quoted_dst.is_multicast() || addresses_.state(quoted_dst)) {
        inc(Counter6::icmp6_rx_ptb_not_ours);
        return;
    }
    switch (pmtu_.lower(now, quoted_dst, ptb.mtu, link_mtu_)) {
        case PathMtuCache::Update::kNotLower:
            inc(Counter6::icmp6_rx_ptb_not_lower);
            return;
        case PathMtuCache::Update::kLoweredToFloor:
            inc(Counter6::icmp6_rx_ptb_below_minimum);
            break;
        case PathMtuCache::Update::kLowered:
            break;
    }
    const std::uint16_t mtu = pmtu_.get(now, quoted_dst, link_mtu_);
    for (Ipv6Transport* t : transports_) {
        if (t != nullptr) t->path_mtu_lowered(now, quoted_dst, mtu, ptb.data);
    }
}

void Ipv6Layer::send_error(Instant now, const Packet& p, std::uint8_t type, std::uint8_t code, std::uint32_t pointer,
                           bool multicast_exception) {
    send_error_about(now, p.bytes, p.frame.link_multicast, type, code, pointer, multicast_exception);
}

void Ipv6Layer::send_error_about(Instant now, wire::Bytes invoking, bool link_multicast, std::uint8_t type,
                                 std::uint8_t code, std::uint32_t pointer, bool multicast_exception) {
    if (icmpv6_error_verdict(invoking, link_multicast, multicast_exception) != Icmpv6ErrorVerdict::kAllowed ||
        !usable_source(address_at(invoking, 8))) {
        inc(Counter6::icmp6_tx_error_suppressed);
        return;
    }
    if (!icmp_errors_.try_take(now)) {
        inc(Counter6::icmp6_tx_error_rate_limited);
        return;
    }
    const wire::Ipv6Address to = address_at(invoking, 8);
    const wire::Ipv6Address invoked = address_at(invoking, 24);
    const auto src = addresses_.is_preferred(invoked) ? std::optional(invoked) : source_for(to);
    if (!src) {
        inc(Counter6::ipv6_tx_no_source);
        return;
    }
    wire::Icmpv6Repr error;
    error.type = type;
    error.code = code;
    error.pointer = pointer;
    error.data = icmpv6_error_quote(invoking);
    std::vector<std::uint8_t> message(error.buffer_len());
    error.emit(message, *src, to);
    wire::Ipv6Repr out;
    out.src = *src;
    out.dst = to;
    out.next_header = wire::next_header::kIcmpv6;
    out.hop_limit = hop_limit_;
    if (!send(now, out, message)) return;
    inc(type == wire::icmpv6_type::kTimeExceeded ? Counter6::icmp6_tx_time_exceeded
                                                 : Counter6::icmp6_tx_parameter_problem);
}

}  // namespace tapstack::iface
