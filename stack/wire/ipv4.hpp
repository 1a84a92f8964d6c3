// The IPv4 header (RFC 791 section 3.1).
//
// Ipv4View::check() validates the structure once at ingress, in the order of
// RFC 1122 3.2.1.1-3.2.1.2: the fixed header fits, version is 4, IHL >= 5,
// IHL*4 <= total length <= bytes available, header checksum is correct.
// Each failure has its own Ipv4Error so the interface counts it by reason.
// Bytes after total length (Ethernet padding) are outside the view.
//
// Ipv4Repr is the header as plain values. Options are carried as opaque
// bytes (we never act on them, RFC 1122 3.2.1.8 lets a host ignore the ones
// it does not implement), so header_len() stays what arrived and the
// transport header is found at IHL*4. Fragment offset is in bytes.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>

#include "stack/wire/addresses.hpp"
#include "stack/wire/byte_order.hpp"

namespace tapstack::wire {

namespace ip_protocol {
inline constexpr std::uint8_t kIcmp = 1;
inline constexpr std::uint8_t kTcp = 6;
inline constexpr std::uint8_t kUdp = 17;
}  // namespace ip_protocol

enum class Ipv4Error : std::uint8_t {
    kTruncated,        // fewer than 20 bytes
    kBadVersion,       // version != 4
    kBadHeaderLength,  // IHL < 5, or IHL*4 > total length
    kBadTotalLength,   // total length > bytes available
    kBadChecksum,
};

class Ipv4View {
public:
    static constexpr std::size_t kMinHeaderLen = 20;
    static constexpr std::size_t kMaxHeaderLen = 60;

    // Full validation, checksum included.
    static std::optional<Ipv4View> check(Bytes packet, Ipv4Error* error = nullptr);

    std::uint8_t version() const { return static_cast<std::uint8_t>(bytes_[0] >> 4); }
    std::size_t header_len() const { return std::size_t{bytes_[0] & 0x0fu} * 4; }
    std::uint8_t dscp_ecn() const { return bytes_[1]; }
    std::uint16_t total_len() const { return load_be16(bytes_.data() + 2); }
    std::uint16_t identification() const { return load_be16(bytes_.data() + 4); }
    bool dont_fragment() const { return (bytes_[6] & 0x40) != 0; }
    bool more_fragments() const { return (bytes_[6] & 0x20) != 0; }
    std::uint16_t fragment_offset() const {  // in bytes
        return static_cast<std::uint16_t>((load_be16(bytes_.data() + 6) & 0x1fff) * 8);
    }
    bool is_fragment() const { return more_fragments() || fragment_offset() != 0; }
    std::uint8_t ttl() const { return bytes_[8]; }
    std::uint8_t protocol() const { return bytes_[9]; }
    std::uint16_t header_checksum() const { return load_be16(bytes_.data() + 10); }
    Ipv4Address src() const { return Ipv4Address(load_be32(bytes_.data() + 12)); }
    Ipv4Address dst() const { return Ipv4Address(load_be32(bytes_.data() + 16)); }
    Bytes header() const { return bytes_.first(header_len()); }
    Bytes options() const { return bytes_.subspan(kMinHeaderLen, header_len() - kMinHeaderLen); }
    Bytes payload() const { return bytes_.subspan(header_len()); }
    // Header and payload, exactly total_len() bytes.
    Bytes bytes() const { return bytes_; }

private:
    explicit Ipv4View(Bytes b) : bytes_(b) {}
    Bytes bytes_;
};

struct Ipv4Repr {
    Ipv4Address src;
    Ipv4Address dst;
    std::uint8_t protocol = 0;
    std::uint8_t ttl = 64;
    std::uint8_t dscp_ecn = 0;
    std::uint16_t identification = 0;
    bool dont_fragment = false;
    bool more_fragments = false;
    std::uint16_t fragment_offset = 0;  // bytes, a multiple of 8
    std::uint16_t payload_len = 0;
    std::array<std::uint8_t, 40> options{};
    std::uint8_t options_len = 0;  // at most 40; emit() pads to a multiple of 4 with zeros (end of list)

    static Ipv4Repr parse(const Ipv4View& view);
    std::size_t header_len() const {
        const std::size_t n = options_len > 40 ? 40 : options_len;
        return Ipv4View::kMinHeaderLen + (n + 3) / 4 * 4;
    }
    std::size_t buffer_len() const { return header_len() + payload_len; }
    // Writes the header (checksum filled in) at the front of `out`
    // (out.size() >= header_len()); the payload goes after it.
    void emit(MutBytes out) const;
    friend bool operator==(const Ipv4Repr&, const Ipv4Repr&) = default;
};

}  // namespace tapstack::wire
