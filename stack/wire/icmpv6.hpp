// ICMPv6 (RFC 4443): the header, echo, and the four error messages.
//
// Icmpv6View checks that the 4-byte type/code/checksum header fits; the
// checksum covers the IPv6 pseudo-header (RFC 4443 2.3), so
// checksum_valid() needs the packet's addresses. Icmpv6Repr::parse accepts
// echo request/reply and the error messages (destination unreachable,
// packet too big, time exceeded, parameter problem) with a correct
// checksum and at least their 8 bytes; the errors must quote at least an
// IPv6 fixed header. Neighbour Discovery messages (types 133-137) are
// parsed by stack/wire/ndp.hpp from the same view; other types are
// Icmpv6Error::kUnsupportedType so the interface can count them. The Repr
// borrows its data: echo data, or the invoking packet for an error.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>

#include "stack/wire/addresses.hpp"
#include "stack/wire/byte_order.hpp"

namespace tapstack::wire {

namespace icmpv6_type {
inline constexpr std::uint8_t kDestUnreachable = 1;
inline constexpr std::uint8_t kPacketTooBig = 2;
inline constexpr std::uint8_t kTimeExceeded = 3;
inline constexpr std::uint8_t kParameterProblem = 4;
inline constexpr std::uint8_t kEchoRequest = 128;
inline constexpr std::uint8_t kEchoReply = 129;
inline constexpr std::uint8_t kMldQuery = 130;
inline constexpr std::uint8_t kMldReport = 131;
inline constexpr std::uint8_t kMldDone = 132;
inline constexpr std::uint8_t kRouterSolicitation = 133;
inline constexpr std::uint8_t kRouterAdvertisement = 134;
inline constexpr std::uint8_t kNeighborSolicitation = 135;
inline constexpr std::uint8_t kNeighborAdvertisement = 136;
inline constexpr std::uint8_t kRedirect = 137;
inline constexpr std::uint8_t kMldv2Report = 143;
}  // namespace icmpv6_type

namespace icmpv6_code {
inline constexpr std::uint8_t kNoRoute = 0;             // destination unreachable
inline constexpr std::uint8_t kAddressUnreachable = 3;  // destination unreachable
inline constexpr std::uint8_t kPortUnreachable = 4;     // destination unreachable
inline constexpr std::uint8_t kHopLimitExceeded = 0;    // time exceeded
inline constexpr std::uint8_t kReassemblyTimeExceeded = 1;
inline constexpr std::uint8_t kErroneousHeaderField = 0;  // parameter problem
inline constexpr std::uint8_t kUnrecognizedNextHeader = 1;
inline constexpr std::uint8_t kUnrecognizedOption = 2;
inline constexpr std::uint8_t kIncompleteHeaderChain = 3;  // RFC 7112
}  // namespace icmpv6_code

// RFC 4443 2.1: types 0..127 are errors, 128..255 informational.
constexpr bool icmpv6_is_error(std::uint8_t type) { return type < 128; }

// The minimum IPv6 MTU (RFC 8200 5): no link, and no path MTU, is smaller.
inline constexpr std::uint16_t kIpv6MinimumMtu = 1280;

enum class Icmpv6Error : std::uint8_t {
    kTruncated,  // shorter than its type's fixed part, or an error without an IPv6 header inside
    kBadChecksum,
    kUnsupportedType,
};

class Icmpv6View {
public:
    static constexpr std::size_t kHeaderLen = 4;  // type, code, checksum

    static std::optional<Icmpv6View> check(Bytes message, Icmpv6Error* error = nullptr);

    std::uint8_t type() const { return bytes_[0]; }
    std::uint8_t code() const { return bytes_[1]; }
    std::uint16_t checksum() const { return load_be16(bytes_.data() + 2); }
    bool checksum_valid(const Ipv6Address& src, const Ipv6Address& dst) const;
    // After the 4-byte header: echo identifier/sequence and data, or the
    // 32-bit field (unused, MTU, pointer) and the invoking packet, or an
    // NDP message body.
    Bytes body() const { return bytes_.subspan(kHeaderLen); }
    Bytes bytes() const { return bytes_; }

private:
    explicit Icmpv6View(Bytes b) : bytes_(b) {}
    Bytes bytes_;
};

struct Icmpv6Repr {
    std::uint8_t type = icmpv6_type::kEchoRequest;
    std::uint8_t code = 0;
    std::uint16_t ident = 0;    // echo
    std::uint16_t seq = 0;      // echo
    std::uint32_t mtu = 0;      // packet too big
    std::uint32_t pointer = 0;  // parameter problem: offset of the offending byte
    Bytes data;                 // borrowed: echo data, or the invoking packet

    // Checks the checksum against the pseudo-header of (src, dst).
    static std::optional<Icmpv6Repr> parse(const Icmpv6View& view, const Ipv6Address& src, const Ipv6Address& dst,
                                           Icmpv6Error* error = nullptr);
    std::size_t buffer_len() const { return 8 + data.size(); }
    // Writes the whole message with its checksum for (src, dst);
    // out.size() >= buffer_len().
    void emit(MutBytes out, const Ipv6Address& src, const Ipv6Address& dst) const;
    friend bool operator==(const Icmpv6Repr& a, const Icmpv6Repr& b);
};

// The checksum field value of an ICMPv6 message in `message` (whose
// checksum field is ignored) sent from src to dst.
std::uint16_t icmpv6_checksum(Bytes message, const Ipv6Address& src, const Ipv6Address& dst);

}  // namespace tapstack::wire
