// Command-line parsing for tapstackd; see options.hpp. Both "--flag VALUE"
// and "--flag=VALUE" are accepted; "-h" and "-V" are the short spellings.
#include "daemon/options.hpp"

#include <string_view>

#include "daemon/config.hpp"
#include "tapstack_version.hpp"

namespace tapstack::daemon {

OptionsResult parse_options(std::span<const char* const> args) {
    OptionsResult r;
    r.options.config_path = TAPSTACK_DEFAULT_CONFIG;
    for (std::size_t i = 1; i < args.size(); ++i) {
        std::string_view arg = args[i];
        std::string_view name = arg;
        std::optional<std::string_view> inline_value;
        if (arg.starts_with("--")) {
            if (auto eq = arg.find('='); eq != std::string_view::npos) {
                name = arg.substr(0, eq);
                inline_value = arg.substr(eq + 1);
            }
        }
        auto value = [&](std::string_view flag) -> std::optional<std::string> {
            if (inline_value) return std::string(*inline_value);
            if (i + 1 >= args.size()) {
                r.error = std::string(flag) + " needs a value";
                return std::nullopt;
            }
            return std::string(args[++i]);
        };
        auto no_value = [&]() {
            if (inline_value) r.error = std::string(name) + " takes no value";
            return !inline_value;
        };
        if (name == "--config") {
            auto v = value("--config");
            if (!v) return r;
            if (v->empty()) {
                r.error = "--config needs a non-empty path";
                return r;
            }
            r.options.config_path = *v;
        } else if (name == "--log-level") {
            auto v = value("--log-level");
            if (!v) return r;
            bool known = false;
            std::string allowed;
            for (auto l : kLogLevels) {
                known = known || *v == l;
                allowed += (allowed.empty() ? "" : ", ") + std::string(l);
            }
            if (!known) {
                r.error = "--log-level: \"" + *v + "\" is not a log level (allowed: " + allowed + ")";
                return r;
            }
            r.options.log_level = *v;
        } else if (name == "--check-config") {
            if (!no_value()) return r;
            r.options.action = Options::Action::kCheckConfig;
        } else if (name == "--help" || name == "-h") {
            if (!no_value()) return r;
            r.options.action = Options::Action::kHelp;
            return r;
        } else if (name == "--version" || name == "-V") {
            if (!no_value()) return r;
            r.options.action = Options::Action::kVersion;
            return r;
        } else {
            r.error = arg.starts_with("-") ? "unknown option \"" + std::string(arg) + "\""
                                           : "unexpected argument \"" + std::string(arg) + "\"";
            return r;
        }
    }
    return r;
}

std::string usage_text(const char* program) {
    return std::string("usage: ") + program +
           " [--config PATH] [--log-level LEVEL] [--check-config]\n"
           "       " + program + " --help | --version\n"
           "\n"
           "tapstack daemon: a userspace TCP/IP stack on a TAP device, serving TCP\n"
           "streams to local applications over a Unix socket.\n"
           "\n"
           "  --config PATH      configuration file (default " TAPSTACK_DEFAULT_CONFIG ")\n"
           "  --check-config     validate the configuration, print \"ok\" or every error, and exit\n"
           "  --log-level LEVEL  override log.level: trace, debug, info, warning, error, critical, off\n"
           "  --version          print the version and exit\n"
           "  --help             print this help and exit\n"
           "\n"
           "Signals: SIGINT/SIGTERM stop, SIGUSR1 logs every counter, SIGHUP is logged (no reload yet).\n";
}

}  // namespace tapstack::daemon
