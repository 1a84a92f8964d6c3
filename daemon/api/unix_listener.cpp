// ApiServer, the listening Unix socket: start() binds it, accept_clients()
// takes new clients, stop() ends everything.
//
// Theory of operation
// -------------------
// The listening socket is a plain non-blocking AF_UNIX stream socket watched
// by one uv_poll_t; on readiness up to kAcceptBatch accept4() calls take
// waiting connections (non-blocking, close-on-exec). Each becomes a Client
// in kRequest with a request deadline, its peer's uid (SO_PEERCRED, for
// ports below 1024) and a watch for its request line. Beyond max_clients a
// client gets `ERR no-resources` and is closed.
//
// Out of descriptors (EMFILE/ENFILE): the level-triggered readiness would
// fire again at once, so accepting pauses and resumes when a client closes
// (freeing a descriptor). Other accept errors are counted and skipped.
//
// start() refuses a path that is not a socket and a socket another process
// still serves; a stale socket file from an earlier run is removed.
// stop() resets every stream (outcome "aborted", detail "daemon-stopped"),
// closes every client and TCP listener and removes the socket file.
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <system_error>

#include "daemon/api/api_server_impl.hpp"

namespace tapstack::daemon {

using api::Phase;

bool ApiServer::Impl::start(std::string* error) {
    namespace fs = std::filesystem;
    const std::string& path = config.socket_path;
    auto fail = [&](std::string why) {
        if (error) {
            *error = "api.socket " + path + ": " + why;
        }
        return false;
    };
    if (path.empty() || path.size() >= sizeof(sockaddr_un{}.sun_path)) {
        return fail("path is empty or longer than " + std::to_string(sizeof(sockaddr_un{}.sun_path) - 1) + " bytes");
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
    listen_fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (listen_fd < 0) {
        return fail(std::string("socket: ") + std::strerror(errno));
    }
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::memcpy(addr.sun_path, path.c_str(), path.size() + 1);
    if (::bind(listen_fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
        return fail(std::string("bind: ") + std::strerror(errno));
    }
    socket_created = true;
    if (::chmod(path.c_str(), static_cast<mode_t>(config.socket_mode)) != 0) {
        return fail(std::string("chmod: ") + std::strerror(errno));
    }
    if (::listen(listen_fd, 128) != 0) {
        return fail(std::string("listen: ") + std::strerror(errno));
    }
    int rc = uv_poll_init(loop, &listen_poll, listen_fd);
    if (rc != 0) {
        return fail(std::string("poll: ") + uv_strerror(rc));
    }
    listen_poll.data = this;
    listen_open = true;
    rc = uv_poll_start(&listen_poll, UV_READABLE, [](uv_poll_t* h, int status, int) {
        auto* self = static_cast<Impl*>(h->data);
        if (status == 0 && !self->stopping) {
            self->accept_clients();
        }
    });
    if (rc != 0) {
        return fail(std::string("poll: ") + uv_strerror(rc));
    }
    return true;
}

bool ApiServer::Impl::socket_in_use(const std::string& path) {
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

void ApiServer::Impl::accept_clients() {
    for (int i = 0; i < api::kAcceptBatch; ++i) {
        int fd = ::accept4(listen_fd, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd >= 0) {
            accept_client(fd);
            continue;
        }
        if (errno == EINTR || errno == ECONNABORTED) {
            continue;
        }
        if (errno == EMFILE || errno == ENFILE) {
            ++counters.accept_errors;
            uv_poll_stop(&listen_poll);
            accept_paused = true;
        } else if (errno != EAGAIN && errno != EWOULDBLOCK) {
            ++counters.accept_errors;
        }
        return;
    }
}

void ApiServer::Impl::resume_accepting() {
    if (!accept_paused || stopping || !listen_open) {
        return;
    }
    accept_paused = false;
    uv_poll_start(&listen_poll, UV_READABLE, [](uv_poll_t* h, int status, int) {
        auto* self = static_cast<Impl*>(h->data);
        if (status == 0 && !self->stopping) {
            self->accept_clients();
        }
    });
}

void ApiServer::Impl::accept_client(int fd) {
    auto owned = std::make_unique<Client>();
    Client* c = owned.get();
    c->server = this;
    c->key = next_key++;
    c->fd = fd;
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
        c->peer_uid_known = true;
    }
    if (clients.size() > config.max_clients) {
        ++counters.clients_rejected;
        reply_error(c, client::ErrorCode::kNoResources,
                    "too many clients (max_clients " + std::to_string(config.max_clients) + ")");
        return;
    }
    ++counters.clients_accepted;
    c->request_deadline = uv_now(loop) + config.request_timeout_ms;
    arm_timer(c);
    watch(c, UV_READABLE);
}

void ApiServer::Impl::stop() {
    if (stopping) {
        return;
    }
    stopping = true;
    if (listen_open) {
        uv_close(reinterpret_cast<uv_handle_t*>(&listen_poll), nullptr);
        listen_open = false;
    }
    if (listen_fd >= 0) {
        ::close(listen_fd);
        listen_fd = -1;
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
            record_outcome(c, client::Outcome::kAborted, "daemon-stopped");
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

}  // namespace tapstack::daemon
