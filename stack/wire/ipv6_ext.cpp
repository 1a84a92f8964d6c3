// IPv6 extension header views and Reprs (RFC 8200 4); see ipv6_ext.hpp.
#include "stack/wire/ipv6_ext.hpp"

#include <algorithm>

#include "stack/wire/ipv6.hpp"

namespace tapstack::wire {
namespace {

void set(Ipv6ExtError* out, Ipv6ExtError e) {
    if (out) *out = e;
}

// The length of a header with the common "hdr ext len" field (8-octet
// units beyond the first 8), or nullopt if it runs past `from_header`.
std::optional<std::size_t> framed_len(Bytes from_header) {
    if (from_header.size() < 8) return std::nullopt;
    const std::size_t len = (std::size_t{from_header[1]} + 1) * 8;
    if (len > from_header.size()) return std::nullopt;
    return len;
}

}  // namespace

bool is_ipv6_extension_header(std::uint8_t nh) {
    return nh == next_header::kHopByHop || nh == next_header::kRouting || nh == next_header::kFragment ||
           nh == next_header::kDestinationOptions;
}

std::optional<Ipv6ChainEnd> ipv6_chain_end(Bytes from, std::uint8_t first, std::size_t max_headers) {
    std::uint8_t nh = first;
    std::size_t at = 0;
    for (std::size_t headers = 0;; ++headers) {
        if (!is_ipv6_extension_header(nh)) return Ipv6ChainEnd{nh, at};
        if (headers >= max_headers) return std::nullopt;
        const Bytes rest = from.subspan(at);
        if (nh == next_header::kFragment) {
            auto f = Ipv6FragmentView::check(rest);
            if (!f) return std::nullopt;
            if (f->fragment_offset() != 0) return Ipv6ChainEnd{nh, at};
            nh = f->next_header();
            at += Ipv6FragmentView::kLen;
            continue;
        }
        const auto len = framed_len(rest);
        if (!len) return std::nullopt;
        nh = rest[0];
        at += *len;
    }
}

bool operator==(const Ipv6Option& a, const Ipv6Option& b) {
    return a.type == b.type && std::equal(a.data.begin(), a.data.end(), b.data.begin(), b.data.end());
}

std::optional<Ipv6OptionsView> Ipv6OptionsView::check(Bytes from_header, Ipv6ExtError* error) {
    const auto len = framed_len(from_header);
    if (!len) {
        set(error, Ipv6ExtError::kTruncated);
        return std::nullopt;
    }
    const Bytes header = from_header.first(*len);
    for (std::size_t at = 2; at < header.size();) {
        if (header[at] == ipv6_option::kPad1) {
            ++at;
            continue;
        }
        if (at + 2 > header.size() || at + 2 + header[at + 1] > header.size()) {
            set(error, Ipv6ExtError::kBadOption);
            return std::nullopt;
        }
        at += 2 + std::size_t{header[at + 1]};
    }
    return Ipv6OptionsView(header);
}

std::vector<Ipv6Option> Ipv6OptionsView::options() const {
    std::vector<Ipv6Option> out;
    for (std::size_t at = 2; at < bytes_.size();) {
        Ipv6Option o;
        o.type = bytes_[at];
        o.offset = at;
        if (o.type != ipv6_option::kPad1) o.data = bytes_.subspan(at + 2, bytes_[at + 1]);
        at += o.wire_len();
        out.push_back(o);
    }
    return out;
}

Ipv6OptionsRepr Ipv6OptionsRepr::parse(const Ipv6OptionsView& view) {
    return Ipv6OptionsRepr{view.next_header(), view.options()};
}

std::size_t Ipv6OptionsRepr::buffer_len() const {
    std::size_t n = 2;
    for (const Ipv6Option& o : options) n += o.wire_len();
    return (n + 7) / 8 * 8;
}

void Ipv6OptionsRepr::emit(MutBytes out) const {
    const std::size_t len = buffer_len();
    std::uint8_t* p = out.data();
    p[0] = next_header;
    p[1] = static_cast<std::uint8_t>(len / 8 - 1);
    std::size_t at = 2;
    for (const Ipv6Option& o : options) {
        p[at] = o.type;
        if (o.type != ipv6_option::kPad1) {
            p[at + 1] = static_cast<std::uint8_t>(o.data.size());
            std::copy(o.data.begin(), o.data.end(), p + at + 2);
        }
        at += o.wire_len();
    }
    const std::size_t pad = len - at;
    if (pad == 1) {
        p[at] = ipv6_option::kPad1;
    } else if (pad > 1) {
        p[at] = ipv6_option::kPadN;
        p[at + 1] = static_cast<std::uint8_t>(pad - 2);
        std::fill(p + at + 2, p + len, std::uint8_t{0});
    }
}

std::optional<Ipv6RoutingView> Ipv6RoutingView::check(Bytes from_header, Ipv6ExtError* error) {
    const auto len = framed_len(from_header);
    if (!len) {
        set(error, Ipv6ExtError::kTruncated);
        return std::nullopt;
    }
    return Ipv6RoutingView(from_header.first(*len));
}

Ipv6RoutingRepr Ipv6RoutingRepr::parse(const Ipv6RoutingView& view) {
    return Ipv6RoutingRepr{view.next_header(), view.routing_type(), view.segments_left(), view.type_data()};
}

void Ipv6RoutingRepr::emit(MutBytes out) const {
    std::uint8_t* p = out.data();
    p[0] = next_header;
    p[1] = static_cast<std::uint8_t>(buffer_len() / 8 - 1);
    p[2] = routing_type;
    p[3] = segments_left;
    std::copy(data.begin(), data.end(), p + 4);
}

bool operator==(const Ipv6RoutingRepr& a, const Ipv6RoutingRepr& b) {
    return a.next_header == b.next_header && a.routing_type == b.routing_type &&
           a.segments_left == b.segments_left && std::equal(a.data.begin(), a.data.end(), b.data.begin(), b.data.end());
}

std::optional<Ipv6FragmentView> Ipv6FragmentView::check(Bytes from_header, Ipv6ExtError* error) {
    if (from_header.size() < kLen) {
        set(error, Ipv6ExtError::kTruncated);
        return std::nullopt;
    }
    return Ipv6FragmentView(from_header.first(kLen));
}

Ipv6FragmentRepr Ipv6FragmentRepr::parse(const Ipv6FragmentView& view) {
    return Ipv6FragmentRepr{view.next_header(), view.fragment_offset(), view.more_fragments(), view.identification()};
}

void Ipv6FragmentRepr::emit(MutBytes out) const {
    std::uint8_t* p = out.data();
    p[0] = next_header;
    p[1] = 0;
    store_be16(p + 2, static_cast<std::uint16_t>((fragment_offset & 0xfff8) | (more_fragments ? 1 : 0)));
    store_be32(p + 4, identification);
}

}  // namespace tapstack::wire
