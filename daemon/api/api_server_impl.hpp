// ApiServer::Impl: the state the API server's parts share. Each part is a
// file with its own theory of operation:
//   api_server.cpp     the public calls, the service turn, client bookkeeping
//   unix_listener.cpp  the listening Unix sockets (API, SOCKS5): start, accept, stop
//   client_io.cpp      one client's socket: readiness, request line, replies
//   socks_client.cpp   a SOCKS5 client's handshake, turned into a CONNECT
//   requests.cpp       CONNECT/LISTEN/ACCEPT/STATUS/... and the TCP listeners
//   stream_bridge.cpp  a stream's bytes between the socket and TCP's buffers
//   user_access.cpp    who may use which listener and stream, per-user limits
//   socket_file.cpp    creating the socket file safely (pure helpers)
//   user_table.cpp     per-user accounting (pure)
//   daemon_info.cpp    DAEMON and every figure STATS reports (visit_metrics)
//   capture_client.cpp CAPTURE: a live pcapng stream from the capture hub
//
// Theory of operation
// -------------------
// Every accepted Unix connection is a Client with a phase:
//
//   kRequest ──CONNECT──> kConnecting ──established──> kStreaming ──> closed
//      │ ──ACCEPT───> kWaiting ────accepted──────────────┘
//      │ ──LISTEN───> kHolding (holds the port's listener until it goes away)
//      │ ──CAPTURE──> kCapturing (pcapng until the count, its EOF or the end) ──> kReplying
//      └─STATUS/INFO/CONNECTIONS/STATS/DAEMON/error──> kReplying (one reply, then closed)
//
// A stream whose TCP connection ended abnormally stays kStreaming, with
// `ending` set, until TCP's last bytes are handed to the application
// (stream_bridge.cpp). While `draining` (graceful stop, drain() in
// unix_listener.cpp) nothing new starts and the streams there finish.
//
// A client accepted on the SOCKS5 socket speaks SOCKS in kRequest (greeting,
// method, request) instead of sending a line; its request becomes the same
// CONNECT as the API's and takes the same path from there. Only the words
// differ: SOCKS replies instead of `OK`/`ERR` lines (reply_failure(),
// start_stream()).
//
// A client is a non-blocking socket descriptor watched by one uv_poll_t plus
// a uv_timer_t for deadlines; the server does its own I/O on the descriptor
// (no libuv stream, so no libuv-owned buffers). Callbacks do only the I/O
// that needs no TCP (the request line, replies, a holder's ignored input)
// and otherwise set readiness flags and mark the client dirty; every TCP call
// happens in service(now), which has the stack's clock. TCP events mark the
// owning client dirty too.
//
// Users: every client carries its peer's uid and pid (SO_PEERCRED, read at
// accept). Listeners belong to a uid, streams to their client's uid; see
// user_access.cpp for who may use and see what.
//
// Memory: a client owns no data buffer. The request line is read into a
// string that is released once parsed; stream bytes move between the socket
// and TCP's own ring buffers (see stream_bridge.cpp); replies are short
// strings. An idle stream costs this struct, its map entries and its TCB.
//
// The process must ignore SIGPIPE or rely on MSG_NOSIGNAL (all writes here
// use it): a write to a vanished application fails with EPIPE.
#pragma once

#include <uv.h>

#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "daemon/api/api_server.hpp"
#include "daemon/api/outcome_table.hpp"
#include "daemon/capture/capture_hub.hpp"
#include "daemon/api/request.hpp"
#include "daemon/api/socks.hpp"
#include "daemon/api/user_table.hpp"
#include "daemon/client/protocol.hpp"
#include "stack/metrics.hpp"
#include "stack/tcp/tcp_stack.hpp"

