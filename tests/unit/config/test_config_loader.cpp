// Config loading: the shipped default loads, and each kind of error gives
// exactly one message with file, 1-based line and column, key, value and
// what is allowed.
#include <doctest/doctest.h>

#include <string>

#include "daemon/config.hpp"

using tapstack::daemon::load_config_file;
using tapstack::daemon::load_config_text;
using tapstack::wire::Ipv4Address;
using tapstack::wire::Ipv4Cidr;
using tapstack::wire::MacAddress;
using namespace std::chrono_literals;

namespace {

// A valid file with only the required keys, then `extra` lines appended.
std::string minimal(const std::string& extra = "") {
    return "interface:\n"
           "  name: tap0\n"
           "ipv4:\n"
           "  address: 10.0.0.2/24\n" +
           extra;
}

// A valid file with `extra` lines inside the interface section (line 3 on).
std::string with_iface(const std::string& extra) {
    return "interface:\n"
           "  name: tap0\n" +
           extra +
           "ipv4:\n"
           "  address: 10.0.0.2/24\n";
}

// The single error of loading `text` as "t.yaml".
std::string only_error(const std::string& text) {
    auto r = load_config_text(text, "t.yaml");
    REQUIRE(r.errors.size() == 1);
    return r.errors[0];
}

}  // namespace

TEST_CASE("the shipped config/tapstack.yaml loads with the documented values") {
    auto r = load_config_file(TAPSTACK_SOURCE_DIR "/config/tapstack.yaml");
    for (const auto& e : r.errors) MESSAGE(e);
    REQUIRE(r.ok());
    const auto& c = r.config;
    CHECK(c.tap.name == "tap0");
    CHECK(c.tap.mtu == 1500);
    CHECK(c.iface.mtu == 1500);
    CHECK(c.iface.address == *Ipv4Cidr::parse("198.19.77.2/24"));
    CHECK(c.api.socket_path == "/run/tapstack/tapstack.sock");
    CHECK(c.api.socks_socket_path == "/run/tapstack/socks.sock");
    CHECK(c.iface.gateway == Ipv4Address::from_octets(198, 19, 77, 1));
    CHECK(c.tap.host_address == Ipv4Cidr::parse("198.19.77.1/24"));
    CHECK(c.iface.mac == *MacAddress::parse("02:74:73:13:4d:02"));
    CHECK_FALSE(c.mac_configured);
    CHECK(c.iface.tcp.local_address == Ipv4Address::from_octets(198, 19, 77, 2));
    CHECK(c.iface.tcp.send_buffer == 256 * 1024);
    CHECK(c.iface.tcp.ephemeral_port_min == 49152);
    CHECK(c.iface.tcp.ephemeral_port_max == 65535);
    CHECK(c.iface.tcp.msl == 30s);
    CHECK(c.iface.tcp.min_rto == 200ms);
    CHECK(c.iface.reassembly_max_bytes == 4u * 1024 * 1024);
    CHECK(c.api.socket_path == "/run/tapstack/tapstack.sock");
    CHECK(c.api.socket_mode == 0660);
    CHECK(c.api.request_timeout_ms == 10000);
    CHECK(c.api.drain_timeout_ms == 5000);
    CHECK(c.log_level == "info");
    CHECK(c.iface.ipv6.enabled);
    REQUIRE(c.iface.ipv6.addresses.size() == 1);
    CHECK(c.iface.ipv6.addresses[0] == *tapstack::wire::Ipv6Cidr::parse("fd3e:dfa0:4efb:77::2/64"));
    CHECK(c.iface.ipv6.gateway == tapstack::wire::Ipv6Address::parse("fd3e:dfa0:4efb:77::1"));
    CHECK(c.tap.host_address6 == tapstack::wire::Ipv6Cidr::parse("fd3e:dfa0:4efb:77::1/64"));
    CHECK_FALSE(c.iface.ipv6.accept_ra);
}

TEST_CASE("the shipped config states the defaults: it loads to what leaving every optional key out gives") {
    auto shipped = load_config_file(TAPSTACK_SOURCE_DIR "/config/tapstack.yaml");
    auto bare = load_config_text("interface:\n  name: tap0\nipv4:\n  address: 198.19.77.2/24\n", "t.yaml");
    REQUIRE(shipped.ok());
    REQUIRE(bare.ok());
    const auto& a = shipped.config;
    const auto& b = bare.config;
    CHECK(a.tap.mtu == b.tap.mtu);
    CHECK(a.tap.queue_size == b.tap.queue_size);
    CHECK(a.tap.rx_budget == b.tap.rx_budget);
    CHECK(a.tap.offloads == b.tap.offloads);
    CHECK(a.iface.mac == b.iface.mac);
    CHECK(a.iface.mtu == b.iface.mtu);
    CHECK(a.iface.ttl == b.iface.ttl);
    CHECK(a.iface.reassembly_timeout == b.iface.reassembly_timeout);
    CHECK(a.iface.reassembly_max_bytes == b.iface.reassembly_max_bytes);
    CHECK(a.iface.reassembly_max_datagrams == b.iface.reassembly_max_datagrams);
    CHECK(a.iface.icmp_error_rate_per_sec == b.iface.icmp_error_rate_per_sec);
    CHECK(a.iface.arp_entry_lifetime == b.iface.arp_entry_lifetime);
    CHECK(a.iface.arp_retry_interval == b.iface.arp_retry_interval);
    CHECK(a.iface.arp_max_retries == b.iface.arp_max_retries);
    CHECK(a.iface.arp_queue_per_host == b.iface.arp_queue_per_host);
    CHECK(a.iface.arp_cache_size == b.iface.arp_cache_size);
    const auto& v = a.iface.ipv6;
    const auto& w = b.iface.ipv6;
    CHECK(v.enabled == w.enabled);
    CHECK(v.accept_ra == w.accept_ra);
    CHECK(v.hop_limit == w.hop_limit);
    CHECK(v.reassembly_timeout == w.reassembly_timeout);
    CHECK(v.reassembly_max_bytes == w.reassembly_max_bytes);
    CHECK(v.reassembly_max_datagrams == w.reassembly_max_datagrams);
    CHECK(v.icmp_error_rate_per_sec == w.icmp_error_rate_per_sec);
    CHECK(v.nd_reachable_time == w.nd_reachable_time);
    CHECK(v.nd_retrans_timer == w.nd_retrans_timer);
    CHECK(v.nd_max_solicit == w.nd_max_solicit);
    CHECK(v.nd_queue_per_host == w.nd_queue_per_host);
    CHECK(v.nd_cache_size == w.nd_cache_size);
    CHECK(v.dad_transmits == w.dad_transmits);
    const auto& t = a.iface.tcp;
    const auto& u = b.iface.tcp;
    CHECK(t.send_buffer == u.send_buffer);
    CHECK(t.receive_buffer == u.receive_buffer);
    CHECK(t.ephemeral_port_min == u.ephemeral_port_min);
    CHECK(t.ephemeral_port_max == u.ephemeral_port_max);
    CHECK(t.max_connections == u.max_connections);
    CHECK(t.default_backlog == u.default_backlog);
    CHECK(t.msl == u.msl);
    CHECK(t.initial_rto == u.initial_rto);
    CHECK(t.min_rto == u.min_rto);
    CHECK(t.max_rto == u.max_rto);
    CHECK(t.max_retransmits == u.max_retransmits);
    CHECK(t.max_syn_retransmits == u.max_syn_retransmits);
    CHECK(t.window_scaling == u.window_scaling);
    CHECK(t.timestamps == u.timestamps);
    CHECK(t.sack == u.sack);
    CHECK(t.delayed_ack_timeout == u.delayed_ack_timeout);
    CHECK(t.no_delay == u.no_delay);
    CHECK(t.keepalive == u.keepalive);
    CHECK(t.keepalive_idle == u.keepalive_idle);
    CHECK(t.keepalive_interval == u.keepalive_interval);
    CHECK(t.keepalive_count == u.keepalive_count);
    CHECK(t.receive_buffer_max == u.receive_buffer_max);
    CHECK(t.congestion_control == u.congestion_control);
    CHECK(t.syncookies == u.syncookies);
    CHECK(t.orphan_timeout == u.orphan_timeout);
    CHECK(t.max_orphans == u.max_orphans);
    CHECK(t.memory_max == u.memory_max);
    CHECK(a.api.socket_path == b.api.socket_path);
    CHECK(a.api.socket_mode == b.api.socket_mode);
    CHECK(a.api.max_clients == b.api.max_clients);
    CHECK(a.api.request_timeout_ms == b.api.request_timeout_ms);
    CHECK(a.api.socket_gid == b.api.socket_gid);
    CHECK(a.api.access.per_user.max_clients == b.api.access.per_user.max_clients);
    CHECK(a.api.access.per_user.max_listeners == b.api.access.per_user.max_listeners);
    CHECK(a.api.access.per_user.max_memory == b.api.access.per_user.max_memory);
    REQUIRE(a.api.access.connect.allow.size() == b.api.access.connect.allow.size());
    for (std::size_t i = 0; i < a.api.access.connect.allow.size(); ++i) {
        CHECK(a.api.access.connect.allow[i].text == b.api.access.connect.allow[i].text);
    }
    CHECK(a.api.access.connect.deny.size() == b.api.access.connect.deny.size());
    CHECK(a.api.drain_timeout_ms == b.api.drain_timeout_ms);
    CHECK(a.log_level == b.log_level);
    CHECK(a.fault.enabled == b.fault.enabled);
    CHECK(a.fault.seed == b.fault.seed);
    CHECK(a.fault.max_held_frames == b.fault.max_held_frames);
    CHECK(a.fault.max_held_bytes == b.fault.max_held_bytes);
    for (auto [x, y] : {std::pair{&a.fault.rx, &b.fault.rx}, std::pair{&a.fault.tx, &b.fault.tx}}) {
        CHECK(x->drop_pct == y->drop_pct);
        CHECK(x->duplicate_pct == y->duplicate_pct);
        CHECK(x->reorder_pct == y->reorder_pct);
        CHECK(x->corrupt_pct == y->corrupt_pct);
        CHECK(x->delay_pct == y->delay_pct);
        CHECK(x->delay_min == y->delay_min);
        CHECK(x->delay_max == y->delay_max);
        CHECK(x->reorder_depth == y->reorder_depth);
        CHECK(x->reorder_max_hold == y->reorder_max_hold);
    }
}

