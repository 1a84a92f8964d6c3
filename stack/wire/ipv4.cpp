// IPv4 header view and Repr (RFC 791 3.1); validation order follows
// RFC 1122 3.2.1.1-3.2.1.2, see ipv4.hpp.
#include "stack/wire/ipv4.hpp"

#include <algorithm>

#include "stack/wire/checksum.hpp"

namespace tapstack::wire {
namespace {

void set(Ipv4Error* out, Ipv4Error e) {
    if (out) *out = e;
}

}  // namespace

std::optional<Ipv4View> Ipv4View::check(Bytes packet, Ipv4Error* error) {
    if (packet.size() < kMinHeaderLen) {
        set(error, Ipv4Error::kTruncated);
        return std::nullopt;
    }
    if ((packet[0] >> 4) != 4) {
        set(error, Ipv4Error::kBadVersion);
        return std::nullopt;
    }
    const std::size_t ihl_bytes = std::size_t{packet[0] & 0x0fu} * 4;
    const std::size_t total = load_be16(packet.data() + 2);
    if (ihl_bytes < kMinHeaderLen || ihl_bytes > total) {
        set(error, Ipv4Error::kBadHeaderLength);
        return std::nullopt;
    }
    if (total > packet.size()) {
        set(error, Ipv4Error::kBadTotalLength);
        return std::nullopt;
    }
    if (internet_checksum(packet.first(ihl_bytes)) != 0) {
        set(error, Ipv4Error::kBadChecksum);
        return std::nullopt;
    }
    return Ipv4View(packet.first(total));
}

Ipv4Repr Ipv4Repr::parse(const Ipv4View& view) {
    Ipv4Repr r;
    r.src = view.src();
    r.dst = view.dst();
    r.protocol = view.protocol();
    r.ttl = view.ttl();
    r.dscp_ecn = view.dscp_ecn();
    r.identification = view.identification();
    r.dont_fragment = view.dont_fragment();
    r.more_fragments = view.more_fragments();
    r.fragment_offset = view.fragment_offset();
    r.payload_len = static_cast<std::uint16_t>(view.total_len() - view.header_len());
    const Bytes opts = view.options();
    std::copy(opts.begin(), opts.end(), r.options.begin());
    r.options_len = static_cast<std::uint8_t>(opts.size());
    return r;
}

void Ipv4Repr::emit(MutBytes out) const {
    std::uint8_t* p = out.data();
    const std::size_t hlen = header_len();
    p[0] = static_cast<std::uint8_t>(0x40 | (hlen / 4));
    p[1] = dscp_ecn;
    store_be16(p + 2, static_cast<std::uint16_t>(hlen + payload_len));
    store_be16(p + 4, identification);
    std::uint16_t flags_frag = static_cast<std::uint16_t>((fragment_offset / 8) & 0x1fff);
    if (dont_fragment) flags_frag |= 0x4000;
    if (more_fragments) flags_frag |= 0x2000;
    store_be16(p + 6, flags_frag);
    p[8] = ttl;
    p[9] = protocol;
    store_be16(p + 10, 0);
    store_be32(p + 12, src.value);
    store_be32(p + 16, dst.value);
    const std::size_t n = hlen - Ipv4View::kMinHeaderLen;
    const std::size_t given = std::min<std::size_t>(options_len, n);
    std::copy(options.begin(), options.begin() + static_cast<std::ptrdiff_t>(given), p + 20);
    std::fill(p + 20 + given, p + hlen, std::uint8_t{0});
    store_be16(p + 10, internet_checksum(Bytes(p, hlen)));
}

}  // namespace tapstack::wire
