// ApiServer: Unix-socket clients in, TCP streams out (protocol: PROTOCOL.md).
//
// Theory of operation
// -------------------
// Every accepted Unix connection is a Client with a phase:
//
//   kRequest ──CONNECT──> kConnecting ──established──> kStreaming ──> closed
//      │ ──ACCEPT───> kWaiting ────accepted──────────────┘
//      │ ──LISTEN───> kHolding (holds the port's listener until it goes away)
//      └─STATUS/INFO/CONNECTIONS/STATS/error──> kReplying (one reply, then closed)
//
// libuv callbacks only move bytes between the socket and the client's
// buffers and set flags; every TCP call happens in service(now), which gets
// the stack's clock. Callbacks mark the client dirty and ask the daemon for
// a service turn; TCP events mark the owning client dirty too.
//
// Data path of a stream, with its bounds (nothing grows without limit):
//   app -> TCP: libuv reads into the client's `inbound` buffer (one
//     request line while the request is read, 64 KiB once it is a stream);
//     service() hands it to tcp.send(). When the buffer is full (TCP's send
//     buffer full), reading stops (uv_read_stop) until TCP takes more.
//   TCP -> app: service() calls tcp.recv() only while less than
//     kMaxWriteInFlight bytes are queued in libuv for this client, so an
//     application that does not read leaves the data in TCP's receive
//     buffer and the advertised window closes.
//
// Ends (the invariant: never close() a TCP connection whose received data
// the application can still read):
//   * app EOF (shutdown(SHUT_WR) or close()) -> after every byte already
//     read has gone into TCP, tcp.shutdown_write() (FIN after queued data);
//   * peer FIN -> info().eof only after everything was recv()'d; then
//     uv_shutdown() after the queued writes, so the application reads EOF
//     after all data;
//   * both done -> tcp.close(), outcome "orderly", Unix connection closed;
//   * TCP error (reset, timed out) -> outcome recorded, then the Unix
//     connection closed: the application sees EOF and asks STATUS;
//   * application vanished (read/write error such as ECONNRESET/EPIPE) ->
//     tcp.abort() (RST toward the peer), outcome "aborted";
//   * application closed its socket entirely (EOF and POLLHUP) -> what a
//     kernel socket's close() does: tcp.close() (FIN after queued data, or
//     RST if received data is left unread).
// Outcomes are recorded before the Unix connection closes, so a STATUS
// after EOF always finds them.
//
// Listeners: one per port, alive while a LISTEN holder or ACCEPT waiters
// need it; waiters are served in arrival order.
//
// Per-stream options (CONNECT/ACCEPT `nodelay`, `keepalive`) go to the
// stack the moment the ConnId exists: right after connect(), or right after
// accept() for a waiter. INFO and CONNECTIONS read info()/stats() of live
// streams only (those with a stream id); ended ones are STATUS's business.
//
// The process must ignore SIGPIPE (tapstackd does): a write to a vanished
// application then fails with EPIPE and is handled as above.
//
// Non-goals: SCM_RIGHTS hand-over (one Unix connection per stream is
// simpler and works by hand); authentication beyond the socket file's mode
// and the uid check for ports below 1024.
#include "daemon/api/api_server.hpp"

#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstring>
#include <deque>
#include <filesystem>
#include <map>
#include <optional>
#include <system_error>
#include <unordered_map>
#include <utility>
#include <vector>

#include "daemon/api/outcome_table.hpp"
#include "daemon/api/request.hpp"
#include "daemon/client/protocol.hpp"

namespace tapstack::daemon {
namespace {

using client::ErrorCode;
using client::Outcome;

constexpr std::size_t kInboundCapacity = 64 * 1024;   // app -> TCP staging per client
constexpr std::size_t kWriteChunk = 64 * 1024;        // one tcp.recv() -> one write
constexpr std::size_t kMaxWriteInFlight = 128 * 1024; // queued in libuv per client
constexpr std::uint64_t kTickMs = 1000;               // deadline and POLLHUP checks
constexpr std::size_t kDiscardSize = 4096;            // a holder's ignored input

enum class Phase : std::uint8_t { kRequest, kConnecting, kWaiting, kHolding, kStreaming, kReplying, kClosing };

ErrorCode error_code_for(tcp::Error e) {
    switch (e) {
    case tcp::Error::kRefused: return ErrorCode::kRefused;
    case tcp::Error::kReset: return ErrorCode::kReset;
    case tcp::Error::kTimedOut: return ErrorCode::kTimedOut;
    case tcp::Error::kHostUnreachable: return ErrorCode::kUnreachable;
    case tcp::Error::kAddressInUse: return ErrorCode::kInUse;
    case tcp::Error::kNoResources: return ErrorCode::kNoResources;
    case tcp::Error::kInvalidArgument: return ErrorCode::kBadRequest;
    case tcp::Error::kNone:
    case tcp::Error::kNotConnected:
    case tcp::Error::kAborted: break;
    }
    return ErrorCode::kInternal;
}

Outcome outcome_for(tcp::Error e) {
    switch (e) {
    case tcp::Error::kNone: return Outcome::kOrderly;
    case tcp::Error::kRefused: return Outcome::kRefused;
    case tcp::Error::kReset: return Outcome::kReset;
    case tcp::Error::kTimedOut: return Outcome::kTimedOut;
    case tcp::Error::kHostUnreachable: return Outcome::kUnreachable;
    default: break;
    }
    return Outcome::kAborted;
}

std::string message_for(tcp::Error e) {
    switch (e) {
    case tcp::Error::kRefused: return "connection refused";
    case tcp::Error::kReset: return "connection reset by peer";
    case tcp::Error::kTimedOut: return "connection timed out";
    case tcp::Error::kHostUnreachable: return "no route to host (no ARP answer)";
    case tcp::Error::kAddressInUse: return "address already in use";
    case tcp::Error::kNoResources: return "out of connections or ports";
    case tcp::Error::kInvalidArgument: return "invalid argument";
    default: break;
    }
    return std::string(tcp::to_string(e));
}

// A name as one lower-case word for STATUS ("close-wait").
std::string state_word_of(std::string_view name) {
    std::string out(name);
    for (char& c : out) {
        c = (c == ' ' || c == '_') ? '-' : static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    }
    return out.empty() ? "unknown" : out;
}

std::string state_word(tcp::State s) { return state_word_of(tcp::to_string(s)); }

// True when the peer of a Unix stream socket has closed it entirely (both
// directions), as opposed to shutdown(SHUT_WR), which only gives EOF.
bool peer_hung_up(const uv_pipe_t* pipe) {
    uv_os_fd_t fd = -1;
    if (uv_fileno(reinterpret_cast<const uv_handle_t*>(pipe), &fd) != 0) {
        return true;
    }
    pollfd p{fd, POLLOUT, 0};
    if (::poll(&p, 1, 0) < 0) {
        return false;
    }
    return (p.revents & (POLLHUP | POLLERR)) != 0;
}

}  // namespace

struct ApiServer::Impl {
    struct Client;

