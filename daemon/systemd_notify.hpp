// What tapstackd tells systemd, and the socket systemd may hand it.
//
// Theory of operation
// -------------------
// Readiness (Type=notify) goes through sd_notify(3) from libsystemd, which
// speaks the datagram protocol to $NOTIFY_SOCKET and does nothing when the
// variable is unset (started by hand, or by the tests without it):
//   READY=1 + STATUS=   once the TAP is up, the API socket accepts and the
//                       sandbox is in place (ServiceLoop::run);
//   STATUS=             whenever the one-line summary changes (checked each
//                       second: interface, address, streams);
//   RELOADING=1, then READY=1 + STATUS=   around a SIGHUP reload;
//   STOPPING=1          when a stop begins;
//   WATCHDOG=1          every half of $WATCHDOG_USEC (WatchdogSec=), from a
//                       loop timer, so a wedged loop stops the pings.
// sd_notify() opens a fresh AF_UNIX datagram socket per message; the
// seccomp allow-list has what it needs (socket(AF_UNIX), sendmsg, close).
//
// Socket activation (tapstackd.socket): take_listen_socket() reads
// $LISTEN_FDS/$LISTEN_PID with sd_listen_fds(3) and returns the one
// listening socket passed, which the API then serves instead of binding
// api.socket (ApiServerConfig::listen_fd).
#pragma once

#include <cstdint>
#include <string>

namespace tapstack::daemon {

class SystemdNotifier {
public:
    // Reads $NOTIFY_SOCKET and the watchdog variables once.
    SystemdNotifier();

    bool enabled() const { return enabled_; }
    // Half of $WATCHDOG_USEC in ms (at least 1), or 0 without a watchdog.
    std::uint64_t watchdog_interval_ms() const { return watchdog_ms_; }

    void ready(const std::string& status);
    void reloading();
    // Sends STATUS= only when it differs from the last one sent.
    void status(const std::string& status);
    void stopping();
    void watchdog();

private:
    void send(const std::string& text);

    bool enabled_ = false;
    std::uint64_t watchdog_ms_ = 0;
    std::string last_status_;
};

// The listening socket systemd passed (LISTEN_FDS=1, LISTEN_PID = us):
// its descriptor, or -1 when none was passed. More than one socket, or one
// that is not a listening AF_UNIX stream socket, is an error (-2, with a
// one-line *error). The LISTEN_* variables are removed from the
// environment either way.
int take_listen_socket(std::string* error);

}  // namespace tapstack::daemon
