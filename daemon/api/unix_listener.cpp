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
// serves; a stale socket file from an earlier run is removed. Under socket
// activation (config.listen_fd) the API socket is not bound: the listening
// socket systemd passed is checked and served as it is, its file left to
// the socket unit (the SOCKS5 socket is still bound here).
// stop() first hands every stream's application what its socket takes
// without blocking, then resets the stream (outcome "aborted", detail
// "daemon-stopped", or the outcome of a stream that was already ending;
// bytes left behind are counted as undelivered), closes every client and
// TCP listener and removes the socket files this server created.
// drain() (graceful stop) keeps the sockets open: new clients are served,
// but CONNECT, LISTEN and ACCEPT get `ERR shutting-down` (api_server.cpp);
// connects in progress and waiting ACCEPTs get it too, holders are closed,
// every TCP listener closes (connections never accepted are reset, as a
// kernel listener's close() does) and every stream's application input
// ends where it is (stream_bridge.cpp, end_app_input()), so FIN follows.
#include <fcntl.h>
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
    const bool api_ok = config.listen_fd >= 0 ? adopt_listener(api_socket, error) && watch_socket(api_socket, error)
                                               : open_socket(api_socket, error);
    if (!api_ok) {
        return false;
    }
    return socks_socket.path.empty() || open_socket(socks_socket, error);
}

// A socket systemd bound and listens on (socket activation): checked to be
// what the API needs, made non-blocking and close-on-exec. Its file belongs
// to the socket unit: s.created stays false, so stop() leaves it.
bool ApiServer::Impl::adopt_listener(UnixSocket& s, std::string* error) {
    const int fd = config.listen_fd;
    auto fail = [&](std::string why) {
        if (error) {
            *error = "the socket passed by systemd (fd " + std::to_string(fd) + "): " + why;
        }
        return false;
    };
    int type = 0;
    int accepting = 0;
    socklen_t len = sizeof type;
    sockaddr_storage addr{};
    socklen_t addr_len = sizeof addr;
    if (::getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len) != 0) {
        return fail(std::string("not a socket: ") + std::strerror(errno));
    }
    len = sizeof accepting;
    if (::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &addr_len) != 0 || addr.ss_family != AF_UNIX ||
        type != SOCK_STREAM) {
        return fail("not a Unix stream socket (ListenStream= with a path)");
    }
    if (::getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &accepting, &len) != 0 || accepting == 0) {
        return fail("not listening");
    }
    const int flags = ::fcntl(fd, F_GETFL);
    if (flags < 0 || ::fcntl(fd, F_SETFL, flags | O_NONBLOCK) != 0 || ::fcntl(fd, F_SETFD, FD_CLOEXEC) != 0) {
        return fail(std::string("fcntl: ") + std::strerror(errno));
    }
    s.fd = fd;
    return true;
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
    return watch_socket(s, error);
}

bool ApiServer::Impl::watch_socket(UnixSocket& s, std::string* error) {
    auto fail = [&](std::string why) {
        if (error) {
            *error = std::string(s.key) + " " + s.path + ": " + why;
        }
        return false;
    };
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
            if (c->phase == Phase::kStreaming && !c->app_vanished && !c->unix_write_shut) {
                push_to_app(c);  // one non-blocking write: what the socket takes now
            }
            const std::size_t left = tcp().info(c->conn).recv_available;
            tcp().abort(now, c->conn);
            if (c->ending) {
                record_outcome(c, *c->ending, c->ending_detail, left);
            } else {
                record_outcome(c, client::Outcome::kAborted, "daemon-stopped", left);
            }
            release_conn(c);
        }
        close_client(c);
    }
    while (!listeners.empty()) {
        close_listener(listeners.begin());
    }
}

std::size_t ApiServer::Impl::drain() {
    if (draining || stopping) {
        return live_streams.size();
    }
    draining = true;
    std::vector<Client*> all;
    all.reserve(clients.size());
    for (auto& [key, c] : clients) {
        all.push_back(c.get());
    }
    for (Client* c : all) {
        switch (c->phase) {
        case Phase::kConnecting:
            tcp().abort(now, c->conn);
            release_conn(c);
            ++counters.refused_shutting_down;
            reply_error(c, client::ErrorCode::kShuttingDown, "tapstackd is stopping");
            break;
        case Phase::kWaiting:
            ++counters.refused_shutting_down;
            reply_error(c, client::ErrorCode::kShuttingDown, "tapstackd is stopping");
            break;
        case Phase::kHolding: close_client(c); break;
        case Phase::kStreaming: end_app_input(c); break;
        case Phase::kRequest:
        case Phase::kCapturing:  // keeps capturing the stop (the FINs) until the end
        case Phase::kReplying:
        case Phase::kClosing: break;
        }
    }
    for (auto& [port, l] : listeners) {
        tcp().close_listener(l.id);
    }
    listeners.clear();
    listener_ports.clear();
    if (request_service) {
        request_service();
    }
    return live_streams.size();
}

}  // namespace tapstack::daemon
