// Logging setup: one spdlog logger writing to stderr.
//
// Under systemd (JOURNAL_STREAM set) each line starts with a syslog
// priority prefix "<N>" that journald turns into the entry's priority, and
// carries no timestamp (the journal has one). Elsewhere lines carry a local
// timestamp and the level name. Nothing else in the daemon configures
// spdlog; everything logs through spdlog's default logger.
#pragma once

#include <string_view>

namespace tapstack::daemon {

// `level` is one of kLogLevels (config.hpp); unknown names mean "info".
void setup_logging(std::string_view level);

}  // namespace tapstack::daemon
