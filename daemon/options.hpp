// Command-line options of tapstackd.
//
// parse_options() never exits or prints: it returns what to do, or an error
// line for main() to print together with the usage text. Unknown flags and
// missing arguments are errors (exit status 2, as for getopt users).
#pragma once

#include <optional>
#include <span>
#include <string>

namespace tapstack::daemon {

struct Options {
    enum class Action { kRun, kCheckConfig, kHelp, kVersion };
    Action action = Action::kRun;
    std::string config_path;              // TAPSTACK_DEFAULT_CONFIG unless --config
    std::optional<std::string> log_level; // --log-level overrides log.level
};

struct OptionsResult {
    Options options;
    std::string error;  // empty when parsing succeeded
};

OptionsResult parse_options(std::span<const char* const> args);
std::string usage_text(const char* program);

}  // namespace tapstack::daemon