TEST_CASE("only interface.name and ipv4.address are required; the rest takes the defaults") {
    auto r = load_config_text(minimal(), "t.yaml");
    REQUIRE(r.ok());
    const auto d = tapstack::daemon::default_config();
    CHECK(r.config.tap.mtu == d.tap.mtu);
    CHECK_FALSE(r.config.iface.gateway.has_value());
    CHECK_FALSE(r.config.tap.host_address.has_value());
    CHECK(r.config.iface.mac == *MacAddress::parse("02:74:73:00:00:02"));
    CHECK(r.config.api.socket_path == d.api.socket_path);
    CHECK(r.config.iface.tcp.receive_buffer == d.iface.tcp.receive_buffer);
    CHECK(r.config.log_level == "info");
}

TEST_CASE("every key of every section is applied") {
    auto r = load_config_text(
        "interface:\n  name: tapx\n  mtu: 9000\n  mac: 02:00:00:00:00:09\n  host_address: 10.0.0.1/24\n"
        "  queue_size: 1024\n  rx_budget: 64\n"
        "ipv4:\n  address: 10.0.0.2/24\n  gateway: 10.0.0.254\n  ttl: 32\n  reassembly_timeout: 5s\n"
        "  reassembly_max_bytes: 1MiB\n  reassembly_max_datagrams: 8\n  icmp_error_rate: 0\n"
        "arp:\n  entry_lifetime: 2m\n  retry_interval: 250ms\n  max_retries: 5\n  queue_per_host: 4\n"
        "  cache_size: 16\n"
        "tcp:\n  send_buffer: 64KiB\n  receive_buffer: 131072\n  ephemeral_ports: 40000-40099\n"
        "  max_connections: 100\n  backlog: 7\n  msl: 100ms\n  initial_rto: 500ms\n  min_rto: 100ms\n"
        "  max_rto: 10s\n  max_retransmits: 4\n  max_syn_retransmits: 2\n  window_scaling: false\n"
        "  timestamps: false\n  sack: false\n  delayed_ack: 0ms\n  no_delay: true\n  keepalive: true\n"
        "  keepalive_idle: 30s\n  keepalive_interval: 5s\n  keepalive_count: 3\n  receive_buffer_max: 0\n"
        "  congestion_control: newreno\n  syncookies: always\n  orphan_timeout: 5s\n  max_orphans: 9\n"
        "  memory_max: 64MiB\n"
        "api:\n  socket: /tmp/x/api.sock\n  socket_mode: 0600\n  max_clients: 10\n  request_timeout: 1500ms\n"
        "  socket_group: 0\n  max_clients_per_user: 3\n  max_listeners_per_user: 2\n  max_memory_per_user: 64MiB\n"
        "  connect_allow: [10.0.0.0/8, 198.19.77.1/32:22]\n  connect_deny:\n    - 0.0.0.0/0:1-1023\n"
        "  drain_timeout: 0ms\n"
        "log:\n  level: debug\n",
        "t.yaml");
    for (const auto& e : r.errors) MESSAGE(e);
    REQUIRE(r.ok());
    const auto& c = r.config;
    CHECK(c.tap.name == "tapx");
    CHECK(c.tap.mtu == 9000);
    CHECK(c.iface.mtu == 9000);
    CHECK(c.iface.tcp.mtu == 9000);
    CHECK(c.iface.mac == *MacAddress::parse("02:00:00:00:00:09"));
    CHECK(c.mac_configured);
    CHECK(c.tap.queue_size == 1024);
    CHECK(c.tap.rx_budget == 64);
    CHECK(c.iface.gateway == Ipv4Address::from_octets(10, 0, 0, 254));
    CHECK(c.iface.ttl == 32);
    CHECK(c.iface.reassembly_timeout == 5s);
    CHECK(c.iface.reassembly_max_bytes == 1024 * 1024);
    CHECK(c.iface.reassembly_max_datagrams == 8);
    CHECK(c.iface.icmp_error_rate_per_sec == 0);
    CHECK(c.iface.arp_entry_lifetime == 120s);
    CHECK(c.iface.arp_retry_interval == 250ms);
    CHECK(c.iface.arp_max_retries == 5);
    CHECK(c.iface.arp_queue_per_host == 4);
    CHECK(c.iface.arp_cache_size == 16);
    CHECK(c.iface.tcp.send_buffer == 65536);
    CHECK(c.iface.tcp.receive_buffer == 131072);
    CHECK(c.iface.tcp.ephemeral_port_min == 40000);
    CHECK(c.iface.tcp.ephemeral_port_max == 40099);
    CHECK(c.iface.tcp.max_connections == 100);
    CHECK(c.iface.tcp.default_backlog == 7);
    CHECK(c.iface.tcp.msl == 100ms);
    CHECK(c.iface.tcp.initial_rto == 500ms);
    CHECK(c.iface.tcp.min_rto == 100ms);
    CHECK(c.iface.tcp.max_rto == 10s);
    CHECK(c.iface.tcp.max_retransmits == 4);
    CHECK(c.iface.tcp.max_syn_retransmits == 2);
    CHECK_FALSE(c.iface.tcp.window_scaling);
    CHECK_FALSE(c.iface.tcp.timestamps);
    CHECK_FALSE(c.iface.tcp.sack);
    CHECK(c.iface.tcp.delayed_ack_timeout == 0ms);
    CHECK(c.iface.tcp.no_delay);
    CHECK(c.iface.tcp.keepalive);
    CHECK(c.iface.tcp.keepalive_idle == 30s);
    CHECK(c.iface.tcp.keepalive_interval == 5s);
    CHECK(c.iface.tcp.keepalive_count == 3);
    CHECK(c.iface.tcp.receive_buffer_max == 0);
    CHECK(c.iface.tcp.congestion_control == "newreno");
    CHECK(c.iface.tcp.syncookies == tapstack::tcp::SynCookieMode::kAlways);
    CHECK(c.iface.tcp.orphan_timeout == 5s);
    CHECK(c.iface.tcp.max_orphans == 9);
    CHECK(c.iface.tcp.memory_max == 64u * 1024 * 1024);
    CHECK(c.api.socket_path == "/tmp/x/api.sock");
    CHECK(c.api.socket_mode == 0600);
    CHECK(c.api.max_clients == 10);
    CHECK(c.api.request_timeout_ms == 1500);
    CHECK(c.api.socket_gid == 0u);
    CHECK(c.api.socket_group == "0");
    CHECK(c.api.access.per_user.max_clients == 3);
    CHECK(c.api.access.per_user.max_listeners == 2);
    CHECK(c.api.access.per_user.max_memory == 64u << 20);
    REQUIRE(c.api.access.connect.allow.size() == 2);
    CHECK(c.api.access.connect.allow[0].text == "10.0.0.0/8");
    CHECK(c.api.access.connect.allow[1].text == "198.19.77.1/32:22");
    REQUIRE(c.api.access.connect.deny.size() == 1);
    CHECK(c.api.access.connect.deny[0].text == "0.0.0.0/0:1-1023");
    CHECK(c.api.drain_timeout_ms == 0);
    CHECK(c.log_level == "debug");
}

