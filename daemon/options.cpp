// Command-line parsing for tapstackd with getopt_long(3); see options.hpp.
// The usual spellings work: "--config PATH", "--config=PATH", "-c PATH",
// "-cPATH", and short flags combine ("-hV"). getopt's own messages are off
// (opterr = 0, ':' first in the option string): every problem becomes one
// line in OptionsResult::error.
#include "daemon/options.hpp"

#include <getopt.h>

#include <string_view>
#include <vector>

#include "daemon/config.hpp"
#include "daemon/config_values.hpp"
#include "tapstack_version.hpp"

namespace tapstack::daemon {
namespace {

enum LongOnly : int { kCheckConfig = 256, kLogLevel };

constexpr option kLongOptions[] = {
    {"config", required_argument, nullptr, 'c'},
    {"log-level", required_argument, nullptr, kLogLevel},
    {"check-config", no_argument, nullptr, kCheckConfig},
    {"help", no_argument, nullptr, 'h'},
    {"version", no_argument, nullptr, 'V'},
    {nullptr, 0, nullptr, 0},
};

// The spelling of the option getopt just refused, for the message.
std::string offending(char* const* argv, int index, int opt) {
    std::string_view arg = index > 0 ? argv[index - 1] : "";
    if (arg.starts_with("--")) return std::string(arg.substr(0, arg.find('=')));
    return std::string("-") + static_cast<char>(opt);
}

// getopt returned '?': optopt is 0 for an unknown long option, the option's
// value for "--flag=VALUE" of a flag without one, else the unknown short
// option's character.
std::string rejected(char* const* argv, int index, int opt) {
    std::string_view arg = index > 0 ? argv[index - 1] : "";
    if (opt == 0) return "unknown option \"" + std::string(arg) + "\"";
    if (arg.starts_with("--")) {
        const std::string_view name = arg.substr(2, arg.find('=') - 2);
        for (const option& o : kLongOptions) {
            if (o.name != nullptr && o.val == opt && std::string_view(o.name).starts_with(name)) {
                return "--" + std::string(o.name) + " takes no value";
            }
        }
    }
    return "unknown option \"-" + std::string(1, static_cast<char>(opt)) + "\"";
}

}  // namespace

OptionsResult parse_options(std::span<const char* const> args) {
    OptionsResult r;
    r.options.config_path = TAPSTACK_DEFAULT_CONFIG;
    // getopt_long permutes the pointer array, never the strings.
    std::vector<char*> argv;
    for (const char* a : args) argv.push_back(const_cast<char*>(a));
    argv.push_back(nullptr);
    const int argc = static_cast<int>(args.size());
    optind = 0;  // glibc: 0 re-initialises the scanner (parse_options may run more than once)
    opterr = 0;
    bool stop = false;
    while (!stop && r.error.empty()) {
        // '-': non-options come back in order as option 1; ':': a missing
        // value is ':' rather than '?'.
        const int opt = getopt_long(argc, argv.data(), "-:c:hV", kLongOptions, nullptr);
        switch (opt) {
        case -1:
            stop = true;
            break;
        case 1:
            r.error = "unexpected argument \"" + std::string(optarg) + "\"";
            break;
        case 'c':
            if (*optarg == '\0') {
                r.error = "--config needs a non-empty path";
            } else {
                r.options.config_path = optarg;
            }
            break;
        case kLogLevel:
            if (auto level = parse_log_level(optarg)) {
                r.options.log_level = std::string(*level);
            } else {
                r.error = "--log-level: \"" + std::string(optarg) + "\" is not a log level (allowed: " +
                          log_level_names() + ")";
            }
            break;
        case kCheckConfig:
            r.options.action = Options::Action::kCheckConfig;
            break;
        case 'h':
            r.options.action = Options::Action::kHelp;
            return r;
        case 'V':
            r.options.action = Options::Action::kVersion;
            return r;
        case ':':
            r.error = offending(argv.data(), optind, optopt) + " needs a value";
            break;
        default:  // '?': an unknown option, or a value given to a flag
            r.error = rejected(argv.data(), optind, optopt);
            break;
        }
    }
    // Anything after "--" is an argument, and tapstackd takes none.
    if (r.error.empty() && optind < argc) r.error = "unexpected argument \"" + std::string(args[optind]) + "\"";
    return r;
}

std::string usage_text(const char* program) {
    return std::string("usage: ") + program +
           " [-c|--config PATH] [--log-level LEVEL] [--check-config]\n"
           "       " + program + " -h|--help | -V|--version\n"
           "\n"
           "tapstack daemon: a userspace TCP/IP stack on a TAP device, serving TCP\n"
           "streams to local applications over a Unix socket.\n"
           "\n"
           "  -c, --config PATH  configuration file (default " TAPSTACK_DEFAULT_CONFIG ")\n"
           "  --check-config     validate the configuration, print \"ok\" or every error, and exit\n"
           "  --log-level LEVEL  override log.level: " + log_level_names() + "\n"
           "  -V, --version      print the version and exit\n"
           "  -h, --help         print this help and exit\n"
           "\n"
           "Signals: SIGINT/SIGTERM stop, SIGUSR1 logs every counter, SIGHUP is logged (no reload yet).\n";
}

}  // namespace tapstack::daemon