    struct WriteReq {
        uv_write_t req{};
        Client* client = nullptr;
        std::vector<std::uint8_t> data;
        bool stream_data = false;  // counted in write_in_flight
        bool close_after = false;  // the reply of a kReplying client
    };

    struct Client {
        Impl* server = nullptr;
        std::uint64_t key = 0;
        uv_pipe_t pipe{};
        uv_timer_t timer{};
        int open_handles = 0;
        Phase phase = Phase::kRequest;
        std::uint32_t peer_uid = 0;
        bool peer_uid_known = false;

        // app -> TCP bytes (and, in kRequest, the request line): sized for
        // one request line until the client becomes a stream, so idle or
        // control clients cost little.
        std::vector<std::uint8_t> inbound;
        std::size_t in_begin = 0;
        std::size_t in_end = 0;
        bool reading = false;
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
        std::size_t write_in_flight = 0;
        bool tcp_write_shut = false;
        bool unix_shutdown_requested = false;
        bool unix_write_shut = false;
        uv_shutdown_t shutdown_req{};

        // kWaiting / kHolding
        std::uint16_t port = 0;
        api::StreamOptions stream_options;  // ACCEPT's, applied to the accepted connection

        std::size_t buffered() const { return in_end - in_begin; }
    };

    struct Listener {
        tcp::ListenerId id;
        Client* holder = nullptr;
        std::deque<Client*> waiters;
    };

    struct Counters {
        std::uint64_t clients_accepted = 0;
        std::uint64_t clients_rejected = 0;
        std::uint64_t bad_requests = 0;
        std::uint64_t request_timeouts = 0;
        std::uint64_t connects = 0;
        std::uint64_t accepts = 0;
        std::uint64_t streams_orderly = 0;
        std::uint64_t streams_failed = 0;
        std::uint64_t app_vanished = 0;
        std::uint64_t bytes_to_tcp = 0;
        std::uint64_t bytes_to_app = 0;
        std::uint64_t read_stops = 0;
    };

    uv_loop_t* loop;
    iface::Interface& iface;
    ApiServerConfig config;
    std::function<void()> request_service;
    uv_pipe_t server{};
    bool server_open = false;
    bool stopping = false;
    bool socket_created = false;
    Instant now{};

    std::uint64_t next_key = 1;
    std::uint64_t next_stream_id = 1;
    std::unordered_map<std::uint64_t, std::unique_ptr<Client>> clients;
    std::unordered_map<std::uint32_t, Client*> by_conn;          // ConnId.index -> stream owner
    std::unordered_map<std::uint64_t, Client*> live_streams;     // stream id -> client
    std::map<std::uint16_t, Listener> listeners;                 // port -> listener
    std::unordered_map<std::uint32_t, std::uint16_t> listener_ports;  // ListenerId.index -> port
    std::vector<std::uint64_t> dirty;
    std::vector<tcp::Event> events;
    std::vector<std::uint8_t> scratch = std::vector<std::uint8_t>(kWriteChunk);
    std::vector<char> discard = std::vector<char>(kDiscardSize);
    api::OutcomeTable outcomes;
    Counters counters;

    Impl(uv_loop_t* l, iface::Interface& i, const ApiServerConfig& c, std::function<void()> rs)
        : loop(l), iface(i), config(c), request_service(std::move(rs)), outcomes(c.outcome_history) {}

    tcp::TcpStack& tcp() { return iface.tcp(); }

    // ---- bookkeeping ------------------------------------------------------

    void mark_dirty(Client* c) {
        if (!c->dirty && c->phase != Phase::kClosing) {
            c->dirty = true;
            dirty.push_back(c->key);
        }
    }