namespace tapstack::daemon {

// The server's own counters, X(field, kind, help), named "api.<field>";
// the gauges api.clients, api.streams, api.listeners and api.users come
// first (daemon_info.cpp).
#define TAPSTACK_API_COUNTERS(X)                                                                      \
    X(clients_accepted, kCounter, "Unix connections accepted on the API socket")                      \
    X(clients_rejected, kCounter, "Unix connections refused: api.max_clients reached")                \
    X(bad_requests, kCounter, "Request lines refused as malformed, oversized or unknown")             \
    X(request_timeouts, kCounter, "Clients that sent no request line within api.request_timeout")     \
    X(connects, kCounter, "CONNECT requests that started a TCP connection")                           \
    X(accepts, kCounter, "TCP connections handed to ACCEPT waiters")                                  \
    X(streams_orderly, kCounter, "Streams that ended with FIN both ways")                              \
    X(streams_failed, kCounter, "Streams that ended reset, timed out or aborted")                     \
    X(app_vanished, kCounter, "Applications that went away mid-connect or mid-stream")                \
    X(bytes_to_tcp, kCounter, "Stream bytes read from applications into TCP")                         \
    X(bytes_to_app, kCounter, "Stream bytes written from TCP to applications")                        \
    X(read_stops, kCounter, "Times reading an application paused: TCP's send buffer full")            \
    X(accept_errors, kCounter, "Failures accepting a Unix connection")                                \
    X(permission_denied, kCounter, "Requests refused: another user's port, or a port below 1024")     \
    X(connect_denied, kCounter, "CONNECTs refused by api.connect_allow / api.connect_deny")           \
    X(user_limit_refusals, kCounter, "Requests refused: the caller's uid is at an api.max_*_per_user") \
    X(ends_handed_over, kCounter, "Streams TCP ended abnormally with bytes still to hand to the application") \
    X(bytes_undelivered, kCounter, "Acknowledged bytes no application took (it stopped reading or went away)") \
    X(refused_shutting_down, kCounter, "CONNECT, LISTEN and ACCEPT refused while the daemon stops")     \
    X(socks_clients_accepted, kCounter, "Clients accepted on the SOCKS5 socket")                        \
    X(socks_refused, kCounter, "SOCKS5 handshakes answered with a refusal (malformed, unsupported)")

namespace api {

enum class Phase : std::uint8_t {
    kRequest,
    kConnecting,
    kWaiting,
    kHolding,
    kStreaming,
    kCapturing,
    kReplying,
    kClosing,
};

// What a client speaks until its stream starts: request lines (PROTOCOL.md)
// or SOCKS5 (RFC 1928), decided by the socket it connected to.
enum class Protocol : std::uint8_t { kLine, kSocks };

inline constexpr std::uint64_t kTickMs = 1000;     // deadline and POLLHUP checks
inline constexpr std::size_t kDiscardSize = 4096;  // a holder's ignored input, one read
inline constexpr int kAcceptBatch = 64;            // accept4() calls per readiness callback
// Clients refused at accept (over a limit) linger for their ERR line like any
// reply; beyond this many at once a refused client is closed at once, so
// refusals cannot pile up descriptors.
inline constexpr std::size_t kMaxRefusedLingering = 64;
// At most one refusal log line per uid per this interval.
inline constexpr std::uint64_t kRefusalLogIntervalMs = 10000;

client::ErrorCode error_code_for(tcp::Error e);
client::Outcome outcome_for(tcp::Error e);
std::string message_for(tcp::Error e);
// A name as one lower-case word for STATUS ("close-wait").
std::string state_word_of(std::string_view name);
std::string state_word(tcp::State s);
// CONNECT, LISTEN, ACCEPT: what a stopping daemon refuses.
bool starts_something(const Request& r);
// True when the peer of a Unix stream socket has closed it entirely (both
// directions), as opposed to shutdown(SHUT_WR), which only gives EOF.
bool peer_hung_up(int fd);

}  // namespace api

struct ApiServer::Impl {
    struct Client {
        Impl* server = nullptr;
        std::uint64_t key = 0;
        int fd = -1;
        uv_poll_t poll{};
        uv_timer_t timer{};
        int open_handles = 0;
        int watched = 0;  // uv_poll events being watched now
        bool timer_running = false;
        api::Phase phase = api::Phase::kRequest;
        api::Protocol protocol = api::Protocol::kLine;
        bool socks_greeted = false;  // kSocks: the method was chosen, the request comes next
        std::uint32_t peer_uid = 0;
        std::int32_t peer_pid = 0;
        bool peer_uid_known = false;
        bool admitted = false;  // counted in admitted_clients and in users
        bool refused = false;   // refused at accept, counted in refused_lingering

        std::string line;           // the request line (or SOCKS message) read so far (kRequest only)
        std::string outbox;         // replies and the OK line, written before any stream data
        std::size_t outbox_sent = 0;

        bool in_ready = false;      // the socket may have input (readable, or never tried)
        bool out_blocked = false;   // the last write stopped short: wait for writable
        bool read_paused = false;   // input waits because TCP's send buffer is full
        bool hup_seen = false;      // the socket reported RDHUP (EOF or full close) while not read
        bool app_eof = false;       // read EOF: shutdown(SHUT_WR) or close()
        bool app_closed = false;    // EOF and POLLHUP: the socket is closed
        bool app_vanished = false;  // read or write error: it died
        bool dirty = false;
        bool tick = false;          // the timer fired

        std::optional<api::Request> request;  // parsed, waiting for service()
        std::uint64_t request_deadline = 0;   // uv_now() ms, kRequest/kReplying
        std::uint64_t op_deadline = 0;        // connect/accept timeout, 0 = none

