// Reloading the configuration: the key table and the two steps (plan,
// apply) described in reload.hpp.
#include "daemon/reload.hpp"

#include <spdlog/spdlog.h>

#include <chrono>
#include <cstdio>
#include <optional>

namespace tapstack::daemon {
namespace {

std::string show(bool v) { return v ? "true" : "false"; }
std::string show(std::uint64_t v) { return std::to_string(v); }
std::string show(std::uint32_t v) { return std::to_string(v); }
std::string show(std::uint16_t v) { return std::to_string(v); }
std::string show(std::uint8_t v) { return std::to_string(v); }
std::string show(double v) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%g", v);
    return buf;
}
std::string show(Duration d) { return std::to_string(std::chrono::duration_cast<milliseconds>(d).count()) + "ms"; }
std::string show(const std::string& s) { return s; }
std::string show(tcp::MtuProbing m) { return std::string(tcp::to_string(m)); }
std::string show(tcp::SynCookieMode m) {
    switch (m) {
        case tcp::SynCookieMode::kOff: return "off";
        case tcp::SynCookieMode::kOnOverflow: return "on-overflow";
        case tcp::SynCookieMode::kAlways: return "always";
    }
    return "?";
}
std::string show(const wire::Ipv4Cidr& c) { return c.to_string(); }
std::string show(const wire::MacAddress& m) { return m.to_string(); }
std::string show(const wire::Ipv4Address& a) { return a.to_string(); }
std::string show(const wire::Ipv6Address& a) { return a.to_string(); }
std::string show(const wire::Ipv6Cidr& c) { return c.to_string(); }
std::string show(const std::vector<wire::Ipv6Cidr>& list) {
    std::string out;
    for (const auto& c : list) out += (out.empty() ? "" : ",") + c.to_string();
    return out.empty() ? std::string("none") : out;
}
// A rule list as written: "[10.0.0.0/8, 198.19.77.1/32:22]". The default
// allow rule (not from the file) reads as "0.0.0.0/0".
std::string show(const std::vector<ConnectRule>& rules) {
    std::string out = "[";
    for (const auto& r : rules) {
        if (out.size() > 1) out += ", ";
        out += r.text.empty() ? std::string("0.0.0.0/0") : r.text;
    }
    return out + "]";
}
template <typename T>
std::string show(const std::optional<T>& v) {
    return v ? show(*v) : std::string("none");
}

struct KeyRow {
    std::string_view key;
    KeyOwner owner;
    std::string (*value)(const Config&);
    void (*keep)(Config& to, const Config& from);  // copies this key's value
};

// One row per key: owner, its value as text, and how to copy it.
#define TAPSTACK_KEY(name, owner, field)                                 \
    KeyRow {                                                             \
        name, KeyOwner::owner, [](const Config& c) { return show(c.field); }, \
            [](Config& to, const Config& from) { to.field = from.field; }   \
    }

const KeyRow kKeys[] = {
    TAPSTACK_KEY("interface.name", kRestart, tap.name),
    TAPSTACK_KEY("interface.mtu", kRestart, tap.mtu),
    // Left out, the MAC follows ipv4.address (default_mac()): shown as
    // "default", so a changed address is one warning, not two.
    KeyRow{"interface.mac", KeyOwner::kRestart,
           [](const Config& c) { return c.mac_configured ? show(c.iface.mac) : std::string("default"); },
           [](Config& to, const Config& from) {
               to.iface.mac = from.iface.mac;
               to.mac_configured = from.mac_configured;
           }},
    TAPSTACK_KEY("interface.host_address", kRestart, tap.host_address),
    TAPSTACK_KEY("interface.queue_size", kRestart, tap.queue_size),
    TAPSTACK_KEY("interface.rx_budget", kRestart, tap.rx_budget),
    TAPSTACK_KEY("interface.offloads", kRestart, tap.offloads),
    TAPSTACK_KEY("interface.host_address6", kRestart, tap.host_address6),
    TAPSTACK_KEY("ipv4.address", kRestart, iface.address),
    TAPSTACK_KEY("ipv4.gateway", kRestart, iface.gateway),
    TAPSTACK_KEY("ipv4.ttl", kRestart, iface.ttl),
    TAPSTACK_KEY("ipv4.reassembly_timeout", kRestart, iface.reassembly_timeout),
    TAPSTACK_KEY("ipv4.reassembly_max_bytes", kRestart, iface.reassembly_max_bytes),
    TAPSTACK_KEY("ipv4.reassembly_max_datagrams", kRestart, iface.reassembly_max_datagrams),
    TAPSTACK_KEY("ipv4.icmp_error_rate", kRestart, iface.icmp_error_rate_per_sec),
    // The IPv6 layer is built once, at start (Ipv6Layer has no set_config).
    TAPSTACK_KEY("ipv6.address", kRestart, iface.ipv6.addresses),
    TAPSTACK_KEY("ipv6.gateway", kRestart, iface.ipv6.gateway),
    TAPSTACK_KEY("ipv6.accept_ra", kRestart, iface.ipv6.accept_ra),
    TAPSTACK_KEY("ipv6.hop_limit", kRestart, iface.ipv6.hop_limit),
    TAPSTACK_KEY("ipv6.reassembly_timeout", kRestart, iface.ipv6.reassembly_timeout),
    TAPSTACK_KEY("ipv6.reassembly_max_bytes", kRestart, iface.ipv6.reassembly_max_bytes),
    TAPSTACK_KEY("ipv6.reassembly_max_datagrams", kRestart, iface.ipv6.reassembly_max_datagrams),
    TAPSTACK_KEY("ipv6.icmp_error_rate", kRestart, iface.ipv6.icmp_error_rate_per_sec),
    TAPSTACK_KEY("nd.entry_lifetime", kRestart, iface.ipv6.nd_reachable_time),
    TAPSTACK_KEY("nd.retry_interval", kRestart, iface.ipv6.nd_retrans_timer),
    TAPSTACK_KEY("nd.max_retries", kRestart, iface.ipv6.nd_max_solicit),
    TAPSTACK_KEY("nd.queue_per_host", kRestart, iface.ipv6.nd_queue_per_host),
    TAPSTACK_KEY("nd.cache_size", kRestart, iface.ipv6.nd_cache_size),
    TAPSTACK_KEY("nd.dad_transmits", kRestart, iface.ipv6.dad_transmits),
    TAPSTACK_KEY("arp.entry_lifetime", kArp, iface.arp_entry_lifetime),
    TAPSTACK_KEY("arp.retry_interval", kArp, iface.arp_retry_interval),
    TAPSTACK_KEY("arp.max_retries", kArp, iface.arp_max_retries),
    TAPSTACK_KEY("arp.queue_per_host", kArp, iface.arp_queue_per_host),
    TAPSTACK_KEY("arp.cache_size", kArp, iface.arp_cache_size),
    TAPSTACK_KEY("tcp.send_buffer", kTcp, iface.tcp.send_buffer),
    TAPSTACK_KEY("tcp.receive_buffer", kTcp, iface.tcp.receive_buffer),
    KeyRow{"tcp.ephemeral_ports", KeyOwner::kTcp,
           [](const Config& c) {
               return show(c.iface.tcp.ephemeral_port_min) + "-" + show(c.iface.tcp.ephemeral_port_max);
           },
           [](Config& to, const Config& from) {
               to.iface.tcp.ephemeral_port_min = from.iface.tcp.ephemeral_port_min;
               to.iface.tcp.ephemeral_port_max = from.iface.tcp.ephemeral_port_max;
           }},
    TAPSTACK_KEY("tcp.max_connections", kTcp, iface.tcp.max_connections),
    TAPSTACK_KEY("tcp.backlog", kTcp, iface.tcp.default_backlog),
    TAPSTACK_KEY("tcp.msl", kTcp, iface.tcp.msl),
    TAPSTACK_KEY("tcp.initial_rto", kTcp, iface.tcp.initial_rto),
    TAPSTACK_KEY("tcp.min_rto", kTcp, iface.tcp.min_rto),
    TAPSTACK_KEY("tcp.max_rto", kTcp, iface.tcp.max_rto),
    TAPSTACK_KEY("tcp.max_retransmits", kTcp, iface.tcp.max_retransmits),
    TAPSTACK_KEY("tcp.max_syn_retransmits", kTcp, iface.tcp.max_syn_retransmits),
    TAPSTACK_KEY("tcp.window_scaling", kTcp, iface.tcp.window_scaling),
    TAPSTACK_KEY("tcp.timestamps", kTcp, iface.tcp.timestamps),
    TAPSTACK_KEY("tcp.sack", kTcp, iface.tcp.sack),
    TAPSTACK_KEY("tcp.delayed_ack", kTcp, iface.tcp.delayed_ack_timeout),
    TAPSTACK_KEY("tcp.no_delay", kTcp, iface.tcp.no_delay),
    TAPSTACK_KEY("tcp.keepalive", kTcp, iface.tcp.keepalive),
    TAPSTACK_KEY("tcp.keepalive_idle", kTcp, iface.tcp.keepalive_idle),
    TAPSTACK_KEY("tcp.keepalive_interval", kTcp, iface.tcp.keepalive_interval),
    TAPSTACK_KEY("tcp.keepalive_count", kTcp, iface.tcp.keepalive_count),
    TAPSTACK_KEY("tcp.receive_buffer_max", kTcp, iface.tcp.receive_buffer_max),
    TAPSTACK_KEY("tcp.congestion_control", kTcp, iface.tcp.congestion_control),
    TAPSTACK_KEY("tcp.invalid_ack_ratelimit", kTcp, iface.tcp.invalid_ack_ratelimit),
    TAPSTACK_KEY("tcp.mtu_probing", kTcp, iface.tcp.mtu_probing),
    TAPSTACK_KEY("tcp.syncookies", kTcp, iface.tcp.syncookies),
    TAPSTACK_KEY("tcp.orphan_timeout", kTcp, iface.tcp.orphan_timeout),
    // Stack-wide bounds: the next orphan and the next charge see them.
    TAPSTACK_KEY("tcp.max_orphans", kTcp, iface.tcp.max_orphans),
    TAPSTACK_KEY("tcp.memory_max", kTcp, iface.tcp.memory_max),
    TAPSTACK_KEY("api.socket", kRestart, api.socket_path),
    TAPSTACK_KEY("api.socks_socket", kRestart, api.socks_socket_path),
    TAPSTACK_KEY("api.socket_mode", kRestart, api.socket_mode),
    KeyRow{"api.socket_group", KeyOwner::kRestart, [](const Config& c) { return c.api.socket_group; },
           [](Config& to, const Config& from) {
               to.api.socket_group = from.api.socket_group;
               to.api.socket_gid = from.api.socket_gid;
           }},
    TAPSTACK_KEY("api.max_clients", kApiLimits, api.max_clients),
    TAPSTACK_KEY("api.max_clients_per_user", kApiLimits, api.access.per_user.max_clients),
    TAPSTACK_KEY("api.max_listeners_per_user", kApiLimits, api.access.per_user.max_listeners),
    TAPSTACK_KEY("api.max_memory_per_user", kApiLimits, api.access.per_user.max_memory),
    TAPSTACK_KEY("api.connect_allow", kApiLimits, api.access.connect.allow),
    TAPSTACK_KEY("api.connect_deny", kApiLimits, api.access.connect.deny),
    KeyRow{"api.request_timeout", KeyOwner::kApiLimits,
           [](const Config& c) { return show(milliseconds(c.api.request_timeout_ms)); },
           [](Config& to, const Config& from) { to.api.request_timeout_ms = from.api.request_timeout_ms; }},
    // Read when SIGTERM arrives (service_loop.cpp).
    KeyRow{"api.drain_timeout", KeyOwner::kApiLimits,
           [](const Config& c) { return show(milliseconds(c.api.drain_timeout_ms)); },
           [](Config& to, const Config& from) { to.api.drain_timeout_ms = from.api.drain_timeout_ms; }},
    TAPSTACK_KEY("log.level", kLog, log_level),
    TAPSTACK_KEY("fault_injection.enabled", kFault, fault.enabled),
    TAPSTACK_KEY("fault_injection.seed", kFault, fault.seed),
    TAPSTACK_KEY("fault_injection.max_held_frames", kFault, fault.max_held_frames),
    TAPSTACK_KEY("fault_injection.max_held_bytes", kFault, fault.max_held_bytes),
    TAPSTACK_KEY("fault_injection.rx.drop", kFault, fault.rx.drop_pct),
    TAPSTACK_KEY("fault_injection.rx.duplicate", kFault, fault.rx.duplicate_pct),
    TAPSTACK_KEY("fault_injection.rx.reorder", kFault, fault.rx.reorder_pct),
    TAPSTACK_KEY("fault_injection.rx.corrupt", kFault, fault.rx.corrupt_pct),
    TAPSTACK_KEY("fault_injection.rx.delay", kFault, fault.rx.delay_pct),
    TAPSTACK_KEY("fault_injection.rx.delay_min", kFault, fault.rx.delay_min),
    TAPSTACK_KEY("fault_injection.rx.delay_max", kFault, fault.rx.delay_max),
    TAPSTACK_KEY("fault_injection.rx.reorder_depth", kFault, fault.rx.reorder_depth),
    TAPSTACK_KEY("fault_injection.rx.reorder_max_hold", kFault, fault.rx.reorder_max_hold),
    TAPSTACK_KEY("fault_injection.tx.drop", kFault, fault.tx.drop_pct),
    TAPSTACK_KEY("fault_injection.tx.duplicate", kFault, fault.tx.duplicate_pct),
    TAPSTACK_KEY("fault_injection.tx.reorder", kFault, fault.tx.reorder_pct),
    TAPSTACK_KEY("fault_injection.tx.corrupt", kFault, fault.tx.corrupt_pct),
    TAPSTACK_KEY("fault_injection.tx.delay", kFault, fault.tx.delay_pct),
    TAPSTACK_KEY("fault_injection.tx.delay_min", kFault, fault.tx.delay_min),
    TAPSTACK_KEY("fault_injection.tx.delay_max", kFault, fault.tx.delay_max),
    TAPSTACK_KEY("fault_injection.tx.reorder_depth", kFault, fault.tx.reorder_depth),
    TAPSTACK_KEY("fault_injection.tx.reorder_max_hold", kFault, fault.tx.reorder_max_hold),
    // The sandbox is entered once, at start.
    TAPSTACK_KEY("security.seccomp", kRestart, security.seccomp),
};

#undef TAPSTACK_KEY

KeyOwner owner_in(const KeyRow& row, const Config& running) {
    if (row.key == "fault_injection.enabled" && running.tap.offloads) return KeyOwner::kRestart;
    return row.owner;
}

bool changed(const ReloadPlan& plan, KeyOwner owner) {
    for (const auto& c : plan.live) {
        if (c.owner == owner) return true;
    }
    return false;
}

}  // namespace

