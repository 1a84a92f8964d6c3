// The tapstack command line; see options.hpp.
#include "daemon/cli/options.hpp"

#include <getopt.h>

#include <algorithm>
#include <charconv>
#include <string_view>

#include "daemon/client/client.hpp"

namespace tapstack::cli {
namespace {

enum LongOnly : int { kSocket = 256, kNodelay, kKeepalive, kPrometheus };

constexpr option kLongOptions[] = {
    {"socket", required_argument, nullptr, kSocket},
    {"nodelay", no_argument, nullptr, kNodelay},
    {"keepalive", no_argument, nullptr, kKeepalive},
    {"prometheus", no_argument, nullptr, kPrometheus},
    {"help", no_argument, nullptr, 'h'},
    {"version", no_argument, nullptr, 'V'},
    {nullptr, 0, nullptr, 0},
};

// '-' first: operands come back in order as option 1, so flags may follow
// the command; ':' next: a missing value is reported as ':'.
constexpr const char* kShortOptions = "-:hVvkNnw:c:s:B:";

bool parse_number(std::string_view text, std::uint64_t min, std::uint64_t max, std::uint64_t* out) {
    if (text.empty()) return false;
    auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), *out);
    return ec == std::errc() && ptr == text.data() + text.size() && *out >= min && *out <= max;
}

// A flag that was given, and the commands it belongs to.
struct Given {
    std::string spelling;
    std::vector<std::string_view> commands;
    std::string value;
};

std::string spelled(char* const* argv, int index, int opt) {
    std::string_view arg = index > 0 ? argv[index - 1] : "";
    if (arg.starts_with("--")) return std::string(arg.substr(0, arg.find('=')));
    return std::string("-") + static_cast<char>(opt);
}

std::string rejected(char* const* argv, int index, int opt) {
    std::string_view arg = index > 0 ? argv[index - 1] : "";
    if (opt == 0) return "unknown option " + std::string(arg);
    if (arg.starts_with("--")) {
        const std::string_view name = arg.substr(2, arg.find('=') - 2);
        for (const option& o : kLongOptions) {
            if (o.name != nullptr && o.val == opt && std::string_view(o.name).starts_with(name)) {
                return "--" + std::string(o.name) + " takes no value";
            }
        }
    }
    return "unknown option -" + std::string(1, static_cast<char>(opt));
}

std::string for_commands(const std::vector<std::string_view>& commands) {
    std::string out;
    for (std::size_t i = 0; i < commands.size(); ++i) {
        if (i > 0) out += i + 1 == commands.size() ? " and " : ", ";
        out += commands[i];
    }
    return out;
}

}  // namespace

ParsedCommandLine parse_command_line(std::span<const char* const> args, const char* env_socket) {
    ParsedCommandLine r;
    CommandLine& c = r.line;
    c.socket_path = env_socket != nullptr && *env_socket != '\0' ? env_socket : std::string(client::kDefaultSocketPath);

    std::vector<char*> argv;
    for (const char* a : args) argv.push_back(const_cast<char*>(a));  // getopt permutes pointers only
    argv.push_back(nullptr);
    const int argc = static_cast<int>(args.size());
    optind = 0;  // glibc: re-initialise (the parser may run more than once per process)
    opterr = 0;

    std::vector<Given> given;
    std::vector<std::string> operands;
    auto flag = [&](int opt, std::vector<std::string_view> commands) {
        given.push_back({spelled(argv.data(), optind, opt), std::move(commands), optarg ? optarg : ""});
    };
    for (bool done = false; !done;) {
        const int opt = getopt_long(argc, argv.data(), kShortOptions, kLongOptions, nullptr);
        switch (opt) {
        case -1: done = true; break;
        case 1: operands.emplace_back(optarg); break;
        case 'h': c.action = CommandLine::Action::kHelp; return r;
        case 'V': c.action = CommandLine::Action::kVersion; return r;
        case kSocket:
            if (*optarg == '\0') {
                r.error = "--socket needs a PATH";
                return r;
            }
            c.socket_path = optarg;
            break;
        case 'v': flag(opt, {"connect", "listen"}); c.verbose = true; break;
        case 'k': flag(opt, {"listen"}); c.keep = true; break;
        case 'N':  // nc's "shut down the socket after stdin's EOF": what tapstack always does
        case 'n':  // nc's "no name lookups": tapstack never resolves names
            flag(opt, {"connect", "listen"});
            break;
        case kNodelay: flag(opt, {"connect", "listen"}); c.nodelay = true; break;
        case kKeepalive: flag(opt, {"connect", "listen"}); c.keepalive = true; break;
        case kPrometheus: flag(opt, {"stats"}); c.prometheus = true; break;
        case 'w': flag(opt, {"connect", "capture"}); break;
        case 'c':
        case 's':
        case 'B': flag(opt, {"capture"}); break;
        case ':':
            r.error = spelled(argv.data(), optind, optopt) + " needs a value";
            return r;
        default:
            r.error = rejected(argv.data(), optind, optopt);
            return r;
        }
    }
    for (int i = optind; i < argc; ++i) operands.emplace_back(args[i]);  // after "--"
    if (operands.empty()) {
        r.error = "no command given";
        return r;
    }
    c.command = operands.front();
    c.args.assign(operands.begin() + 1, operands.end());
    if (std::find(std::begin(kCommands), std::end(kCommands), c.command) == std::end(kCommands)) {
        r.error = "unknown command \"" + c.command + "\"";
        return r;
    }

    for (const Given& g : given) {
        if (std::find(g.commands.begin(), g.commands.end(), c.command) == g.commands.end()) {
            r.error = g.spelling + " is for " + for_commands(g.commands);
            return r;
        }
        std::uint64_t n = 0;
        if (g.spelling == "-w" && c.command == "connect") {
            if (!parse_number(g.value, 1, 3600, &n)) {
                r.error = "-w needs a number of seconds (1..3600)";
                return r;
            }
            c.timeout_s = static_cast<std::uint32_t>(n);
        } else if (g.spelling == "-w") {
            if (g.value.empty()) {
                r.error = "-w needs a FILE, or - for stdout";
                return r;
            }
            c.output = g.value;
        } else if (g.spelling == "-c") {
            if (!parse_number(g.value, 1, ~std::uint64_t{0} >> 1, &c.count)) {
                r.error = "-c needs a number of frames (at least 1)";
                return r;
            }
        } else if (g.spelling == "-s") {
            if (!parse_number(g.value, 0, 262144, &n)) {
                r.error = "-s needs a snap length in bytes (0..262144; 0 keeps whole frames)";
                return r;
            }
            c.snaplen = static_cast<std::uint32_t>(n);
        } else if (g.spelling == "-B") {
            if (!parse_number(g.value, 64, 65536, &n)) {
                r.error = "-B needs a buffer size in KiB (64..65536)";
                return r;
            }
            c.buffer_kib = static_cast<std::uint32_t>(n);
        }
    }
    return r;
}

}  // namespace tapstack::cli
