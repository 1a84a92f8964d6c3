// Request lines of the Unix-socket API: parsing and the reply lines.
//
// A client sends exactly one request line (see daemon/api/PROTOCOL.md):
//   CONNECT <ipv4> <port> [timeout=<seconds>]
//   LISTEN <port> [backlog=<n>]
//   ACCEPT <port> [timeout=<seconds>]
//   STATUS <id>
//   STATS
// Verbs are case-insensitive, fields are separated by one or more spaces or
// tabs, a trailing "\r" is tolerated (so `nc -C`, telnet and friends work).
// Anything else yields a one-line reason that the server sends back as
// `ERR bad-request <reason>`.
//
// Pure functions on strings: no I/O, no libuv, unit-tested directly.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <variant>

#include "daemon/client/protocol.hpp"
#include "stack/wire/addresses.hpp"

namespace tapstack::daemon::api {

struct ConnectRequest {
    wire::Ipv4Address address;
    std::uint16_t port = 0;
    std::uint32_t timeout_s = 0;  // 0: the TCP stack's own SYN retries decide
};

struct ListenRequest {
    std::uint16_t port = 0;
    std::uint32_t backlog = 0;  // 0: the stack's default
};

struct AcceptRequest {
    std::uint16_t port = 0;
    std::uint32_t timeout_s = 0;  // 0: wait as long as the client stays connected
};

struct StatusRequest {
    std::uint64_t id = 0;
};

struct StatsRequest {};

using Request = std::variant<ConnectRequest, ListenRequest, AcceptRequest, StatusRequest, StatsRequest>;

struct ParseError {
    std::string reason;  // one line, no newline
};

// Parses one request line without its terminating "\n".
std::variant<Request, ParseError> parse_request(std::string_view line);

// Upper bounds on the optional fields (larger values are bad requests).
inline constexpr std::uint32_t kMaxTimeoutSeconds = 3600;
inline constexpr std::uint32_t kMaxBacklog = 65535;

// Reply lines, newline included.
std::string format_stream_ok(const wire::Ipv4Endpoint& local, const wire::Ipv4Endpoint& remote, std::uint64_t id);
std::string format_listen_ok(const wire::Ipv4Endpoint& local);
std::string format_status_ok(std::uint64_t id, std::string_view state, client::Outcome outcome);
// `message` is sanitized to one printable line.
std::string format_error(client::ErrorCode code, std::string_view message);

}  // namespace tapstack::daemon::api
