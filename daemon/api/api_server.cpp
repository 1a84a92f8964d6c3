// ApiServer: Unix-socket clients in, TCP streams out (protocol: PROTOCOL.md).
// This file: the public calls, the service turn that runs every client
// step, and client bookkeeping. api_server_impl.hpp has the phases and
// lists the other parts.
//
// Theory of operation
// -------------------
// service(now) is called once per daemon loop turn. It drains TCP's events,
// marks the clients that own the connections named there dirty, hands new
// connections of TCP listeners to ACCEPT waiters, and steps every dirty
// client (a few rounds, so a step that dirties another client settles in
// the same turn; later ones ask for another turn). A step looks at the
// client's phase and does what is due: dispatch a parsed request, check a
// deadline, advance a connect, move stream bytes.
//
// Ends (the invariant: never close() a TCP connection whose received data
// the application can still read; see stream_bridge.cpp for the details):
//   * app EOF -> tcp.shutdown_write() (everything read is already in TCP);
//   * peer FIN -> info().eof only after everything was consumed; then
//     shutdown(SHUT_WR) of the socket, so the application reads EOF after
//     all data;
//   * both done -> tcp.close(), outcome "orderly", Unix connection closed;
//   * TCP error (reset, timed out) -> every byte TCP still holds is handed
//     to the application first (as long as it keeps taking them), then the
//     outcome is recorded and the Unix connection closed: the application
//     reads all data, then EOF, and asks STATUS;
//   * application vanished (read/write error such as ECONNRESET/EPIPE) ->
//     tcp.abort() (RST toward the peer), outcome "aborted";
//   * application closed its socket entirely (EOF and POLLHUP) -> what a
//     kernel socket's close() does: tcp.close() (FIN after queued data, or
//     RST if received data is left unread).
// Outcomes are recorded before the Unix connection closes, so a STATUS
// after EOF always finds them.
//
// Non-goals: SCM_RIGHTS hand-over (one Unix connection per stream is
// simpler and works by hand); authentication beyond the socket file's mode
// and group and the peer's uid (user_access.cpp).
#include "daemon/api/api_server.hpp"

#include <poll.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <utility>

#include "daemon/api/api_server_impl.hpp"

