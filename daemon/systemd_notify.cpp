// The notification datagrams and sd_listen_fds(); see systemd_notify.hpp.
#include "daemon/systemd_notify.hpp"

#include <spdlog/spdlog.h>
#include <systemd/sd-daemon.h>
#include <unistd.h>

#include <cerrno>
#include <cstddef>
#include <cstdlib>
#include <cstring>

namespace tapstack::daemon {

SystemdNotifier::SystemdNotifier() {
    std::uint64_t usec = 0;
    if (sd_watchdog_enabled(0, &usec) > 0 && usec > 0) {
        watchdog_ms_ = usec / 2000;
        if (watchdog_ms_ == 0) watchdog_ms_ = 1;
    }
    const char* socket_name = std::getenv("NOTIFY_SOCKET");
    if (socket_name == nullptr || socket_name[0] == '\0') return;
    const std::size_t len = std::strlen(socket_name);
    if ((socket_name[0] != '/' && socket_name[0] != '@') || len >= sizeof addr_.sun_path) {
        spdlog::warn("NOTIFY_SOCKET={}: not a Unix socket path or @abstract name; systemd is not notified",
                     socket_name);
        return;
    }
    addr_.sun_family = AF_UNIX;
    std::memcpy(addr_.sun_path, socket_name, len);
    if (socket_name[0] == '@') addr_.sun_path[0] = '\0';  // abstract namespace
    addr_len_ = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + len + (socket_name[0] == '/' ? 1 : 0));
    fd_ = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd_ < 0) {
        spdlog::warn("NOTIFY_SOCKET: socket: {}; systemd is not notified", std::strerror(errno));
        // the watchdog is moot without a socket
        watchdog_ms_ = 0;
    }
}

SystemdNotifier::~SystemdNotifier() {
    if (fd_ >= 0) ::close(fd_);
}

void SystemdNotifier::send(const std::map<std::string, std::string>& lines, bool droppable) {
    if (fd_ < 0) return;
    std::map<std::string, std::string> all = unsent_;
    for (const auto& [key, value] : lines) all[key] = value;
    if (all.count("READY") != 0) all.erase("RELOADING");
    // The state first ("READY=1", "STOPPING=1", ...), STATUS= last.
    std::string text;
    for (const auto& [key, value] : all) {
        if (key != "STATUS") text += (text.empty() ? "" : "\n") + key + "=" + value;
    }
    if (auto it = all.find("STATUS"); it != all.end()) {
        text += (text.empty() ? "" : "\n") + it->first + "=" + it->second;
    }
    const ssize_t n = ::sendto(fd_, text.data(), text.size(), MSG_NOSIGNAL | MSG_DONTWAIT,
                               reinterpret_cast<const sockaddr*>(&addr_), addr_len_);
    if (n >= 0) {
        unsent_.clear();
        return;
    }
    const int err = errno;
    if (droppable) all.erase("WATCHDOG");
    unsent_ = all;
    if (err != EAGAIN && err != EWOULDBLOCK && !warned_) {
        warned_ = true;  // once: a manager that went away would otherwise fill the log
        spdlog::warn("NOTIFY_SOCKET: {}; will try again", std::strerror(err));
    }
}

void SystemdNotifier::ready(const std::string& status) {
    last_status_ = status;
    send({{"READY", "1"}, {"STATUS", status}}, false);
}

void SystemdNotifier::reloading() { send({{"RELOADING", "1"}, {"STATUS", "reloading the configuration"}}, false); }

void SystemdNotifier::status(const std::string& status) {
    if (status == last_status_) {
        flush();
        return;
    }
    last_status_ = status;
    send({{"STATUS", status}}, false);
}

void SystemdNotifier::stopping() { send({{"STOPPING", "1"}, {"STATUS", "stopping"}}, false); }

void SystemdNotifier::watchdog() { send({{"WATCHDOG", "1"}}, true); }

void SystemdNotifier::flush() {
    if (!unsent_.empty()) send({}, false);
}

int take_listen_socket(std::string* error) {
    const int n = sd_listen_fds(1);
    if (n < 0) {
        *error = std::string("LISTEN_FDS: ") + std::strerror(-n);
        return -2;
    }
    if (n == 0) return -1;
    if (n > 1) {
        *error = "LISTEN_FDS=" + std::to_string(n) +
                 ": systemd passed several sockets; tapstackd serves one (tapstackd.socket has one ListenStream=)";
        return -2;
    }
    const int fd = SD_LISTEN_FDS_START;
    if (sd_is_socket_unix(fd, SOCK_STREAM, 1, nullptr, 0) <= 0) {
        *error = "LISTEN_FDS: descriptor " + std::to_string(fd) +
                 " is not a listening Unix stream socket (ListenStream= needs a path)";
        return -2;
    }
    return fd;
}

}  // namespace tapstack::daemon
