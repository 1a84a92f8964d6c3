// Request lines of the Unix-socket API: parsing and the reply lines.
//
// A client sends exactly one request line (see daemon/api/PROTOCOL.md):
//   CONNECT <address> <port> [timeout=<seconds>] [nodelay[=on|off]] [keepalive[=on|off]]
//   LISTEN <port> [backlog=<n>] [family=4|6]
//   ACCEPT <port> [timeout=<seconds>] [nodelay[=on|off]] [keepalive[=on|off]]
//   STATUS <id>
//   INFO <id>
//   CONNECTIONS
//   STATS [format=text|prometheus]
//   DAEMON
//   CAPTURE [count=<frames>] [snaplen=<bytes>] [buffer=<bytes>]
//   HELLO
// Verbs are case-insensitive, fields are separated by one or more spaces or
// tabs, a trailing "\r" is tolerated (so `nc -C`, telnet and friends work).
// Options are lower-case `key=value` fields; the stream options `nodelay`
// and `keepalive` may stand alone, meaning `=on`. Anything else yields a
// one-line reason that the server sends back as `ERR bad-request <reason>`.
//
// Pure functions on strings and plain structs: no I/O, no libuv,
// unit-tested directly.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>

#include "daemon/client/protocol.hpp"
#include "stack/tcp/tcp_stack.hpp"
#include "stack/wire/addresses.hpp"

namespace tapstack::daemon::api {

// Per-stream TCP options of CONNECT and ACCEPT; nullopt keeps the config's
// default (tcp.no_delay, tcp.keepalive).
struct StreamOptions {
    std::optional<bool> nodelay;    // on: Nagle off (TCP_NODELAY)
    std::optional<bool> keepalive;  // on: RFC 1122 keepalive probes (SO_KEEPALIVE)
    friend bool operator==(const StreamOptions&, const StreamOptions&) = default;
};

struct ConnectRequest {
    wire::IpAddress address;  // IPv4 or IPv6 ("fd00::1" or "[fd00::1]" on the line)
    std::uint16_t port = 0;
    std::uint32_t timeout_s = 0;  // 0: the TCP stack's own SYN retries decide
    StreamOptions options;
};

struct ListenRequest {
    std::uint16_t port = 0;
    std::uint32_t backlog = 0;  // 0: the stack's default
    tcp::ListenFamily family = tcp::ListenFamily::kBoth;  // family=4|6
};

struct AcceptRequest {
    std::uint16_t port = 0;
    std::uint32_t timeout_s = 0;  // 0: wait as long as the client stays connected
    StreamOptions options;
};

struct StatusRequest {
    std::uint64_t id = 0;
};

// A live stream's TCP figures (TcpStack::stats).
struct InfoRequest {
    std::uint64_t id = 0;
};

// One line per live stream, then END.
struct ConnectionsRequest {};

struct StatsRequest {
    enum class Format : std::uint8_t { kText, kPrometheus };
    Format format = Format::kText;
};

// The daemon's own figures: version, uptime, interface, address, streams.
struct DaemonRequest {};

// A live packet capture as pcapng (root and the daemon's own user only).
struct CaptureRequest {
    std::uint64_t count = 0;    // frames, 0 = until the client ends it
    std::uint32_t snaplen = 0;  // 0 = whole frames
    std::uint32_t buffer = 0;   // bytes the client may fall behind, 0 = the default
};

// The protocol version and the features this daemon has.
struct HelloRequest {};

using Request = std::variant<ConnectRequest, ListenRequest, AcceptRequest, StatusRequest, InfoRequest,
                             ConnectionsRequest, StatsRequest, DaemonRequest, CaptureRequest, HelloRequest>;

struct ParseError {
    std::string reason;  // one line, no newline
};

// Parses one request line without its terminating "\n".
std::variant<Request, ParseError> parse_request(std::string_view line);

// Why no CONNECT may go to `address`:`port` (0.0.0.0, the limited
// broadcast, multicast, ::, ::1, IPv4-mapped IPv6, port 0), or nullopt.
// CONNECT lines and SOCKS5 requests are both held to it.
std::optional<std::string> connect_target_error(const wire::IpAddress& address, std::uint16_t port);

// Upper bounds on the optional fields (larger values are bad requests).
inline constexpr std::uint32_t kMaxTimeoutSeconds = 3600;
inline constexpr std::uint32_t kMaxBacklog = 65535;
inline constexpr std::uint32_t kMaxSnaplen = 262144;
inline constexpr std::uint32_t kMinCaptureBuffer = 64 * 1024;
inline constexpr std::uint32_t kMaxCaptureBuffer = 64 * 1024 * 1024;

// Reply lines, newline included.
// Endpoints print as "10.0.0.2:80" or "[fd00::2]:80" (RFC 5952 6).
std::string format_stream_ok(const wire::IpEndpoint& local, const wire::IpEndpoint& remote, std::uint64_t id);
std::string format_listen_ok(const wire::IpEndpoint& local);
// Every STATUS, INFO and CONNECTIONS line ends with the stream owner's `uid=`;
// `undelivered` > 0 adds `undelivered=<n>` before it: acknowledged bytes the
// application never took.
std::string format_status_ok(std::uint64_t id, std::string_view state, client::Outcome outcome, std::uint32_t uid,
                             std::uint64_t undelivered = 0);
// "OK HELLO version=<n> daemon=<version> features=<a>,<b>,...\n"
std::string format_hello_ok(std::string_view daemon_version, std::string_view features);
// `message` is sanitized to one printable line.
std::string format_error(client::ErrorCode code, std::string_view message);

// INFO: "OK id=<n> state=<word> local=... remote=... <figure>=<value> ...\n",
// every field documented in PROTOCOL.md; `state` is the one STATUS gives.
std::string format_info_ok(std::uint64_t id, std::string_view state, const tcp::ConnInfo& info,
                           const tcp::ConnStats& stats, std::uint32_t uid);
// One CONNECTIONS body line: a subset of INFO's fields, same names.
std::string format_connection_line(std::uint64_t id, std::string_view state, const tcp::ConnInfo& info,
                                   const tcp::ConnStats& stats, std::uint32_t uid);
// The first line of a CONNECTIONS reply; the body ends with client::kListEnd.
inline constexpr std::string_view kConnectionsOk = "OK connections\n";

}  // namespace tapstack::daemon::api
