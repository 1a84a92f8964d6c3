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
// Signals: SIGINT/SIGTERM stop (api.stop(), close every handle, let the loop
// run until they are closed); SIGHUP is logged only; SIGUSR1 logs every
// counter on one line (counters_line.hpp), the API server's included;
// SIGPIPE is ignored, so a client
// that vanishes costs an EPIPE, not the daemon.
//
// Ownership: the loop owns the port, the interface and the API server; they
// are destroyed after the loop has closed every handle, in reverse order of
// construction. Non-goals: multiple interfaces, reload.
#pragma once

#include <cstdint>
#include <memory>

#include "daemon/config.hpp"
#include "drivers/tap_port.hpp"

namespace tapstack::daemon {

class ServiceLoop {
public:
    ServiceLoop(const Config& config, std::uint64_t secret_seed);
    // Runs on a port the caller opened (TapPort::adopt in tests) instead of
    // opening config.tap.
    ServiceLoop(const Config& config, std::uint64_t secret_seed, std::unique_ptr<drivers::TapPort> port);
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