    void wake(Client* c) {
        mark_dirty(c);
        if (request_service) {
            request_service();
        }
    }

    void close_client(Client* c) {
        if (c->phase == Phase::kClosing) {
            return;
        }
        detach_from_listener(c);
        if (c->conn.valid()) {
            by_conn.erase(c->conn.index);
        }
        if (c->stream_id != 0) {
            live_streams.erase(c->stream_id);
        }
        c->phase = Phase::kClosing;
        c->reading = false;
        auto on_close = [](uv_handle_t* h) {
            auto* cl = static_cast<Client*>(h->data);
            if (--cl->open_handles == 0) {
                cl->server->clients.erase(cl->key);
            }
        };
        uv_close(reinterpret_cast<uv_handle_t*>(&c->pipe), on_close);
        uv_close(reinterpret_cast<uv_handle_t*>(&c->timer), on_close);
    }

    // Sends `text` and closes the client once it is written (or after the
    // request timeout if the client never reads it).
    void reply_and_close(Client* c, std::string text) {
        if (c->phase == Phase::kClosing) {
            return;
        }
        detach_from_listener(c);
        stop_reading(c);
        c->phase = Phase::kReplying;
        c->request_deadline = uv_now(loop) + config.request_timeout_ms;
        arm_timer(c);
        write_bytes(c, reinterpret_cast<const std::uint8_t*>(text.data()), text.size(), false, true);
    }

    void reply_error(Client* c, ErrorCode code, std::string_view message) {
        reply_and_close(c, api::format_error(code, message));
    }

    void record_outcome(Client* c, Outcome outcome, std::string detail) {
        if (c->stream_id == 0) {
            return;
        }
        outcomes.record(c->stream_id, outcome, std::move(detail));
        live_streams.erase(c->stream_id);
        if (outcome == Outcome::kOrderly) {
            ++counters.streams_orderly;
        } else {
            ++counters.streams_failed;
        }
    }

    void release_conn(Client* c) {
        if (c->conn.valid()) {
            by_conn.erase(c->conn.index);
            c->conn = {};
        }
    }

    // ---- libuv plumbing ---------------------------------------------------

    void arm_timer(Client* c) {
        uv_timer_start(
            &c->timer,
            [](uv_timer_t* t) {
                auto* cl = static_cast<Client*>(t->data);
                cl->tick = true;
                cl->server->wake(cl);
            },
            kTickMs, kTickMs);
    }

    void start_reading(Client* c) {
        if (c->reading || c->app_eof || c->app_vanished || c->phase == Phase::kClosing ||
            c->phase == Phase::kReplying) {
            return;
        }
        if (c->phase != Phase::kHolding && c->in_end == c->inbound.size() && c->in_begin == 0) {
            return;  // full: wait until TCP takes some
        }
        if (uv_read_start(reinterpret_cast<uv_stream_t*>(&c->pipe), on_alloc, on_read) == 0) {
            c->reading = true;
        }
    }

    void stop_reading(Client* c) {
        if (c->reading) {
            uv_read_stop(reinterpret_cast<uv_stream_t*>(&c->pipe));
            c->reading = false;
        }
    }

    static void on_alloc(uv_handle_t* h, std::size_t, uv_buf_t* buf) {
        auto* c = static_cast<Client*>(h->data);
        if (c->phase == Phase::kHolding) {
            *buf = uv_buf_init(c->server->discard.data(), static_cast<unsigned>(c->server->discard.size()));
            return;
        }
        if (c->in_end == c->inbound.size() && c->in_begin > 0) {
            std::memmove(c->inbound.data(), c->inbound.data() + c->in_begin, c->buffered());
            c->in_end -= c->in_begin;
            c->in_begin = 0;
        }
        std::size_t room = c->inbound.size() - c->in_end;
        *buf = uv_buf_init(reinterpret_cast<char*>(c->inbound.data() + c->in_end), static_cast<unsigned>(room));
    }

    static void on_read(uv_stream_t* s, ssize_t nread, const uv_buf_t*) {
        auto* c = static_cast<Client*>(s->data);
        c->server->handle_read(c, nread);
    }

    void handle_read(Client* c, ssize_t nread) {
        if (c->phase == Phase::kClosing || nread == 0) {
            return;
        }
        if (nread == UV_ENOBUFS) {  // inbound full: backpressure
            stop_reading(c);
            ++counters.read_stops;
            return;
        }
        if (nread < 0) {
            c->reading = false;  // libuv stopped reading
            if (nread == UV_EOF) {
                c->app_eof = true;
                if (peer_hung_up(&c->pipe)) {
                    c->app_closed = true;
                }
                arm_timer(c);  // keep checking for POLLHUP
            } else {
                stop_reading(c);
                c->app_vanished = true;
            }
            if (c->phase == Phase::kRequest && !c->request) {
                // A last line without "\n" still counts as the request.
                if (c->buffered() > 0 && !c->app_vanished) {
                    parse_line(c, c->buffered(), c->buffered());
                } else {
                    close_client(c);
                    return;
                }
            }
            wake(c);
            return;
        }
        if (c->phase == Phase::kHolding) {
            return;  // a holder's input is ignored
        }
        c->in_end += static_cast<std::size_t>(nread);
        if (c->phase == Phase::kRequest && !c->request) {
            find_request_line(c);
            if (c->phase != Phase::kRequest) {
                return;
            }
        }
        if (c->in_end == c->inbound.size() && c->in_begin == 0) {
            stop_reading(c);
            ++counters.read_stops;
        }
        wake(c);
    }

