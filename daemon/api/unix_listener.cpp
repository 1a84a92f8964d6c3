// ApiServer, the listening Unix sockets: start() binds them,
// accept_clients() takes new clients, stop() ends everything.
//
// Theory of operation
// -------------------
// There are one or two listening sockets: the API's (api.socket) and, when
// configured, the SOCKS5 one (api.socks_socket). open_socket() creates both
// the same way, and their clients share every limit and every later step; a
// client only remembers which protocol its socket speaks. Each is a plain
// non-blocking AF_UNIX stream socket watched by one uv_poll_t; on readiness
// up to kAcceptBatch accept4() calls take waiting connections (non-blocking,
// close-on-exec). Each becomes a Client in kRequest with a request deadline,
// its peer's uid and pid (SO_PEERCRED, see user_access.cpp) and a watch for
// its request line or SOCKS greeting. Beyond max_clients, or beyond its
// user's api.max_clients_per_user, a client gets `ERR no-resources` (a SOCKS
// client: "no acceptable method") and is closed.
//
// Out of descriptors (EMFILE/ENFILE): the level-triggered readiness would
// fire again at once, so accepting pauses and resumes when a client closes
// (freeing a descriptor). Other accept errors are counted and skipped.
//
// start() creates each socket file through socket_file.hpp (directory
// checks, umask 0177 during bind, then group and mode: the same for both),
// refusing a path that is not a socket and a socket another process still
// serves; a stale socket file from an earlier run is removed.
// stop() resets every stream (outcome "aborted", detail "daemon-stopped"),
// closes every client and TCP listener and removes the socket files.
#include <spdlog/spdlog.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "daemon/api/api_server_impl.hpp"
#include "daemon/api/socket_file.hpp"

namespace tapstack::daemon {

using api::Phase;

bool ApiServer::Impl::start(std::string* error) {
    api_socket.server = socks_socket.server = this;
    api_socket.protocol = api::Protocol::kLine;
    api_socket.path = config.socket_path;
    api_socket.key = "api.socket";
    socks_socket.protocol = api::Protocol::kSocks;
    socks_socket.path = config.socks_socket_path;
    socks_socket.key = "api.socks_socket";
    if (auto warning = api::socket_mode_warning(config.socket_mode)) {
        spdlog::warn("{}", *warning);
    }
    if (!open_socket(api_socket, error)) {
        return false;
    }
    return socks_socket.path.empty() || open_socket(socks_socket, error);
}

// One listening socket, the same way for the API and SOCKS5.
bool ApiServer::Impl::open_socket(UnixSocket& s, std::string* error) {
    auto fail = [&](std::string why) {
        if (error) {
            *error = std::string(s.key) + " " + s.path + ": " + why;
        }
        return false;
    };
    std::string why;
    s.fd = api::bind_socket_file(
        api::SocketFileSpec{s.path, config.socket_mode, config.socket_gid, config.socket_group, 128}, &why);
    if (s.fd < 0) {
        return fail(why);
    }
    s.created = true;
    int rc = uv_poll_init(loop, &s.poll, s.fd);
    if (rc != 0) {
        return fail(std::string("poll: ") + uv_strerror(rc));
    }
    s.poll.data = &s;
    s.open = true;
    rc = start_polling(s);
    if (rc != 0) {
        return fail(std::string("poll: ") + uv_strerror(rc));
    }
    return true;
}

int ApiServer::Impl::start_polling(UnixSocket& s) {
    return uv_poll_start(&s.poll, UV_READABLE, [](uv_poll_t* h, int status, int) {
        auto* sock = static_cast<UnixSocket*>(h->data);
        if (status == 0 && !sock->server->stopping) {
            sock->server->accept_clients(*sock);
        }
    });
}

void ApiServer::Impl::accept_clients(UnixSocket& s) {
    for (int i = 0; i < api::kAcceptBatch; ++i) {
        int fd = ::accept4(s.fd, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd >= 0) {
            accept_client(fd, s.protocol);
            continue;
        }
        if (errno == EINTR || errno == ECONNABORTED) {
            continue;
        }
        if (errno == EMFILE || errno == ENFILE) {
            ++counters.accept_errors;
            uv_poll_stop(&s.poll);
            s.accept_paused = true;
        } else if (errno != EAGAIN && errno != EWOULDBLOCK) {
            ++counters.accept_errors;
        }
        return;
    }
}

void ApiServer::Impl::resume_accepting() {
    for (UnixSocket* s : {&api_socket, &socks_socket}) {
        if (s->accept_paused && !stopping && s->open) {
            s->accept_paused = false;
            start_polling(*s);
        }
    }
}

void ApiServer::Impl::accept_client(int fd, api::Protocol protocol) {
    auto owned = std::make_unique<Client>();
    Client* c = owned.get();
    c->server = this;
    c->key = next_key++;
    c->fd = fd;
    c->protocol = protocol;
    if (uv_poll_init(loop, &c->poll, fd) != 0) {
        ::close(fd);
        ++counters.accept_errors;
        return;
    }
    uv_timer_init(loop, &c->timer);
    c->poll.data = c;
    c->timer.data = c;
    c->open_handles = 2;
    clients.emplace(c->key, std::move(owned));
    ucred cred{};
    socklen_t len = sizeof cred;
    if (::getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) == 0) {
        c->peer_uid = cred.uid;
        c->peer_pid = cred.pid;
        c->peer_uid_known = true;
    } else {
        // Without a uid nothing can be owned or limited: refuse.
        ++counters.clients_rejected;
        reply_error(c, client::ErrorCode::kInternal,
                    std::string("cannot read the peer's credentials: ") + std::strerror(errno));
        return;
    }
    if (admitted_clients >= config.max_clients) {
        ++counters.clients_rejected;
        refuse_at_accept(c, "too many clients (max_clients " + std::to_string(config.max_clients) + ")");
        return;
    }
    const UserLimits& limits = config.access.per_user;
    if (users.add_client(c->peer_uid, c->key, limits) != api::LimitHit::kNone) {
        ++counters.clients_rejected;
        ++counters.user_limit_refusals;
        const std::string why = "uid " + std::to_string(c->peer_uid) + " already has " +
                                std::to_string(users.clients(c->peer_uid)) + " clients (" +
                                std::string(api::limit_key(api::LimitHit::kClients)) + " " +
                                std::to_string(limits.max_clients) + ")";
        note_refusal(c, why);
        refuse_at_accept(c, why);
        return;
    }
    c->admitted = true;
    ++admitted_clients;
    ++counters.clients_accepted;
    if (protocol == api::Protocol::kSocks) {
        ++counters.socks_clients_accepted;
    }
    c->request_deadline = uv_now(loop) + config.request_timeout_ms;
    arm_timer(c);
    watch(c, UV_READABLE);
}

void ApiServer::Impl::close_socket(UnixSocket& s) {
    if (s.open) {
        uv_close(reinterpret_cast<uv_handle_t*>(&s.poll), nullptr);
        s.open = false;
    }
    if (s.fd >= 0) {
        ::close(s.fd);
        s.fd = -1;
    }
    if (s.created) {
        ::unlink(s.path.c_str());
        s.created = false;
    }
}

void ApiServer::Impl::stop() {
    if (stopping) {
        return;
    }
    stopping = true;
    close_socket(api_socket);
    close_socket(socks_socket);
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
            record_outcome(c, client::Outcome::kAborted, "daemon-stopped");
            release_conn(c);
        }
        close_client(c);
    }
    while (!listeners.empty()) {
        close_listener(listeners.begin());
    }
}

}  // namespace tapstack::daemon
