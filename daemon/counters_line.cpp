// Formats the SIGUSR1 counters line; see counters_line.hpp.
#include "daemon/counters_line.hpp"

namespace tapstack::daemon {

std::string counters_line(const drivers::TapPort& port, const iface::Interface& iface) {
    std::string line = "counters:";
    auto append = [&line](std::string_view name, std::uint64_t value) {
        line += ' ';
        line += name;
        line += '=';
        line += std::to_string(value);
    };
    port.visit_counters(append);
    iface.visit_counters(append);
    return line;
}

}  // namespace tapstack::daemon
