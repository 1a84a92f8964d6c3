// ApiServer, users: who may use which listener and see which stream, and
// the per-user limits (the API as a trust boundary between local users).
//
// Theory of operation
// -------------------
// Every client carries the uid and pid of the process that connected
// (SO_PEERCRED at accept; a client whose credentials cannot be read is
// refused). Root and the daemon's own uid are privileged: they may use any
// listener and see every stream, and no per-user limit applies to them.
// For everybody else:
//   * a TCP listener belongs to the uid that opened it: the LISTEN holder,
//     or for a transient listener (ACCEPT with no LISTEN) the uid of the
//     first ACCEPT; a LISTEN that takes over a transient listener makes its
//     holder the owner. LISTEN or ACCEPT on a port whose listener belongs to
//     another uid is `ERR permission` (as SO_REUSEPORT demands the same
//     effective uid). Ports below 1024 need privilege at all;
//   * a stream belongs to its client's uid (the CONNECT or ACCEPT caller);
//     STATUS, INFO and CONNECTIONS show a caller only its own streams, and
//     another user's stream id is answered exactly as an id that never
//     existed, so ids cannot be probed;
//   * limits (config.access.per_user): Unix connections at once (checked at
//     accept), listeners (when a new listener is opened), and TCP buffer
//     memory (before CONNECT or ACCEPT makes a stream); each refusal is
//     `ERR no-resources`.
// Refusals are counted and logged with uid and pid, at most one line per
// uid per kRefusalLogIntervalMs with the number of refusals left unlogged.
//
// Memory charged to a stream (stream_memory(), the one place that decides):
// the receive buffer as auto-tuning has sized it plus the send buffer, i.e.
// the buffer room the stream has been granted, filled or not, so a user
// cannot open cheap idle streams and fill them afterwards. A new stream is
// charged tcp.receive_buffer + tcp.send_buffer up front. Growth of an
// admitted stream by auto-tuning is not refused here (the stack would have
// to ask); it counts against the next request.
#include <spdlog/spdlog.h>
#include <unistd.h>

#include "daemon/api/api_server_impl.hpp"

namespace tapstack::daemon {

using client::ErrorCode;

bool ApiServer::Impl::privileged(const Client* c) const {
    return c->peer_uid_known && users.privileged(c->peer_uid);
}

bool ApiServer::Impl::may_bind(const Client* c, std::uint16_t port) const {
    return port >= 1024 || privileged(c);
}

bool ApiServer::Impl::may_use_listener(const Client* c, const Listener& l) const {
    return privileged(c) || (c->peer_uid_known && c->peer_uid == l.owner_uid);
}

bool ApiServer::Impl::may_see(const Client* c, std::uint32_t owner_uid) const {
    return privileged(c) || (c->peer_uid_known && c->peer_uid == owner_uid);
}

std::uint64_t ApiServer::Impl::stream_memory(tcp::ConnId conn) {
    return std::uint64_t{tcp().stats(conn).rcv_buffer} + iface.config().tcp.send_buffer;
}

std::uint64_t ApiServer::Impl::user_memory(std::uint32_t uid) {
    std::uint64_t total = 0;
    if (const auto* keys = users.client_keys(uid)) {
        for (std::uint64_t key : *keys) {
            auto it = clients.find(key);
            if (it != clients.end() && it->second->conn.valid()) {
                total += stream_memory(it->second->conn);
            }
        }
    }
    return total;
}

std::optional<std::string> ApiServer::Impl::memory_refusal(Client* c) {
    if (privileged(c)) {
        return std::nullopt;
    }
    const tcp::TcpConfig& t = iface.config().tcp;
    const std::uint64_t more = std::uint64_t{t.receive_buffer} + t.send_buffer;
    const std::uint64_t in_use = user_memory(c->peer_uid);
    const UserLimits& limits = config.access.per_user;
    if (users.check_memory(c->peer_uid, in_use, more, limits) == api::LimitHit::kNone) {
        return std::nullopt;
    }
    return "the streams of uid " + std::to_string(c->peer_uid) + " hold " + std::to_string(in_use) +
           " bytes of TCP buffers; a new stream needs " + std::to_string(more) + " more (" +
           std::string(api::limit_key(api::LimitHit::kMemory)) + " " + std::to_string(limits.max_memory) + ")";
}

void ApiServer::Impl::refuse_stream(Client* c, const std::string& why) {
    ++counters.user_limit_refusals;
    note_refusal(c, why);
    reply_error(c, ErrorCode::kNoResources, why);
}

bool ApiServer::Impl::admit_stream(Client* c) {
    auto why = memory_refusal(c);
    if (!why) {
        return true;
    }
    refuse_stream(c, *why);
    return false;
}

void ApiServer::Impl::note_refusal(const Client* c, std::string_view what) {
    const auto suppressed = refusal_log.note(c->peer_uid, uv_now(loop));
    if (!suppressed) {
        return;
    }
    if (*suppressed == 0) {
        spdlog::warn("api: refused uid {} (pid {}): {}", c->peer_uid, c->peer_pid, what);
    } else {
        spdlog::warn("api: refused uid {} (pid {}): {} ({} more refusals of uid {} since its last line, not logged)",
                     c->peer_uid, c->peer_pid, what, *suppressed, c->peer_uid);
    }
}

void ApiServer::Impl::refuse_at_accept(Client* c, std::string_view message) {
    if (refused_lingering >= api::kMaxRefusedLingering) {
        // Too many refused clients still open: the ERR line goes out now (a
        // fresh socket has room for it) and the client is closed at once.
        c->outbox = failure_text(c, ErrorCode::kNoResources, socks::reply_for(ErrorCode::kNoResources), message);
        flush_outbox(c);
        close_client(c);
        return;
    }
    c->refused = true;
    ++refused_lingering;
    reply_error(c, ErrorCode::kNoResources, message);
}

void ApiServer::Impl::release_user(Client* c) {
    if (c->admitted) {
        users.remove_client(c->peer_uid, c->key);
        --admitted_clients;
        c->admitted = false;
    }
    if (c->refused) {
        --refused_lingering;
        c->refused = false;
    }
}

}  // namespace tapstack::daemon
