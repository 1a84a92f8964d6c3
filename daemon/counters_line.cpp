// Formats the SIGUSR1 counters line; see counters_line.hpp.
#include "daemon/counters_line.hpp"

namespace tapstack::daemon {

std::string counters_line(const ApiServer& api) {
    std::string line = "counters:";
    api.visit_metrics([&line](const MetricInfo& m, std::uint64_t value) {
        line += ' ';
        line += m.name;
        line += '=';
        line += std::to_string(value);
    });
    return line;
}

}  // namespace tapstack::daemon
