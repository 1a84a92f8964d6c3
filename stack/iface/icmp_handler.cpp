// ICMP for the interface (RFC 792, RFC 1122 3.2.2): echo replies, counted
// handling of the messages we receive, and rate-limited error messages
// (destination unreachable, time exceeded) that obey icmp_error_policy.
// Errors about our TCP segments go to TCP (RFC 1122 3.2.2.1: to the
// transport named in the quoted header), which checks that the quote is
// credible (RFC 5927) and acts on it (RFC 1191 path MTU, soft errors).
//
// Echo replies are sent for any size that arrives (reassembled or not),
// with the request's identifier, sequence number and data (3.2.2.6), from
// our address; broadcast echo requests are ignored (3.2.2.6 MAY).
#include "stack/iface/interface_impl.hpp"

#include "stack/iface/icmp_error_policy.hpp"

namespace tapstack::iface {

void Interface::Impl::receive_icmp(Instant now, const wire::Ipv4Repr& header, Bytes payload, bool ip_broadcast) {
    ++st.icmp_rx_messages;
    wire::IcmpError err{};
    auto view = wire::IcmpView::check(payload, &err);
    std::optional<wire::IcmpRepr> msg;
    if (view) msg = wire::IcmpRepr::parse(*view, &err);
    if (!msg) {
        switch (err) {
            case wire::IcmpError::kTruncated:
                ++st.icmp_rx_truncated;
                break;
            case wire::IcmpError::kBadChecksum:
                ++st.icmp_rx_bad_checksum;
                break;
            case wire::IcmpError::kUnsupportedType:
                ++st.icmp_rx_unsupported_type;
                break;
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
            icmp_error_to_tcp(now, *msg);
            break;
        case wire::icmp_type::kTimeExceeded:
            ++st.icmp_rx_time_exceeded;
            icmp_error_to_tcp(now, *msg);
            break;
        default:
            ++st.icmp_rx_unsupported_type;
            break;
    }
}

// The quoted datagram is cut short (576 bytes at most, often 28): read
// its header fields directly rather than through Ipv4View, which wants it
// whole. Only a first fragment of a TCP datagram from our address, with
// the 8 bytes of TCP header that hold the ports and sequence number.
void Interface::Impl::icmp_error_to_tcp(Instant now, const wire::IcmpRepr& error) {
    const Bytes q = error.data;
    const std::size_t ihl = q.size() >= 1 ? std::size_t{static_cast<std::uint8_t>(q[0] & 0x0f)} * 4 : 0;
    const bool usable = q.size() >= wire::Ipv4View::kMinHeaderLen && (q[0] >> 4) == 4 &&
                        ihl >= wire::Ipv4View::kMinHeaderLen && q.size() >= ihl + 8 &&
                        q[9] == wire::ip_protocol::kTcp && (wire::load_be16(q.data() + 6) & 0x1fff) == 0 &&
                        Ipv4Address(wire::load_be32(q.data() + 12)) == our_ip();
    if (!usable) {
        ++st.icmp_rx_errors_not_for_tcp;
        return;
    }
    ++st.icmp_rx_errors_for_tcp;
    tcp::IcmpErrorReport r;
    r.type = error.type;
    r.code = error.code;
    r.next_hop_mtu = error.next_hop_mtu;
    r.src = Ipv4Address(wire::load_be32(q.data() + 12));
    r.dst = Ipv4Address(wire::load_be32(q.data() + 16));
    r.quoted_length = wire::load_be16(q.data() + 2);
    r.tcp = q.subspan(ihl);
    tcp.icmp_error(now, r);
}

// RFC 792 echo / RFC 1122 3.2.2.6: same identifier, sequence and data.
void Interface::Impl::send_echo_reply(Instant now, const wire::Ipv4Repr& request_header,
                                      const wire::IcmpRepr& request) {
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

void Interface::Impl::send_icmp_error(Instant now, std::uint8_t type, std::uint8_t code,
                                      const wire::Ipv4Repr& offending, Bytes leading_payload, bool link_broadcast) {
    if (icmp_error_verdict(offending, leading_payload, link_broadcast, config.address) != IcmpErrorVerdict::kAllowed) {
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

}  // namespace tapstack::iface