    void find_request_line(Client* c) {
        const std::uint8_t* begin = c->inbound.data() + c->in_begin;
        const std::uint8_t* end = c->inbound.data() + c->in_end;
        const std::uint8_t* nl = std::find(begin, end, std::uint8_t{'\n'});
        std::size_t max_line = std::max<std::size_t>(config.max_request_line, 2);
        if (nl == end) {
            if (c->buffered() >= max_line) {
                ++counters.bad_requests;
                reply_error(c, ErrorCode::kBadRequest,
                            "request line longer than " + std::to_string(max_line) + " bytes");
            }
            return;
        }
        std::size_t line_len = static_cast<std::size_t>(nl - begin);
        if (line_len + 1 > max_line) {
            ++counters.bad_requests;
            reply_error(c, ErrorCode::kBadRequest, "request line longer than " + std::to_string(max_line) + " bytes");
            return;
        }
        parse_line(c, line_len, line_len + 1);
    }

    void parse_line(Client* c, std::size_t line_len, std::size_t consumed) {
        std::string_view line(reinterpret_cast<const char*>(c->inbound.data() + c->in_begin), line_len);
        auto parsed = api::parse_request(line);
        c->in_begin += consumed;
        if (auto* err = std::get_if<api::ParseError>(&parsed)) {
            ++counters.bad_requests;
            reply_error(c, ErrorCode::kBadRequest, err->reason);
            return;
        }
        c->request = std::get<api::Request>(parsed);
        c->request_deadline = 0;
        wake(c);
    }

    // Queues bytes toward the application, preserving order. Stream data is
    // tried synchronously first (no copy when the socket has room).
    void write_bytes(Client* c, const std::uint8_t* data, std::size_t len, bool stream_data, bool close_after) {
        auto* stream = reinterpret_cast<uv_stream_t*>(&c->pipe);
        if (stream_data && !close_after) {
            uv_buf_t b = uv_buf_init(const_cast<char*>(reinterpret_cast<const char*>(data)), static_cast<unsigned>(len));
            int n = uv_try_write(stream, &b, 1);
            if (n > 0) {
                data += n;
                len -= static_cast<std::size_t>(n);
            } else if (n != UV_EAGAIN && n != UV_ENOSYS) {
                app_write_failed(c);
                return;
            }
            if (len == 0) {
                return;
            }
        }
        auto* w = new WriteReq;
        w->client = c;
        w->data.assign(data, data + len);
        w->stream_data = stream_data;
        w->close_after = close_after;
        w->req.data = w;
        if (stream_data) {
            c->write_in_flight += len;
        }
        uv_buf_t b = uv_buf_init(reinterpret_cast<char*>(w->data.data()), static_cast<unsigned>(w->data.size()));
        int rc = uv_write(&w->req, stream, &b, 1, [](uv_write_t* req, int status) {
            auto* wr = static_cast<WriteReq*>(req->data);
            Client* cl = wr->client;
            Impl* self = cl->server;
            if (wr->stream_data) {
                cl->write_in_flight -= wr->data.size();
            }
            bool then_close = wr->close_after;
            delete wr;
            if (cl->phase == Phase::kClosing) {
                return;
            }
            if (then_close) {
                self->close_client(cl);
                return;
            }
            if (status < 0) {
                self->app_write_failed(cl);
                return;
            }
            self->wake(cl);
        });
        if (rc != 0) {
            if (stream_data) {
                c->write_in_flight -= len;
            }
            delete w;
            if (close_after) {
                close_client(c);
            } else {
                app_write_failed(c);
            }
        }
    }

    void app_write_failed(Client* c) {
        c->app_vanished = true;
        stop_reading(c);
        wake(c);
    }

    // ---- requests -----------------------------------------------------------

    bool may_bind(const Client* c, std::uint16_t port) const {
        if (port >= 1024) {
            return true;
        }
        return c->peer_uid_known && (c->peer_uid == 0 || c->peer_uid == ::geteuid());
    }

    void dispatch(Client* c) {
        api::Request req = *c->request;
        c->request.reset();
        std::visit([&](const auto& r) { handle(c, r); }, req);
    }

    void handle(Client* c, const api::ConnectRequest& r) {
        tcp::ConnId conn;
        tcp::Error e = tcp().connect(now, wire::Ipv4Endpoint{r.address, r.port}, 0, &conn);
        if (e != tcp::Error::kNone) {
            reply_error(c, error_code_for(e),
                        "connect " + wire::Ipv4Endpoint{r.address, r.port}.to_string() + ": " + message_for(e));
            return;
        }
        ++counters.connects;
        apply_stream_options(conn, r.options);
        c->inbound.resize(kInboundCapacity);
        c->conn = conn;
        by_conn[conn.index] = c;
        c->phase = Phase::kConnecting;
        c->op_deadline = r.timeout_s ? uv_now(loop) + std::uint64_t{r.timeout_s} * 1000 : 0;
        arm_timer(c);
        start_reading(c);  // pipelined data waits in `inbound`
        step_connecting(c);
    }