std::string_view owner_name(KeyOwner owner) {
    switch (owner) {
    case KeyOwner::kLog: return "log";
    case KeyOwner::kTcp: return "tcp (new connections)";
    case KeyOwner::kArp: return "arp";
    case KeyOwner::kFault: return "fault injection";
    case KeyOwner::kApiLimits: return "api limits";
    case KeyOwner::kRestart: return "restart";
    }
    return "?";
}

std::vector<std::string_view> reloadable_key_names() {
    std::vector<std::string_view> out;
    for (const auto& row : kKeys) out.push_back(row.key);
    return out;
}

ReloadPlan plan_reload(const Config& running, const Config& loaded, bool log_level_pinned) {
    ReloadPlan plan;
    plan.next = loaded;
    for (const auto& row : kKeys) {
        if (row.key == "log.level" && log_level_pinned) {
            row.keep(plan.next, running);
            continue;
        }
        std::string from = row.value(running);
        std::string to = row.value(loaded);
        if (from == to) continue;
        const KeyOwner owner = owner_in(row, running);
        if (owner == KeyOwner::kRestart) {
            row.keep(plan.next, running);
            plan.restart.push_back(ConfigChange{std::string(row.key), std::move(from), std::move(to), owner});
        } else {
            plan.live.push_back(ConfigChange{std::string(row.key), std::move(from), std::move(to), owner});
        }
    }
    // Derived from restart keys by the loader, so restored with them: the
    // default MAC (from ipv4.address) and TCP's address and MTU.
    if (!plan.next.mac_configured) plan.next.iface.mac = running.iface.mac;
    plan.next.iface.mtu = running.iface.mtu;
    plan.next.iface.tcp.local_address = running.iface.tcp.local_address;
    plan.next.iface.tcp.mtu = running.iface.tcp.mtu;
    return plan;
}

bool apply_reload(const ReloadPlan& plan, ReloadTargets targets, std::string* error) {
    const Config& next = plan.next;
    if (changed(plan, KeyOwner::kFault)) {
        if (!targets.port.set_fault_injection(next.fault, error)) return false;
    }
    if (changed(plan, KeyOwner::kTcp)) targets.iface.tcp().set_config(next.iface.tcp);
    if (changed(plan, KeyOwner::kArp)) targets.iface.set_arp_config(next.iface);
    if (changed(plan, KeyOwner::kApiLimits)) targets.api.set_limits(next.api);
    return true;
}

namespace {

spdlog::level::level_enum level_of(std::string_view name) {
    if (name == "off") return spdlog::level::off;
    return spdlog::level::from_str(std::string(name));
}

}  // namespace

void set_log_level(std::string_view name) { spdlog::set_level(level_of(name)); }

std::string_view more_verbose_level(std::string_view a, std::string_view b) {
    return level_of(a) <= level_of(b) ? a : b;
}

}  // namespace tapstack::daemon
