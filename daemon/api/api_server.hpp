// ApiServer: the Unix-socket API through which local applications get TCP
// streams from tapstack.
//
// CONTRACT (written before the implementation; keep the public API). The
// daemon's loop constructs it after the Interface, calls start(), and once
// per loop turn calls service(now) (see daemon/service_loop.cpp for the order).
#pragma once

#include <uv.h>

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "daemon/api/access_policy.hpp"
#include "drivers/frame_tap.hpp"
#include "stack/iface/interface.hpp"
#include "stack/metrics.hpp"
#include "stack/time.hpp"

namespace tapstack::daemon {

// The limits that may change while the server runs: set_limits() replaces
// the whole struct at once (tapstackd's SIGHUP reload), so a limit added
// here is reloadable without further wiring. A new limit applies to what
// happens next (a client connecting, a request arriving); clients and
// streams already admitted are never closed because of it.
struct ApiLimits {
    std::uint32_t max_clients = 16384;    // Unix connections at once (each stream is one)
    // A client that has not sent a complete request line after this long
    // gets `ERR bad-request` and is closed (also bounds an unread reply).
    std::uint32_t request_timeout_ms = 10000;
    // Per-user limits and where CONNECT may go (access_policy.hpp); also
    // replaced alone by set_access_policy().
    AccessPolicy access;
};

struct ApiServerConfig : ApiLimits {
    std::string socket_path = "/run/tapstack/tapstack.sock";
    std::uint32_t socket_mode = 0660;     // permission bits of the socket file
    std::optional<std::uint32_t> socket_gid;  // group of the socket file (api.socket_group), if set
    std::string socket_group;                 // api.socket_group as written, for messages
    // A second listening socket speaking SOCKS5 (RFC 1928) CONNECT, created
    // and owned exactly as socket_path; empty: none. The config's default
    // is socks.sock beside socket_path (config_loader.cpp).
    std::string socks_socket_path;
    std::uint32_t max_request_line = 512; // bytes, newline included
    // A client that has not sent a complete request line after this long
    // gets `ERR bad-request` and is closed (also bounds an unread reply).
    std::uint32_t request_timeout_ms = 10000;
    // Graceful stop (drain()): how long streams may take to finish before
    // the daemon resets what is left (the service loop keeps the clock).
    std::uint32_t drain_timeout_ms = 5000;
    // A listening AF_UNIX stream socket to serve instead of binding
    // socket_path (systemd socket activation: LISTEN_FDS); -1 binds. The
    // server takes ownership; it never changes the mode of, nor unlinks, a
    // socket it was handed (the socket unit owns the file).
    int listen_fd = -1;
    std::uint32_t outcome_history = 1024; // ended streams STATUS remembers
    // Figures of parts the server does not see,
    // reported by STATS before the interface's; tapstackd passes the TAP
    // port's (tap.*, and fault.* while fault injection is on).
    std::function<void(const MetricVisitor&)> extra_metrics;
    // Packet capture (CAPTURE): makes the server's capture hub the TAP
    // port's frame tap, or removes it (nullptr). Unset, CAPTURE is refused.
    std::function<void(drivers::FrameTap* tap)> attach_frame_tap;
    // What DAEMON reports and captures name: the TAP device, and whether
    // the kernel took checksum offload and TSO4 on it.
    std::string interface_name;
    bool offloads = false;
};

class ApiServer {
public:
    // `request_service` asks the daemon to run a service turn soon (e.g.
    // after data was read from an application into TCP).
    ApiServer(uv_loop_t* loop, iface::Interface& iface, const ApiServerConfig& config,
              std::function<void()> request_service);
    ~ApiServer();
    // For each socket (API, SOCKS5): creates the parent directory, removes
    // a stale socket file, binds and listens (the API's: or takes over
    // config.listen_fd). False with a one-line reason
    // on failure.
    bool start(std::string* error);
    // Closes the listening socket and every client; resets their TCP
    // connections after handing each application what its socket takes
    // without blocking. Handles close asynchronously; run the loop afterwards.
    void stop();
    // Graceful stop, first part: CONNECT, LISTEN and ACCEPT get
    // `ERR shutting-down` from now on (connects in progress and waiting
    // ACCEPTs too), every listener closes, and every stream's direction
    // toward the peer ends at what its application has written so far
    // (FIN after it); the peer's bytes keep flowing to the applications.
    // Returns how many streams are still open.
    std::size_t drain();
    // After drain(): true once every stream has ended and been handed over.
    bool drained() const;
    // Consumes TCP events and moves data both ways between TCP and the
    // applications' sockets.
    void service(Instant now);
    // Replaces the per-user limits and connect rules (e.g. on reload): they
    // apply to requests from now on; nothing admitted earlier is disturbed.
    void set_access_policy(const AccessPolicy& policy);
    // Replaces every limit at once, the access policy included (ApiLimits).
    void set_limits(const ApiLimits& limits);
    const ApiLimits& limits() const;
    // Streams (CONNECT or ACCEPT) between an application and TCP right now.
    std::size_t stream_count() const;
    // Every figure STATS reports, in its order: extra_metrics, the
    // interface's (TCP included), then the server's own (api.*, capture.*).
    void visit_metrics(const MetricVisitor& visit) const;

private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

}  // namespace tapstack::daemon
