// AccessPolicy: what the API lets each local user do, as one value the
// server can swap while it runs (ApiServer::set_access_policy, for reload).
//
// Theory of operation
// -------------------
// The Unix socket is one door for every local user, so the server tells
// users apart by the uid the kernel reports for each connection
// (SO_PEERCRED) and applies:
//   * per-user limits (UserLimits): Unix connections at once, listeners
//     (ports held by LISTEN or by waiting ACCEPTs), and TCP buffer memory
//     of the user's streams; refusals are `ERR no-resources`;
//   * where CONNECT may go (ConnectRules); refusals are `ERR permission`.
// Root and the daemon's own uid are exempt from the per-user limits (they
// administer the daemon and are bound by the global limits: api.max_clients,
// tcp.max_connections); the connect rules apply to every user, root
// included, because they describe where the daemon's address may be used.
// Ownership of listeners and streams is not configurable and lives in the
// server itself (requests.cpp).
//
// A new policy applies to requests that arrive after it was set; clients,
// listeners and streams admitted earlier are never disturbed, even when
// they exceed the new limits.
#pragma once

#include <cstdint>

#include "daemon/connect_rules.hpp"

namespace tapstack::daemon {

struct UserLimits {
    std::uint32_t max_clients = 4096;                    // api.max_clients_per_user
    std::uint32_t max_listeners = 256;                   // api.max_listeners_per_user
    std::uint64_t max_memory = std::uint64_t{1} << 30;   // api.max_memory_per_user, bytes
};

struct AccessPolicy {
    UserLimits per_user;
    ConnectRules connect;  // api.connect_allow, api.connect_deny
};

}  // namespace tapstack::daemon
