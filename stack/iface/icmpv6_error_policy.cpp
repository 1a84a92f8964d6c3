// RFC 4443 2.4 (e) and (c); see icmpv6_error_policy.hpp.
#include "stack/iface/icmpv6_error_policy.hpp"

#include <algorithm>

#include "stack/wire/icmpv6.hpp"
#include "stack/wire/ipv6.hpp"
#include "stack/wire/ipv6_ext.hpp"

namespace tapstack::iface {

namespace {
constexpr std::size_t kMaxHeadersWalked = 16;
constexpr std::size_t kMaxQuote = wire::kIpv6MinimumMtu - wire::Ipv6View::kHeaderLen - 8;
}  // namespace

Icmpv6ErrorVerdict icmpv6_error_verdict(wire::Bytes packet, bool link_multicast, bool multicast_exception) {
    if (packet.size() < wire::Ipv6View::kHeaderLen) return Icmpv6ErrorVerdict::kTruncated;
    wire::Ipv6Address src;
    wire::Ipv6Address dst;
    std::copy(packet.begin() + 8, packet.begin() + 24, src.bytes.begin());
    std::copy(packet.begin() + 24, packet.begin() + 40, dst.bytes.begin());
    const auto end = wire::ipv6_chain_end(packet.subspan(wire::Ipv6View::kHeaderLen), packet[6], kMaxHeadersWalked);
    if (end && end->next_header == wire::next_header::kIcmpv6) {
        const std::size_t at = wire::Ipv6View::kHeaderLen + end->offset;
        // Without its type byte (RFC 7112's incomplete first fragment) the
        // packet is not known to be an error message.
        if (at < packet.size() && (wire::icmpv6_is_error(packet[at]) || packet[at] == wire::icmpv6_type::kRedirect)) {
            return Icmpv6ErrorVerdict::kAboutError;
        }
    }
    if ((dst.is_multicast() || link_multicast) && !multicast_exception) return Icmpv6ErrorVerdict::kMulticastDestination;
    if (src.is_unspecified() || src.is_multicast() || src.is_loopback() || src.is_ipv4_mapped()) {
        return Icmpv6ErrorVerdict::kBadSource;
    }
    return Icmpv6ErrorVerdict::kAllowed;
}

wire::Bytes icmpv6_error_quote(wire::Bytes packet) { return packet.first(std::min(packet.size(), kMaxQuote)); }

}  // namespace tapstack::iface