TEST_CASE("fault_injection: every key applied, percentages checked, whole-stage problems reported") {
    auto r = load_config_text(minimal("fault_injection:\n  enabled: true\n  seed: 77\n  max_held_frames: 64\n"
                                      "  max_held_bytes: 1MiB\n  rx:\n    drop: 1.5\n    reorder: 5\n"
                                      "    reorder_depth: 7\n    reorder_max_hold: 20ms\n"
                                      "  tx:\n    duplicate: 2\n    corrupt: 0.25\n    delay: 10\n"
                                      "    delay_min: 1ms\n    delay_max: 5ms\n"),
                              "t.yaml");
    for (const auto& e : r.errors) MESSAGE(e);
    REQUIRE(r.ok());
    const auto& f = r.config.fault;
    CHECK(f.enabled);
    CHECK(f.seed == 77);
    CHECK(f.max_held_frames == 64);
    CHECK(f.max_held_bytes == 1024 * 1024);
    CHECK(f.rx.drop_pct == doctest::Approx(1.5));
    CHECK(f.rx.reorder_pct == doctest::Approx(5));
    CHECK(f.rx.reorder_depth == 7);
    CHECK(f.rx.reorder_max_hold == 20ms);
    CHECK(f.tx.duplicate_pct == doctest::Approx(2));
    CHECK(f.tx.corrupt_pct == doctest::Approx(0.25));
    CHECK(f.tx.delay_pct == doctest::Approx(10));
    CHECK(f.tx.delay_min == 1ms);
    CHECK(f.tx.delay_max == 5ms);
    CHECK_FALSE(load_config_text(minimal(), "t.yaml").config.fault.enabled);

    CHECK(only_error(minimal("fault_injection:\n  rx:\n    drop: 101\n")) ==
          "t.yaml:7:11: fault_injection.rx.drop: \"101\" is not a percentage (allowed: 0 to 100, e.g. 1.5)");
    CHECK(only_error(minimal("fault_injection:\n  tx:\n    loss: 1\n")) ==
          "t.yaml:7:5: fault_injection.tx.loss: unknown key (allowed: drop, duplicate, reorder, corrupt, delay, "
          "delay_min, delay_max, reorder_depth, reorder_max_hold)");
    auto bad = load_config_text(minimal("fault_injection:\n  tx:\n    delay_min: 5ms\n    delay_max: 1ms\n"),
                                "t.yaml");
    REQUIRE(bad.errors.size() == 1);
    CHECK(bad.errors[0].starts_with("t.yaml:6:3: fault_injection.tx."));
}

TEST_CASE("unknown key at the top level names the key, its position and the allowed keys") {
    CHECK(only_error(minimal("ipv5:\n  address: 10.0.0.2/24\n")) ==
          "t.yaml:5:1: ipv5: unknown key (allowed: interface, ipv4, ipv6, arp, nd, tcp, api, log, fault_injection, security)");
}

TEST_CASE("unknown key inside a section is reported with its full path") {
    CHECK(only_error("interface:\n  name: tap0\n  nmae: tap1\nipv4:\n  address: 10.0.0.2/24\n") ==
          "t.yaml:3:3: interface.nmae: unknown key (allowed: name, mtu, mac, host_address, host_address6, queue_size, rx_budget, offloads)");
}

TEST_CASE("bad IPv4 address: the message of the issue, at the value's line and column") {
    CHECK(only_error("interface:\n  name: tap0\n  mtu: 1500\nipv4:\n  address: 10.0.0.300/24\n") ==
          "t.yaml:5:12: ipv4.address: \"10.0.0.300/24\" is not an IPv4 address with prefix length");
}

TEST_CASE("bad prefix lengths") {
    SUBCASE("beyond 32 does not parse") {
        CHECK(only_error("interface:\n  name: tap0\nipv4:\n  address: 10.0.0.2/33\n") ==
              "t.yaml:4:12: ipv4.address: \"10.0.0.2/33\" is not an IPv4 address with prefix length");
    }
    SUBCASE("missing prefix") {
        CHECK(only_error("interface:\n  name: tap0\nipv4:\n  address: 10.0.0.2\n") ==
              "t.yaml:4:12: ipv4.address: \"10.0.0.2\" is not an IPv4 address with prefix length");
    }
    SUBCASE("/32 leaves no room for a peer") {
        CHECK(only_error("interface:\n  name: tap0\nipv4:\n  address: 10.0.0.2/32\n") ==
              "t.yaml:4:12: ipv4.address: \"10.0.0.2/32\" is not an IPv4 address with a usable prefix length "
              "(allowed: /1 to /31)");
    }
    SUBCASE("the subnet's broadcast address is not a host address") {
        CHECK(only_error("interface:\n  name: tap0\nipv4:\n  address: 10.0.0.255/24\n") ==
              "t.yaml:4:12: ipv4.address: \"10.0.0.255/24\" is not a usable host address (allowed: not the "
              "subnet's network or broadcast address, not 0.0.0.0/8, 127.0.0.0/8, multicast or 240.0.0.0/4)");
    }
}

TEST_CASE("bad MAC addresses") {
    SUBCASE("not six hex bytes") {
        CHECK(only_error(with_iface("  mac: 02:00:00:00:00\n")) ==
              "t.yaml:3:8: interface.mac: \"02:00:00:00:00\" is not a MAC address "
              "(allowed: six hex bytes, e.g. 02:00:00:00:00:02)");
    }
    SUBCASE("multicast") {
        CHECK(only_error(with_iface("  mac: 01:00:5e:00:00:01\n")) ==
              "t.yaml:3:8: interface.mac: \"01:00:5e:00:00:01\" is not a unicast MAC address "
              "(allowed: first byte even and not all zero, e.g. 02:00:00:00:00:02)");
    }
    SUBCASE("all zero") {
        CHECK(only_error(with_iface("  mac: 00:00:00:00:00:00\n")) ==
              "t.yaml:3:8: interface.mac: \"00:00:00:00:00:00\" is not a unicast MAC address "
              "(allowed: first byte even and not all zero, e.g. 02:00:00:00:00:02)");
    }
}

TEST_CASE("mtu out of range, both ends") {
    CHECK(only_error(with_iface("  mtu: 575\n")) ==
          "t.yaml:3:8: interface.mtu: \"575\" is not an MTU (allowed: 576..65520)");
    CHECK(only_error(with_iface("  mtu: 65521\n")) ==
          "t.yaml:3:8: interface.mtu: \"65521\" is not an MTU (allowed: 576..65520)");
    CHECK(only_error(with_iface("  mtu: -1500\n")) ==
          "t.yaml:3:8: interface.mtu: \"-1500\" is not an MTU (allowed: 576..65520)");
    CHECK(load_config_text(with_iface("  mtu: 576\n"), "t.yaml").ok());
    CHECK(load_config_text(with_iface("  mtu: 65520\n"), "t.yaml").ok());
}

