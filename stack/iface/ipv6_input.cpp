// IPv6 input (RFC 8200): the fixed header, the address filter, and the
// extension header chain with RFC 8200 4's actions.
//
// Validation failures of the fixed header are counted by reason and
// dropped silently. Sources that cannot name one node are dropped
// (multicast, RFC 4291 2.7; loopback and IPv4-mapped, which never appear
// on a link; one of our own addresses); the unspecified source is let
// through only to Neighbour Discovery (DAD, RFC 4862 5.4.2), and so is one
// of our own addresses (a node defending it answers our DAD from it,
// RFC 4862 5.4.4). Accepted
// destinations: a preferred address of ours, all-nodes, and the
// solicited-node groups we joined; a packet to a tentative address is
// dropped (RFC 4862 5.4). A unicast packet in a multicast frame is
// accepted (RFC 6085).
//
// The chain: Hop-by-Hop only right after the fixed header (else Parameter
// Problem code 1 at the Next Header byte naming it); options processed by
// their type's high bits (4.2); a routing header with segments left 0 is
// skipped, with segments left of any type (RH0 first of all, RFC 5095) it
// is refused with Parameter Problem code 0 at its type field, since we
// never forward; fragments as described at handle_fragment(); at most
// kMaxExtensionHeaders headers, beyond which the packet is dropped
// (counted; RFC 8504 5.3 lets a host limit them).
//
// Offloads: a DATA_VALID frame, or a NEEDS_CSUM one whose partial checksum
// names the TCP checksum field of a whole packet, reaches TCP with its
// checksum trusted; any other partial checksum, and every GSO frame (no
// TSO6 is negotiated with the device), is counted and dropped.
#include <algorithm>

#include "stack/iface/ipv6_layer.hpp"
#include "stack/wire/ethernet.hpp"
#include "stack/wire/ipv6_ext.hpp"

