// The vocabulary of tapstack's Unix-socket API, shared by the daemon's API
// server and the client library (header-only, no dependencies, so the
// client stays free of libuv and of the stack).
//
// The protocol itself (request lines, replies, what happens afterwards) is
// described in daemon/api/PROTOCOL.md; this header only fixes the words on
// the wire so both ends spell them the same way:
//   * error codes of `ERR <code> <message>` replies;
//   * connection outcomes reported by `STATUS <id>`.
// Adding a word is compatible; renaming one breaks scripts, so don't.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string_view>
#include <utility>

namespace tapstack::client {

// `ERR <code> ...`: why a request failed.
enum class ErrorCode : std::uint8_t {
    kRefused,       // "refused": the peer answered the SYN with RST
    kReset,         // "reset": the connection was reset by the peer
    kTimedOut,      // "timed-out": no answer within the retries / the request's timeout
    kUnreachable,   // "unreachable": the next hop never answered ARP
    kInUse,         // "in-use": the port is already listening / taken
    kBadRequest,    // "bad-request": malformed, oversized, unknown or late request line
    kPermission,    // "permission": the caller may not do this (e.g. port < 1024)
    kNoResources,   // "no-resources": too many clients or connections
    kNotFound,      // "not-found": STATUS of an id the daemon no longer remembers
    kShuttingDown,  // "shutting-down": the daemon is stopping
    kInternal,      // "internal": anything else (the message says what)
};

inline constexpr std::array<std::pair<ErrorCode, std::string_view>, 11> kErrorCodeNames{{
    {ErrorCode::kRefused, "refused"},
    {ErrorCode::kReset, "reset"},
    {ErrorCode::kTimedOut, "timed-out"},
    {ErrorCode::kUnreachable, "unreachable"},
    {ErrorCode::kInUse, "in-use"},
    {ErrorCode::kBadRequest, "bad-request"},
    {ErrorCode::kPermission, "permission"},
    {ErrorCode::kNoResources, "no-resources"},
    {ErrorCode::kNotFound, "not-found"},
    {ErrorCode::kShuttingDown, "shutting-down"},
    {ErrorCode::kInternal, "internal"},
}};

constexpr std::string_view to_string(ErrorCode code) {
    for (const auto& [c, name] : kErrorCodeNames) {
        if (c == code) {
            return name;
        }
    }
    return "internal";
}

constexpr std::optional<ErrorCode> parse_error_code(std::string_view text) {
    for (const auto& [c, name] : kErrorCodeNames) {
        if (name == text) {
            return c;
        }
    }
    return std::nullopt;
}

// `STATUS <id>`: how a stream ended (or that it has not yet).
enum class Outcome : std::uint8_t {
    kOpen,          // "open": still alive (the peer may have half-closed)
    kOrderly,       // "orderly": both directions ended with FIN
    kReset,         // "reset": the peer reset it
    kTimedOut,      // "timed-out": retransmissions exhausted (peer vanished)
    kAborted,       // "aborted": the application vanished or the daemon stopped; RST sent
    kRefused,       // "refused": connect refused (never established)
    kUnreachable,   // "unreachable": connect found no next hop
};

inline constexpr std::array<std::pair<Outcome, std::string_view>, 7> kOutcomeNames{{
    {Outcome::kOpen, "open"},
    {Outcome::kOrderly, "orderly"},
    {Outcome::kReset, "reset"},
    {Outcome::kTimedOut, "timed-out"},
    {Outcome::kAborted, "aborted"},
    {Outcome::kRefused, "refused"},
    {Outcome::kUnreachable, "unreachable"},
}};

constexpr std::string_view to_string(Outcome outcome) {
    for (const auto& [o, name] : kOutcomeNames) {
        if (o == outcome) {
            return name;
        }
    }
    return "open";
}

constexpr std::optional<Outcome> parse_outcome(std::string_view text) {
    for (const auto& [o, name] : kOutcomeNames) {
        if (name == text) {
            return o;
        }
    }
    return std::nullopt;
}

// HELLO's `version=`: raised when a change could break a client that
// relies on the documented protocol; additions (requests, options, fields,
// features) leave it alone and are announced in `features=`.
inline constexpr unsigned kProtocolVersion = 1;

// HELLO's `features=`: what every daemon of this version has. The daemon
// adds "socks" when its SOCKS5 socket is on.
inline constexpr std::string_view kBaseFeatures = "connect,listen,accept,status,info,connections,stats,daemon,capture,prometheus,hello";

// The line that ends a STATS or CONNECTIONS reply.
inline constexpr std::string_view kStatsEnd = "END";
inline constexpr std::string_view kListEnd = kStatsEnd;

}  // namespace tapstack::client
