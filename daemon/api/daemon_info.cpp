// ApiServer, the daemon's own figures: DAEMON (version, uptime, interface,
// address, what it holds) and the list of every figure STATS reports.
//
// Theory of operation
// -------------------
// visit_metrics() is the one list behind STATS (both formats) and the
// SIGUSR1 line: what the daemon hands in (the TAP port's tap.* and fault.*),
// the interface's (eth, arp, ipv4, icmp, tcp), then the server's own gauges
// and counters (api.*) and the capture hub's (capture.*). Everything is
// read in the loop's thread, so one reply is one consistent snapshot.
#include <uv.h>

#include "daemon/api/api_server_impl.hpp"
#include "tapstack_version.hpp"

namespace tapstack::daemon {

void ApiServer::Impl::visit_own_metrics(const MetricVisitor& visit) const {
    static constexpr MetricInfo kClients{"api.clients", MetricKind::kGauge,
                                         "Unix connections open on the API socket (each stream is one)"};
    static constexpr MetricInfo kStreams{"api.streams", MetricKind::kGauge, "Live streams (established TCP)"};
    static constexpr MetricInfo kListeners{"api.listeners", MetricKind::kGauge, "Ports listening for applications"};
    static constexpr MetricInfo kUsers{"api.users", MetricKind::kGauge,
                                       "Local users (uids) holding API clients or listeners"};
    visit(kClients, clients.size());
    visit(kStreams, live_streams.size());
    visit(kListeners, listeners.size());
    visit(kUsers, users.users());
#define TAPSTACK_X(field, kind, help) visit({"api." #field, MetricKind::kind, help}, counters.field);
    TAPSTACK_API_COUNTERS(TAPSTACK_X)
#undef TAPSTACK_X
    if (capture_hub) capture_hub->visit_metrics(visit);
}

void ApiServer::Impl::visit_metrics(const MetricVisitor& visit) const {
    if (config.extra_metrics) config.extra_metrics(visit);
    iface.visit_metrics(visit);
    visit_own_metrics(visit);
}

void ApiServer::Impl::handle(Client* c, const api::DaemonRequest&) {
    const iface::InterfaceConfig& ic = iface.config();
    std::string out = "OK version=" TAPSTACK_VERSION;
    auto add = [&out](std::string_view key, const std::string& value) {
        out += ' ';
        out.append(key);
        out += '=';
        out += value;
    };
    add("uptime_s", std::to_string((uv_hrtime() - started_mono_ns) / 1'000'000'000u));
    add("start_time", std::to_string(started_wall_ns / 1'000'000'000u));
    add("interface", config.interface_name.empty() ? std::string("-") : config.interface_name);
    add("mac", ic.mac.to_string());
    add("address", ic.address.to_string());
    add("mtu", std::to_string(ic.mtu));
    add("offloads", config.offloads ? "on" : "off");
    add("streams", std::to_string(live_streams.size()));
    add("listeners", std::to_string(listeners.size()));
    add("connections", std::to_string(iface.tcp().connection_count()));
    add("clients", std::to_string(clients.size()));
    add("captures", std::to_string(capture_hub ? capture_hub->sessions() : 0));
    out += '\n';
    reply_and_close(c, std::move(out));
}

}  // namespace tapstack::daemon