namespace tapstack::iface {

namespace {

// The smallest upper-layer header the first fragment must hold for the
// chain to be complete (RFC 7112 5, RFC 8200 4.5 "and the Upper-Layer
// header"): TCP's, UDP's and ICMPv6's fixed parts, one byte of anything else.
std::size_t upper_layer_min(std::uint8_t nh) {
    switch (nh) {
        case wire::next_header::kTcp: return 20;
        case wire::next_header::kUdp: return 8;
        case wire::next_header::kIcmpv6: return 4;
        case wire::next_header::kNoNext: return 0;
        default: return 1;
    }
}

}  // namespace

void Ipv6Layer::receive(Instant now, wire::Bytes packet, const RxFrameInfo& frame) {
    if (!config_.enabled) return;
    start(now);
    inc(Counter6::ipv6_rx_packets);
    if (addresses_.disabled()) {
        inc(Counter6::ipv6_rx_disabled);
        return;
    }
    wire::Ipv6Error err{};
    auto ip = wire::Ipv6View::check(packet, &err);
    if (!ip) {
        switch (err) {
            case wire::Ipv6Error::kTruncated: inc(Counter6::ipv6_rx_truncated); break;
            case wire::Ipv6Error::kBadVersion: inc(Counter6::ipv6_rx_bad_version); break;
            case wire::Ipv6Error::kBadPayloadLength: inc(Counter6::ipv6_rx_bad_payload_length); break;
        }
        return;
    }
    const wire::Ipv6Address src = ip->src();
    const wire::Ipv6Address dst = ip->dst();
    if (src.is_multicast() || src.is_loopback() || src.is_ipv4_mapped()) {
        inc(Counter6::ipv6_rx_bad_source);
        return;
    }
    if (dst.is_unspecified() || dst.is_loopback() || dst.is_ipv4_mapped()) {
        inc(Counter6::ipv6_rx_bad_destination);
        return;
    }
    if (!addresses_.accepts_destination(dst)) {
        if (addresses_.state(dst).has_value()) {
            inc(Counter6::ipv6_rx_to_tentative);
        } else {
            inc(Counter6::ipv6_rx_not_for_us);
        }
        return;
    }
    if (frame.offload.gso != wire::GsoType::kNone) {
        // No TSO6 is negotiated with the device (TUN_F_TSO6): a super-frame
        // here is not one we asked for.
        inc(Counter6::ipv6_rx_bad_offload);
        return;
    }
    Packet p{ip->bytes(), wire::Ipv6Repr::parse(*ip), frame, false};
    walk(now, p, wire::Ipv6View::kHeaderLen, p.header.next_header, wire::Ipv6View::kNextHeaderOffset);
}

// Follows the chain from the header of type `nh` at `at`; `naming_at` is
// the offset of the Next Header byte that holds `nh`.
void Ipv6Layer::walk(Instant now, const Packet& p, std::size_t at, std::uint8_t nh, std::size_t naming_at) {
    for (std::size_t headers = 0;; ++headers) {
        if (wire::is_ipv6_extension_header(nh) && headers >= kMaxExtensionHeaders) {
            inc(Counter6::ipv6_rx_chain_too_long);
            return;
        }
        const wire::Bytes rest = p.bytes.subspan(at);
        switch (nh) {
            case wire::next_header::kHopByHop:
                if (at != wire::Ipv6View::kHeaderLen) {
                    inc(Counter6::ipv6_rx_hbh_not_first);
                    send_error(now, p, wire::icmpv6_type::kParameterProblem,
                               wire::icmpv6_code::kUnrecognizedNextHeader, static_cast<std::uint32_t>(naming_at));
                    return;
                }
                [[fallthrough]];
            case wire::next_header::kDestinationOptions: {
                wire::Ipv6ExtError err{};
                auto opts = wire::Ipv6OptionsView::check(rest, &err);
                if (!opts) {
                    inc(err == wire::Ipv6ExtError::kTruncated ? Counter6::ipv6_rx_ext_truncated
                                                               : Counter6::ipv6_rx_bad_option);
                    return;
                }
                if (!process_options(now, p, at)) return;
                naming_at = at;
                nh = opts->next_header();
                at += opts->header_len();
                continue;
            }
            case wire::next_header::kRouting: {
                auto rh = wire::Ipv6RoutingView::check(rest);
                if (!rh) {
                    inc(Counter6::ipv6_rx_ext_truncated);
                    return;
                }
                if (rh->segments_left() != 0) {
                    // RFC 8200 4.4 for a type we do not process, RFC 5095 3
                    // for type 0: a host that does not forward processes none.
                    inc(Counter6::ipv6_rx_routing_refused);
                    send_error(now, p, wire::icmpv6_type::kParameterProblem, wire::icmpv6_code::kErroneousHeaderField,
                               static_cast<std::uint32_t>(at + wire::Ipv6RoutingView::kRoutingTypeOffset));
                    return;
                }
                inc(Counter6::ipv6_rx_routing_ignored);
                naming_at = at;
                nh = rh->next_header();
                at += rh->header_len();
                continue;
            }
            case wire::next_header::kFragment:
                handle_fragment(now, p, at, naming_at);
                return;
            case wire::next_header::kNoNext:
                inc(Counter6::ipv6_rx_no_next_header);
                return;
            default:
                deliver(now, p, nh, at, naming_at);
                return;
        }
    }
}

// RFC 8200 4.2: options we know (padding, router alert) pass; any other
// is handled by its type's two high bits. False: the packet is discarded.
bool Ipv6Layer::process_options(Instant now, const Packet& p, std::size_t at) {
    auto view = wire::Ipv6OptionsView::check(p.bytes.subspan(at));
    for (const wire::Ipv6Option& o : view->options()) {
        if (o.type == wire::ipv6_option::kPad1 || o.type == wire::ipv6_option::kPadN) continue;
        if (o.type == wire::ipv6_option::kRouterAlert && at == wire::Ipv6View::kHeaderLen) continue;
        const auto pointer = static_cast<std::uint32_t>(at + o.offset);
        switch (wire::ipv6_option_action(o.type)) {
            case wire::Ipv6OptionAction::kSkip:
                inc(Counter6::ipv6_rx_option_skipped);
                continue;
            case wire::Ipv6OptionAction::kDiscard:
                inc(Counter6::ipv6_rx_option_discarded);
                return false;
            case wire::Ipv6OptionAction::kDiscardSendProblem:
                inc(Counter6::ipv6_rx_option_discarded);
                send_error(now, p, wire::icmpv6_type::kParameterProblem, wire::icmpv6_code::kUnrecognizedOption,
                           pointer, true);
                return false;
            case wire::Ipv6OptionAction::kDiscardSendProblemUnlessMulticast:
                inc(Counter6::ipv6_rx_option_discarded);
                if (!p.header.dst.is_multicast()) {
                    send_error(now, p, wire::icmpv6_type::kParameterProblem, wire::icmpv6_code::kUnrecognizedOption,
                               pointer);
                }
                return false;
        }
    }
    return true;
}

// RFC 8200 4.5 with RFC 6946 (an atomic fragment is processed alone, never
// with other fragments), RFC 7112 (the first fragment holds the whole
// header chain and the upper-layer header, else Parameter Problem code 3
// pointing at 0), and the per-fragment checks of 4.5 (a non-last fragment
// is a nonzero multiple of 8 bytes: code 0 at the payload length; nothing
// beyond 65535 bytes: code 0 at the fragment offset).
void Ipv6Layer::handle_fragment(Instant now, const Packet& p, std::size_t at, std::size_t naming_at) {
    if (p.fragmented) {
        inc(Counter6::ipv6_rx_nested_fragment);
        return;
    }
    auto f = wire::Ipv6FragmentView::check(p.bytes.subspan(at));
    if (!f) {
        inc(Counter6::ipv6_rx_ext_truncated);
        return;
    }
    Packet inner = p;
    inner.fragmented = true;
    const std::size_t data_at = at + wire::Ipv6FragmentView::kLen;
    if (f->is_atomic()) {
        inc(Counter6::ipv6_rx_atomic_fragments);
        walk(now, inner, data_at, f->next_header(), at);
        return;
    }
    const wire::Bytes data = p.bytes.subspan(data_at);
    if (f->more_fragments() && (data.empty() || data.size() % 8 != 0)) {
        inc(Counter6::ipv6_rx_bad_fragment_length);
        send_error(now, p, wire::icmpv6_type::kParameterProblem, wire::icmpv6_code::kErroneousHeaderField,
                   wire::Ipv6View::kPayloadLengthOffset);
        return;
    }
    const std::size_t unfragmentable_ext = at - wire::Ipv6View::kHeaderLen;
    if (unfragmentable_ext + f->fragment_offset() + data.size() > 65535) {
        inc(Counter6::ipv6_rx_fragment_too_far);
        send_error(now, p, wire::icmpv6_type::kParameterProblem, wire::icmpv6_code::kErroneousHeaderField,
                   static_cast<std::uint32_t>(at + wire::Ipv6FragmentView::kFragmentOffsetOffset));
        return;
    }
    if (f->fragment_offset() == 0) {
        const auto end = wire::ipv6_chain_end(data, f->next_header(), kMaxExtensionHeaders);
        const bool complete = end && end->next_header != wire::next_header::kFragment &&
                              end->offset + upper_layer_min(end->next_header) <= data.size();
        if (!complete) {
            inc(Counter6::ipv6_rx_incomplete_first_fragment);
            send_error(now, p, wire::icmpv6_type::kParameterProblem, wire::icmpv6_code::kIncompleteHeaderChain, 0);
            return;
        }
    }
    Fragment6 frag;
    frag.src = p.header.src;
    frag.dst = p.header.dst;
    frag.identification = f->identification();
    frag.offset = f->fragment_offset();
    frag.more = f->more_fragments();
    frag.data = data;
    frag.packet = p.bytes;
    frag.fragment_header_at = at;
    frag.naming_field_at = naming_at;
    frag.next_header = f->next_header();
    frag.link_multicast = p.frame.link_multicast;
    auto whole = reasm_.add(now, frag);
    if (!whole) return;
    inner.bytes = whole->packet;
    inner.header.payload_len = static_cast<std::uint16_t>(whole->packet.size() - wire::Ipv6View::kHeaderLen);
    walk(now, inner, whole->start, whole->next_header, whole->naming_field_at);
}

void Ipv6Layer::deliver(Instant now, const Packet& p, std::uint8_t nh, std::size_t at, std::size_t naming_at) {
    if (nh == wire::next_header::kIcmpv6) {
        inc(Counter6::ipv6_rx_delivered);
        receive_icmpv6(now, p, at);
        return;
    }
    Ipv6Transport* transport = transports_[nh];
    if (transport == nullptr) {
        // RFC 8200 4: unrecognised Next Header (TCP too, until one is registered).
        inc(Counter6::ipv6_rx_unknown_next_header);
        send_error(now, p, wire::icmpv6_type::kParameterProblem, wire::icmpv6_code::kUnrecognizedNextHeader,
                   static_cast<std::uint32_t>(naming_at));
        return;
    }
    if (!usable_source(p.header.src)) {
        inc(Counter6::ipv6_rx_bad_source);
        return;
    }
    if (p.header.dst.is_multicast() && nh == wire::next_header::kTcp) {
        inc(Counter6::ipv6_rx_multicast_transport_dropped);
        return;
    }
    inc(Counter6::ipv6_rx_delivered);
    Ipv6Delivery d;
    d.src = p.header.src;
    d.dst = p.header.dst;
    d.hop_limit = p.header.hop_limit;
    d.traffic_class = p.header.traffic_class;
    // A partial checksum (NEEDS_CSUM: from the local kernel, nothing
    // crossed a wire) vouches only for the TCP checksum field of a whole
    // packet: csum_start at the TCP header, csum_offset 16; anything else
    // is dropped rather than guessed at, as IPv4 does.
    const wire::RxOffload& offload = p.frame.offload;
    if (offload.csum_partial) {
        const bool names_tcp_field = nh == wire::next_header::kTcp && !p.fragmented &&
                                     offload.csum_start == wire::EthernetView::kHeaderLen + at &&
                                     offload.csum_offset == 16;
        if (!names_tcp_field) {
            inc(Counter6::ipv6_rx_bad_offload);
            return;
        }
    }
    d.checksum_trusted = (offload.csum_valid || offload.csum_partial) && !p.fragmented;
    d.payload = p.bytes.subspan(at);
    transport->receive(now, d);
}

}  // namespace tapstack::iface
