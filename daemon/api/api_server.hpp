// ApiServer: the Unix-socket API through which local applications get TCP
// streams from tapstack.
//
// CONTRACT (written before the implementation; keep the public API). The
// daemon's loop constructs it after the Interface, calls start(), and once
// per loop turn calls service(now) (see daemon/service_loop.cpp for the order).
#pragma once

#include <uv.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "daemon/api/access_policy.hpp"
#include "stack/iface/interface.hpp"
#include "stack/time.hpp"

namespace tapstack::daemon {

struct ApiServerConfig {
    std::string socket_path = "/run/tapstack/tapstack.sock";
    std::uint32_t socket_mode = 0660;     // permission bits of the socket file
    std::optional<std::uint32_t> socket_gid;  // group of the socket file (api.socket_group), if set
    std::string socket_group;                 // api.socket_group as written, for messages
    // A second listening socket speaking SOCKS5 (RFC 1928) CONNECT, created
    // and owned exactly as socket_path; empty: none. The config's default
    // is socks.sock beside socket_path (config_loader.cpp).
    std::string socks_socket_path;
    std::uint32_t max_clients = 16384;    // Unix connections at once (each stream is one)
    std::uint32_t max_request_line = 512; // bytes, newline included
    // A client that has not sent a complete request line after this long
    // gets `ERR bad-request` and is closed (also bounds an unread reply).
    std::uint32_t request_timeout_ms = 10000;
    std::uint32_t outcome_history = 1024; // ended streams STATUS remembers
    // Per-user limits and where CONNECT may go (access_policy.hpp); can be
    // replaced while running with set_access_policy().
    AccessPolicy access;
    // Adds (daemon engineer): counters of parts the server does not see,
    // reported by STATS before the interface's; tapstackd passes the TAP
    // port's (tap.*, and fault.* while fault injection is on).
    std::function<void(const std::function<void(std::string_view name, std::uint64_t value)>&)> extra_counters;
};

class ApiServer {
public:
    // `request_service` asks the daemon to run a service turn soon (e.g.
    // after data was read from an application into TCP).
    ApiServer(uv_loop_t* loop, iface::Interface& iface, const ApiServerConfig& config,
              std::function<void()> request_service);
    ~ApiServer();
    // For each socket (API, SOCKS5): creates the parent directory, removes
    // a stale socket file, binds and listens. False with a one-line reason
    // on failure.
    bool start(std::string* error);
    // Closes the listening socket and every client; resets their TCP
    // connections. Handles close asynchronously; run the loop afterwards.
    void stop();
    // Consumes TCP events and moves data both ways between TCP and the
    // applications' sockets.
    void service(Instant now);
    // Replaces the per-user limits and connect rules (e.g. on reload): they
    // apply to requests from now on; nothing admitted earlier is disturbed.
    void set_access_policy(const AccessPolicy& policy);

private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

}  // namespace tapstack::daemon
