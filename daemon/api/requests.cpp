// ApiServer, requests: what each request line does, the TCP listeners
// behind LISTEN/ACCEPT, and the phases before a stream exists.
//
// Theory of operation
// -------------------
// dispatch() runs in service() once a request line was parsed (client_io.cpp)
// and hands it to one handle() per request kind:
//   CONNECT  -> tcp.connect(), kConnecting until established, refused, timed
//               out or the application goes away;
//   LISTEN   -> holds the port's listener (kHolding) until the client closes;
//   ACCEPT   -> waits (kWaiting) for an established connection of the port;
//   STATUS, INFO, CONNECTIONS, STATS, HELLO -> one reply, then the client
//   closes (STATS format=prometheus: the exposition of daemon/metrics/);
//   DAEMON, CAPTURE -> daemon_info.cpp, capture_client.cpp.
// A SOCKS5 client's CONNECT (socks_client.cpp) is an ordinary ConnectRequest
// here: every check on CONNECT applies to it.
//
// Listeners: one TCP listener per port, alive while a LISTEN holder or ACCEPT
// waiters need it; waiters are served in arrival order, and a waiter is
// checked for life before a connection is accepted for it, so a connection
// is never accepted for nobody. Each listener has an owning uid, and every
// request passes the checks of user_access.cpp (ownership, visibility,
// per-user limits, connect rules) before it touches TCP.
//
// Per-stream options (CONNECT/ACCEPT `nodelay`, `keepalive`) go to the stack
// the moment the ConnId exists: right after connect(), or right after
// accept() for a waiter. INFO and CONNECTIONS read info()/stats() of live
// streams only (those with a stream id); ended ones are STATUS's business.
//
// Input an application sends after its request line (pipelined stream data)
// stays in its socket until the stream starts; only RDHUP is watched meanwhile.
#include <unistd.h>

#include <algorithm>

#include "daemon/api/api_server_impl.hpp"
#include "daemon/metrics/prometheus.hpp"
#include "tapstack_version.hpp"

