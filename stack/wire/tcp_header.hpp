// The TCP header (RFC 9293 3.1): a checked view and a plain representation.
//
// Theory of operation
// -------------------
// `TcpView::check()` validates a received segment once at ingress: at least
// 20 bytes, data offset >= 5 and within the segment (MUST-7 style checks;
// anything else is malformed and must be dropped and counted, never trusted).
// After that the accessors cannot read out of bounds.
// `TcpRepr::parse()` turns a checked view into a plain value (host-order
// fields, parsed options, payload span still pointing into the input) and
// verifies the checksum over the pseudo-header of either family (IPv4, or IPv6 per RFC 8200 8.1). `TcpRepr::emit()` writes
// header, options and payload and fills in the checksum.
//
// Sequence numbers stay plain uint32 here: modular comparison belongs to
// stack/tcp (SeqNum), which sits above this layer.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>

#include "stack/wire/addresses.hpp"
#include "stack/wire/tcp_options.hpp"

namespace tapstack::wire {

inline constexpr std::uint8_t kIpProtoTcp = 6;
inline constexpr std::size_t kTcpHeaderMinLen = 20;
inline constexpr std::size_t kTcpHeaderMaxLen = 60;

// Control bits (RFC 9293 3.1, RFC 3168 for ECE/CWR).
namespace tcp_flag {
inline constexpr std::uint8_t kFin = 0x01;
inline constexpr std::uint8_t kSyn = 0x02;
inline constexpr std::uint8_t kRst = 0x04;
inline constexpr std::uint8_t kPsh = 0x08;
inline constexpr std::uint8_t kAck = 0x10;
inline constexpr std::uint8_t kUrg = 0x20;
inline constexpr std::uint8_t kEce = 0x40;
inline constexpr std::uint8_t kCwr = 0x80;
}  // namespace tcp_flag

class TcpView {
public:
    // nullopt when shorter than 20 bytes or the data offset is < 5 or points
    // beyond the segment.
    static std::optional<TcpView> check(std::span<const std::uint8_t> segment);

    std::uint16_t src_port() const;
    std::uint16_t dst_port() const;
    std::uint32_t seq() const;
    std::uint32_t ack() const;
    std::size_t header_len() const;  // data offset * 4
    std::uint8_t flags() const;
    std::uint16_t window() const;
    std::uint16_t checksum() const;
    std::uint16_t urgent() const;
    std::span<const std::uint8_t> options() const;
    std::span<const std::uint8_t> payload() const;
    // True when the checksum over pseudo-header + segment is correct.
    bool verify_checksum(const IpAddress& src, const IpAddress& dst) const;

private:
    explicit TcpView(std::span<const std::uint8_t> s) : bytes_(s) {}
    std::span<const std::uint8_t> bytes_;
};

struct TcpRepr {
    enum class ParseError : std::uint8_t { kTruncated, kBadDataOffset, kBadChecksum };

    std::uint16_t src_port = 0;
    std::uint16_t dst_port = 0;
    std::uint32_t seq = 0;
    std::uint32_t ack = 0;
    std::uint8_t flags = 0;
    std::uint16_t window = 0;
    std::uint16_t urgent = 0;
    TcpOptions options;
    std::span<const std::uint8_t> payload;  // not owned

    bool has(std::uint8_t flag) const { return (flags & flag) != 0; }

    // Validates (view check, checksum unless `skip_checksum`) and fills
    // `out`; on failure returns the reason and leaves `out` unspecified.
    // Illegal options do not fail it (out.options.malformed, tcp_options.hpp).
    static std::optional<ParseError> parse(std::span<const std::uint8_t> segment, const IpAddress& src,
                                           const IpAddress& dst, TcpRepr& out, bool skip_checksum = false);

    std::size_t header_len() const { return kTcpHeaderMinLen + options.buffer_len(); }
    std::size_t buffer_len() const { return header_len() + payload.size(); }
    // Writes buffer_len() bytes into `out` with a correct checksum for the
    // given pseudo-header addresses.
    void emit(std::span<std::uint8_t> out, const IpAddress& src, const IpAddress& dst) const;
    // Checksum offload: as emit(), but the checksum field
    // holds the folded pseudo-header sum, not complemented, as a device
    // with checksum offload expects (virtio 1.x 5.1.6.2, Linux
    // CHECKSUM_PARTIAL); the payload is not summed.
    void emit_partial(std::span<std::uint8_t> out, const IpAddress& src, const IpAddress& dst) const;
    // Fewer copies: writes only the header (header_len() bytes)
    // of a segment whose payload is `payload_parts` (in order; `payload` is
    // ignored), so the payload can leave from where it lies. The checksum
    // covers header and parts, or with `partial` is the pseudo-header sum
    // as in emit_partial().
    void emit_header(std::span<std::uint8_t> out, const IpAddress& src, const IpAddress& dst,
                     std::span<const std::span<const std::uint8_t>> payload_parts, bool partial) const;

private:
    void emit_fields(std::span<std::uint8_t> out) const;
};

}  // namespace tapstack::wire