TEST_CASE("wrong types: a list or mapping where a scalar belongs, a scalar where a section belongs") {
    CHECK(only_error(with_iface("  mtu: [1500]\n")) ==
          "t.yaml:3:8: interface.mtu: a list is not an MTU (allowed: 576..65520)");
    CHECK(only_error("interface:\n  name: {a: b}\nipv4:\n  address: 10.0.0.2/24\n") ==
          "t.yaml:2:9: interface.name: a mapping is not a Linux interface name "
          "(allowed: 1 to 15 characters, no '/', ':', ',' or spaces)");
    CHECK(only_error(minimal("log: debug\n")) ==
          "t.yaml:5:6: log: \"debug\" is not a mapping (allowed: keys level)");
    CHECK(only_error(minimal("tcp:\n  window_scaling: yes\n")) ==
          "t.yaml:6:19: tcp.window_scaling: \"yes\" is not a boolean (allowed: true, false)");
}

TEST_CASE("an empty value is reported at its key") {
    CHECK(only_error(minimal("log:\n  level:\n")) ==
          "t.yaml:6:3: log.level: an empty value is not a log level "
          "(allowed: trace, debug, info, warning (or warn), error (or err), critical, off)");
}

TEST_CASE("missing required keys and sections") {
    CHECK(only_error("interface:\n  name: tap0\nipv4:\n  gateway: 10.0.0.1\n") ==
          "t.yaml:4:3: ipv4.address: missing (required: an IPv4 address with prefix length, e.g. 198.19.77.2/24)");
    CHECK(only_error("ipv4:\n  address: 10.0.0.2/24\n") ==
          "t.yaml:1:1: interface: missing (required: a mapping with name and the other interface keys)");
}

TEST_CASE("duplicate keys are errors, pointing at the repetition and the first line") {
    CHECK(only_error(minimal("log:\n  level: info\n  level: debug\n")) ==
          "t.yaml:7:3: log.level: duplicate key (first given at line 6)");
}

TEST_CASE("gateway outside the subnet, or equal to our address") {
    CHECK(only_error(minimal("  gateway: 192.168.1.1\n")) ==
          "t.yaml:5:12: ipv4.gateway: \"192.168.1.1\" is not a gateway on the subnet of ipv4.address (allowed: "
          "an address in 10.0.0.0/24 other than 10.0.0.2 and the network and broadcast addresses)");
    CHECK(only_error(minimal("  gateway: 10.0.0.2\n")) ==
          "t.yaml:5:12: ipv4.gateway: \"10.0.0.2\" is not a gateway on the subnet of ipv4.address (allowed: "
          "an address in 10.0.0.0/24 other than 10.0.0.2 and the network and broadcast addresses)");
    CHECK(only_error(minimal("  gateway: 10.0.0.1.5\n")) ==
          "t.yaml:5:12: ipv4.gateway: \"10.0.0.1.5\" is not an IPv4 address");
}

TEST_CASE("host_address must be a different address in the same subnet with the same prefix") {
    const std::string want_tail =
        "is not a host address beside ipv4.address (allowed: an address in 10.0.0.0/24 other than 10.0.0.2, "
        "written with /24)";
    CHECK(only_error(with_iface("  host_address: 10.0.1.1/24\n")) ==
          "t.yaml:3:17: interface.host_address: \"10.0.1.1/24\" " + want_tail);
    CHECK(only_error(with_iface("  host_address: 10.0.0.2/24\n")) ==
          "t.yaml:3:17: interface.host_address: \"10.0.0.2/24\" " + want_tail);
    CHECK(only_error(with_iface("  host_address: 10.0.0.1/16\n")) ==
          "t.yaml:3:17: interface.host_address: \"10.0.0.1/16\" " + want_tail);
}

TEST_CASE("tcp values: sizes, port ranges, durations and RTO ordering") {
    CHECK(only_error(minimal("tcp:\n  send_buffer: 1KiB\n")) ==
          "t.yaml:6:16: tcp.send_buffer: \"1KiB\" is not a size (allowed: bytes from 4KiB to 1GiB, optionally "
          "with KiB, MiB or GiB, e.g. 256KiB)");
    CHECK(only_error(minimal("tcp:\n  ephemeral_ports: 60000-50000\n")) ==
          "t.yaml:6:20: tcp.ephemeral_ports: \"60000-50000\" is not a port range (allowed: LOW-HIGH with "
          "1 <= LOW <= HIGH <= 65535, e.g. 49152-65535)");
    CHECK(only_error(minimal("tcp:\n  msl: 30\n")) ==
          "t.yaml:6:8: tcp.msl: \"30\" is not a duration (allowed: from 1ms to 10m with unit ms, s or m, e.g. 30s)");
    CHECK(only_error(minimal("tcp:\n  initial_rto: 100ms\n")) ==
          "t.yaml:6:16: tcp.initial_rto: \"100ms\" is not between tcp.min_rto and tcp.max_rto (allowed: 200ms to 60s)");
}

TEST_CASE("the shipped defaults of the loss-recovery keys are the stack's own") {
    // A key left out must mean what TcpConfig means, so the comments in
    // config/tapstack.yaml describe the stack and not a second opinion.
    const tapstack::tcp::TcpConfig stack;
    const auto& t = load_config_text(minimal(), "t.yaml").config.iface.tcp;
    CHECK(t.timestamps == stack.timestamps);
    CHECK(t.sack == stack.sack);
    CHECK(t.delayed_ack_timeout == stack.delayed_ack_timeout);
    CHECK(t.no_delay == stack.no_delay);
    CHECK(t.keepalive == stack.keepalive);
    CHECK(t.keepalive_idle == stack.keepalive_idle);
    CHECK(t.keepalive_interval == stack.keepalive_interval);
    CHECK(t.keepalive_count == stack.keepalive_count);
    CHECK(t.receive_buffer_max == stack.receive_buffer_max);
    CHECK(t.congestion_control == stack.congestion_control);
    CHECK(t.invalid_ack_ratelimit == stack.invalid_ack_ratelimit);
    CHECK(t.mtu_probing == stack.mtu_probing);
    CHECK(t.syncookies == stack.syncookies);
    CHECK(t.orphan_timeout == stack.orphan_timeout);
    CHECK(t.max_orphans == stack.max_orphans);
    CHECK(t.memory_max == stack.memory_max);
}

TEST_CASE("tcp.mtu_probing: off, on-blackhole or always") {
    CHECK(only_error(minimal("tcp:\n  mtu_probing: yes\n")) ==
          "t.yaml:6:16: tcp.mtu_probing: \"yes\" is not an MTU probing mode (allowed: off, on-blackhole, always)");
    for (auto mode : {tapstack::tcp::MtuProbing::kOff, tapstack::tcp::MtuProbing::kOnBlackhole,
                      tapstack::tcp::MtuProbing::kAlways}) {
        const std::string text = "tcp:\n  mtu_probing: " + std::string(tapstack::tcp::to_string(mode)) + "\n";
        CHECK(load_config_text(minimal(text), "t.yaml").config.iface.tcp.mtu_probing == mode);
    }
}

TEST_CASE("tcp.invalid_ack_ratelimit: a duration from 0ms (no limit) to 60s") {
    CHECK(only_error(minimal("tcp:\n  invalid_ack_ratelimit: 2m\n")) ==
          "t.yaml:6:26: tcp.invalid_ack_ratelimit: \"2m\" is not a duration (allowed: from 0ms to 60s with unit "
          "ms, s or m, e.g. 30s)");
    CHECK(load_config_text(minimal("tcp:\n  invalid_ack_ratelimit: 0ms\n"), "t.yaml")
              .config.iface.tcp.invalid_ack_ratelimit == 0ms);
    CHECK(load_config_text(minimal("tcp:\n  invalid_ack_ratelimit: 1s\n"), "t.yaml")
              .config.iface.tcp.invalid_ack_ratelimit == 1s);
}

