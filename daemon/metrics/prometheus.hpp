// The Prometheus text exposition format (version 0.0.4) of tapstackd's
// figures, for `STATS format=prometheus` and `tapstack stats --prometheus`.
//
// Every figure a layer reports (stack/metrics.hpp) becomes one metric
// family: the name with a "tapstack_" prefix and '.' turned into '_'
// ("tcp.rx_segments" -> tapstack_tcp_rx_segments), counters with the
// "_total" suffix, each preceded by its "# HELP" and "# TYPE" lines. Two
// families describe the daemon itself:
//   tapstack_build_info{version="0.1.0"} 1        (gauge)
//   tapstack_start_time_seconds 1764201600.123    (gauge, Unix time)
// The text ends with a newline; nothing else (no OK/END framing) is in it.
// Pure: unit-tested, and checked with python3-prometheus-client's parser.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

#include "stack/metrics.hpp"

namespace tapstack::daemon::metrics {

// "tcp.rx_segments" as a counter -> "tapstack_tcp_rx_segments_total".
std::string prometheus_name(const MetricInfo& info);

// `visit_all` reports every figure once to the visitor it is given.
std::string prometheus_text(const std::function<void(const MetricVisitor&)>& visit_all, std::string_view version,
                            std::uint64_t start_time_ns);

}  // namespace tapstack::daemon::metrics
