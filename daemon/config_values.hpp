// Parsers for the scalar value kinds of tapstack.yaml (sizes, durations,
// port ranges, octal modes, interface names). Each takes the scalar's text
// and returns nullopt when it is not exactly that kind of value; range
// checks that need context stay in the loader. No YAML here, so every
// parser is unit-tested on plain strings.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

#include "stack/time.hpp"

namespace tapstack::daemon {

// Decimal, no sign, no spaces, value within [min, max].
std::optional<std::uint64_t> parse_uint(std::string_view text, std::uint64_t min, std::uint64_t max);
// Bytes: "65536", or with a binary suffix "64KiB", "4MiB", "1GiB".
std::optional<std::uint64_t> parse_size(std::string_view text);
// "500ms", "30s", "2m": a decimal count and a unit (ms, s, m).
std::optional<Duration> parse_duration(std::string_view text);
// "49152-65535": low <= high, both 1..65535.
std::optional<std::pair<std::uint16_t, std::uint16_t>> parse_port_range(std::string_view text);
// Permission bits as octal, "0660" or "660", at most 0777.
std::optional<std::uint32_t> parse_mode(std::string_view text);
// A percentage: "0", "1.5", "100"; at most 6 decimals, within 0..100.
std::optional<double> parse_percent(std::string_view text);
// "true" or "false" (YAML 1.2 core schema spelling only).
std::optional<bool> parse_bool(std::string_view text);
// A log level: one of kLogLevels (config.hpp), or the short spellings
// "warn" and "err" that spdlog and most tools accept; returns the name in
// kLogLevels ("warn" -> "warning").
std::optional<std::string_view> parse_log_level(std::string_view text);
// "trace, debug, info, warning (or warn), error (or err), critical, off".
std::string log_level_names();
// A Linux interface name: 1..15 bytes (IFNAMSIZ - 1), no '/', ':', ',' or
// whitespace, not "." or "..".
bool valid_interface_name(std::string_view text);

}  // namespace tapstack::daemon