    void handle(Client* c, const api::ListenRequest& r) {
        if (!may_bind(c, r.port)) {
            reply_error(c, ErrorCode::kPermission, "listen on port " + std::to_string(r.port) +
                                                       " (below 1024) needs root or the daemon's user");
            return;
        }
        Listener* l = find_or_open_listener(c, r.port, r.backlog);
        if (!l) {
            return;
        }
        if (l->holder) {
            reply_error(c, ErrorCode::kInUse, "port " + std::to_string(r.port) + " is already held by a LISTEN");
            release_listener_if_unused(r.port);
            return;
        }
        l->holder = c;
        c->port = r.port;
        c->phase = Phase::kHolding;
        c->in_begin = c->in_end = 0;  // anything pipelined is ignored
        std::string ok = api::format_listen_ok(wire::Ipv4Endpoint{iface.config().address.address, r.port});
        write_bytes(c, reinterpret_cast<const std::uint8_t*>(ok.data()), ok.size(), false, false);
        if (!c->app_eof) {
            start_reading(c);  // to notice the holder going away
        }
        arm_timer(c);
    }

    void handle(Client* c, const api::AcceptRequest& r) {
        if (!may_bind(c, r.port)) {
            reply_error(c, ErrorCode::kPermission, "accept on port " + std::to_string(r.port) +
                                                       " (below 1024) needs root or the daemon's user");
            return;
        }
        Listener* l = find_or_open_listener(c, r.port, 0);
        if (!l) {
            return;
        }
        c->inbound.resize(kInboundCapacity);
        l->waiters.push_back(c);
        c->port = r.port;
        c->stream_options = r.options;
        c->phase = Phase::kWaiting;
        c->op_deadline = r.timeout_s ? uv_now(loop) + std::uint64_t{r.timeout_s} * 1000 : 0;
        arm_timer(c);
        start_reading(c);
        pump_accepts(r.port);
    }

    void handle(Client* c, const api::StatusRequest& r) {
        if (auto it = live_streams.find(r.id); it != live_streams.end()) {
            Client* s = it->second;
            tcp::ConnInfo info = tcp().info(s->conn);
            reply_and_close(c, api::format_status_ok(r.id, state_word(info.state), Outcome::kOpen));
            return;
        }
        if (auto e = outcomes.find(r.id)) {
            reply_and_close(c, api::format_status_ok(r.id, e->detail, e->outcome));
            return;
        }
        reply_error(c, ErrorCode::kNotFound, "no connection " + std::to_string(r.id) + " among the recent ones");
    }

    // As soon as the connection exists: a SYN-SENT connection is already
    // owned by the application, and an accepted one has not yet carried data
    // the application wrote.
    void apply_stream_options(tcp::ConnId conn, const api::StreamOptions& o) {
        if (o.nodelay) {
            tcp().set_nodelay(conn, *o.nodelay);
        }
        if (o.keepalive) {
            tcp().set_keepalive(conn, *o.keepalive);
        }
    }

    void handle(Client* c, const api::InfoRequest& r) {
        if (auto it = live_streams.find(r.id); it != live_streams.end()) {
            const tcp::ConnId conn = it->second->conn;
            const tcp::ConnInfo info = tcp().info(conn);
            reply_and_close(c, api::format_info_ok(r.id, state_word(info.state), info, tcp().stats(conn)));
            return;
        }
        if (auto e = outcomes.find(r.id)) {
            reply_error(c, ErrorCode::kNotFound,
                        "connection " + std::to_string(r.id) + " has ended (outcome " +
                            std::string(client::to_string(e->outcome)) + "); STATUS " + std::to_string(r.id) +
                            " tells how");
            return;
        }
        reply_error(c, ErrorCode::kNotFound, "no live connection " + std::to_string(r.id));
    }

    void handle(Client* c, const api::ConnectionsRequest&) {
        std::vector<std::uint64_t> ids;
        ids.reserve(live_streams.size());
        for (const auto& [id, s] : live_streams) {
            ids.push_back(id);
        }
        std::sort(ids.begin(), ids.end());
        std::string out(api::kConnectionsOk);
        for (std::uint64_t id : ids) {
            const tcp::ConnId conn = live_streams.at(id)->conn;
            const tcp::ConnInfo info = tcp().info(conn);
            out += api::format_connection_line(id, state_word(info.state), info, tcp().stats(conn));
        }
        out.append(client::kListEnd);
        out += '\n';
        reply_and_close(c, std::move(out));
    }

    void handle(Client* c, const api::StatsRequest&) {
        std::string out = "OK stats\n";
        auto add = [&out](std::string_view name, std::uint64_t value) {
            out.append(name);
            out += ' ';
            out += std::to_string(value);
            out += '\n';
        };
        if (config.extra_counters) config.extra_counters(add);
        iface.visit_counters(add);
        add("tcp.connections", tcp().connection_count());
        add("api.clients", clients.size());
        add("api.streams", live_streams.size());
        add("api.listeners", listeners.size());
        add("api.clients_accepted", counters.clients_accepted);
        add("api.clients_rejected", counters.clients_rejected);
        add("api.bad_requests", counters.bad_requests);
        add("api.request_timeouts", counters.request_timeouts);
        add("api.connects", counters.connects);
        add("api.accepts", counters.accepts);
        add("api.streams_orderly", counters.streams_orderly);
        add("api.streams_failed", counters.streams_failed);
        add("api.app_vanished", counters.app_vanished);
        add("api.bytes_to_tcp", counters.bytes_to_tcp);
        add("api.bytes_to_app", counters.bytes_to_app);
        add("api.read_stops", counters.read_stops);
        out.append(client::kStatsEnd);
        out += '\n';
        reply_and_close(c, std::move(out));
    }