TEST_CASE("tcp booleans: timestamps, sack, no_delay, keepalive take true or false only") {
    CHECK(only_error(minimal("tcp:\n  timestamps: on\n")) ==
          "t.yaml:6:15: tcp.timestamps: \"on\" is not a boolean (allowed: true, false)");
    CHECK(only_error(minimal("tcp:\n  sack: 1\n")) ==
          "t.yaml:6:9: tcp.sack: \"1\" is not a boolean (allowed: true, false)");
    CHECK(only_error(minimal("tcp:\n  no_delay: [true]\n")) ==
          "t.yaml:6:13: tcp.no_delay: a list is not a boolean (allowed: true, false)");
    CHECK(only_error(minimal("tcp:\n  keepalive:\n")) ==
          "t.yaml:6:3: tcp.keepalive: an empty value is not a boolean (allowed: true, false)");
}

TEST_CASE("tcp.delayed_ack: a duration from 0ms (never delay) to 200ms (the stack's ceiling)") {
    CHECK(only_error(minimal("tcp:\n  delayed_ack: 250ms\n")) ==
          "t.yaml:6:16: tcp.delayed_ack: \"250ms\" is not a duration (allowed: from 0ms to 200ms with unit ms, s "
          "or m, e.g. 30s)");
    CHECK(only_error(minimal("tcp:\n  delayed_ack: 40\n")) ==
          "t.yaml:6:16: tcp.delayed_ack: \"40\" is not a duration (allowed: from 0ms to 200ms with unit ms, s "
          "or m, e.g. 30s)");
    CHECK(load_config_text(minimal("tcp:\n  delayed_ack: 200ms\n"), "t.yaml").config.iface.tcp.delayed_ack_timeout ==
          200ms);
    CHECK(load_config_text(minimal("tcp:\n  delayed_ack: 0ms\n"), "t.yaml").config.iface.tcp.delayed_ack_timeout ==
          0ms);
}

TEST_CASE("tcp keepalive timing: idle and interval 1s..32767s, count 1..127 (Linux's bounds)") {
    CHECK(only_error(minimal("tcp:\n  keepalive_idle: 500ms\n")) ==
          "t.yaml:6:19: tcp.keepalive_idle: \"500ms\" is not a duration (allowed: from 1s to 32767s with unit "
          "ms, s or m, e.g. 30s)");
    CHECK(only_error(minimal("tcp:\n  keepalive_interval: 600m\n")) ==
          "t.yaml:6:23: tcp.keepalive_interval: \"600m\" is not a duration (allowed: from 1s to 32767s with "
          "unit ms, s or m, e.g. 30s)");
    CHECK(only_error(minimal("tcp:\n  keepalive_count: 0\n")) ==
          "t.yaml:6:20: tcp.keepalive_count: \"0\" is not an integer (allowed: 1..127)");
    CHECK(only_error(minimal("tcp:\n  keepalive_count: 128\n")) ==
          "t.yaml:6:20: tcp.keepalive_count: \"128\" is not an integer (allowed: 1..127)");
    auto r = load_config_text(minimal("tcp:\n  keepalive_idle: 32767s\n  keepalive_interval: 1s\n"
                                      "  keepalive_count: 127\n"),
                              "t.yaml");
    REQUIRE(r.ok());
    CHECK(r.config.iface.tcp.keepalive_idle == 32767s);
    CHECK(r.config.iface.tcp.keepalive_interval == 1s);
    CHECK(r.config.iface.tcp.keepalive_count == 127);
}

TEST_CASE("tcp.receive_buffer_max: 0 turns auto-tuning off, otherwise a size not below receive_buffer") {
    CHECK(only_error(minimal("tcp:\n  receive_buffer_max: lots\n")) ==
          "t.yaml:6:23: tcp.receive_buffer_max: \"lots\" is not a size (allowed: 0 to turn auto-tuning off, or "
          "bytes from 4KiB to 1GiB, optionally with KiB, MiB or GiB, e.g. 4MiB)");
    CHECK(only_error(minimal("tcp:\n  receive_buffer_max: 2GiB\n")) ==
          "t.yaml:6:23: tcp.receive_buffer_max: \"2GiB\" is not a size (allowed: 0 to turn auto-tuning off, or "
          "bytes from 4KiB to 1GiB, optionally with KiB, MiB or GiB, e.g. 4MiB)");
    CHECK(only_error(minimal("tcp:\n  receive_buffer_max: 64KiB\n")) ==
          "t.yaml:6:23: tcp.receive_buffer_max: \"64KiB\" is not 0 or at least tcp.receive_buffer (allowed: 0 to "
          "turn auto-tuning off, or 256KiB to 1GiB)");
    CHECK(only_error(minimal("tcp:\n  receive_buffer: 1MiB\n  receive_buffer_max: 512KiB\n")) ==
          "t.yaml:7:23: tcp.receive_buffer_max: \"512KiB\" is not 0 or at least tcp.receive_buffer (allowed: 0 "
          "to turn auto-tuning off, or 1MiB to 1GiB)");
    SUBCASE("accepted values") {
        auto off = load_config_text(minimal("tcp:\n  receive_buffer_max: 0\n"), "t.yaml");
        REQUIRE(off.ok());
        CHECK(off.config.iface.tcp.receive_buffer_max == 0);
        auto same = load_config_text(minimal("tcp:\n  receive_buffer: 1MiB\n  receive_buffer_max: 1MiB\n"), "t.yaml");
        REQUIRE(same.ok());
        CHECK(same.config.iface.tcp.receive_buffer_max == 1024 * 1024);
    }
    SUBCASE("left out, the default ceiling never makes a larger receive_buffer an error") {
        auto r = load_config_text(minimal("tcp:\n  receive_buffer: 16MiB\n"), "t.yaml");
        REQUIRE(r.ok());
        CHECK(r.config.iface.tcp.receive_buffer == 16u * 1024 * 1024);
    }
    SUBCASE("a bad receive_buffer is reported once, without a second message about the ceiling") {
        CHECK(only_error(minimal("tcp:\n  receive_buffer: 1KiB\n  receive_buffer_max: 8KiB\n")).starts_with(
            "t.yaml:6:19: tcp.receive_buffer: \"1KiB\" is not a size"));
    }
}

TEST_CASE("tcp.congestion_control: one of the stack's algorithms, the message lists them") {
    CHECK(only_error(minimal("tcp:\n  congestion_control: bbr\n")) ==
          "t.yaml:6:23: tcp.congestion_control: \"bbr\" is not a congestion control algorithm (allowed: cubic, "
          "newreno)");
    CHECK(only_error(minimal("tcp:\n  congestion_control: CUBIC\n")) ==
          "t.yaml:6:23: tcp.congestion_control: \"CUBIC\" is not a congestion control algorithm (allowed: cubic, "
          "newreno)");
    // Every name the message offers is one the stack accepts, and is applied.
    for (const char* name : {"cubic", "newreno"}) {
        CHECK(tapstack::tcp::is_known_congestion_control(name));
        auto r = load_config_text(minimal(std::string("tcp:\n  congestion_control: ") + name + "\n"), "t.yaml");
        REQUIRE(r.ok());
        CHECK(r.config.iface.tcp.congestion_control == name);
    }
}

