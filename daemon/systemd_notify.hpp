// What tapstackd tells systemd, and the socket systemd may hand it.
//
// Theory of operation
// -------------------
// Readiness (Type=notify), as sd_notify(3) describes it: datagrams of
// "KEY=VALUE" lines to the Unix socket named by $NOTIFY_SOCKET (nothing at
// all when the variable is unset: started by hand, or by tests without it):
//   READY=1 + STATUS=   once the TAP is up, the API socket accepts and the
//                       sandbox is in place (ServiceLoop::run);
//   STATUS=             whenever the one-line summary changes (checked each
//                       second: interface, address, streams);
//   RELOADING=1, then READY=1 + STATUS=   around a SIGHUP reload;
//   STOPPING=1          when a stop begins;
//   WATCHDOG=1          every half of $WATCHDOG_USEC (WatchdogSec=), from a
//                       loop timer, so a wedged loop stops the pings.
//
// Why the datagrams are sent here rather than with libsystemd's
// sd_notify(): sd_notify() sends on a blocking socket, and a Unix datagram
// send blocks while the receiver's queue is full (net.unix.max_dgram_qlen,
// 10 by default). A busy or stuck manager, or a test that reads slowly,
// would then stop the daemon's only thread, and every stream with it. This
// sender opens one non-blocking socket at start-up (so a running daemon
// needs no socket() at all, see the seccomp allow-list) and sends with
// MSG_DONTWAIT; a message the manager cannot take now is kept, merged with
// later ones by key, and sent again at the next flush() (the status
// timer), except WATCHDOG=1, which the next ping replaces anyway.
//
// Socket activation (tapstackd.socket): take_listen_socket() reads
// $LISTEN_FDS/$LISTEN_PID with libsystemd's sd_listen_fds(3) and returns
// the one listening socket passed, which the API then serves instead of
// binding api.socket (ApiServerConfig::listen_fd).
#pragma once

#include <sys/socket.h>
#include <sys/un.h>

#include <cstdint>
#include <map>
#include <string>

namespace tapstack::daemon {

class SystemdNotifier {
public:
    // Reads $NOTIFY_SOCKET (a path, or "@name" for an abstract socket) and
    // the watchdog variables once, and opens the socket.
    SystemdNotifier();
    ~SystemdNotifier();
    SystemdNotifier(const SystemdNotifier&) = delete;
    SystemdNotifier& operator=(const SystemdNotifier&) = delete;

    bool enabled() const { return fd_ >= 0; }
    // Half of $WATCHDOG_USEC in ms (at least 1), or 0 without a watchdog.
    std::uint64_t watchdog_interval_ms() const { return watchdog_ms_; }

    void ready(const std::string& status);
    void reloading();
    // Sends STATUS= only when it differs from the last one; then flush().
    void status(const std::string& status);
    void stopping();
    void watchdog();
    // Sends what the manager could not take before, if anything.
    void flush();

private:
    // One datagram of `lines` ("KEY=VALUE" each); kept in unsent_ unless
    // `droppable` when the socket would block.
    void send(const std::map<std::string, std::string>& lines, bool droppable);

    int fd_ = -1;
    sockaddr_un addr_{};
    socklen_t addr_len_ = 0;
    std::uint64_t watchdog_ms_ = 0;
    std::string last_status_;
    std::map<std::string, std::string> unsent_;
    bool warned_ = false;
};

// The listening socket systemd passed (LISTEN_FDS=1, LISTEN_PID = us):
// its descriptor, or -1 when none was passed. More than one socket, or one
// that is not a listening AF_UNIX stream socket, is an error (-2, with a
// one-line *error). The LISTEN_* variables are removed from the
// environment either way.
int take_listen_socket(std::string* error);

}  // namespace tapstack::daemon