    // ---- listeners ------------------------------------------------------------

    Listener* find_or_open_listener(Client* c, std::uint16_t port, std::uint32_t backlog) {
        if (auto it = listeners.find(port); it != listeners.end()) {
            return &it->second;
        }
        tcp::ListenerId id;
        tcp::Error e = tcp().listen(port, backlog, &id);
        if (e != tcp::Error::kNone) {
            reply_error(c, error_code_for(e), "listen on port " + std::to_string(port) + ": " + message_for(e));
            return nullptr;
        }
        Listener& l = listeners[port];
        l.id = id;
        listener_ports[id.index] = port;
        return &l;
    }

    void release_listener_if_unused(std::uint16_t port) {
        auto it = listeners.find(port);
        if (it == listeners.end() || it->second.holder || !it->second.waiters.empty()) {
            return;
        }
        tcp().close_listener(it->second.id);
        listener_ports.erase(it->second.id.index);
        listeners.erase(it);
    }

    void detach_from_listener(Client* c) {
        if (c->phase != Phase::kHolding && c->phase != Phase::kWaiting) {
            return;
        }
        auto it = listeners.find(c->port);
        if (it == listeners.end()) {
            return;
        }
        if (it->second.holder == c) {
            it->second.holder = nullptr;
        }
        auto& w = it->second.waiters;
        w.erase(std::remove(w.begin(), w.end(), c), w.end());
        release_listener_if_unused(c->port);
    }

    // Hands established connections to waiters, oldest waiter first. A
    // waiter is checked for life before a connection is taken for it, so a
    // connection is never accepted for nobody.
    void pump_accepts(std::uint16_t port) {
        auto it = listeners.find(port);
        if (it == listeners.end()) {
            return;
        }
        Listener& l = it->second;
        while (!l.waiters.empty()) {
            Client* w = l.waiters.front();
            if (w->app_vanished || w->app_closed || peer_hung_up(&w->pipe)) {
                l.waiters.pop_front();
                w->phase = Phase::kRequest;  // no longer attached to the listener
                close_client(w);
                continue;
            }
            tcp::ConnId conn = tcp().accept(l.id);
            if (!conn.valid()) {
                break;
            }
            l.waiters.pop_front();
            ++counters.accepts;
            apply_stream_options(conn, w->stream_options);
            w->conn = conn;
            by_conn[conn.index] = w;
            start_stream(w);
        }
        release_listener_if_unused(port);
    }

    // ---- streams ----------------------------------------------------------------

    void start_stream(Client* c) {
        tcp::ConnInfo info = tcp().info(c->conn);
        c->stream_id = next_stream_id++;
        live_streams[c->stream_id] = c;
        c->phase = Phase::kStreaming;
        c->op_deadline = 0;
        std::string ok = api::format_stream_ok(info.local, info.remote, c->stream_id);
        write_bytes(c, reinterpret_cast<const std::uint8_t*>(ok.data()), ok.size(), false, false);
        step_streaming(c);
    }

    void fail_stream(Client* c, Outcome outcome, std::string detail) {
        record_outcome(c, outcome, std::move(detail));
        release_conn(c);
        close_client(c);
    }

    void step_connecting(Client* c) {
        if (c->app_vanished || c->app_closed) {
            ++counters.app_vanished;
            tcp().abort(now, c->conn);
            release_conn(c);
            close_client(c);
            return;
        }
        tcp::ConnInfo info = tcp().info(c->conn);
        if (info.state == tcp::State::kSynSent || info.state == tcp::State::kSynReceived) {
            if (c->op_deadline != 0 && uv_now(loop) >= c->op_deadline) {
                tcp().abort(now, c->conn);
                release_conn(c);
                reply_error(c, ErrorCode::kTimedOut, "connect " + info.remote.to_string() + ": connection timed out");
            }
            return;
        }
        if (!info.established) {
            tcp::Error e = info.error == tcp::Error::kNone ? tcp::Error::kRefused : info.error;
            tcp().abort(now, c->conn);
            release_conn(c);
            reply_error(c, error_code_for(e), "connect " + info.remote.to_string() + ": " + message_for(e));
            return;
        }
        start_stream(c);
    }

    void step_waiting(Client* c) {
        if (c->app_vanished || c->app_closed) {
            close_client(c);
            return;
        }
        if (c->op_deadline != 0 && uv_now(loop) >= c->op_deadline) {
            reply_error(c, ErrorCode::kTimedOut, "accept on port " + std::to_string(c->port) + ": timed out");
        }
    }

