// ICMP for IPv4 (RFC 792), the messages a host needs (RFC 1122 3.2.2).
//
// IcmpView checks that the 8-byte header fits; checksum_valid() covers the
// whole message (RFC 792: "the 16-bit one's complement of the one's
// complement sum of the ICMP message"). IcmpRepr::parse accepts echo
// request/reply, destination unreachable and time exceeded, with a correct
// checksum; other types are IcmpError::kUnsupportedType so the interface
// can count them. The Repr borrows its data: echo data, or for the errors
// the offending datagram's header and leading bytes (RFC 792, RFC 1122
// 3.2.2 "at least 8 octets"), which must hold at least a minimal IPv4
// header.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>

#include "stack/wire/byte_order.hpp"

namespace tapstack::wire {

namespace icmp_type {
inline constexpr std::uint8_t kEchoReply = 0;
inline constexpr std::uint8_t kDestUnreachable = 3;
inline constexpr std::uint8_t kSourceQuench = 4;
inline constexpr std::uint8_t kRedirect = 5;
inline constexpr std::uint8_t kEchoRequest = 8;
inline constexpr std::uint8_t kTimeExceeded = 11;
inline constexpr std::uint8_t kParameterProblem = 12;
inline constexpr std::uint8_t kTimestamp = 13;
inline constexpr std::uint8_t kTimestampReply = 14;
inline constexpr std::uint8_t kInfoRequest = 15;
inline constexpr std::uint8_t kInfoReply = 16;
inline constexpr std::uint8_t kAddressMaskRequest = 17;
inline constexpr std::uint8_t kAddressMaskReply = 18;
}  // namespace icmp_type

namespace icmp_code {
inline constexpr std::uint8_t kNetUnreachable = 0;
inline constexpr std::uint8_t kHostUnreachable = 1;
inline constexpr std::uint8_t kProtocolUnreachable = 2;
inline constexpr std::uint8_t kPortUnreachable = 3;
inline constexpr std::uint8_t kFragmentationNeeded = 4;
inline constexpr std::uint8_t kTtlExceeded = 0;
inline constexpr std::uint8_t kReassemblyTimeExceeded = 1;
}  // namespace icmp_code

// True for the query/informational types (RFC 1122 3.2.2: anything else is
// an error message, and no ICMP error is ever sent about one).
bool icmp_is_query(std::uint8_t type);

enum class IcmpError : std::uint8_t {
    kTruncated,  // shorter than 8 bytes, or an error message without an IPv4 header inside
    kBadChecksum,
    kUnsupportedType,  // a type we neither answer nor act on
};

class IcmpView {
public:
    static constexpr std::size_t kHeaderLen = 8;

    static std::optional<IcmpView> check(Bytes message, IcmpError* error = nullptr);

    std::uint8_t type() const { return bytes_[0]; }
    std::uint8_t code() const { return bytes_[1]; }
    std::uint16_t checksum() const { return load_be16(bytes_.data() + 2); }
    bool checksum_valid() const;
    // Bytes 4..7: identifier and sequence number for echo, unused (or the
    // next-hop MTU in the low half, RFC 1191) for destination unreachable.
    std::uint16_t rest_hi() const { return load_be16(bytes_.data() + 4); }
    std::uint16_t rest_lo() const { return load_be16(bytes_.data() + 6); }
    Bytes data() const { return bytes_.subspan(kHeaderLen); }
    Bytes bytes() const { return bytes_; }

private:
    explicit IcmpView(Bytes b) : bytes_(b) {}
    Bytes bytes_;
};

struct IcmpRepr {
    std::uint8_t type = icmp_type::kEchoRequest;
    std::uint8_t code = 0;
    std::uint16_t ident = 0;         // echo only
    std::uint16_t seq = 0;           // echo only
    std::uint16_t next_hop_mtu = 0;  // destination unreachable, code 4 (RFC 1191)
    Bytes data;                      // borrowed: echo data or the offending datagram

    static std::optional<IcmpRepr> parse(const IcmpView& view, IcmpError* error = nullptr);
    std::size_t buffer_len() const { return IcmpView::kHeaderLen + data.size(); }
    // Writes the whole message (header, data, checksum); out.size() >= buffer_len().
    void emit(MutBytes out) const;
    friend bool operator==(const IcmpRepr& a, const IcmpRepr& b);
};

}  // namespace tapstack::wire
