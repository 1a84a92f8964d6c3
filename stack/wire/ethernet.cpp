// Ethernet II header view and Repr; see ethernet.hpp for the contract.
#include "stack/wire/ethernet.hpp"

#include <algorithm>

namespace tapstack::wire {
namespace {

MacAddress load_mac(const std::uint8_t* p) {
    MacAddress mac;
    std::copy(p, p + 6, mac.bytes.begin());
    return mac;
}

}  // namespace

std::optional<EthernetView> EthernetView::check(Bytes frame) {
    if (frame.size() < kHeaderLen) return std::nullopt;
    return EthernetView(frame);
}

MacAddress EthernetView::dst() const { return load_mac(bytes_.data()); }
MacAddress EthernetView::src() const { return load_mac(bytes_.data() + 6); }

EthernetRepr EthernetRepr::parse(const EthernetView& view) {
    return EthernetRepr{view.dst(), view.src(), view.ethertype()};
}

void EthernetRepr::emit(MutBytes out) const {
    std::copy(dst.bytes.begin(), dst.bytes.end(), out.data());
    std::copy(src.bytes.begin(), src.bytes.end(), out.data() + 6);
    store_be16(out.data() + 12, ethertype);
}

}  // namespace tapstack::wire
