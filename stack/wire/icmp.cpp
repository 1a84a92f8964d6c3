// ICMP view and Repr (RFC 792); see icmp.hpp for the supported types.
#include "stack/wire/icmp.hpp"

#include <algorithm>

#include "stack/wire/checksum.hpp"

namespace tapstack::wire {
namespace {

void set(IcmpError* out, IcmpError e) {
    if (out) *out = e;
}

constexpr std::size_t kMinIpv4Header = 20;

}  // namespace

bool icmp_is_query(std::uint8_t type) {
    switch (type) {
        case icmp_type::kEchoReply:
        case icmp_type::kEchoRequest:
        case icmp_type::kTimestamp:
        case icmp_type::kTimestampReply:
        case icmp_type::kInfoRequest:
        case icmp_type::kInfoReply:
        case icmp_type::kAddressMaskRequest:
        case icmp_type::kAddressMaskReply:
            return true;
        default:
            return false;
    }
}

std::optional<IcmpView> IcmpView::check(Bytes message, IcmpError* error) {
    if (message.size() < kHeaderLen) {
        set(error, IcmpError::kTruncated);
        return std::nullopt;
    }
    return IcmpView(message);
}

bool IcmpView::checksum_valid() const { return internet_checksum(bytes_) == 0; }

std::optional<IcmpRepr> IcmpRepr::parse(const IcmpView& view, IcmpError* error) {
    if (!view.checksum_valid()) {
        set(error, IcmpError::kBadChecksum);
        return std::nullopt;
    }
    IcmpRepr r;
    r.type = view.type();
    r.code = view.code();
    r.data = view.data();
    switch (view.type()) {
        case icmp_type::kEchoRequest:
        case icmp_type::kEchoReply:
            r.ident = view.rest_hi();
            r.seq = view.rest_lo();
            return r;
        case icmp_type::kDestUnreachable:
        case icmp_type::kTimeExceeded:
            if (r.data.size() < kMinIpv4Header) {
                set(error, IcmpError::kTruncated);
                return std::nullopt;
            }
            if (r.type == icmp_type::kDestUnreachable && r.code == icmp_code::kFragmentationNeeded) {
                r.next_hop_mtu = view.rest_lo();
            }
            return r;
        default:
            set(error, IcmpError::kUnsupportedType);
            return std::nullopt;
    }
}

void IcmpRepr::emit(MutBytes out) const {
    std::uint8_t* p = out.data();
    p[0] = type;
    p[1] = code;
    store_be16(p + 2, 0);
    if (type == icmp_type::kEchoRequest || type == icmp_type::kEchoReply) {
        store_be16(p + 4, ident);
        store_be16(p + 6, seq);
    } else {
        store_be16(p + 4, 0);
        store_be16(p + 6, type == icmp_type::kDestUnreachable ? next_hop_mtu : 0);
    }
    std::copy(data.begin(), data.end(), p + IcmpView::kHeaderLen);
    store_be16(p + 2, internet_checksum(Bytes(p, buffer_len())));
}

bool operator==(const IcmpRepr& a, const IcmpRepr& b) {
    return a.type == b.type && a.code == b.code && a.ident == b.ident && a.seq == b.seq &&
           a.next_hop_mtu == b.next_hop_mtu && std::equal(a.data.begin(), a.data.end(), b.data.begin(), b.data.end());
}

}  // namespace tapstack::wire
