// Reloading the configuration (SIGHUP): compare the running Config with the
// file's new one key by key, apply the keys that can change live through
// the component that owns them, keep the others until a restart.
//
// Theory of operation
// -------------------
// Every key of tapstack.yaml has one row in reload.cpp's table: its name,
// how to show its value, how to copy it from one Config to another, and
// its owner:
//   kLog        log.level                     spdlog's level, at once
//   kTcp        tcp.*                         TcpStack::set_config: new
//                                             connections and listeners only
//   kArp        arp.*                         Interface::set_arp_config
//   kFault      fault_injection.*             TapPort::set_fault_injection
//   kApiLimits  api.max_clients, .request_timeout, the per-user limits,
//               .connect_allow/.connect_deny (ApiLimits: the whole struct)
//                                             ApiServer::set_limits
//   kRestart    interface.*, ipv4.*, api.socket, api.socket_mode,
//               api.socket_group, security.*  kept; one warning per key
// fault_injection.enabled is kRestart while interface.offloads is on: TSO
// was chosen at start from it (a corrupted TSO frame would get a valid
// checksum from the kernel).
//
// plan_reload() is pure: it lists the changes and builds the Config to run
// with (the new file, with every restart key's old value copied back).
// apply_reload() then hands each owner with a changed key its whole new
// section, wholesale, so related keys (say tcp.min_rto and tcp.initial_rto)
// never apply half. A file that does not load changes nothing: the caller
// logs its errors and stops there. Existing streams are never touched: TCP
// keeps each connection's settings to its end, the API limits apply to what
// arrives next, and only fault injection acts on the link at once (frames
// the old stage held are dropped, which TCP repairs).
//
// A unit test checks that the table names exactly the keys of
// config/tapstack.yaml: a new key must be given an owner here.
#pragma once

#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "daemon/api/api_server.hpp"
#include "daemon/config.hpp"
#include "drivers/tap_port.hpp"
#include "stack/iface/interface.hpp"

namespace tapstack::daemon {

enum class KeyOwner { kLog, kTcp, kArp, kFault, kApiLimits, kRestart };

struct ConfigChange {
    std::string key;   // "tcp.no_delay"
    std::string from;  // the running value, as text
    std::string to;    // the file's value, as text
    KeyOwner owner;
};

struct ReloadPlan {
    std::vector<ConfigChange> live;     // applied by apply_reload()
    std::vector<ConfigChange> restart;  // kept at `from` until a restart
    Config next;                        // the file's config with restart keys at their running values
};

// `running` is the file-level Config in force (as loaded at start or by the
// last reload, before run-time adjustments); `loaded` a Config that loaded
// without errors. `log_level_pinned`: --log-level was given, so log.level
// in the file is ignored (neither applied nor reported).
ReloadPlan plan_reload(const Config& running, const Config& loaded, bool log_level_pinned);

struct ReloadTargets {
    drivers::TapPort& port;
    iface::Interface& iface;
    ApiServer& api;
};

// Applies plan.live through each owner's setter (the whole section of
// plan.next), except log.level (set_log_level(), which the caller times so
// its own report of the reload stays visible). Fault injection goes first,
// as the only setter that can refuse (TapPort::set_fault_injection); then
// false with *error and nothing changed. TcpConfig fields the daemon
// derived at start from the device (mtu, tso, local_address) keep their
// values (TcpStack::set_config).
bool apply_reload(const ReloadPlan& plan, ReloadTargets targets, std::string* error);

// spdlog's level by its name in kLogLevels ("warning", "off", ...).
void set_log_level(std::string_view name);
// Of two level names, the one that logs more.
std::string_view more_verbose_level(std::string_view a, std::string_view b);

// Every key the table knows, in table order (for tests and documentation).
std::vector<std::string_view> reloadable_key_names();
std::string_view owner_name(KeyOwner owner);

}  // namespace tapstack::daemon
