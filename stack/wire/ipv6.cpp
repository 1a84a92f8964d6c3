// IPv6 fixed header view and Repr (RFC 8200 3); see ipv6.hpp.
#include "stack/wire/ipv6.hpp"

#include <algorithm>

namespace tapstack::wire {
namespace {

void set(Ipv6Error* out, Ipv6Error e) {
    if (out) *out = e;
}

Ipv6Address load_address(const std::uint8_t* p) {
    Ipv6Address a;
    std::copy(p, p + 16, a.bytes.begin());
    return a;
}

}  // namespace

std::optional<Ipv6View> Ipv6View::check(Bytes packet, Ipv6Error* error) {
    if (packet.size() < kHeaderLen) {
        set(error, Ipv6Error::kTruncated);
        return std::nullopt;
    }
    if ((packet[0] >> 4) != 6) {
        set(error, Ipv6Error::kBadVersion);
        return std::nullopt;
    }
    const std::size_t total = kHeaderLen + load_be16(packet.data() + 4);
    if (total > packet.size()) {
        set(error, Ipv6Error::kBadPayloadLength);
        return std::nullopt;
    }
    return Ipv6View(packet.first(total));
}

Ipv6Address Ipv6View::src() const { return load_address(bytes_.data() + 8); }
Ipv6Address Ipv6View::dst() const { return load_address(bytes_.data() + 24); }

Ipv6Repr Ipv6Repr::parse(const Ipv6View& view) {
    Ipv6Repr r;
    r.src = view.src();
    r.dst = view.dst();
    r.next_header = view.next_header();
    r.hop_limit = view.hop_limit();
    r.traffic_class = view.traffic_class();
    r.flow_label = view.flow_label();
    r.payload_len = view.payload_len();
    return r;
}

void Ipv6Repr::emit(MutBytes out) const {
    std::uint8_t* p = out.data();
    store_be32(p, (std::uint32_t{6} << 28) | (std::uint32_t{traffic_class} << 20) | (flow_label & 0xfffffu));
    store_be16(p + 4, payload_len);
    p[6] = next_header;
    p[7] = hop_limit;
    std::copy(src.bytes.begin(), src.bytes.end(), p + 8);
    std::copy(dst.bytes.begin(), dst.bytes.end(), p + 24);
}

}  // namespace tapstack::wire
