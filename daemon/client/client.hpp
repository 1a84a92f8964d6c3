// tapstack client library: TCP streams from tapstackd as plain file
// descriptors, over the daemon's Unix-socket API (daemon/api/PROTOCOL.md).
//
// Each call opens one Unix stream connection to the daemon, sends one
// request line and reads one reply line, byte by byte, so not a single byte
// of the stream that follows an OK is consumed. What you get back:
//   * connect()/accept(): a Stream whose `fd` IS the TCP byte stream (read,
//     write, shutdown(SHUT_WR) for a half-close, close()); EOF after a read
//     means the stream ended: status(id) tells an orderly end from a reset
//     or a timeout;
//   * listen(): a Listener whose `fd` holds the port open (SYNs between
//     accepts are queued) until it is closed; accept(listener) waits for
//     the next connection;
//   * info(id), connections(): a live stream's TCP figures, and one row per
//     live stream, as the daemon's `key=value` fields (names in PROTOCOL.md);
//   * hello(): the protocol version and the features the daemon has.
// The caller owns every returned fd and closes it. Calls block; there is no
// libuv or thread inside. Requests are sent with MSG_NOSIGNAL; SIGPIPE on
// the returned stream fds is the caller's business.
//
// Errors: a Result holds either the value or an Error with a kind, the
// daemon's wire code (for kDaemon) and a one-line message.
//
// Installed as <tapstack/client.hpp> beside <tapstack/protocol.hpp> and
// built into libtapstack (pkg-config tapstack); C programs use <tapstack.h>.
// Only what is marked TAPSTACK_API is exported from the shared library.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

// A sibling include (not spelled from the project root as elsewhere) so
// that the installed header finds its installed neighbour.
#include "protocol.hpp"

#ifndef TAPSTACK_API
#define TAPSTACK_API __attribute__((visibility("default")))
#endif

