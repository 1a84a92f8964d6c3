// Fuzz target: the YAML configuration loader.
//
// Whatever the file holds, load_config_text() returns a Config or a list of
// errors; it never throws, crashes or loops. A config it accepts must be
// accepted again unchanged (loading is a function of the text).
#include <cstdint>
#include <string_view>

#include "daemon/config.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (size > 16 * 1024) return 0;  // configs are small; keep iterations fast
    const std::string_view text(reinterpret_cast<const char*>(data), size);
    const auto first = tapstack::daemon::load_config_text(text, "fuzz.yaml");
    const auto second = tapstack::daemon::load_config_text(text, "fuzz.yaml");
    if (first.errors.size() != second.errors.size()) __builtin_trap();
    return 0;
}
