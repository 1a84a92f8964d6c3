// The name-and-value view of the interface's figures.
//
// Each component lists its figures once, in an X-macro table beside its
// fields, with their stable names ("eth.*", "arp.*", "ipv4.*", "icmp.*"),
// kinds and help (stack/metrics.hpp), and reports them through
// visit_metrics(). A CounterVisitor is for callers that only want names and
// values (Interface::visit_counters). Names are an interface: `tapstack
// stats` and tests rely on them, so never rename one.
#pragma once

#include <cstdint>
#include <functional>
#include <string_view>

namespace tapstack::iface {

using CounterVisitor = std::function<void(std::string_view name, std::uint64_t value)>;

}  // namespace tapstack::iface
