// libFuzzer target: every wire format's view and Repr (round-trip
// property), and the TCP option parser. The first byte picks the format; the rest is the input.
// Whatever a view accepts must parse, emit, and re-parse to an equal Repr,
// and the emitted bytes must pass the view's own checks (checksums
// included). Any violation aborts, which libFuzzer reports as a crash.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <span>
#include <vector>

#include "stack/wire/arp.hpp"
#include "stack/wire/checksum.hpp"
#include "stack/wire/ethernet.hpp"
#include "stack/wire/icmp.hpp"
#include "stack/wire/ipv4.hpp"
#include "stack/wire/tcp_options.hpp"

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
    switch (data[0] % 6) {
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
        case 5:
            tcp_options(in);
            break;
        default:
            checksum(in);
            break;
    }
    return 0;
}