TEST_CASE("tcp hostile-peer keys: syncookies modes, orphan bounds, memory_max (0 or 1MiB..1024GiB)") {
    using tapstack::tcp::SynCookieMode;
    const std::pair<const char*, SynCookieMode> modes[] = {
        {"off", SynCookieMode::kOff}, {"on-overflow", SynCookieMode::kOnOverflow}, {"always", SynCookieMode::kAlways}};
    for (const auto& [name, mode] : modes) {
        auto r = load_config_text(minimal(std::string("tcp:\n  syncookies: ") + name + "\n"), "t.yaml");
        REQUIRE(r.ok());
        CHECK(r.config.iface.tcp.syncookies == mode);
    }
    CHECK(only_error(minimal("tcp:\n  syncookies: yes\n")) ==
          "t.yaml:6:15: tcp.syncookies: \"yes\" is not a SYN cookie mode (allowed: on-overflow, always, off)");
    CHECK(only_error(minimal("tcp:\n  orphan_timeout: 0s\n")).starts_with(
        "t.yaml:6:19: tcp.orphan_timeout: \"0s\" is not a duration"));
    CHECK(only_error(minimal("tcp:\n  max_orphans: -1\n")).starts_with("t.yaml:6:16: tcp.max_orphans: \"-1\""));
    auto zero = load_config_text(minimal("tcp:\n  max_orphans: 0\n  memory_max: 0\n"), "t.yaml");
    REQUIRE(zero.ok());
    CHECK(zero.config.iface.tcp.max_orphans == 0);
    CHECK(zero.config.iface.tcp.memory_max == 0);
    CHECK(only_error(minimal("tcp:\n  memory_max: 512KiB\n")) ==
          "t.yaml:6:15: tcp.memory_max: \"512KiB\" is not a size (allowed: 0 for no limit, or bytes from 1MiB to "
          "1024GiB, optionally with KiB, MiB or GiB, e.g. 512MiB)");
    auto big = load_config_text(minimal("tcp:\n  memory_max: 2GiB\n"), "t.yaml");
    REQUIRE(big.ok());
    CHECK(big.config.iface.tcp.memory_max == 2ull << 30);
}

TEST_CASE("api values: socket path and mode") {
    CHECK(only_error(minimal("api:\n  socket: run/x.sock\n")) ==
          "t.yaml:6:11: api.socket: \"run/x.sock\" is not a Unix socket path (allowed: an absolute path of at "
          "most 107 bytes)");
    CHECK(only_error(minimal("api:\n  socket_mode: 0888\n")) ==
          "t.yaml:6:16: api.socket_mode: \"0888\" is not a permission mode (allowed: octal 0000 to 0777, e.g. 0660)");
}

TEST_CASE("api per-user defaults: a quarter of max_clients, 256 listeners, 1GiB; connect allows everything") {
    auto r = load_config_text(minimal(), "t.yaml");
    REQUIRE(r.ok());
    const auto& a = r.config.api;
    CHECK(a.access.per_user.max_clients == a.max_clients / 4);
    CHECK(a.access.per_user.max_listeners == 256);
    CHECK(a.access.per_user.max_memory == std::uint64_t{1} << 30);
    REQUIRE(a.access.connect.allow.size() == 2);
    CHECK(a.access.connect.allow[0].text == "0.0.0.0/0");
    CHECK(a.access.connect.allow[1].text == "::/0");
    CHECK(a.access.connect.deny.empty());
    CHECK_FALSE(a.socket_gid.has_value());
}

TEST_CASE("api.socket_group: a group name or a gid; an unknown name is an error at its position") {
    auto r = load_config_text(minimal("api:\n  socket_group: root\n"), "t.yaml");
    REQUIRE(r.ok());
    CHECK(r.config.api.socket_gid == 0u);
    CHECK(r.config.api.socket_group == "root");
    r = load_config_text(minimal("api:\n  socket_group: 4242\n"), "t.yaml");
    REQUIRE(r.ok());
    CHECK(r.config.api.socket_gid == 4242u);
    CHECK(only_error(minimal("api:\n  socket_group: no-such-group-tapstack\n")) ==
          "t.yaml:6:17: api.socket_group: \"no-such-group-tapstack\" is not a known group (allowed: a group name "
          "from the group database or a gid)");
    CHECK(only_error(minimal("api:\n  socket_group: [a]\n")).starts_with("t.yaml:6:17: api.socket_group: a list is not"));
}

TEST_CASE("api per-user limits: ranges checked, each error at the value") {
    CHECK(only_error(minimal("api:\n  max_clients_per_user: 0\n")) ==
          "t.yaml:6:25: api.max_clients_per_user: \"0\" is not an integer (allowed: 1..1048576)");
    CHECK(only_error(minimal("api:\n  max_listeners_per_user: 70000\n")) ==
          "t.yaml:6:27: api.max_listeners_per_user: \"70000\" is not an integer (allowed: 1..65535)");
    CHECK(only_error(minimal("api:\n  max_memory_per_user: 1KiB\n")) ==
          "t.yaml:6:24: api.max_memory_per_user: \"1KiB\" is not a size (allowed: bytes from 64KiB to 1024GiB, "
          "optionally with KiB, MiB or GiB, e.g. 1GiB)");
    auto r = load_config_text(minimal("api:\n  max_memory_per_user: 2048GiB\n"), "t.yaml");
    CHECK(r.errors.size() == 1);
    r = load_config_text(minimal("api:\n  max_memory_per_user: 1024GiB\n"), "t.yaml");
    REQUIRE(r.ok());
    CHECK(r.config.api.access.per_user.max_memory == std::uint64_t{1} << 40);
}

TEST_CASE("api.connect_allow/connect_deny: every bad rule reported at its own line and column") {
    auto r = load_config_text(minimal("api:\n  connect_deny:\n    - 10.0.0.0/8\n    - 10.0.0.300/8\n"
                                      "    - 198.19.77.1/32:0\n  connect_allow: [10.0.0.1/8, 0.0.0.0/0:80-79]\n"),
                              "t.yaml");
    REQUIRE(r.errors.size() == 4);
    CHECK(r.errors[0] ==
          "t.yaml:8:7: api.connect_deny[1]: \"10.0.0.300/8\" is not a connect rule: \"10.0.0.300\" is not an IPv4 "
          "address (allowed: an IPv4 ADDRESS[/PREFIX][:PORT[-PORT]] or IPv6 ADDRESS[/PREFIX] or "
          "[ADDRESS[/PREFIX]]:PORT[-PORT], e.g. 10.0.0.0/8, 198.19.77.1/32:22, 0.0.0.0/0:1-1023, fd00::/8, "
          "[2001:db8::/32]:443)");
    CHECK(r.errors[1].starts_with("t.yaml:9:7: api.connect_deny[2]: \"198.19.77.1/32:0\" is not a connect rule: "
                                  "\"0\" is not a port 1..65535 (allowed: "));
    CHECK(r.errors[2].starts_with("t.yaml:10:19: api.connect_allow[0]: \"10.0.0.1/8\" is not a connect rule: "
                                  "\"10.0.0.1/8\" has address bits set beyond /8 (10.0.0.0/8 would match)"));
    CHECK(r.errors[3].starts_with("t.yaml:10:31: api.connect_allow[1]: \"0.0.0.0/0:80-79\" is not a connect rule: "
                                  "\"80-79\" is not a port range"));
    CHECK(only_error(minimal("api:\n  connect_deny: 10.0.0.0/8\n")).starts_with(
        "t.yaml:6:17: api.connect_deny: \"10.0.0.0/8\" is not a list of connect rules (allowed: ["));
    CHECK(only_error(minimal("api:\n  connect_deny: [[10.0.0.0/8]]\n")).starts_with(
        "t.yaml:6:18: api.connect_deny[0]: a list is not a connect rule"));
    // An empty value or [] is an empty list: no rule.
    r = load_config_text(minimal("api:\n  connect_deny: [\"[fd00::/8]:1-1023\", 2001:db8::/32]\n"), "t.yaml");
    REQUIRE(r.ok());
    REQUIRE(r.config.api.access.connect.deny.size() == 2);
    CHECK(r.config.api.access.connect.deny[1].text == "2001:db8::/32");
    CHECK_FALSE(r.config.api.access.connect.check({*tapstack::wire::IpAddress::parse("fd00::1"), 80}).allowed);
    CHECK(r.config.api.access.connect.check({*tapstack::wire::IpAddress::parse("fd00::1"), 8080}).allowed);
    r = load_config_text(minimal("api:\n  connect_deny:\n  connect_allow: []\n"), "t.yaml");
    REQUIRE(r.ok());
    CHECK(r.config.api.access.connect.deny.empty());
    CHECK(r.config.api.access.connect.allow.empty());
}