    void step_streaming(Client* c) {
        tcp::TcpStack& t = tcp();
        if (c->app_vanished) {
            // The application died: RST toward the peer, nothing left to keep.
            ++counters.app_vanished;
            t.abort(now, c->conn);
            fail_stream(c, Outcome::kAborted, "app-vanished");
            return;
        }
        tcp::ConnInfo info = t.info(c->conn);
        if (info.state == tcp::State::kClosed && info.error != tcp::Error::kNone) {
            t.abort(now, c->conn);
            fail_stream(c, outcome_for(info.error), state_word_of(tcp::to_string(info.error)));
            return;
        }

        // app -> TCP
        if (c->buffered() > 0 && !c->tcp_write_shut) {
            std::size_t n = t.send(now, c->conn, std::span<const std::uint8_t>(c->inbound.data() + c->in_begin, c->buffered()));
            c->in_begin += n;
            counters.bytes_to_tcp += n;
            if (c->in_begin == c->in_end) {
                c->in_begin = c->in_end = 0;
            }
        }
        if (c->app_eof && c->buffered() == 0 && !c->tcp_write_shut) {
            t.shutdown_write(now, c->conn);
            c->tcp_write_shut = true;
        }
        start_reading(c);

        if (c->app_closed) {
            if (c->buffered() > 0) {
                return;  // still handing its last bytes to TCP
            }
            // Like close() on a kernel socket: FIN after queued data, or RST
            // when received data is left unread.
            info = t.info(c->conn);
            if (info.recv_available > 0 || c->write_in_flight > 0) {
                t.abort(now, c->conn);
                fail_stream(c, Outcome::kAborted, "app-closed-unread");
            } else {
                t.close(now, c->conn);
                fail_stream(c, Outcome::kOrderly, "app-closed");
            }
            return;
        }

        // TCP -> app, bounded by kMaxWriteInFlight queued bytes.
        while (!c->unix_shutdown_requested && c->write_in_flight < kMaxWriteInFlight &&
               c->phase == Phase::kStreaming && !c->app_vanished) {
            std::size_t n = t.recv(now, c->conn, std::span<std::uint8_t>(scratch.data(), scratch.size()));
            if (n == 0) {
                break;
            }
            counters.bytes_to_app += n;
            write_bytes(c, scratch.data(), n, true, false);
        }
        if (c->app_vanished) {
            wake(c);  // handled on the next turn with a fresh info()
            return;
        }
        info = t.info(c->conn);
        if (info.eof && !c->unix_shutdown_requested) {
            c->unix_shutdown_requested = true;
            c->shutdown_req.data = c;
            int rc = uv_shutdown(&c->shutdown_req, reinterpret_cast<uv_stream_t*>(&c->pipe),
                                 [](uv_shutdown_t* req, int status) {
                                     auto* cl = static_cast<Client*>(req->data);
                                     if (cl->phase == Phase::kClosing) {
                                         return;
                                     }
                                     if (status < 0 && status != UV_ENOTCONN) {
                                         cl->app_vanished = true;
                                     }
                                     cl->unix_write_shut = true;
                                     cl->server->wake(cl);
                                 });
            if (rc != 0) {
                c->unix_write_shut = true;
            }
        }
        if (c->unix_write_shut && c->tcp_write_shut) {
            // Both directions ended in order; the stack finishes the
            // closing handshake (and TIME-WAIT) on its own.
            t.close(now, c->conn);
            fail_stream(c, Outcome::kOrderly, "closed");
        }
    }

    void step(Client* c) {
        bool tick = std::exchange(c->tick, false);
        if (tick && c->app_eof && !c->app_closed && c->phase != Phase::kClosing && peer_hung_up(&c->pipe)) {
            c->app_closed = true;
        }
        switch (c->phase) {
        case Phase::kRequest:
            if (c->request) {
                dispatch(c);
            } else if (tick && c->request_deadline != 0 && uv_now(loop) >= c->request_deadline) {
                ++counters.request_timeouts;
                reply_error(c, ErrorCode::kBadRequest,
                            "no request line within " + std::to_string(config.request_timeout_ms) + " ms");
            }
            break;
        case Phase::kReplying:
            if (tick && uv_now(loop) >= c->request_deadline) {
                close_client(c);  // never read its reply
            }
            break;
        case Phase::kConnecting: step_connecting(c); break;
        case Phase::kWaiting: step_waiting(c); break;
        case Phase::kHolding:
            if (c->app_vanished || c->app_closed) {
                close_client(c);
            }
            break;
        case Phase::kStreaming: step_streaming(c); break;
        case Phase::kClosing: break;
        }
    }

    // ---- accepting Unix clients ----------------------------------------------------

    static void on_connection(uv_stream_t* server, int status) {
        auto* self = static_cast<Impl*>(server->data);
        if (status < 0 || self->stopping) {
            return;
        }
        self->accept_client();
    }

    void accept_client() {
        auto owned = std::make_unique<Client>();
        Client* c = owned.get();
        c->server = this;
        c->key = next_key++;
        uv_pipe_init(loop, &c->pipe, 0);
        uv_timer_init(loop, &c->timer);
        c->pipe.data = c;
        c->timer.data = c;
        c->open_handles = 2;
        c->inbound.resize(std::clamp<std::size_t>(config.max_request_line, 2, kInboundCapacity));
        clients.emplace(c->key, std::move(owned));
        if (uv_accept(reinterpret_cast<uv_stream_t*>(&server), reinterpret_cast<uv_stream_t*>(&c->pipe)) != 0) {
            close_client(c);
            return;
        }
        uv_os_fd_t fd = -1;
        if (uv_fileno(reinterpret_cast<uv_handle_t*>(&c->pipe), &fd) == 0) {
            ucred cred{};
            socklen_t len = sizeof cred;
            if (::getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) == 0) {
                c->peer_uid = cred.uid;
                c->peer_uid_known = true;
            }
        }
        if (clients.size() > config.max_clients) {
            ++counters.clients_rejected;
            reply_error(c, ErrorCode::kNoResources,
                        "too many clients (max_clients " + std::to_string(config.max_clients) + ")");
            return;
        }
        ++counters.clients_accepted;
        c->request_deadline = uv_now(loop) + config.request_timeout_ms;
        arm_timer(c);
        start_reading(c);
    }

