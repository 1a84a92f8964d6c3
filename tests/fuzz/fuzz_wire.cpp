// libFuzzer target: every wire format's view and Repr (round-trip
// property), and the TCP option parser. The first byte picks the format; the
// rest is the input (0 Ethernet, 1 ARP, 2 IPv4, 3 ICMP, 4 checksum, 5 IPv6,
// 6 IPv6 extension headers, 7 ICMPv6 and ND, 8 IPv6 address text, 9 TCP
// option area).
// Whatever a view accepts must parse, emit, and re-parse to an equal Repr,
// and the emitted bytes must pass the view's own checks (checksums
// included). Any violation aborts, which libFuzzer reports as a crash.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "stack/wire/arp.hpp"
#include "stack/wire/checksum.hpp"
#include "stack/wire/ethernet.hpp"
#include "stack/wire/icmp.hpp"
#include "stack/wire/icmpv6.hpp"
#include "stack/wire/ipv4.hpp"
#include "stack/wire/tcp_options.hpp"
#include "stack/wire/ipv6.hpp"
#include "stack/wire/ipv6_ext.hpp"
#include "stack/wire/ndp.hpp"

namespace {

using namespace tapstack::wire;

void require(bool ok) {
    if (!ok) std::abort();
}

void ethernet(Bytes in) {
    auto v = EthernetView::check(in);
    if (!v) return require(in.size() < 14);
    const EthernetRepr r = EthernetRepr::parse(*v);
    std::vector<std::uint8_t> out(r.buffer_len());
    r.emit(out);
    require(std::equal(out.begin(), out.end(), in.begin()));
    auto again = EthernetView::check(out);
    require(again && EthernetRepr::parse(*again) == r);
}

void arp(Bytes in) {
    auto v = ArpView::check(in);
    if (!v) return;
    auto r = ArpRepr::parse(*v);
    if (!r) return;
    std::vector<std::uint8_t> out(r->buffer_len());
    r->emit(out);
    require(std::equal(out.begin(), out.end(), in.begin()));  // the accepted form has one encoding
    auto again = ArpView::check(out);
    require(again.has_value());
    auto r2 = ArpRepr::parse(*again);
    require(r2 && *r2 == *r);
}

void ipv4(Bytes in) {
    auto v = Ipv4View::check(in);
    if (!v) return;
    const Ipv4Repr r = Ipv4Repr::parse(*v);
    require(r.header_len() == v->header_len());
    require(r.buffer_len() == v->total_len());
    std::vector<std::uint8_t> out(r.buffer_len());
    r.emit(out);
    const Bytes payload = v->payload();
    std::copy(payload.begin(), payload.end(), out.begin() + static_cast<std::ptrdiff_t>(r.header_len()));
    auto again = Ipv4View::check(out);
    require(again.has_value());
    require(Ipv4Repr::parse(*again) == r);
    // The header words we do not model (reserved flag bit) are the only
    // allowed difference from the input.
    require(std::equal(out.begin() + 20, out.end(), v->bytes().begin() + 20));
}

void icmp(Bytes in) {
    auto v = IcmpView::check(in);
    if (!v) return require(in.size() < 8);
    auto r = IcmpRepr::parse(*v);
    if (!r) return;
    std::vector<std::uint8_t> out(r->buffer_len());
    r->emit(out);
    auto again = IcmpView::check(out);
    require(again && again->checksum_valid());
    auto r2 = IcmpRepr::parse(*again);
    require(r2 && *r2 == *r);
}

void ipv6(Bytes in) {
    auto v = Ipv6View::check(in);
    if (!v) return;
    const Ipv6Repr r = Ipv6Repr::parse(*v);
    require(r.buffer_len() == v->bytes().size());
    std::vector<std::uint8_t> out(r.buffer_len());
    r.emit(out);
    require(std::equal(out.begin(), out.begin() + 40, in.begin()));  // every header bit is modelled
    const Bytes payload = v->payload();
    std::copy(payload.begin(), payload.end(), out.begin() + 40);
    auto again = Ipv6View::check(out);
    require(again && Ipv6Repr::parse(*again) == r);
    // The chain walk stays inside the payload, whatever it holds.
    if (auto end = ipv6_chain_end(payload, r.next_header, 16)) require(end->offset <= payload.size());
}

// The first input byte picks the header kind.
void ipv6_ext(Bytes in) {
    if (in.empty()) return;
    const Bytes h = in.subspan(1);
    switch (in[0] % 3) {
        case 0: {
            auto v = Ipv6OptionsView::check(h);
            if (!v) return;
            const Ipv6OptionsRepr r = Ipv6OptionsRepr::parse(*v);
            require(r.buffer_len() == v->header_len());
            std::vector<std::uint8_t> out(r.buffer_len());
            r.emit(out);
            require(std::equal(out.begin(), out.end(), h.begin()));
            auto again = Ipv6OptionsView::check(out);
            require(again && Ipv6OptionsRepr::parse(*again) == r);
            for (const Ipv6Option& o : r.options) require(o.offset + o.wire_len() <= v->header_len());
            break;
        }
        case 1: {
            auto v = Ipv6RoutingView::check(h);
            if (!v) return;
            const Ipv6RoutingRepr r = Ipv6RoutingRepr::parse(*v);
            std::vector<std::uint8_t> out(r.buffer_len());
            r.emit(out);
            require(std::equal(out.begin(), out.end(), h.begin()));
            auto again = Ipv6RoutingView::check(out);
            require(again && Ipv6RoutingRepr::parse(*again) == r);
            break;
        }
        default: {
            auto v = Ipv6FragmentView::check(h);
            if (!v) return require(h.size() < 8);
            const Ipv6FragmentRepr r = Ipv6FragmentRepr::parse(*v);
            std::vector<std::uint8_t> out(r.buffer_len());
            r.emit(out);
            auto again = Ipv6FragmentView::check(out);
            require(again && Ipv6FragmentRepr::parse(*again) == r);
            break;
        }
    }
}

// ICMPv6 and ND need the pseudo-header: fixed addresses; a message that
// fails only its checksum is tried again with the checksum fixed, so the
// parsers behind the checksum are reached.
void icmpv6(Bytes in) {
    const Ipv6Address src = Ipv6Address::from_groups({0xfe80, 0, 0, 0, 0, 0, 0, 1});
    const Ipv6Address dst = Ipv6Address::from_groups({0xff02, 0, 0, 0, 0, 1, 0xff00, 2});
    std::vector<std::uint8_t> msg(in.begin(), in.end());
    if (msg.size() >= 4) {
        const std::uint16_t c = icmpv6_checksum(msg, src, dst);
        msg[2] = static_cast<std::uint8_t>(c >> 8);
        msg[3] = static_cast<std::uint8_t>(c);
    }
    auto v = Icmpv6View::check(msg);
    if (!v) return require(msg.size() < 4);
    require(v->checksum_valid(src, dst));
    if (auto r = Icmpv6Repr::parse(*v, src, dst)) {
        std::vector<std::uint8_t> out(r->buffer_len());
        r->emit(out, src, dst);
        auto again = Icmpv6View::check(out);
        require(again && again->checksum_valid(src, dst));
        auto r2 = Icmpv6Repr::parse(*again, src, dst);
        require(r2 && *r2 == *r);
    }
    if (auto n = NdpRepr::parse(*v, src, dst)) {
        std::vector<std::uint8_t> out(n->buffer_len());
        n->emit(out, src, dst);
        auto again = Icmpv6View::check(out);
        require(again && again->checksum_valid(src, dst));
        auto n2 = NdpRepr::parse(*again, src, dst);
        require(n2 && *n2 == *n);
    }
}

void address6(Bytes in) {
    // Text: whatever parses prints canonically and parses back to itself.
    const std::string_view text(reinterpret_cast<const char*>(in.data()), in.size());
    if (auto a = Ipv6Address::parse(text)) {
        const std::string canonical = a->to_string();
        auto b = Ipv6Address::parse(canonical);
        require(b && *b == *a && b->to_string() == canonical);
    }
    if (auto c = Ipv6Cidr::parse(text)) require(Ipv6Cidr::parse(c->to_string()) == c);
    // Bytes: any 16 bytes print to a text that parses back to them.
    if (in.size() >= 16) {
        Ipv6Address a;
        std::copy(in.begin(), in.begin() + 16, a.bytes.begin());
        auto b = Ipv6Address::parse(a.to_string());
        require(b && *b == a);
    }
}

void checksum(Bytes in) {
    // Split accumulation equals one pass, at a split point from the input.
    if (in.empty()) return;
    const std::size_t cut = in[0] % in.size();
    ChecksumAccumulator a;
    a.add(in.first(cut));
    a.add(in.subspan(cut));
    require(a.checksum() == internet_checksum(in));
}

// TCP options: any option area parses (an illegal length ends or skips,
// never fails: the segment is kept, as Linux does); what was understood
// emits to an area of at most 40 bytes that parses back, cleanly, to the
// same options (SACK blocks only as many as fit beside the others).
void tcp_options(Bytes in) {
    const Bytes area = in.first(std::min<std::size_t>(in.size(), 40));
    const TcpOptions o = TcpOptions::parse(area);
    std::vector<std::uint8_t> out(o.buffer_len());
    require(out.size() <= 40 && out.size() % 4 == 0);
    o.emit(out);
    const TcpOptions back = TcpOptions::parse(out);
    require(!back.malformed);
    require(back.mss == o.mss && back.window_scale == o.window_scale && back.sack_permitted == o.sack_permitted &&
            back.timestamps == o.timestamps && back.sack_count <= o.sack_count);
    for (std::size_t i = 0; i < back.sack_count; ++i) require(back.sack_blocks[i] == o.sack_blocks[i]);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (size == 0) return 0;
    const Bytes in(data + 1, size - 1);
    switch (data[0] % 10) {
        case 0:
            ethernet(in);
            break;
        case 1:
            arp(in);
            break;
        case 2:
            ipv4(in);
            break;
        case 3:
            icmp(in);
            break;
        case 4:
            checksum(in);
            break;
        case 5:
            ipv6(in);
            break;
        case 6:
            ipv6_ext(in);
            break;
        case 7:
            icmpv6(in);
            break;
        case 8:
            address6(in);
            break;
        default:
            tcp_options(in);
            break;
    }
    return 0;
}
