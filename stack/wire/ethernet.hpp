// Ethernet II framing (IEEE 802.3 with an EtherType, RFC 894).
//
// EthernetView is a checked view over a received frame: once check() has
// succeeded, every accessor is in bounds. EthernetRepr is the plain header
// (addresses and EtherType) that emit() writes in front of a payload the
// caller places after it. There is no FCS: TAP frames carry none.
// Non-goals: 802.1Q tags are recognised by EtherType only (the interface
// counts and drops them); 802.3 length-field frames are just "unknown type".
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>

#include "stack/wire/addresses.hpp"
#include "stack/wire/byte_order.hpp"

namespace tapstack::wire {

namespace ethertype {
inline constexpr std::uint16_t kIpv4 = 0x0800;
inline constexpr std::uint16_t kArp = 0x0806;
inline constexpr std::uint16_t kVlan = 0x8100;  // IEEE 802.1Q
inline constexpr std::uint16_t kQinQ = 0x88a8;  // IEEE 802.1ad
inline constexpr std::uint16_t kIpv6 = 0x86dd;
}  // namespace ethertype

class EthernetView {
public:
    static constexpr std::size_t kHeaderLen = 14;

    // nullopt when the frame is shorter than the header.
    static std::optional<EthernetView> check(Bytes frame);

    MacAddress dst() const;
    MacAddress src() const;
    std::uint16_t ethertype() const { return load_be16(bytes_.data() + 12); }
    Bytes payload() const { return bytes_.subspan(kHeaderLen); }
    Bytes bytes() const { return bytes_; }

private:
    explicit EthernetView(Bytes b) : bytes_(b) {}
    Bytes bytes_;
};

struct EthernetRepr {
    MacAddress dst;
    MacAddress src;
    std::uint16_t ethertype = 0;

    static EthernetRepr parse(const EthernetView& view);
    static constexpr std::size_t buffer_len() { return EthernetView::kHeaderLen; }
    // Writes the 14-byte header at the front of `out` (out.size() >= 14).
    void emit(MutBytes out) const;
    friend bool operator==(const EthernetRepr&, const EthernetRepr&) = default;
};

}  // namespace tapstack::wire