    // ---- start / stop / service ----------------------------------------------------------

    bool start(std::string* error) {
        namespace fs = std::filesystem;
        const std::string& path = config.socket_path;
        auto fail = [&](std::string why) {
            if (error) {
                *error = "api.socket " + path + ": " + why;
            }
            return false;
        };
        if (path.empty() || path.size() >= sizeof(sockaddr_un{}.sun_path)) {
            return fail("path is empty or longer than " + std::to_string(sizeof(sockaddr_un{}.sun_path) - 1) +
                        " bytes");
        }
        std::error_code ec;
        fs::path parent = fs::path(path).parent_path();
        if (!parent.empty()) {
            fs::create_directories(parent, ec);
            if (ec) {
                return fail("cannot create " + parent.string() + ": " + ec.message());
            }
        }
        struct stat st {};
        if (::lstat(path.c_str(), &st) == 0) {
            if (!S_ISSOCK(st.st_mode)) {
                return fail("exists and is not a socket");
            }
            if (socket_in_use(path)) {
                return fail("another process is serving this socket");
            }
            ::unlink(path.c_str());  // stale socket from an earlier run
        }
        uv_pipe_init(loop, &server, 0);
        server.data = this;
        server_open = true;
        int rc = uv_pipe_bind(&server, path.c_str());
        if (rc != 0) {
            return fail(std::string("bind: ") + uv_strerror(rc));
        }
        socket_created = true;
        if (::chmod(path.c_str(), static_cast<mode_t>(config.socket_mode)) != 0) {
            return fail(std::string("chmod: ") + std::strerror(errno));
        }
        rc = uv_listen(reinterpret_cast<uv_stream_t*>(&server), 128, on_connection);
        if (rc != 0) {
            return fail(std::string("listen: ") + uv_strerror(rc));
        }
        return true;
    }

    static bool socket_in_use(const std::string& path) {
        int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0) {
            return false;
        }
        sockaddr_un addr{};
        addr.sun_family = AF_UNIX;
        std::memcpy(addr.sun_path, path.c_str(), path.size() + 1);
        bool in_use = ::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
        ::close(fd);
        return in_use;
    }

    void stop() {
        if (stopping) {
            return;
        }
        stopping = true;
        if (server_open) {
            uv_close(reinterpret_cast<uv_handle_t*>(&server), nullptr);
            server_open = false;
        }
        if (socket_created) {
            ::unlink(config.socket_path.c_str());
            socket_created = false;
        }
        std::vector<Client*> all;
        all.reserve(clients.size());
        for (auto& [key, c] : clients) {
            all.push_back(c.get());
        }
        for (Client* c : all) {
            if (c->phase == Phase::kClosing) {
                continue;
            }
            if (c->conn.valid()) {
                tcp().abort(now, c->conn);
                record_outcome(c, Outcome::kAborted, "daemon-stopped");
                release_conn(c);
            }
            close_client(c);
        }
        for (auto& [port, l] : listeners) {
            tcp().close_listener(l.id);
        }
        listeners.clear();
        listener_ports.clear();
    }

    void service(Instant t) {
        now = t;
        events.clear();
        tcp().drain_events(events);
        std::vector<std::uint16_t> ports;
        for (const tcp::Event& ev : events) {
            if (ev.kind == tcp::Event::Kind::kConnection) {
                if (auto it = by_conn.find(ev.conn.index); it != by_conn.end() && it->second->conn == ev.conn) {
                    mark_dirty(it->second);
                }
            } else if (auto it = listener_ports.find(ev.listener.index); it != listener_ports.end()) {
                ports.push_back(it->second);
            }
        }
        for (std::uint16_t port : ports) {
            pump_accepts(port);
        }
        // Steps may make other clients dirty (an accept, a failed write);
        // a few rounds settle them, anything later waits for the next turn.
        for (int round = 0; round < 4 && !dirty.empty(); ++round) {
            std::vector<std::uint64_t> batch;
            batch.swap(dirty);
            for (std::uint64_t key : batch) {
                auto it = clients.find(key);
                if (it == clients.end()) {
                    continue;
                }
                Client* c = it->second.get();
                c->dirty = false;
                step(c);
            }
        }
        if (!dirty.empty() && request_service) {
            request_service();
        }
    }
};

ApiServer::ApiServer(uv_loop_t* loop, iface::Interface& iface, const ApiServerConfig& config,
                     std::function<void()> request_service)
    : impl_(std::make_unique<Impl>(loop, iface, config, std::move(request_service))) {}

ApiServer::~ApiServer() {
    if (impl_ && !impl_->clients.empty()) {
        // Handles still registered with the loop (stop() not followed by a
        // loop run): leaking them is safer than freeing memory libuv uses.
        static_cast<void>(impl_.release());
    }
}

bool ApiServer::start(std::string* error) { return impl_->start(error); }

void ApiServer::stop() { impl_->stop(); }

void ApiServer::service(Instant now) { impl_->service(now); }

}  // namespace tapstack::daemon
