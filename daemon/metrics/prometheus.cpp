// The Prometheus text exposition; see prometheus.hpp.
#include "daemon/metrics/prometheus.hpp"

#include <cstdio>

namespace tapstack::daemon::metrics {
namespace {

bool name_char(char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == ':';
}

// HELP text: backslash and newline escaped, as the format requires.
std::string escape_help(std::string_view text) {
    std::string out;
    for (char c : text) {
        if (c == '\\') {
            out += "\\\\";
        } else if (c == '\n') {
            out += "\\n";
        } else {
            out += c;
        }
    }
    return out;
}

// A label value: backslash, double quote and newline escaped.
std::string escape_label(std::string_view text) {
    std::string out;
    for (char c : text) {
        if (c == '\\' || c == '"') {
            out += '\\';
            out += c;
        } else if (c == '\n') {
            out += "\\n";
        } else {
            out += c;
        }
    }
    return out;
}

void family(std::string& out, const std::string& name, std::string_view type, std::string_view help) {
    out += "# HELP " + name + " " + escape_help(help) + "\n";
    out += "# TYPE " + name + " ";
    out.append(type);
    out += '\n';
}

}  // namespace

std::string prometheus_name(const MetricInfo& info) {
    std::string name = "tapstack_";
    for (char c : info.name) name += name_char(c) ? c : '_';
    if (info.kind == MetricKind::kCounter) name += "_total";
    return name;
}

std::string prometheus_text(const std::function<void(const MetricVisitor&)>& visit_all, std::string_view version,
                            std::uint64_t start_time_ns) {
    std::string out;
    visit_all([&out](const MetricInfo& info, std::uint64_t value) {
        const std::string name = prometheus_name(info);
        family(out, name, info.kind == MetricKind::kCounter ? "counter" : "gauge", info.help);
        out += name + " " + std::to_string(value) + "\n";
    });
    family(out, "tapstack_build_info", "gauge", "Always 1; the version of tapstackd in a label");
    out += "tapstack_build_info{version=\"" + escape_label(version) + "\"} 1\n";
    family(out, "tapstack_start_time_seconds", "gauge", "Start time of tapstackd, seconds since the Unix epoch");
    char start[64];
    std::snprintf(start, sizeof start, "%llu.%03llu", static_cast<unsigned long long>(start_time_ns / 1'000'000'000u),
                  static_cast<unsigned long long>(start_time_ns % 1'000'000'000u / 1'000'000u));
    out += "tapstack_start_time_seconds ";
    out += start;
    out += '\n';
    return out;
}

}  // namespace tapstack::daemon::metrics
