// The RFC 1122 3.2.2 "never send an ICMP error about..." rules and the
// quote builder; see icmp_error_policy.hpp.
#include "stack/iface/icmp_error_policy.hpp"

#include <algorithm>

#include "stack/wire/icmp.hpp"

namespace tapstack::iface {

IcmpErrorVerdict icmp_error_verdict(const wire::Ipv4Repr& offending, wire::Bytes leading_payload, bool link_broadcast,
                                    const wire::Ipv4Cidr& our) {
    if (offending.fragment_offset != 0) return IcmpErrorVerdict::kNotFirstFragment;
    if (offending.protocol == wire::ip_protocol::kIcmp &&
        (leading_payload.empty() || !wire::icmp_is_query(leading_payload[0]))) {
        return IcmpErrorVerdict::kAboutIcmpError;
    }
    const wire::Ipv4Address dst = offending.dst;
    if (link_broadcast || dst.is_limited_broadcast() || dst.is_multicast() ||
        (our.prefix_len < 31 && dst == our.broadcast())) {
        return IcmpErrorVerdict::kBroadcastDestination;
    }
    const wire::Ipv4Address src = offending.src;
    if (src.is_unspecified() || src.is_limited_broadcast() || src.is_multicast() || src.is_loopback() ||
        (our.prefix_len < 31 && src == our.broadcast())) {
        return IcmpErrorVerdict::kBadSource;
    }
    return IcmpErrorVerdict::kAllowed;
}

std::vector<std::uint8_t> icmp_error_quote(const wire::Ipv4Repr& offending, wire::Bytes leading_payload) {
    constexpr std::size_t kMaxErrorDatagram = 576;
    const std::size_t hlen = offending.header_len();
    const std::size_t room = kMaxErrorDatagram - wire::Ipv4View::kMinHeaderLen - wire::IcmpView::kHeaderLen - hlen;
    const std::size_t n = std::min(leading_payload.size(), room);
    std::vector<std::uint8_t> quote(hlen + n);
    offending.emit(quote);
    std::copy(leading_payload.begin(), leading_payload.begin() + static_cast<std::ptrdiff_t>(n),
              quote.begin() + static_cast<std::ptrdiff_t>(hlen));
    return quote;
}

}  // namespace tapstack::iface
