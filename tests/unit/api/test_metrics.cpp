// The Prometheus text exposition (daemon/metrics/prometheus.hpp): names,
// the _total suffix of counters, HELP and TYPE before every sample, escaping,
// and the two families about the daemon itself. (The netns test checks the
// daemon's real output with python3-prometheus-client's parser.)
#include <doctest/doctest.h>

#include <string>

#include "daemon/metrics/prometheus.hpp"

using namespace tapstack;

TEST_CASE("prometheus: counters get _total, gauges are gauges, each with HELP and TYPE first") {
    const std::string text = daemon::metrics::prometheus_text(
        [](const MetricVisitor& v) {
            v({"tcp.rx_segments", MetricKind::kCounter, "Segments handed to receive()"}, 42);
            v({"api.clients", MetricKind::kGauge, "Unix connections open"}, 3);
        },
        "0.1.0", 1764201600123456789ull);
    CHECK(text ==
          "# HELP tapstack_tcp_rx_segments_total Segments handed to receive()\n"
          "# TYPE tapstack_tcp_rx_segments_total counter\n"
          "tapstack_tcp_rx_segments_total 42\n"
          "# HELP tapstack_api_clients Unix connections open\n"
          "# TYPE tapstack_api_clients gauge\n"
          "tapstack_api_clients 3\n"
          "# HELP tapstack_build_info Always 1; the version of tapstackd in a label\n"
          "# TYPE tapstack_build_info gauge\n"
          "tapstack_build_info{version=\"0.1.0\"} 1\n"
          "# HELP tapstack_start_time_seconds Start time of tapstackd, seconds since the Unix epoch\n"
          "# TYPE tapstack_start_time_seconds gauge\n"
          "tapstack_start_time_seconds 1764201600.123\n");
}

TEST_CASE("prometheus: names keep only [a-zA-Z0-9_:], HELP escapes backslash and newline, labels quotes") {
    CHECK(daemon::metrics::prometheus_name({"fault.rx-held", MetricKind::kGauge, ""}) == "tapstack_fault_rx_held");
    const std::string text = daemon::metrics::prometheus_text(
        [](const MetricVisitor& v) { v({"a.b", MetricKind::kGauge, "one\\two\nthree"}, 1); }, "1\"x", 0);
    CHECK(text.find("# HELP tapstack_a_b one\\\\two\\nthree\n") != std::string::npos);
    CHECK(text.find("tapstack_build_info{version=\"1\\\"x\"} 1\n") != std::string::npos);
    CHECK(text.find("tapstack_start_time_seconds 0.000\n") != std::string::npos);
}
