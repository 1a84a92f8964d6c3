// Neighbour Discovery messages and options (RFC 4861 4); see ndp.hpp.
#include "stack/wire/ndp.hpp"

#include <algorithm>

namespace tapstack::wire {
namespace {

void set(NdpError* out, NdpError e) {
    if (out) *out = e;
}

// Bytes before the options, ICMPv6 header included.
std::optional<std::size_t> fixed_len(std::uint8_t type) {
    switch (type) {
        case icmpv6_type::kRouterSolicitation: return 8;
        case icmpv6_type::kRouterAdvertisement: return 16;
        case icmpv6_type::kNeighborSolicitation:
        case icmpv6_type::kNeighborAdvertisement: return 24;
        case icmpv6_type::kRedirect: return 40;
        default: return std::nullopt;
    }
}

Ipv6Address load_address(const std::uint8_t* p) {
    Ipv6Address a;
    std::copy(p, p + 16, a.bytes.begin());
    return a;
}

MacAddress load_mac(const std::uint8_t* p) {
    MacAddress m;
    std::copy(p, p + 6, m.bytes.begin());
    return m;
}

bool parse_options(Bytes area, NdpOptions& out) {
    for (std::size_t at = 0; at < area.size();) {
        if (at + 2 > area.size()) return false;
        const std::size_t len = std::size_t{area[at + 1]} * 8;
        if (len == 0 || at + len > area.size()) return false;
        const std::uint8_t* p = area.data() + at;
        switch (p[0]) {
            case ndp_option::kSourceLinkAddress:
                if (len == 8 && !out.source_link_address) out.source_link_address = load_mac(p + 2);
                break;
            case ndp_option::kTargetLinkAddress:
                if (len == 8 && !out.target_link_address) out.target_link_address = load_mac(p + 2);
                break;
            case ndp_option::kMtu:
                if (len == 8 && !out.mtu) out.mtu = load_be32(p + 4);
                break;
            case ndp_option::kPrefixInformation:
                if (len == 32) {
                    NdpPrefixInfo info;
                    info.prefix_len = p[2];
                    info.on_link = (p[3] & 0x80) != 0;
                    info.autonomous = (p[3] & 0x40) != 0;
                    info.valid_lifetime = load_be32(p + 4);
                    info.preferred_lifetime = load_be32(p + 8);
                    info.prefix = load_address(p + 16);
                    out.prefixes.push_back(info);
                }
                break;
            default:
                break;  // RFC 4861 4.6: unknown options are skipped
        }
        at += len;
    }
    return true;
}

void store_address(std::uint8_t* p, const Ipv6Address& a) { std::copy(a.bytes.begin(), a.bytes.end(), p); }

}  // namespace

bool is_ndp_type(std::uint8_t type) { return fixed_len(type).has_value(); }

std::size_t NdpOptions::buffer_len() const {
    return (source_link_address ? 8 : 0) + (target_link_address ? 8 : 0) + (mtu ? 8 : 0) + 32 * prefixes.size();
}

void NdpOptions::emit(std::uint8_t* p) const {
    auto link = [&p](std::uint8_t type, const MacAddress& mac) {
        p[0] = type;
        p[1] = 1;
        std::copy(mac.bytes.begin(), mac.bytes.end(), p + 2);
        p += 8;
    };
    if (source_link_address) link(ndp_option::kSourceLinkAddress, *source_link_address);
    if (target_link_address) link(ndp_option::kTargetLinkAddress, *target_link_address);
    if (mtu) {
        p[0] = ndp_option::kMtu;
        p[1] = 1;
        store_be16(p + 2, 0);
        store_be32(p + 4, *mtu);
        p += 8;
    }
    for (const NdpPrefixInfo& info : prefixes) {
        p[0] = ndp_option::kPrefixInformation;
        p[1] = 4;
        p[2] = info.prefix_len;
        p[3] = static_cast<std::uint8_t>((info.on_link ? 0x80 : 0) | (info.autonomous ? 0x40 : 0));
        store_be32(p + 4, info.valid_lifetime);
        store_be32(p + 8, info.preferred_lifetime);
        store_be32(p + 12, 0);
        store_address(p + 16, info.prefix);
        p += 32;
    }
}

std::optional<NdpRepr> NdpRepr::parse(const Icmpv6View& view, const Ipv6Address& src, const Ipv6Address& dst,
                                      NdpError* error) {
    const auto fixed = fixed_len(view.type());
    if (!fixed) {
        set(error, NdpError::kNotNdp);
        return std::nullopt;
    }
    const Bytes b = view.bytes();
    if (b.size() < *fixed) {
        set(error, NdpError::kTruncated);
        return std::nullopt;
    }
    if (!view.checksum_valid(src, dst)) {
        set(error, NdpError::kBadChecksum);
        return std::nullopt;
    }
    NdpRepr r;
    r.type = view.type();
    const std::uint8_t* p = b.data();
    switch (r.type) {
        case icmpv6_type::kRouterAdvertisement:
            r.cur_hop_limit = p[4];
            r.managed = (p[5] & 0x80) != 0;
            r.other = (p[5] & 0x40) != 0;
            r.other_flags = static_cast<std::uint8_t>(p[5] & 0x3f);
            r.router_lifetime = load_be16(p + 6);
            r.reachable_time = load_be32(p + 8);
            r.retrans_timer = load_be32(p + 12);
            break;
        case icmpv6_type::kNeighborSolicitation:
            r.target = load_address(p + 8);
            break;
        case icmpv6_type::kNeighborAdvertisement:
            r.router = (p[4] & 0x80) != 0;
            r.solicited = (p[4] & 0x40) != 0;
            r.override_ = (p[4] & 0x20) != 0;
            r.target = load_address(p + 8);
            break;
        case icmpv6_type::kRedirect:
            r.target = load_address(p + 8);
            r.destination = load_address(p + 24);
            break;
        default:
            break;
    }
    if (!parse_options(b.subspan(*fixed), r.options)) {
        set(error, NdpError::kBadOption);
        return std::nullopt;
    }
    return r;
}

std::size_t NdpRepr::buffer_len() const { return fixed_len(type).value_or(8) + options.buffer_len(); }

void NdpRepr::emit(MutBytes out, const Ipv6Address& src, const Ipv6Address& dst) const {
    const std::size_t fixed = fixed_len(type).value_or(8);
    std::uint8_t* p = out.data();
    std::fill(p, p + fixed, std::uint8_t{0});
    p[0] = type;
    switch (type) {
        case icmpv6_type::kRouterAdvertisement:
            p[4] = cur_hop_limit;
            p[5] = static_cast<std::uint8_t>((managed ? 0x80 : 0) | (other ? 0x40 : 0) | (other_flags & 0x3f));
            store_be16(p + 6, router_lifetime);
            store_be32(p + 8, reachable_time);
            store_be32(p + 12, retrans_timer);
            break;
        case icmpv6_type::kNeighborSolicitation:
            store_address(p + 8, target);
            break;
        case icmpv6_type::kNeighborAdvertisement:
            p[4] = static_cast<std::uint8_t>((router ? 0x80 : 0) | (solicited ? 0x40 : 0) | (override_ ? 0x20 : 0));
            store_address(p + 8, target);
            break;
        case icmpv6_type::kRedirect:
            store_address(p + 8, target);
            store_address(p + 24, destination);
            break;
        default:
            break;
    }
    options.emit(p + fixed);
    store_be16(p + 2, icmpv6_checksum(Bytes(p, buffer_len()), src, dst));
}

}  // namespace tapstack::wire
