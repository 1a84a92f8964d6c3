// The reload plan (daemon/reload.hpp): every key of config/tapstack.yaml has
// an owner in the table, live keys are listed for applying, restart keys
// keep their running value and are reported once each, derived values do
// not produce extra reports.
#include <doctest/doctest.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <fstream>
#include <sstream>
#include <set>
#include <string>
#include <vector>

#include "daemon/config.hpp"
#include "daemon/reload.hpp"

using namespace tapstack::daemon;

namespace {

void flatten(const YAML::Node& node, const std::string& prefix, std::set<std::string>& out) {
    for (const auto& kv : node) {
        const std::string key = prefix.empty() ? kv.first.Scalar() : prefix + "." + kv.first.Scalar();
        if (kv.second.IsMap()) {
            flatten(kv.second, key, out);
        } else {
            out.insert(key);
        }
    }
}

Config load(const std::string& text) {
    auto r = load_config_text(text, "t.yaml");
    REQUIRE_MESSAGE(r.ok(), (r.errors.empty() ? "" : r.errors.front()));
    return r.config;
}

// Offloads off: with them on, fault_injection.enabled needs a restart (below).
const std::string kBase = "interface:\n  name: tap0\n  offloads: false\nipv4:\n  address: 10.0.0.2/24\n";

const ConfigChange* find(const std::vector<ConfigChange>& v, const std::string& key) {
    for (const auto& c : v) {
        if (c.key == key) return &c;
    }
    return nullptr;
}

}  // namespace

TEST_CASE("every key of the documented default file has exactly one row in the reload table") {
    const std::string path = std::string(TAPSTACK_SOURCE_DIR) + "/config/tapstack.yaml";
    const YAML::Node doc = YAML::LoadFile(path);
    std::set<std::string> documented;
    flatten(doc, "", documented);
    std::ifstream in(path);
    std::stringstream buffer;
    buffer << in.rdbuf();
    const std::string text = buffer.str();
    std::set<std::string> table;
    for (auto k : reloadable_key_names()) {
        CHECK_MESSAGE(table.insert(std::string(k)).second, "twice in the table: " << k);
    }
    for (const auto& k : documented) CHECK_MESSAGE(table.count(k) == 1, "no reload rule for " << k);
    for (const auto& k : table) {
        if (documented.count(k) == 1) continue;
        // Keys without a default are shown commented out ("  # mac: ...").
        const std::string leaf = k.substr(k.rfind('.') + 1);
        CHECK_MESSAGE(text.find("# " + leaf + ": ") != std::string::npos, "not in config/tapstack.yaml: " << k);
    }
}

TEST_CASE("an unchanged file plans nothing") {
    const Config a = load(kBase);
    const ReloadPlan plan = plan_reload(a, load(kBase), false);
    CHECK(plan.live.empty());
    CHECK(plan.restart.empty());
}

