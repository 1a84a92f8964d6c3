// How every layer describes the figures it reports: counters and gauges.
//
// Theory of operation
// -------------------
// Each component lists its figures once, in an X-macro beside the fields
// that hold them: X(field, kind, "help"). The macro declares the fields and
// generates the visit that reports them, each with a MetricInfo: its stable
// name ("tcp.rx_segments"), whether it is a counter (only ever grows while
// the daemon runs) or a gauge (a current level, e.g. connections held), and
// one line of help. The SIGUSR1 line, `tapstack stats` and the Prometheus
// exposition (daemon/metrics/) all come from these visits, so a new figure
// is one line in one place.
//
// Names are an interface: tests, scripts and dashboards rely on them, so
// never rename one. Help text is one plain-text line without a trailing
// period (Prometheus shows it as it is).
#pragma once

#include <cstdint>
#include <functional>
#include <string_view>

namespace tapstack {

enum class MetricKind : std::uint8_t {
    kCounter,  // monotonic since the daemon started
    kGauge,    // a level that goes up and down
};

struct MetricInfo {
    std::string_view name;  // "layer.what"
    MetricKind kind = MetricKind::kCounter;
    std::string_view help;
};

using MetricVisitor = std::function<void(const MetricInfo& info, std::uint64_t value)>;

}  // namespace tapstack

// X(field, kind, help) -> `std::uint64_t field = 0;`, for a struct of
// figures generated from a table.
#define TAPSTACK_METRIC_FIELD(field, kind, help) std::uint64_t field = 0;