namespace tapstack::daemon {

using api::Phase;
using client::ErrorCode;
using client::Outcome;

void ApiServer::Impl::dispatch(Client* c) {
    api::Request req = *c->request;
    c->request.reset();
    std::visit([&](const auto& r) { handle(c, r); }, req);
}

void ApiServer::Impl::handle(Client* c, const api::ConnectRequest& r) {
    const wire::IpEndpoint remote{r.address, r.port};
    if (const auto verdict = config.access.connect.check(remote); !verdict.allowed) {
        ++counters.connect_denied;
        const std::string why = "connect " + remote.to_string() + ": " + describe_refusal(verdict);
        note_refusal(c, why);
        reply_error(c, ErrorCode::kPermission, why);
        return;
    }
    if (r.address.is_ipv4() && !iface.has_route(r.address.ipv4())) {
        // Said at once rather than after a SYN that cannot leave.
        reply_failure(c, ErrorCode::kUnreachable, socks::Reply::kNetworkUnreachable,
                      "connect " + remote.to_string() + ": network unreachable (not on the link and no ipv4.gateway)");
        return;
    }
    if (r.address.is_ipv6() && !iface.ipv6_source_for(r.address.ipv6())) {
        reply_failure(c, ErrorCode::kUnreachable, socks::Reply::kNetworkUnreachable,
                      "connect " + remote.to_string() +
                          ": network unreachable (no usable IPv6 source address: ipv6 off or not yet past DAD)");
        return;
    }
    if (!admit_stream(c)) {
        return;
    }
    tcp::ConnId conn;
    tcp::Error e = tcp().connect(now, remote, 0, &conn);
    if (e != tcp::Error::kNone) {
        reply_error(c, api::error_code_for(e), "connect " + remote.to_string() + ": " + api::message_for(e));
        return;
    }
    ++counters.connects;
    apply_stream_options(conn, r.options);
    c->conn = conn;
    by_conn[conn.index] = c;
    c->phase = Phase::kConnecting;
    c->op_deadline = r.timeout_s ? uv_now(loop) + std::uint64_t{r.timeout_s} * 1000 : 0;
    sync_timer(c);
    if (!c->app_eof && !c->hup_seen) {
        watch(c, UV_DISCONNECT);
    }
    step_connecting(c);
}

// Refuses `c` with ERR permission when it may not LISTEN/ACCEPT on `port`.
bool ApiServer::Impl::may_take_port(Client* c, std::string_view verb, std::uint16_t port) {
    std::string why;
    if (!may_bind(c, port)) {
        why = std::string(verb) + " on port " + std::to_string(port) + " (below 1024) needs root or the daemon's user";
    } else if (auto it = listeners.find(port); it != listeners.end() && !may_use_listener(c, it->second)) {
        why = std::string(verb) + " on port " + std::to_string(port) + ": the port belongs to another user";
    } else {
        return true;
    }
    ++counters.permission_denied;
    note_refusal(c, why);
    reply_error(c, ErrorCode::kPermission, why);
    return false;
}

void ApiServer::Impl::handle(Client* c, const api::ListenRequest& r) {
    if (!may_take_port(c, "listen", r.port)) {
        return;
    }
    Listener* l = find_or_open_listener(c, r.port, r.backlog, r.family);
    if (!l) {
        return;
    }
    if (l->holder) {
        reply_error(c, ErrorCode::kInUse, "port " + std::to_string(r.port) + " is already held by a LISTEN");
        release_listener_if_unused(r.port);
        return;
    }
    if (l->owner_uid != c->peer_uid) {
        // A privileged LISTEN takes over a transient listener: the holder owns it.
        users.remove_listener(l->owner_uid);
        users.add_listener(c->peer_uid, config.access.per_user);
        l->owner_uid = c->peer_uid;
    }
    l->holder = c;
    c->port = r.port;
    c->phase = Phase::kHolding;
    c->in_ready = true;  // anything pipelined is read away and ignored
    // The IPv4 endpoint, or with family=6 the IPv6 one (the first global
    // address, else the link-local one).
    wire::IpEndpoint bound{iface.config().address.address, r.port};
    if (r.family == tcp::ListenFamily::kIpv6) {
        for (const auto& a : iface.ipv6_addresses()) {
            if (bound.address.is_ipv4() || (bound.address.ipv6().is_link_local() && !a.cidr.address.is_link_local()))
                bound.address = a.cidr.address;
        }
    }
    send_control(c, api::format_listen_ok(bound));
    step_holding(c);
}

void ApiServer::Impl::handle(Client* c, const api::AcceptRequest& r) {
    if (!may_take_port(c, "accept", r.port) || !admit_stream(c)) {
        return;
    }
    Listener* l = find_or_open_listener(c, r.port, 0);
    if (!l) {
        return;
    }
    l->waiters.push_back(c);
    c->port = r.port;
    c->stream_options = r.options;
    c->phase = Phase::kWaiting;
    c->op_deadline = r.timeout_s ? uv_now(loop) + std::uint64_t{r.timeout_s} * 1000 : 0;
    sync_timer(c);
    if (!c->app_eof && !c->hup_seen) {
        watch(c, UV_DISCONNECT);
    }
    pump_accepts(r.port);
}

// STATUS and INFO answer another user's id exactly as an id that never
// existed (user_access.cpp).
void ApiServer::Impl::handle(Client* c, const api::StatusRequest& r) {
    if (auto it = live_streams.find(r.id); it != live_streams.end() && may_see(c, it->second->peer_uid)) {
        Client* s = it->second;
        tcp::ConnInfo info = tcp().info(s->conn);
        // An ending stream already has its outcome while TCP's last bytes
        // are still being handed to its application.
        const Outcome outcome = s->ending.value_or(Outcome::kOpen);
        reply_and_close(c, api::format_status_ok(r.id, api::state_word(info.state), outcome, s->peer_uid));
        return;
    }
    if (auto e = outcomes.find(r.id); e && may_see(c, e->uid)) {
        reply_and_close(c, api::format_status_ok(r.id, e->detail, e->outcome, e->uid, e->undelivered));
        return;
    }
    reply_error(c, ErrorCode::kNotFound, "no connection " + std::to_string(r.id) + " among the recent ones");
}

// As soon as the connection exists: a SYN-SENT connection is already owned
// by the application, and an accepted one has not yet carried data the
// application wrote.
void ApiServer::Impl::apply_stream_options(tcp::ConnId conn, const api::StreamOptions& o) {
    if (o.nodelay) {
        tcp().set_nodelay(conn, *o.nodelay);
    }
    if (o.keepalive) {
        tcp().set_keepalive(conn, *o.keepalive);
    }
}

void ApiServer::Impl::handle(Client* c, const api::InfoRequest& r) {
    if (auto it = live_streams.find(r.id); it != live_streams.end() && may_see(c, it->second->peer_uid)) {
        const tcp::ConnId conn = it->second->conn;
        const tcp::ConnInfo info = tcp().info(conn);
        reply_and_close(c, api::format_info_ok(r.id, api::state_word(info.state), info, tcp().stats(conn),
                                               it->second->peer_uid));
        return;
    }
    if (auto e = outcomes.find(r.id); e && may_see(c, e->uid)) {
        reply_error(c, ErrorCode::kNotFound,
                    "connection " + std::to_string(r.id) + " has ended (outcome " +
                        std::string(client::to_string(e->outcome)) + "); STATUS " + std::to_string(r.id) +
                        " tells how");
        return;
    }
    reply_error(c, ErrorCode::kNotFound, "no live connection " + std::to_string(r.id));
}

void ApiServer::Impl::handle(Client* c, const api::ConnectionsRequest&) {
    std::vector<std::uint64_t> ids;
    ids.reserve(live_streams.size());
    for (const auto& [id, s] : live_streams) {
        if (may_see(c, s->peer_uid)) {
            ids.push_back(id);
        }
    }
    std::sort(ids.begin(), ids.end());
    std::string out(api::kConnectionsOk);
    for (std::uint64_t id : ids) {
        const Client* s = live_streams.at(id);
        const tcp::ConnInfo info = tcp().info(s->conn);
        out += api::format_connection_line(id, api::state_word(info.state), info, tcp().stats(s->conn), s->peer_uid);
    }
    out.append(client::kListEnd);
    out += '\n';
    reply_and_close(c, std::move(out));
}

void ApiServer::Impl::handle(Client* c, const api::StatsRequest& r) {
    if (r.format == api::StatsRequest::Format::kPrometheus) {
        std::string out = "OK stats format=prometheus\n";
        out += metrics::prometheus_text([this](const MetricVisitor& v) { visit_metrics(v); }, TAPSTACK_VERSION,
                                        started_wall_ns);
        out.append(client::kStatsEnd);
        out += '\n';
        reply_and_close(c, std::move(out));
        return;
    }
    std::string out = "OK stats\n";
    visit_metrics([&out](const MetricInfo& m, std::uint64_t value) {
        out.append(m.name);
        out += ' ';
        out += std::to_string(value);
        out += '\n';
    });
    out.append(client::kStatsEnd);
    out += '\n';
    reply_and_close(c, std::move(out));
}

void ApiServer::Impl::handle(Client* c, const api::HelloRequest&) {
    std::string features(client::kBaseFeatures);
    if (!config.socks_socket_path.empty()) {
        features += ",socks";
    }
    reply_and_close(c, api::format_hello_ok(TAPSTACK_VERSION, features));
}

// ---- listeners ---------------------------------------------------------------------

ApiServer::Impl::Listener* ApiServer::Impl::find_or_open_listener(Client* c, std::uint16_t port,
                                                                  std::uint32_t backlog, tcp::ListenFamily family) {
    if (auto it = listeners.find(port); it != listeners.end()) {
        return &it->second;
    }
    const UserLimits& limits = config.access.per_user;
    if (users.add_listener(c->peer_uid, limits) != api::LimitHit::kNone) {
        ++counters.user_limit_refusals;
        const std::string why = "uid " + std::to_string(c->peer_uid) + " already has " +
                                std::to_string(users.listeners(c->peer_uid)) + " listeners (" +
                                std::string(api::limit_key(api::LimitHit::kListeners)) + " " +
                                std::to_string(limits.max_listeners) + ")";
        note_refusal(c, why);
        reply_error(c, ErrorCode::kNoResources, why);
        return nullptr;
    }
    tcp::ListenerId id;
    tcp::Error e = tcp().listen(port, backlog, &id, family);
    if (e != tcp::Error::kNone) {
        users.remove_listener(c->peer_uid);
        reply_error(c, api::error_code_for(e), "listen on port " + std::to_string(port) + ": " + api::message_for(e));
        return nullptr;
    }
    Listener& l = listeners[port];
    l.id = id;
    l.owner_uid = c->peer_uid;
    listener_ports[id.index] = port;
    return &l;
}

void ApiServer::Impl::close_listener(std::map<std::uint16_t, Listener>::iterator it) {
    tcp().close_listener(it->second.id);
    users.remove_listener(it->second.owner_uid);
    listener_ports.erase(it->second.id.index);
    listeners.erase(it);
}

void ApiServer::Impl::release_listener_if_unused(std::uint16_t port) {
    auto it = listeners.find(port);
    if (it == listeners.end() || it->second.holder || !it->second.waiters.empty()) {
        return;
    }
    close_listener(it);
}

void ApiServer::Impl::detach_from_listener(Client* c) {
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

void ApiServer::Impl::pump_accepts(std::uint16_t port) {
    auto it = listeners.find(port);
    if (it == listeners.end()) {
        return;
    }
    Listener& l = it->second;
    while (!l.waiters.empty()) {
        Client* w = l.waiters.front();
        if (w->app_vanished || w->app_closed || api::peer_hung_up(w->fd)) {
            l.waiters.pop_front();
            w->phase = Phase::kRequest;  // no longer attached to the listener
            close_client(w);
            continue;
        }
        if (auto why = memory_refusal(w)) {
            // The user's share was used up while this ACCEPT waited.
            l.waiters.pop_front();
            w->phase = Phase::kRequest;  // detached from the listener already
            refuse_stream(w, *why);
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

// ---- before the stream ------------------------------------------------------------------

void ApiServer::Impl::step_connecting(Client* c) {
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
        reply_error(c, api::error_code_for(e), "connect " + info.remote.to_string() + ": " + api::message_for(e));
        return;
    }
    start_stream(c);
}

void ApiServer::Impl::step_waiting(Client* c) {
    if (c->app_vanished || c->app_closed) {
        close_client(c);
        return;
    }
    if (c->op_deadline != 0 && uv_now(loop) >= c->op_deadline) {
        reply_error(c, ErrorCode::kTimedOut, "accept on port " + std::to_string(c->port) + ": timed out");
    }
}

void ApiServer::Impl::step_holding(Client* c) {
    if (c->app_vanished || c->app_closed) {
        close_client(c);
        return;
    }
    if (c->in_ready && !c->app_eof) {
        discard_input(c, 16 * api::kDiscardSize);
        if (c->app_vanished || c->app_closed) {
            close_client(c);
            return;
        }
    }
    int events = 0;
    if (!c->app_eof && !c->in_ready) {
        events |= UV_READABLE;  // to notice the holder going away
    }
    if (c->out_blocked) {
        events |= UV_WRITABLE;
    }
    watch(c, events);
    sync_timer(c);
    if (c->in_ready && !c->app_eof) {
        wake(c);  // more ignored input than one step reads away
    }
}

}  // namespace tapstack::daemon
