// The counters line tapstackd logs on SIGUSR1:
//   counters: tap.rx_frames=12 ... ipv4.rx_bad_checksum=1 ...
// every counter of the TAP port and of the interface (all layers, TCP
// included), as space-separated name=value pairs in a stable order (port
// first, then the interface's own visiting order). Tests parse it; keep the
// "counters: " prefix and the pair syntax.
#pragma once

#include <string>

#include "drivers/tap_port.hpp"
#include "stack/iface/interface.hpp"

namespace tapstack::daemon {

std::string counters_line(const drivers::TapPort& port, const iface::Interface& iface);

}  // namespace tapstack::daemon