namespace tapstack::daemon {

namespace api {

using client::ErrorCode;
using client::Outcome;

ErrorCode error_code_for(tcp::Error e) {
    switch (e) {
    case tcp::Error::kRefused: return ErrorCode::kRefused;
    case tcp::Error::kReset: return ErrorCode::kReset;
    case tcp::Error::kTimedOut: return ErrorCode::kTimedOut;
    case tcp::Error::kHostUnreachable: return ErrorCode::kUnreachable;
    case tcp::Error::kAddressInUse: return ErrorCode::kInUse;
    case tcp::Error::kNoResources: return ErrorCode::kNoResources;
    case tcp::Error::kNoMemory: return ErrorCode::kNoResources;
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
    case tcp::Error::kNoMemory: return "TCP memory budget (tcp.memory_max) under pressure; try again later";
    case tcp::Error::kInvalidArgument: return "invalid argument";
    default: break;
    }
    return std::string(tcp::to_string(e));
}

std::string state_word_of(std::string_view name) {
    std::string out(name);
    for (char& c : out) {
        c = (c == ' ' || c == '_') ? '-' : static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    }
    return out.empty() ? "unknown" : out;
}

std::string state_word(tcp::State s) { return state_word_of(tcp::to_string(s)); }

bool starts_something(const Request& r) {
    return std::holds_alternative<ConnectRequest>(r) || std::holds_alternative<ListenRequest>(r) ||
           std::holds_alternative<AcceptRequest>(r);
}

bool peer_hung_up(int fd) {
    if (fd < 0) {
        return true;
    }
    pollfd p{fd, POLLOUT, 0};
    if (::poll(&p, 1, 0) < 0) {
        return false;
    }
    return (p.revents & (POLLHUP | POLLERR)) != 0;
}

}  // namespace api

using api::Phase;

ApiServer::Impl::Impl(uv_loop_t* l, iface::Interface& i, const ApiServerConfig& c, std::function<void()> rs)
    : loop(l),
      iface(i),
      config(c),
      request_service(std::move(rs)),
      scratch(std::max<std::size_t>(api::kDiscardSize, std::max<std::size_t>(c.max_request_line, 2))),
      outcomes(c.outcome_history),
      users(static_cast<std::uint32_t>(::geteuid())),
      started_wall_ns(capture::CaptureHub::wall_clock_ns()),
      started_mono_ns(uv_hrtime()) {
    if (config.attach_frame_tap) {
        capture_hub = std::make_unique<capture::CaptureHub>(
            config.interface_name, config.attach_frame_tap, [this](capture::Session& s) { on_capture_data(s); });
    }
}

// ---- bookkeeping --------------------------------------------------------------

void ApiServer::Impl::mark_dirty(Client* c) {
    if (!c->dirty && c->phase != Phase::kClosing) {
        c->dirty = true;
        dirty.push_back(c->key);
    }
}

void ApiServer::Impl::wake(Client* c) {
    mark_dirty(c);
    if (request_service) {
        request_service();
    }
}

void ApiServer::Impl::close_client(Client* c) {
    if (c->phase == Phase::kClosing) {
        return;
    }
    detach_from_listener(c);
    release_user(c);
    end_capture(c);
    if (c->conn.valid()) {
        by_conn.erase(c->conn.index);
    }
    if (c->stream_id != 0) {
        live_streams.erase(c->stream_id);
    }
    c->phase = Phase::kClosing;
    // Input the application sent and nobody will read would turn our close()
    // into ECONNRESET at the application instead of EOF (AF_UNIX does that):
    // read a bounded amount of it away first.
    discard_input(c, 64 * api::kDiscardSize);
    auto on_close = [](uv_handle_t* h) {
        auto* cl = static_cast<Client*>(h->data);
        if (--cl->open_handles == 0) {
            Impl* self = cl->server;
            self->clients.erase(cl->key);
            self->resume_accepting();
        }
    };
    // uv_close() stops the poll handle at once, so the descriptor can go now.
    uv_close(reinterpret_cast<uv_handle_t*>(&c->poll), on_close);
    uv_close(reinterpret_cast<uv_handle_t*>(&c->timer), on_close);
    if (c->fd >= 0) {
        ::close(c->fd);
        c->fd = -1;
    }
}

void ApiServer::Impl::record_outcome(Client* c, client::Outcome outcome, std::string detail,
                                     std::uint64_t undelivered) {
    if (c->stream_id == 0) {
        return;
    }
    counters.bytes_undelivered += undelivered;
    outcomes.record(c->stream_id, c->peer_uid, outcome, std::move(detail), undelivered);
    live_streams.erase(c->stream_id);
    if (outcome == client::Outcome::kOrderly) {
        ++counters.streams_orderly;
    } else {
        ++counters.streams_failed;
    }
}

void ApiServer::Impl::release_conn(Client* c) {
    if (c->conn.valid()) {
        by_conn.erase(c->conn.index);
        c->conn = {};
    }
}

// ---- the service turn -------------------------------------------------------------

void ApiServer::Impl::step(Client* c) {
    bool tick = std::exchange(c->tick, false);
    // POLLHUP is only looked for after EOF (or RDHUP while nothing is read):
    // before that the socket may still hold data to pass on.
    if (tick && !c->app_closed && c->phase != Phase::kClosing &&
        (c->app_eof || (c->hup_seen && c->phase != Phase::kStreaming)) && api::peer_hung_up(c->fd)) {
        c->app_closed = true;
    }
    switch (c->phase) {
    case Phase::kRequest:
        if (c->app_vanished) {
            close_client(c);
        } else if (c->request && draining && api::starts_something(*c->request)) {
            // Stopping: nothing new starts. Questions are still answered, so
            // an application whose stream ends meanwhile learns how (STATUS).
            c->request.reset();
            ++counters.refused_shutting_down;
            reply_error(c, client::ErrorCode::kShuttingDown, "tapstackd is stopping");
        } else if (c->request) {
            dispatch(c);
        } else if (tick && c->request_deadline != 0 && uv_now(loop) >= c->request_deadline) {
            ++counters.request_timeouts;
            reply_error(c, client::ErrorCode::kBadRequest,
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
    case Phase::kHolding: step_holding(c); break;
    case Phase::kStreaming: step_streaming(c); break;
    case Phase::kCapturing: step_capturing(c); break;
    case Phase::kClosing: break;
    }
}

void ApiServer::Impl::service(Instant t) {
    now = t;
    tcp_events.clear();
    tcp().drain_events(tcp_events);
    std::vector<std::uint16_t> ports;
    for (const tcp::Event& ev : tcp_events) {
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

// ---- ApiServer ------------------------------------------------------------------------

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

std::size_t ApiServer::drain() { return impl_->drain(); }

bool ApiServer::drained() const { return impl_->drained(); }

void ApiServer::service(Instant now) { impl_->service(now); }

void ApiServer::set_access_policy(const AccessPolicy& policy) { impl_->config.access = policy; }
void ApiServer::visit_metrics(const MetricVisitor& visit) const { impl_->visit_metrics(visit); }

void ApiServer::set_limits(const ApiLimits& limits) { static_cast<ApiLimits&>(impl_->config) = limits; }

const ApiLimits& ApiServer::limits() const { return impl_->config; }

std::size_t ApiServer::stream_count() const { return impl_->live_streams.size(); }

}  // namespace tapstack::daemon
