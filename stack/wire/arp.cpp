// ARP view and Repr (RFC 826); see arp.hpp for what is accepted and why.
#include "stack/wire/arp.hpp"

#include <algorithm>

namespace tapstack::wire {
namespace {

constexpr std::uint16_t kHardwareEthernet = 1;
constexpr std::uint16_t kProtocolIpv4 = 0x0800;

void set(ArpError* out, ArpError e) {
    if (out) *out = e;
}

MacAddress mac_from(Bytes b) {
    MacAddress m;
    std::copy(b.begin(), b.end(), m.bytes.begin());
    return m;
}

}  // namespace

std::optional<ArpView> ArpView::check(Bytes packet, ArpError* error) {
    if (packet.size() < kFixedLen) {
        set(error, ArpError::kTruncated);
        return std::nullopt;
    }
    const std::size_t need = kFixedLen + 2u * (std::size_t{packet[4]} + packet[5]);
    if (packet.size() < need) {
        set(error, ArpError::kTruncated);
        return std::nullopt;
    }
    return ArpView(packet.first(need));
}

std::optional<ArpRepr> ArpRepr::parse(const ArpView& view, ArpError* error) {
    if (view.hardware_type() != kHardwareEthernet) {
        set(error, ArpError::kBadHardwareType);
        return std::nullopt;
    }
    if (view.protocol_type() != kProtocolIpv4) {
        set(error, ArpError::kBadProtocolType);
        return std::nullopt;
    }
    if (view.hardware_len() != 6 || view.protocol_len() != 4) {
        set(error, ArpError::kBadAddressLength);
        return std::nullopt;
    }
    const std::uint16_t op = view.operation();
    if (op != 1 && op != 2) {
        set(error, ArpError::kBadOperation);
        return std::nullopt;
    }
    ArpRepr r;
    r.operation = static_cast<ArpOperation>(op);
    r.sender_mac = mac_from(view.sender_hardware());
    r.sender_ip = Ipv4Address(load_be32(view.sender_protocol().data()));
    r.target_mac = mac_from(view.target_hardware());
    r.target_ip = Ipv4Address(load_be32(view.target_protocol().data()));
    return r;
}

void ArpRepr::emit(MutBytes out) const {
    std::uint8_t* p = out.data();
    store_be16(p, kHardwareEthernet);
    store_be16(p + 2, kProtocolIpv4);
    p[4] = 6;
    p[5] = 4;
    store_be16(p + 6, static_cast<std::uint16_t>(operation));
    std::copy(sender_mac.bytes.begin(), sender_mac.bytes.end(), p + 8);
    store_be32(p + 14, sender_ip.value);
    std::copy(target_mac.bytes.begin(), target_mac.bytes.end(), p + 18);
    store_be32(p + 24, target_ip.value);
}

}  // namespace tapstack::wire