namespace tapstack::client {

inline constexpr std::string_view kDefaultSocketPath = "/run/tapstack/tapstack.sock";

struct Error {
    enum class Kind : std::uint8_t {
        kDaemon,       // the daemon answered ERR; `code` says why
        kUnavailable,  // the daemon's socket cannot be reached
        kProtocol,     // the reply was not understood, or the daemon hung up
        kSystem,       // a local system call failed
        kUsage,        // bad arguments to the library call
    };
    Kind kind = Kind::kSystem;
    ErrorCode code = ErrorCode::kInternal;  // meaningful for kDaemon
    std::string message;
    int sys_errno = 0;                      // kSystem, kUnavailable: the errno behind it
};

template <class T>
class Result {
public:
    Result(T value) : v_(std::move(value)) {}        // NOLINT: implicit on purpose
    Result(Error error) : v_(std::move(error)) {}    // NOLINT
    bool ok() const { return v_.index() == 0; }
    explicit operator bool() const { return ok(); }
    T& value() { return std::get<0>(v_); }
    const T& value() const { return std::get<0>(v_); }
    T* operator->() { return &value(); }
    const T* operator->() const { return &value(); }
    const Error& error() const { return std::get<1>(v_); }

private:
    std::variant<T, Error> v_;
};

struct Stream {
    int fd = -1;             // the TCP stream; the caller closes it
    std::uint64_t id = 0;    // for status()
    std::string local;       // "10.0.0.2:49152", "[fd00::2]:49152"
    std::string remote;      // "10.0.0.1:80"
};

struct Listener {
    int fd = -1;             // holds the listener open; close() to stop listening
    std::string socket_path;
    std::uint16_t port = 0;
    std::string local;       // "10.0.0.2:7"
};

struct Status {
    std::uint64_t id = 0;
    Outcome outcome = Outcome::kOpen;
    std::string state;       // TCP state or how it ended, informational
    std::uint64_t undelivered = 0;  // acknowledged bytes the application never took (it stopped reading)
};

using Counter = std::pair<std::string, std::uint64_t>;

// One `key=value` field of an INFO or CONNECTIONS line, in the daemon's order.
using Field = std::pair<std::string, std::string>;
using Fields = std::vector<Field>;

// The value of `key`, or nullopt.
TAPSTACK_API std::optional<std::string_view> find_field(const Fields& fields, std::string_view key);

// Options of CONNECT and ACCEPT.
struct StreamOptions {
    std::uint32_t timeout_s = 0;    // 0: no limit of our own (see connect()/accept())
    std::optional<bool> nodelay;    // nullopt: the daemon's tcp.no_delay
    std::optional<bool> keepalive;  // nullopt: the daemon's tcp.keepalive
};

// HELLO: what the daemon speaks.
struct Hello {
    unsigned version = 0;               // protocol version (kProtocolVersion of the daemon)
    std::string daemon;                 // the daemon's version, "0.1.0"
    std::vector<std::string> features;  // "connect", "listen", ..., "socks"
    TAPSTACK_API bool has(std::string_view feature) const;
};

// CONNECT: timeout_s 0 leaves the limit to the daemon's TCP retries.
TAPSTACK_API Result<Stream> connect(std::string_view socket_path, std::string_view address, std::uint16_t port,
                                    std::uint32_t timeout_s = 0);
TAPSTACK_API Result<Stream> connect(std::string_view socket_path, std::string_view address, std::uint16_t port,
                                    const StreamOptions& options);
// LISTEN: backlog 0 is the daemon's default.
TAPSTACK_API Result<Listener> listen(std::string_view socket_path, std::uint16_t port, std::uint32_t backlog = 0);
// ACCEPT on a held listener's port; timeout_s 0 waits indefinitely.
TAPSTACK_API Result<Stream> accept(const Listener& listener, std::uint32_t timeout_s = 0);
// ACCEPT without a LISTEN holder: a transient listener exists only while
// someone waits in ACCEPT.
TAPSTACK_API Result<Stream> accept(std::string_view socket_path, std::uint16_t port, std::uint32_t timeout_s = 0);
TAPSTACK_API Result<Stream> accept(const Listener& listener, const StreamOptions& options);
TAPSTACK_API Result<Stream> accept(std::string_view socket_path, std::uint16_t port, const StreamOptions& options);
TAPSTACK_API Result<Status> status(std::string_view socket_path, std::uint64_t id);
TAPSTACK_API Result<std::vector<Counter>> stats(std::string_view socket_path);
// INFO: the fields of a live stream (id, state, local, remote, srtt_us, ...);
// a stream that ended is a kDaemon error with code kNotFound.
TAPSTACK_API Result<Fields> info(std::string_view socket_path, std::uint64_t id);
// CONNECTIONS: one Fields per live stream, in id order.
TAPSTACK_API Result<std::vector<Fields>> connections(std::string_view socket_path);
// STATS format=prometheus: the Prometheus text exposition, every line with
// its newline (PROTOCOL.md; daemon/metrics/prometheus.hpp).
TAPSTACK_API Result<std::string> stats_prometheus(std::string_view socket_path);
// DAEMON: the daemon's own fields (version, uptime_s, interface, address,
// streams, ...), in the daemon's order.
TAPSTACK_API Result<Fields> daemon_status(std::string_view socket_path);

// CAPTURE: a live pcapng stream of the frames the stack receives and sends.
struct CaptureOptions {
    std::uint64_t count = 0;    // frames, 0 = until the caller ends it
    std::uint32_t snaplen = 0;  // bytes kept of each frame, 0 = whole frames
    std::uint32_t buffer = 0;   // bytes the reader may fall behind, 0 = the daemon's default
};
struct Capture {
    int fd = -1;    // the pcapng byte stream; shutdown(SHUT_WR) ends the capture in order
    Fields fields;  // of the OK line: format, linktype, snaplen, buffer, count
};
TAPSTACK_API Result<Capture> capture(std::string_view socket_path, const CaptureOptions& options);
TAPSTACK_API Result<Hello> hello(std::string_view socket_path);

// ---- reply parsing (pure; exposed for tests) -----------------------------

struct StreamReply {
    std::string local;
    std::string remote;
    std::uint64_t id = 0;
};

// Each takes one reply line without "\n". An ERR line becomes a kDaemon
// error, anything unexpected a kProtocol error.
TAPSTACK_API Result<StreamReply> parse_stream_reply(std::string_view line);
TAPSTACK_API Result<std::string> parse_listen_reply(std::string_view line);  // the local endpoint
TAPSTACK_API Result<Status> parse_status_reply(std::string_view line);
// "name value" of a STATS body line.
TAPSTACK_API Result<Counter> parse_counter_line(std::string_view line);
// "key=value key=value ...": every field has a non-empty key and an '=';
// each CONNECTIONS row needs at least id, state, local and remote.
TAPSTACK_API Result<Fields> parse_fields(std::string_view text);
// "OK id=... state=... ...", the INFO reply.
TAPSTACK_API Result<Fields> parse_info_reply(std::string_view line);
// "OK [word] key=value ...": a reply whose fields need no stream identity
// (DAEMON; CAPTURE, whose OK is followed by the word "capture"); `what`
// names the reply in messages, `word` is the leading word if any.
TAPSTACK_API Result<Fields> parse_ok_fields(std::string_view line, std::string_view what, std::string_view word = {});
// "OK HELLO version=<n> daemon=<v> features=<a>,<b>": version and features
// are required; fields a newer daemon adds are ignored.
TAPSTACK_API Result<Hello> parse_hello_reply(std::string_view line);

}  // namespace tapstack::client