        // kConnecting / kStreaming
        tcp::ConnId conn;
        std::uint64_t stream_id = 0;
        bool tcp_write_shut = false;
        bool unix_write_shut = false;  // shutdown(SHUT_WR) done (end of a stream or of a reply)
        // The TCP connection ended abnormally (reset, timed out): its
        // outcome, while the bytes TCP still holds are handed over (see
        // stream_bridge.cpp), and when the application must have taken some
        // more of them (uv_now() ms) for the daemon to keep waiting.
        std::optional<client::Outcome> ending;
        std::string ending_detail;
        std::uint64_t ending_deadline = 0;

        // kWaiting / kHolding
        std::uint16_t port = 0;
        api::StreamOptions stream_options;  // ACCEPT's, applied to the accepted connection

        // kCapturing: owned by the capture hub, closed with end_capture()
        capture::Session* capture = nullptr;
    };

    struct Listener {
        tcp::ListenerId id;
        std::uint32_t owner_uid = 0;  // the LISTEN holder's, or the first ACCEPT's
        Client* holder = nullptr;
        std::deque<Client*> waiters;
    };

    struct Counters {
        TAPSTACK_API_COUNTERS(TAPSTACK_METRIC_FIELD)
    };

    // A listening Unix socket: the API's, and the SOCKS5 one when configured.
    struct UnixSocket {
        Impl* server = nullptr;
        api::Protocol protocol = api::Protocol::kLine;
        std::string path;
        const char* key = "";  // its config key, for messages
        int fd = -1;
        uv_poll_t poll{};
        bool open = false;          // the poll handle is initialized
        bool created = false;       // the file is ours to remove
        bool accept_paused = false; // out of descriptors: resumes when a client closes
    };

    uv_loop_t* loop;
    iface::Interface& iface;
    ApiServerConfig config;
    std::function<void()> request_service;
    UnixSocket api_socket;
    UnixSocket socks_socket;  // path empty: no SOCKS5 socket
    bool stopping = false;
    bool draining = false;  // graceful stop: no new streams, the ones there finish
    Instant now{};

    std::uint64_t next_key = 1;
    std::uint64_t next_stream_id = 1;
    std::unordered_map<std::uint64_t, std::unique_ptr<Client>> clients;
    std::unordered_map<std::uint32_t, Client*> by_conn;          // ConnId.index -> stream owner
    std::unordered_map<std::uint64_t, Client*> live_streams;     // stream id -> client
    std::map<std::uint16_t, Listener> listeners;                 // port -> listener
    std::unordered_map<std::uint32_t, std::uint16_t> listener_ports;  // ListenerId.index -> port
    std::vector<std::uint64_t> dirty;
    std::vector<tcp::Event> tcp_events;
    std::vector<char> scratch;  // request-line peeks and ignored input; shared, never holds data across calls
    api::OutcomeTable outcomes;
    Counters counters;
    // config.access is the live AccessPolicy: set_access_policy() replaces it whole.
    api::UserTable users;
    api::RefusalLog refusal_log{api::kRefusalLogIntervalMs};
    std::size_t admitted_clients = 0;   // clients counted against max_clients
    std::size_t refused_lingering = 0;  // refused at accept, still open for their ERR line
    std::uint64_t started_wall_ns = 0;   // CLOCK_REALTIME at construction (DAEMON, Prometheus)
    std::uint64_t started_mono_ns = 0;   // uv_hrtime() at construction (uptime)
    std::unique_ptr<capture::CaptureHub> capture_hub;  // with config.attach_frame_tap only

    Impl(uv_loop_t* l, iface::Interface& i, const ApiServerConfig& c, std::function<void()> rs);

    tcp::TcpStack& tcp() { return iface.tcp(); }

    // ---- bookkeeping (api_server.cpp) ----
    void mark_dirty(Client* c);
    void wake(Client* c);
    void close_client(Client* c);
    void record_outcome(Client* c, client::Outcome outcome, std::string detail, std::uint64_t undelivered = 0);
    void release_conn(Client* c);
    void step(Client* c);
    void service(Instant t);

    // ---- the listening socket (unix_listener.cpp) ----
    bool start(std::string* error);
    bool adopt_listener(UnixSocket& s, std::string* error);
    bool open_socket(UnixSocket& s, std::string* error);
    bool watch_socket(UnixSocket& s, std::string* error);
    void close_socket(UnixSocket& s);
    void stop();
    std::size_t drain();
    bool drained() const { return draining && live_streams.empty(); }
    int start_polling(UnixSocket& s);
    void accept_clients(UnixSocket& s);
    void accept_client(int fd, api::Protocol protocol);
    void resume_accepting();

