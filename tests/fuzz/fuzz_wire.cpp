// libFuzzer target: every wire format's view and Repr (round-trip
// property). The first byte picks the format; the rest is the input.
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

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (size == 0) return 0;
    const Bytes in(data + 1, size - 1);
    switch (data[0] % 5) {
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
        default:
            checksum(in);
            break;
    }
    return 0;
}
