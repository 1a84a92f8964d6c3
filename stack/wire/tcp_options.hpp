// TCP options (RFC 9293 3.1/3.2, RFC 7323, RFC 2018): parse and emit.
//
// Theory of operation
// -------------------
// `TcpOptions` is a plain value: which options a segment carries. Parsing
// walks the option bytes once: EOL ends the list, NOP is skipped, every other
// kind must carry a length byte >= 2 that stays inside the option area;
// otherwise the list ends there (RFC 9293 MUST-7: a bad length must never
// hang or crash the parser) and what was parsed before stands. A known kind
// with a wrong length is skipped by its length; unknown kinds are skipped by
// their length (MUST-6). Either way `malformed` says so and the segment is
// kept, as Linux does (tcp_parse_options): one bad option must not cost the
// data and ACK the segment carries.
// Emission writes the options in a fixed order with NOP padding so that
// 4-byte fields stay aligned, as Linux does; the result is padded to a
// multiple of 4 with EOL (zero) bytes.
//
// Non-goals: interpreting the values (that is TCP's job: clamping MSS,
// capping the window shift at 14, negotiating SACK and timestamps).
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>

namespace tapstack::wire {

namespace tcp_option_kind {
inline constexpr std::uint8_t kEnd = 0;
inline constexpr std::uint8_t kNop = 1;
inline constexpr std::uint8_t kMss = 2;
inline constexpr std::uint8_t kWindowScale = 3;
inline constexpr std::uint8_t kSackPermitted = 4;
inline constexpr std::uint8_t kSack = 5;
inline constexpr std::uint8_t kTimestamp = 8;
}  // namespace tcp_option_kind

struct SackBlock {
    std::uint32_t left = 0;   // first sequence number of the block
    std::uint32_t right = 0;  // sequence number just past the block
    friend constexpr bool operator==(const SackBlock&, const SackBlock&) = default;
};

struct TcpTimestamps {
    std::uint32_t tsval = 0;
    std::uint32_t tsecr = 0;
    friend constexpr bool operator==(const TcpTimestamps&, const TcpTimestamps&) = default;
};

struct TcpOptions {
    static constexpr std::size_t kMaxSackBlocks = 4;  // 4*8+2 = 34 bytes fits in 40

    std::optional<std::uint16_t> mss;
    std::optional<std::uint8_t> window_scale;  // raw shift as sent (may exceed 14)
    bool sack_permitted = false;
    std::array<SackBlock, kMaxSackBlocks> sack_blocks{};
    std::uint8_t sack_count = 0;
    std::optional<TcpTimestamps> timestamps;
    bool malformed = false;  // parse() met an illegal length and ignored it

    // Parses the option area (header bytes 20..data offset*4).
    static TcpOptions parse(std::span<const std::uint8_t> area);
    // Bytes emit() writes, a multiple of 4, at most 40 (SACK blocks are cut
    // to what fits).
    std::size_t buffer_len() const;
    // Writes buffer_len() bytes into `out` (which must be at least that big).
    void emit(std::span<std::uint8_t> out) const;

    friend bool operator==(const TcpOptions&, const TcpOptions&) = default;

private:
    std::size_t sack_blocks_that_fit() const;
};

}  // namespace tapstack::wire