    // ---- one client's socket (client_io.cpp) ----
    void watch(Client* c, int events);
    void sync_timer(Client* c);
    void arm_timer(Client* c);
    void stop_timer(Client* c);
    void on_ready(Client* c, int status, int events);
    void read_request(Client* c);
    void parse_line(Client* c);
    void discard_input(Client* c, std::size_t limit);
    void note_eof(Client* c);
    bool flush_outbox(Client* c);
    void send_control(Client* c, std::string text);
    void reply_and_close(Client* c, std::string text);
    void finish_reply(Client* c);
    void reply_error(Client* c, client::ErrorCode code, std::string_view message);
    // `socks` is the reply a SOCKS client gets instead of the ERR line.
    void reply_failure(Client* c, client::ErrorCode code, socks::Reply socks, std::string_view message);
    // The bytes of that failure for this client's protocol.
    std::string failure_text(const Client* c, client::ErrorCode code, socks::Reply socks,
                             std::string_view message) const;

    // ---- a SOCKS5 client's handshake (socks_client.cpp) ----
    void read_socks(Client* c);
    void socks_request(Client* c, const socks::Request& r);
    void socks_refuse(Client* c, socks::Reply reply);

    // ---- users (user_access.cpp) ----
    bool privileged(const Client* c) const;
    bool may_bind(const Client* c, std::uint16_t port) const;
    bool may_use_listener(const Client* c, const Listener& l) const;
    // Whether `c` may see (STATUS, INFO, CONNECTIONS) a stream of `owner_uid`.
    bool may_see(const Client* c, std::uint32_t owner_uid) const;
    // The TCP buffer memory charged to a stream, and to all of a user's.
    std::uint64_t stream_memory(tcp::ConnId conn);
    std::uint64_t user_memory(std::uint32_t uid);
    // Why a new stream of `c` would exceed its user's memory share, if it would.
    std::optional<std::string> memory_refusal(Client* c);
    // ERR no-resources for `why`, counted and logged.
    void refuse_stream(Client* c, const std::string& why);
    // Before a CONNECT or ACCEPT of `c` creates a stream: false after
    // refusing it when the user's memory share is used up.
    bool admit_stream(Client* c);
    // ERR permission unless `c` may LISTEN/ACCEPT (`verb`) on `port`.
    bool may_take_port(Client* c, std::string_view verb, std::uint16_t port);
    // Counts and logs (rate-limited per uid) a refusal of `c`.
    void note_refusal(const Client* c, std::string_view what);
    // A client refused at accept gets `text` as its ERR line.
    void refuse_at_accept(Client* c, std::string_view message);
    void release_user(Client* c);

    // ---- requests and listeners (requests.cpp) ----
    void dispatch(Client* c);
    void handle(Client* c, const api::ConnectRequest& r);
    void handle(Client* c, const api::ListenRequest& r);
    void handle(Client* c, const api::AcceptRequest& r);
    void handle(Client* c, const api::StatusRequest& r);
    void handle(Client* c, const api::InfoRequest& r);
    void handle(Client* c, const api::ConnectionsRequest& r);
    void handle(Client* c, const api::StatsRequest& r);
    void handle(Client* c, const api::DaemonRequest& r);
    void handle(Client* c, const api::CaptureRequest& r);
    void handle(Client* c, const api::HelloRequest& r);
    void apply_stream_options(tcp::ConnId conn, const api::StreamOptions& o);
    // `family` applies when this call opens the listener (a LISTEN's family=).
    Listener* find_or_open_listener(Client* c, std::uint16_t port, std::uint32_t backlog,
                                    tcp::ListenFamily family = tcp::ListenFamily::kBoth);
    void close_listener(std::map<std::uint16_t, Listener>::iterator it);
    void release_listener_if_unused(std::uint16_t port);
    void detach_from_listener(Client* c);
    void pump_accepts(std::uint16_t port);
    void step_connecting(Client* c);
    void step_waiting(Client* c);
    void step_holding(Client* c);

    // ---- the daemon's own figures (daemon_info.cpp) ----
    void visit_own_metrics(const MetricVisitor& visit) const;
    void visit_metrics(const MetricVisitor& visit) const;

    // ---- packet capture (capture_client.cpp) ----
    void on_capture_data(capture::Session& s);
    void step_capturing(Client* c);
    void write_capture(Client* c);
    void end_capture(Client* c);

    // ---- streams (stream_bridge.cpp) ----
    void start_stream(Client* c);
    void fail_stream(Client* c, client::Outcome outcome, std::string detail);
    void step_streaming(Client* c);
    void begin_ending(Client* c, tcp::Error error);
    void step_ending(Client* c);
    void finish_ending(Client* c);
    void end_app_input(Client* c);
    void pull_from_app(Client* c);
    void push_to_app(Client* c);
    void watch_stream(Client* c);
};

}  // namespace tapstack::daemon
