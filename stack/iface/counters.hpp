// How every component of the interface reports its counters.
//
// Each component keeps plain uint64_t fields and lists them, with their
// stable names ("eth.*", "arp.*", "ipv4.*", "icmp.*"), in its own
// visit_counters(), next to the fields, so a new counter cannot be
// forgotten in some distant table. Names are an interface: `tapstack stats`
// and tests rely on them, so never rename one.
#pragma once

#include <cstdint>
#include <functional>
#include <string_view>

namespace tapstack::iface {

using CounterVisitor = std::function<void(std::string_view name, std::uint64_t value)>;

}  // namespace tapstack::iface
