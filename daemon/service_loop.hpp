// ServiceLoop: tapstackd's libuv event loop around one TapPort, one
// Interface and the ApiServer.
//
// Theory of operation
// -------------------
// Handles: a uv_poll on the TAP fd (readable always; writable only while the
// port's TX is blocked), one uv_timer armed at the Interface's poll_at(), a
// uv_prepare that runs the service turn just before libuv blocks, a uv_idle
// that keeps libuv from blocking while work remains, and uv_signals.
//
// Frames read in the poll callback go straight to Interface::receive_frame;
// frames the stack emits go through PortSink onto the port's TX ring. Once
// per loop iteration, before blocking, the turn runs in this order:
//   now = uv_hrtime(); (port.poll_rx(now) if the port's fault-injection
//   stage has frames due); iface.poll(now); api.service(now);
//   iface.poll(now); port.flush_tx(now); more TCP events pending? keep the
//   idle handle on; re-arm the timer at min(iface.poll_at(), port.poll_at()).
// A port failure() (e.g. the device was deleted) stops the daemon with
// status 1.
// The second iface.poll() sends at once what the API's calls queued (data,
// window updates, FIN), so an application's write leaves in the same turn.
//
// Signals: SIGTERM stops gracefully (api.drain(), then stop once every
// stream has finished, or after api.drain_timeout); SIGINT, or SIGTERM
// again, stops at once (api.stop(), close every handle, let the loop run
// until they are closed); SIGHUP re-reads hooks.config_path and applies
// what can change live (daemon/reload.hpp); SIGUSR1 logs every
// counter on one line (counters_line.hpp), the API server's included; SIGPIPE is ignored, so a client
// that vanishes costs an EPIPE, not the daemon.
//
// Life cycle around systemd (daemon/systemd_notify.hpp): once the TAP is up
// and the API socket accepts, hooks.started runs (tapstackd: the sandbox),
// then READY=1 with a one-line STATUS=; a 1 s timer refreshes STATUS= when
// it changes, a second timer sends WATCHDOG=1 at half of WATCHDOG_USEC;
// RELOADING=1 ... READY=1 frame a reload; STOPPING=1 starts a stop. Without
// NOTIFY_SOCKET none of this sends anything.
//
// Ownership: the loop owns the port, the interface and the API server; they
// are destroyed after the loop has closed every handle, in reverse order of
// construction. Non-goals: multiple interfaces.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "daemon/config.hpp"
#include "drivers/tap_port.hpp"
#include "stack/tcp/siphash.hpp"

namespace tapstack::daemon {

// What tapstackd adds around the loop; the loop's unit test runs without.
struct ServiceHooks {
    // Runs once the TAP is configured and the API socket accepts, before
    // READY=1 and the first turn (tapstackd: enter_sandbox()). False, with
    // a one-line *error, stops the daemon with status 1.
    std::function<bool(std::string* error)> started;
    // The file SIGHUP re-reads; empty: SIGHUP is logged and changes nothing.
    std::string config_path;
    // --log-level was given: log.level in the file is ignored on reload too.
    bool log_level_pinned = false;
};

class ServiceLoop {
public:
    ServiceLoop(const Config& config, const tcp::Secret& secret);
    ServiceLoop(const Config& config, const tcp::Secret& secret, ServiceHooks hooks);
    // Runs on a port the caller opened (TapPort::adopt in tests) instead of
    // opening config.tap.
    ServiceLoop(const Config& config, const tcp::Secret& secret, std::unique_ptr<drivers::TapPort> port,
                ServiceHooks hooks = {});
    ~ServiceLoop();
    ServiceLoop(const ServiceLoop&) = delete;
    ServiceLoop& operator=(const ServiceLoop&) = delete;

    // Opens the TAP, starts the API, runs until a stop signal (or a fatal
    // TAP error). Returns the process exit status: 0 after a clean stop, 1 on
    // a start-up failure (already logged as one line) or a fatal error.
    int run();

private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

}  // namespace tapstack::daemon