TEST_CASE("live keys are listed with their owner; restart keys keep their running value, one report each") {
    const Config running = load(kBase);
    const Config next = load("interface:\n  name: tap1\n  mtu: 9000\n  offloads: false\nipv4:\n  address: 10.0.0.3/24\n"
                             "tcp:\n  no_delay: true\n  receive_buffer: 128KiB\narp:\n  retry_interval: 200ms\n"
                             "api:\n  max_clients: 10\n  socket: /tmp/other.sock\nlog:\n  level: debug\n"
                             "fault_injection:\n  enabled: true\n  rx:\n    drop: 1\n");
    const ReloadPlan plan = plan_reload(running, next, false);
    for (const char* key : {"tcp.no_delay", "tcp.receive_buffer", "arp.retry_interval", "api.max_clients", "log.level",
                            "fault_injection.enabled", "fault_injection.rx.drop"}) {
        CHECK_MESSAGE(find(plan.live, key) != nullptr, key);
    }
    CHECK(find(plan.live, "tcp.no_delay")->owner == KeyOwner::kTcp);
    CHECK(find(plan.live, "tcp.no_delay")->from == "false");
    CHECK(find(plan.live, "tcp.no_delay")->to == "true");
    CHECK(find(plan.live, "api.max_clients")->owner == KeyOwner::kApiLimits);
    // The MAC follows the address by default: one report (ipv4.address), not
    // two; the SOCKS5 socket follows api.socket's directory by default.
    CHECK(plan.restart.size() == 5);
    for (const char* key : {"interface.name", "interface.mtu", "ipv4.address", "api.socket", "api.socks_socket"}) {
        CHECK_MESSAGE(find(plan.restart, key) != nullptr, key);
    }
    CHECK(find(plan.restart, "interface.name")->from == "tap0");
    CHECK(find(plan.restart, "interface.name")->to == "tap1");
    // The plan's config: new live values, old restart values (and what the
    // loader derived from them).
    CHECK(plan.next.iface.tcp.no_delay);
    CHECK(plan.next.api.max_clients == 10);
    CHECK(plan.next.tap.name == "tap0");
    CHECK(plan.next.tap.mtu == 1500);
    CHECK(plan.next.iface.address.to_string() == "10.0.0.2/24");
    CHECK(plan.next.iface.mac == running.iface.mac);
    CHECK(plan.next.iface.tcp.local_address == running.iface.tcp.local_address);
    CHECK(plan.next.iface.tcp.mtu == 1500);
    CHECK(plan.next.api.socket_path == running.api.socket_path);
    // Reloading the plan's result against the same file reports the kept keys again.
    const ReloadPlan again = plan_reload(plan.next, next, false);
    CHECK(again.live.empty());
    CHECK(again.restart.size() == 5);
}

TEST_CASE("the API's per-user limits and connect rules are live, together with the other limits") {
    const ReloadPlan plan = plan_reload(
        load(kBase), load(kBase + "api:\n  max_clients_per_user: 8\n  connect_deny: [198.19.77.1/32:22]\n"), false);
    REQUIRE(find(plan.live, "api.max_clients_per_user") != nullptr);
    CHECK(find(plan.live, "api.max_clients_per_user")->owner == KeyOwner::kApiLimits);
    REQUIRE(find(plan.live, "api.connect_deny") != nullptr);
    CHECK(find(plan.live, "api.connect_deny")->from == "[]");
    CHECK(find(plan.live, "api.connect_deny")->to == "[198.19.77.1/32:22]");
    CHECK(plan.restart.empty());
    CHECK(plan.next.api.access.per_user.max_clients == 8);
    CHECK(plan.next.api.access.connect.deny.size() == 1);
}

TEST_CASE("log.level given on the command line is neither applied nor reported") {
    const ReloadPlan plan = plan_reload(load(kBase), load(kBase + "log:\n  level: debug\n"), true);
    CHECK(plan.live.empty());
    CHECK(plan.restart.empty());
    CHECK(plan.next.log_level == "info");
}

TEST_CASE("fault_injection.enabled needs a restart while offloads are on (TSO was chosen from it at start)") {
    const std::string offloads = "interface:\n  name: tap0\n  offloads: true\nipv4:\n  address: 10.0.0.2/24\n";
    const ReloadPlan plan =
        plan_reload(load(offloads), load(offloads + "fault_injection:\n  enabled: true\n  tx:\n    drop: 2\n"), false);
    REQUIRE(find(plan.restart, "fault_injection.enabled") != nullptr);
    CHECK(find(plan.live, "fault_injection.tx.drop") != nullptr);
    CHECK_FALSE(plan.next.fault.enabled);
    CHECK(plan.next.fault.tx.drop_pct == 2);
}

TEST_CASE("an explicit MAC is a restart key of its own") {
    const Config explicit_mac =
        load("interface:\n  name: tap0\n  offloads: false\n  mac: 02:00:00:00:00:09\nipv4:\n  address: 10.0.0.2/24\n");
    const ReloadPlan plan = plan_reload(load(kBase), explicit_mac, false);
    REQUIRE(plan.restart.size() == 1);
    CHECK(plan.restart[0].key == "interface.mac");
    CHECK(plan.restart[0].from == "default");
    CHECK_FALSE(plan.next.mac_configured);
}
