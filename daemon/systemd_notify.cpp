// sd_notify() and sd_listen_fds() for tapstackd; see systemd_notify.hpp.
#include "daemon/systemd_notify.hpp"

#include <spdlog/spdlog.h>
#include <sys/socket.h>
#include <systemd/sd-daemon.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>

namespace tapstack::daemon {

SystemdNotifier::SystemdNotifier() {
    const char* socket = std::getenv("NOTIFY_SOCKET");
    enabled_ = socket != nullptr && socket[0] != '\0';
    std::uint64_t usec = 0;
    if (sd_watchdog_enabled(0, &usec) > 0 && usec > 0) {
        watchdog_ms_ = usec / 2000;
        if (watchdog_ms_ == 0) watchdog_ms_ = 1;
    }
}

void SystemdNotifier::send(const std::string& text) {
    if (!enabled_) return;
    const int rc = sd_notify(0, text.c_str());
    if (rc < 0) spdlog::warn("sd_notify({}): {}", text.substr(0, text.find('\n')), std::strerror(-rc));
}

void SystemdNotifier::ready(const std::string& status) {
    last_status_ = status;
    send("READY=1\nSTATUS=" + status);
}

void SystemdNotifier::reloading() { send("RELOADING=1\nSTATUS=reloading the configuration"); }

void SystemdNotifier::status(const std::string& status) {
    if (status == last_status_) return;
    last_status_ = status;
    send("STATUS=" + status);
}

void SystemdNotifier::stopping() { send("STOPPING=1\nSTATUS=stopping"); }

void SystemdNotifier::watchdog() { send("WATCHDOG=1"); }

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
