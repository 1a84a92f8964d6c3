// ICMPv6 view and Repr (RFC 4443); see icmpv6.hpp for the supported types.
#include "stack/wire/icmpv6.hpp"

#include <algorithm>

#include "stack/wire/checksum.hpp"
#include "stack/wire/ipv6.hpp"

namespace tapstack::wire {
namespace {

void set(Icmpv6Error* out, Icmpv6Error e) {
    if (out) *out = e;
}

}  // namespace

std::uint16_t icmpv6_checksum(Bytes message, const Ipv6Address& src, const Ipv6Address& dst) {
    ChecksumAccumulator acc;
    add_ipv6_pseudo_header(acc, src, dst, next_header::kIcmpv6, static_cast<std::uint32_t>(message.size()));
    acc.add(message.first(std::min<std::size_t>(2, message.size())));
    if (message.size() > 4) acc.add(message.subspan(4));
    return acc.checksum();
}

std::optional<Icmpv6View> Icmpv6View::check(Bytes message, Icmpv6Error* error) {
    if (message.size() < kHeaderLen) {
        set(error, Icmpv6Error::kTruncated);
        return std::nullopt;
    }
    return Icmpv6View(message);
}

bool Icmpv6View::checksum_valid(const Ipv6Address& src, const Ipv6Address& dst) const {
    ChecksumAccumulator acc;
    add_ipv6_pseudo_header(acc, src, dst, next_header::kIcmpv6, static_cast<std::uint32_t>(bytes_.size()));
    acc.add(bytes_);
    return acc.checksum() == 0;
}

std::optional<Icmpv6Repr> Icmpv6Repr::parse(const Icmpv6View& view, const Ipv6Address& src, const Ipv6Address& dst,
                                            Icmpv6Error* error) {
    if (!view.checksum_valid(src, dst)) {
        set(error, Icmpv6Error::kBadChecksum);
        return std::nullopt;
    }
    const Bytes b = view.bytes();
    Icmpv6Repr r;
    r.type = view.type();
    r.code = view.code();
    switch (r.type) {
        case icmpv6_type::kEchoRequest:
        case icmpv6_type::kEchoReply:
            if (b.size() < 8) break;
            r.ident = load_be16(b.data() + 4);
            r.seq = load_be16(b.data() + 6);
            r.data = b.subspan(8);
            return r;
        case icmpv6_type::kDestUnreachable:
        case icmpv6_type::kPacketTooBig:
        case icmpv6_type::kTimeExceeded:
        case icmpv6_type::kParameterProblem:
            if (b.size() < 8 + Ipv6View::kHeaderLen) break;
            if (r.type == icmpv6_type::kPacketTooBig) r.mtu = load_be32(b.data() + 4);
            if (r.type == icmpv6_type::kParameterProblem) r.pointer = load_be32(b.data() + 4);
            r.data = b.subspan(8);
            return r;
        default:
            set(error, Icmpv6Error::kUnsupportedType);
            return std::nullopt;
    }
    set(error, Icmpv6Error::kTruncated);
    return std::nullopt;
}

void Icmpv6Repr::emit(MutBytes out, const Ipv6Address& src, const Ipv6Address& dst) const {
    std::uint8_t* p = out.data();
    p[0] = type;
    p[1] = code;
    store_be16(p + 2, 0);
    switch (type) {
        case icmpv6_type::kEchoRequest:
        case icmpv6_type::kEchoReply:
            store_be16(p + 4, ident);
            store_be16(p + 6, seq);
            break;
        case icmpv6_type::kPacketTooBig:
            store_be32(p + 4, mtu);
            break;
        case icmpv6_type::kParameterProblem:
            store_be32(p + 4, pointer);
            break;
        default:
            store_be32(p + 4, 0);
            break;
    }
    std::copy(data.begin(), data.end(), p + 8);
    store_be16(p + 2, icmpv6_checksum(Bytes(p, buffer_len()), src, dst));
}

bool operator==(const Icmpv6Repr& a, const Icmpv6Repr& b) {
    return a.type == b.type && a.code == b.code && a.ident == b.ident && a.seq == b.seq && a.mtu == b.mtu &&
           a.pointer == b.pointer && std::equal(a.data.begin(), a.data.end(), b.data.begin(), b.data.end());
}

}  // namespace tapstack::wire