TEST_CASE("api.socks_socket: beside api.socket when left out, a path of its own, or \"\" for none") {
    CHECK(load_config_text(minimal(), "t.yaml").config.api.socks_socket_path == "/run/tapstack/socks.sock");
    auto beside = load_config_text(minimal("api:\n  socket: /tmp/t1/api.sock\n"), "t.yaml");
    REQUIRE(beside.ok());
    CHECK(beside.config.api.socks_socket_path == "/tmp/t1/socks.sock");
    auto named_socks = load_config_text(minimal("api:\n  socket: /tmp/t1/socks.sock\n"), "t.yaml");
    REQUIRE(named_socks.ok());
    CHECK(named_socks.config.api.socks_socket_path == "/tmp/t1/socks5.sock");
    auto given = load_config_text(minimal("api:\n  socks_socket: /srv/proxy.sock\n  socket: /tmp/a.sock\n"), "t.yaml");
    REQUIRE(given.ok());
    CHECK(given.config.api.socks_socket_path == "/srv/proxy.sock");
    auto off = load_config_text(minimal("api:\n  socks_socket: \"\"\n"), "t.yaml");
    REQUIRE(off.ok());
    CHECK(off.config.api.socks_socket_path.empty());
    CHECK(only_error(minimal("api:\n  socks_socket: proxy.sock\n")) ==
          "t.yaml:6:17: api.socks_socket: \"proxy.sock\" is not a Unix socket path or \"\" (allowed: an absolute "
          "path of at most 107 bytes, or \"\" for no SOCKS5 socket)");
    CHECK(only_error(minimal("api:\n  socket: /tmp/x.sock\n  socks_socket: /tmp/x.sock\n")) ==
          "t.yaml:7:17: api.socks_socket: \"/tmp/x.sock\" is not a path of its own (allowed: a path other than "
          "api.socket, or \"\")");
}

TEST_CASE("interface names the kernel would refuse") {
    CHECK(only_error("interface:\n  name: a-very-long-name0\nipv4:\n  address: 10.0.0.2/24\n") ==
          "t.yaml:2:9: interface.name: \"a-very-long-name0\" is not a Linux interface name "
          "(allowed: 1 to 15 characters, no '/', ':', ',' or spaces)");
}

TEST_CASE("YAML syntax errors carry yaml-cpp's position") {
    CHECK(only_error("interface:\n  name: tap0\n ipv4: [\n") == "t.yaml:3:2: YAML syntax error: end of map not found");
    CHECK(only_error("interface: {name: tap0\n") == "t.yaml:2:1: YAML syntax error: end of map flow not found");
}

TEST_CASE("an empty file, a scalar document and a second document") {
    CHECK(only_error("") ==
          "t.yaml:1:1: the file has no settings "
          "(expected a mapping with sections interface, ipv4, ipv6, arp, nd, tcp, api, log, fault_injection, security)");
    CHECK(only_error("tap0\n") ==
          "t.yaml:1:1: top level: \"tap0\" is not a mapping (allowed: keys interface, ipv4, ipv6, arp, nd, tcp, api, log, fault_injection, security)");
    // The error points at the "---" that starts the second document.
    CHECK(only_error(minimal("---\nlog:\n  level: debug\n")) ==
          "t.yaml:5:1: a second YAML document is not allowed (allowed: one document)");
}

TEST_CASE("a stream on which yaml-cpp's LoadAll() never returns is a syntax error, not a hang") {
    // yaml-cpp 0.7 reports endless empty documents for a leading ','
    // (found by fuzz_config); the loader must stop and say so.
    CHECK(only_error(",\n") == "t.yaml:1:1: YAML syntax error: unexpected character");
    CHECK(only_error(", expect: x\ninterface:\n  name: tap0\n") ==
          "t.yaml:1:1: YAML syntax error: unexpected character");
}

TEST_CASE("every error is reported, not just the first") {
    auto r = load_config_text(
        "interface:\n  name: tap0\n  mtu: 9\nipv4:\n  address: 10.0.0.2/24\n  gateway: 1.2.3.4\nlog:\n  level: loud\n",
        "t.yaml");
    REQUIRE(r.errors.size() == 3);
    CHECK(r.errors[0] == "t.yaml:3:8: interface.mtu: \"9\" is not an MTU (allowed: 576..65520)");
    CHECK(r.errors[1] == "t.yaml:8:10: log.level: \"loud\" is not a log level "
                         "(allowed: trace, debug, info, warning (or warn), error (or err), critical, off)");
    CHECK(r.errors[2].starts_with("t.yaml:6:12: ipv4.gateway: \"1.2.3.4\" is not a gateway"));
}

TEST_CASE("a missing file is one line naming the path and the reason") {
    auto r = load_config_file("/nonexistent/tapstack.yaml");
    REQUIRE(r.errors.size() == 1);
    CHECK(r.errors[0] == "/nonexistent/tapstack.yaml: cannot read: No such file or directory");
}

TEST_CASE("control characters in a bad value are escaped in the message") {
    CHECK(only_error("interface:\n  name: \"tap\\t0\"\nipv4:\n  address: 10.0.0.2/24\n") ==
          "t.yaml:2:9: interface.name: \"tap\\x090\" is not a Linux interface name "
          "(allowed: 1 to 15 characters, no '/', ':', ',' or spaces)");
}

TEST_CASE("interface.offloads: on by default, false turns virtio-net offloads off, a non-bool is an error") {
    auto bare = load_config_text("interface:\n  name: tap0\nipv4:\n  address: 10.0.0.2/24\n", "t.yaml");
    REQUIRE(bare.ok());
    CHECK(bare.config.tap.offloads);
    auto off = load_config_text("interface:\n  name: tap0\n  offloads: false\nipv4:\n  address: 10.0.0.2/24\n", "t.yaml");
    for (const auto& e : off.errors) MESSAGE(e);
    REQUIRE(off.ok());
    CHECK_FALSE(off.config.tap.offloads);
    auto bad = load_config_text("interface:\n  name: tap0\n  offloads: maybe\nipv4:\n  address: 10.0.0.2/24\n", "t.yaml");
    REQUIRE(bad.errors.size() == 1);
    CHECK(bad.errors[0].starts_with("t.yaml:3:13: interface.offloads:"));
}

TEST_CASE("api.drain_timeout: 0ms to 600s with a unit") {
    CHECK(load_config_text(minimal("api:\n  drain_timeout: 0ms\n"), "t.yaml").ok());
    CHECK(load_config_text(minimal("api:\n  drain_timeout: 600s\n"), "t.yaml").ok());
    CHECK(only_error(minimal("api:\n  drain_timeout: 601s\n")) ==
          "t.yaml:6:18: api.drain_timeout: \"601s\" is not a duration "
          "(allowed: from 0ms to 10m with unit ms, s or m, e.g. 30s)");
    CHECK(only_error(minimal("api:\n  drain_timeout: 5\n")) ==
          "t.yaml:6:18: api.drain_timeout: \"5\" is not a duration "
          "(allowed: from 0ms to 10m with unit ms, s or m, e.g. 30s)");
}

TEST_CASE("log.level takes spdlog's short spellings warn and err as warning and error") {
    auto warn = load_config_text(minimal("log:\n  level: warn\n"), "t.yaml");
    REQUIRE(warn.ok());
    CHECK(warn.config.log_level == "warning");
    auto err = load_config_text(minimal("log:\n  level: err\n"), "t.yaml");
    REQUIRE(err.ok());
    CHECK(err.config.log_level == "error");
    CHECK(only_error(minimal("log:\n  level: warnings\n")) ==
          "t.yaml:6:10: log.level: \"warnings\" is not a log level "
          "(allowed: trace, debug, info, warning (or warn), error (or err), critical, off)");
}

