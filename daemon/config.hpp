// Config: everything tapstackd reads from tapstack.yaml, as one plain struct.
//
// Theory of operation: the struct is made of the contract structs of the
// layers it configures (TapPortConfig, FaultConfig, InterfaceConfig with its
// TcpConfig, ApiServerConfig), so nothing is translated twice and a new tunable is one
// field plus one line in the loader. default_config() holds the defaults the
// documentation promises (config/tapstack.yaml repeats them with comments).
//
// Loading (config_loader.cpp) never throws and never stops at the first
// problem: it returns the struct together with every error found, each one
// line "FILE:LINE:COL: KEY: what is wrong (allowed: ...)" with 1-based
// positions from yaml-cpp's marks. The struct is meaningful only when
// errors is empty.
//
// Reloading (SIGHUP) loads a new struct the same way; daemon/reload.hpp
// compares it with the running one key by key.
//
// Non-goals: environment overrides.
#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "daemon/api/api_server.hpp"
#include "daemon/sandbox/sandbox.hpp"
#include "drivers/fault_injector.hpp"
#include "drivers/tap_port.hpp"
#include "stack/iface/interface.hpp"
#include "stack/wire/addresses.hpp"

namespace tapstack::daemon {

// spdlog's level names, lowest first, and the short spellings also accepted
// (parse_log_level() in config_values.hpp maps them to these names).
inline constexpr std::string_view kLogLevels[] = {"trace", "debug", "info", "warning", "error", "critical", "off"};
inline constexpr std::pair<std::string_view, std::string_view> kLogLevelAliases[] = {{"warn", "warning"},
                                                                                      {"err", "error"}};

struct Config {
    drivers::TapPortConfig tap;     // interface.name, .mtu, .host_address(6), .queue_size, .rx_budget
    iface::InterfaceConfig iface;   // interface.mac, ipv4.*, ipv6.*, arp.*, nd.*, tcp.*
    ApiServerConfig api;            // api.*
    drivers::FaultConfig fault;     // fault_injection.* (a deliberately bad link, for tests)
    SecurityConfig security;        // security.*
    std::string log_level = "info"; // one of kLogLevels
    bool mac_configured = false;    // false: iface.mac is default_mac(address)
};

struct ConfigResult {
    Config config;
    std::vector<std::string> errors;
    bool ok() const { return errors.empty(); }
};

// The documented defaults (without interface.name and ipv4.address, which
// every config file must give). IPv6 is always on: without ipv6.address the
// daemon still has its link-local address.
Config default_config();

// Stable, locally administered default MAC: 02:74:73 ("ts") followed by the
// last three bytes of our IPv4 address, so restarts keep the MAC (and the
// host's ARP cache stays right) while daemons on different addresses differ.
wire::MacAddress default_mac(wire::Ipv4Address address);

// Reads and validates a config file; `path` is used as given in messages.
ConfigResult load_config_file(const std::string& path);
// Same for text already in memory; `file_name` is used in messages.
ConfigResult load_config_text(std::string_view text, std::string_view file_name);

}  // namespace tapstack::daemon
