// ARP for IPv4 over Ethernet (RFC 826).
//
// ArpView checks that the generic ARP header (RFC 826 "packet format") fits
// and that the hardware/protocol address lengths it announces fit too.
// ArpRepr::parse then accepts only what we speak: hardware type 1
// (Ethernet), protocol type 0x0800 (IPv4), hlen 6, plen 4, operation 1
// (request) or 2 (reply); anything else is reported as a distinct error so
// the interface can count it. Trailing bytes (Ethernet padding to 60 bytes)
// are ignored.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>

#include "stack/wire/addresses.hpp"
#include "stack/wire/byte_order.hpp"

namespace tapstack::wire {

enum class ArpError : std::uint8_t {
    kTruncated,         // shorter than the header or than its own address lengths
    kBadHardwareType,   // htype != 1
    kBadProtocolType,   // ptype != 0x0800
    kBadAddressLength,  // hlen != 6 or plen != 4
    kBadOperation,      // op not 1 or 2
};

class ArpView {
public:
    static constexpr std::size_t kFixedLen = 8;  // htype, ptype, hlen, plen, op

    static std::optional<ArpView> check(Bytes packet, ArpError* error = nullptr);

    std::uint16_t hardware_type() const { return load_be16(bytes_.data()); }
    std::uint16_t protocol_type() const { return load_be16(bytes_.data() + 2); }
    std::uint8_t hardware_len() const { return bytes_[4]; }
    std::uint8_t protocol_len() const { return bytes_[5]; }
    std::uint16_t operation() const { return load_be16(bytes_.data() + 6); }
    // The four addresses, with the lengths the header announces.
    Bytes sender_hardware() const { return bytes_.subspan(kFixedLen, hardware_len()); }
    Bytes sender_protocol() const { return bytes_.subspan(kFixedLen + hardware_len(), protocol_len()); }
    Bytes target_hardware() const {
        return bytes_.subspan(kFixedLen + hardware_len() + protocol_len(), hardware_len());
    }
    Bytes target_protocol() const {
        return bytes_.subspan(kFixedLen + 2u * hardware_len() + protocol_len(), protocol_len());
    }

private:
    explicit ArpView(Bytes b) : bytes_(b) {}
    Bytes bytes_;
};

enum class ArpOperation : std::uint16_t { kRequest = 1, kReply = 2 };

struct ArpRepr {
    static constexpr std::size_t kLen = 28;  // Ethernet/IPv4 ARP

    ArpOperation operation = ArpOperation::kRequest;
    MacAddress sender_mac;
    Ipv4Address sender_ip;
    MacAddress target_mac;
    Ipv4Address target_ip;

    static std::optional<ArpRepr> parse(const ArpView& view, ArpError* error = nullptr);
    static constexpr std::size_t buffer_len() { return kLen; }
    void emit(MutBytes out) const;  // out.size() >= kLen
    friend bool operator==(const ArpRepr&, const ArpRepr&) = default;
};

}  // namespace tapstack::wire