TEST_CASE("ipv6 and nd: every key applied; one address or a list; IPv6 is on even without ipv6.address") {
    using tapstack::wire::Ipv6Address;
    using tapstack::wire::Ipv6Cidr;
    auto bare = load_config_text(minimal(), "t.yaml");
    REQUIRE(bare.ok());
    CHECK(bare.config.iface.ipv6.enabled);
    CHECK(bare.config.iface.ipv6.addresses.empty());
    CHECK(bare.config.iface.ipv6.dad_transmits == 1);
    CHECK(bare.config.iface.ipv6.reassembly_timeout == 60s);
    auto r = load_config_text(with_iface("  host_address6: fd00:1::1/64\n") +
                                  "ipv6:\n  address: [fd00:1::2/64, fd00:2::2/56]\n  gateway: fe80::1\n"
                                  "  accept_ra: true\n  hop_limit: 17\n  reassembly_timeout: 5s\n"
                                  "  reassembly_max_bytes: 1MiB\n  reassembly_max_datagrams: 9\n  icmp_error_rate: 7\n"
                                  "nd:\n  entry_lifetime: 20s\n  retry_interval: 250ms\n  max_retries: 5\n"
                                  "  queue_per_host: 3\n  cache_size: 77\n  dad_transmits: 0\n",
                              "t.yaml");
    for (const auto& e : r.errors) MESSAGE(e);
    REQUIRE(r.ok());
    const auto& v = r.config.iface.ipv6;
    REQUIRE(v.addresses.size() == 2);
    CHECK(v.addresses[0] == *Ipv6Cidr::parse("fd00:1::2/64"));
    CHECK(v.addresses[1] == *Ipv6Cidr::parse("fd00:2::2/56"));
    CHECK(v.gateway == Ipv6Address::parse("fe80::1"));
    CHECK(v.accept_ra);
    CHECK(v.hop_limit == 17);
    CHECK(v.reassembly_timeout == 5s);
    CHECK(v.reassembly_max_bytes == 1024u * 1024);
    CHECK(v.reassembly_max_datagrams == 9);
    CHECK(v.icmp_error_rate_per_sec == 7);
    CHECK(v.nd_reachable_time == 20s);
    CHECK(v.nd_retrans_timer == 250ms);
    CHECK(v.nd_max_solicit == 5);
    CHECK(v.nd_queue_per_host == 3);
    CHECK(v.nd_cache_size == 77);
    CHECK(v.dad_transmits == 0);
    CHECK(r.config.tap.host_address6 == Ipv6Cidr::parse("fd00:1::1/64"));
    auto block = load_config_text(minimal("ipv6:\n  address:\n    - fd00:1::2/64\n    - fd00:2::2/64\n"), "t.yaml");
    REQUIRE(block.ok());
    CHECK(block.config.iface.ipv6.addresses.size() == 2);
}

TEST_CASE("ipv6.address: each bad entry is reported at its own position") {
    CHECK(only_error(minimal("ipv6:\n  address: fd00::2\n")) ==
          "t.yaml:6:12: ipv6.address: \"fd00::2\" is not an IPv6 address with prefix length "
          "(allowed: e.g. fd3e:dfa0:4efb:77::2/64)");
    CHECK(only_error(minimal("ipv6:\n  address: fd00::2/129\n")) ==
          "t.yaml:6:12: ipv6.address: \"fd00::2/129\" is not an IPv6 address with prefix length "
          "(allowed: e.g. fd3e:dfa0:4efb:77::2/64)");
    CHECK(only_error(minimal("ipv6:\n  address: [fd00::2/64, fe80::5/64]\n")) ==
          "t.yaml:6:25: ipv6.address: \"fe80::5/64\" is not a usable IPv6 host address (allowed: a unicast "
          "address, not ::, ::1, multicast (ff00::/8), link-local (fe80::/10, derived from the MAC) or IPv4-mapped)");
    CHECK(only_error(minimal("ipv6:\n  address: ff02::1/64\n")).find("is not a usable IPv6 host address") !=
          std::string::npos);
    CHECK(only_error(minimal("ipv6:\n  address: fd00::2/0\n")) ==
          "t.yaml:6:12: ipv6.address: \"fd00::2/0\" is not an IPv6 address with a usable prefix length "
          "(allowed: /1 to /128)");
    CHECK(only_error(minimal("ipv6:\n  address:\n    - fd00::2/64\n    - fd00::2/64\n")) ==
          "t.yaml:8:7: ipv6.address: \"fd00::2/64\" is given twice (first at line 7)");
    CHECK(only_error(minimal("ipv6:\n  address: []\n")) ==
          "t.yaml:6:12: ipv6.address: a list is not an IPv6 address with prefix length or a list of them "
          "(allowed: e.g. fd3e:dfa0:4efb:77::2/64)");
    auto two = load_config_text(minimal("ipv6:\n  address: [10.0.0.2/24, fd00::1/200]\n"), "t.yaml");
    CHECK(two.errors.size() == 2);
}

TEST_CASE("ipv6.gateway must be link-local or on-link and not ours") {
    CHECK(load_config_text(minimal("ipv6:\n  address: fd00::2/64\n  gateway: fd00::1\n"), "t.yaml").ok());
    CHECK(load_config_text(minimal("ipv6:\n  gateway: fe80::1\n"), "t.yaml").ok());
    CHECK(only_error(minimal("ipv6:\n  address: fd00::2/64\n  gateway: fd01::1\n")) ==
          "t.yaml:7:12: ipv6.gateway: \"fd01::1\" is not a gateway on the link (allowed: a link-local address, or "
          "an address in a prefix of ipv6.address other than ours: fd00::/64)");
    CHECK(only_error(minimal("ipv6:\n  address: fd00::2/64\n  gateway: fd00::2\n")).find("is not a gateway on the link") !=
          std::string::npos);
    CHECK(only_error(minimal("ipv6:\n  gateway: ff02::2\n")) ==
          "t.yaml:6:12: ipv6.gateway: \"ff02::2\" is not a unicast IPv6 address "
          "(allowed: a link-local or on-link unicast address, e.g. fe80::1)");
    CHECK(only_error(minimal("ipv6:\n  gateway: 10.0.0.1\n")) ==
          "t.yaml:6:12: ipv6.gateway: \"10.0.0.1\" is not an IPv6 address "
          "(allowed: a link-local or on-link unicast address, e.g. fe80::1)");
}

TEST_CASE("interface.host_address6 must be another address in a prefix of ipv6.address, same length") {
    CHECK(only_error(with_iface("  host_address6: fd00::1/64\n")) ==
          "t.yaml:3:18: interface.host_address6: \"fd00::1/64\" is not a host address beside ipv6.address "
          "(allowed: another address in a prefix of ipv6.address, which is not set)");
    const std::string v6 = "ipv6:\n  address: fd00::2/64\n";
    CHECK(only_error(with_iface("  host_address6: fd00::1/48\n") + v6) ==
          "t.yaml:3:18: interface.host_address6: \"fd00::1/48\" is not a host address beside ipv6.address "
          "(allowed: another address in fd00::/64, written with the same prefix length)");
    CHECK(only_error(with_iface("  host_address6: fd00::2/64\n") + v6).find("is not a host address beside") !=
          std::string::npos);
    CHECK(only_error(with_iface("  host_address6: fd01::1/64\n") + v6).find("is not a host address beside") !=
          std::string::npos);
    CHECK(load_config_text(with_iface("  host_address6: fd00::1/64\n") + v6, "t.yaml").ok());
}

TEST_CASE("ipv6 and nd values out of range") {
    CHECK(only_error(minimal("ipv6:\n  hop_limit: 0\n")) ==
          "t.yaml:6:14: ipv6.hop_limit: \"0\" is not an integer (allowed: 1..255)");
    CHECK(only_error(minimal("ipv6:\n  accept_ra: yes\n")) ==
          "t.yaml:6:14: ipv6.accept_ra: \"yes\" is not a boolean (allowed: true, false)");
    CHECK(only_error(minimal("nd:\n  dad_transmits: 11\n")) ==
          "t.yaml:6:18: nd.dad_transmits: \"11\" is not an integer (allowed: 0..10)");
    CHECK(only_error(minimal("nd:\n  retry_interval: 50ms\n")) ==
          "t.yaml:6:19: nd.retry_interval: \"50ms\" is not a duration (allowed: from 100ms to 60s with unit ms, s "
          "or m, e.g. 30s)");
    CHECK(only_error(minimal("nd:\n  reachable: 5s\n")) ==
          "t.yaml:6:3: nd.reachable: unknown key (allowed: entry_lifetime, retry_interval, max_retries, "
          "queue_per_host, cache_size, dad_transmits)");
}
