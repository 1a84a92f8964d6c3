// The counters line tapstackd logs on SIGUSR1:
//   counters: tap.rx_frames=12 ... ipv4.rx_bad_checksum=1 ... api.connects=3 ...
// every figure STATS reports (ApiServer::visit_metrics: the TAP port's, the
// interface's with TCP's, then the API server's and the capture hub's), as
// space-separated name=value pairs in that stable order. Tests parse it;
// keep the "counters: " prefix and the pair syntax.
#pragma once

#include <string>

#include "daemon/api/api_server.hpp"

namespace tapstack::daemon {

std::string counters_line(const ApiServer& api);

}  // namespace tapstack::daemon
