// tapstack: the command-line client of tapstackd (nc-like).
//
//   tapstack [--socket PATH] connect [-v] [-w SECONDS] [--nodelay] [--keepalive] ADDR PORT
//   tapstack [--socket PATH] listen [-v] [-k] [--nodelay] [--keepalive] PORT
//   tapstack [--socket PATH] connections | ss
//   tapstack [--socket PATH] info ID
//   tapstack [--socket PATH] stats
//
// Streams stdin to the connection and the connection to stdout (pump.hpp).
// When the stream's socket reaches EOF, the daemon is asked how the
// connection ended (STATUS id): an orderly close exits 0, a reset or a
// timeout prints one line and exits with its own status (exit_codes.hpp).
// `connections` and `info` print the daemon's per-stream figures as tables
// (table.hpp). Everything goes through the client library (daemon/client).
#include <signal.h>
#include <unistd.h>

#include <charconv>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "daemon/cli/exit_codes.hpp"
#include "daemon/cli/pump.hpp"
#include "daemon/cli/table.hpp"
#include "daemon/client/client.hpp"
#include "tapstack_version.hpp"

namespace tapstack::cli {
namespace {

constexpr const char* kUsage =
    "usage: tapstack [--socket PATH] connect [-v] [-w SECONDS] [--nodelay] [--keepalive] ADDR PORT\n"
    "       tapstack [--socket PATH] listen [-v] [-k] [--nodelay] [--keepalive] PORT\n"
    "       tapstack [--socket PATH] connections | ss\n"
    "       tapstack [--socket PATH] info ID\n"
    "       tapstack [--socket PATH] stats\n"
    "       tapstack --help | --version\n";

constexpr const char* kHelp =
    "\n"
    "TCP streams through tapstackd's userspace stack, like nc.\n"
    "\n"
    "  connect ADDR PORT  connect to ADDR:PORT; stdin goes to the peer, the peer's\n"
    "                     data to stdout; after stdin's EOF the sending side is\n"
    "                     half-closed (FIN); exits once the peer has closed and\n"
    "                     everything is written out\n"
    "      -w SECONDS     give up connecting after SECONDS\n"
    "  listen PORT        wait for one connection on PORT and stream the same way\n"
    "      -k             keep listening: serve connections one after another\n"
    "  --nodelay          (connect, listen) turn Nagle's algorithm off for the\n"
    "                     stream: short writes leave at once (TCP_NODELAY)\n"
    "  --keepalive        (connect, listen) probe an idle peer and end the stream\n"
    "                     as timed out when it is gone (SO_KEEPALIVE); timing\n"
    "                     from the daemon's tcp.keepalive_* settings\n"
    "                     (without these flags the daemon's tcp.no_delay and\n"
    "                     tcp.keepalive decide)\n"
    "  connections, ss    list the live streams: id, TCP state, endpoints,\n"
    "                     smoothed RTT, RTO, congestion window, bytes in flight,\n"
    "                     retransmitted segments, bytes queued each way\n"
    "                     (RTT '-' until the first RTT sample)\n"
    "  info ID            every TCP figure of live stream ID (the id that -v and\n"
    "                     connections show), one 'name value' a line\n"
    "  stats              print every counter of the daemon, one 'name value' a line\n"
    "  -v                 report the connection's endpoints on stderr\n"
    "  --socket PATH      the daemon's API socket (default /run/tapstack/tapstack.sock)\n"
    "\n"
    "Exit status:\n"
    "   0 success (the peer closed in order)\n"
    "   1 local error (stdin, stdout)      2 usage error\n"
    "   3 tapstackd not reachable or gone  4 connection refused\n"
    "   5 connection reset by peer         6 connection timed out\n"
    "   7 host unreachable                 8 address already in use\n"
    "   9 permission denied               10 daemon out of resources\n"
    "  11 request rejected / protocol     12 connection aborted\n";

int fail(const std::string& context, const std::string& what, int code) {
    std::fprintf(stderr, "tapstack: %s%s%s\n", context.c_str(), context.empty() ? "" : ": ", what.c_str());
    return code;
}

int usage_error(const std::string& what) {
    std::fprintf(stderr, "tapstack: %s\n%s", what.c_str(), kUsage);
    return kExitUsage;
}

bool parse_number(std::string_view text, unsigned long min, unsigned long max, unsigned long* out) {
    if (text.empty()) {
        return false;
    }
    auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), *out);
    return ec == std::errc() && ptr == text.data() + text.size() && *out >= min && *out <= max;
}

struct Options {
    std::string socket_path{client::kDefaultSocketPath};
    bool verbose = false;
    bool keep = false;
    bool nodelay = false;
    bool keepalive = false;
    unsigned long timeout_s = 0;
    std::vector<std::string> args;
};

// The stream options of connect and listen; without a flag the daemon's
// configuration decides.
client::StreamOptions stream_options(const Options& opt) {
    client::StreamOptions o;
    o.timeout_s = static_cast<std::uint32_t>(opt.timeout_s);
    if (opt.nodelay) {
        o.nodelay = true;
    }
    if (opt.keepalive) {
        o.keepalive = true;
    }
    return o;
}

// Streams one connection, then asks the daemon how it ended.
int run_stream(const Options& opt, const client::Stream& s, const std::string& context, bool* in_eof) {
    if (opt.verbose) {
        std::fprintf(stderr, "tapstack: %s -> %s (id %llu)\n", s.local.c_str(), s.remote.c_str(),
                     static_cast<unsigned long long>(s.id));
    }
    PumpResult r = pump(s.fd, STDIN_FILENO, STDOUT_FILENO, in_eof);
    ::close(s.fd);
    if (r.end == PumpResult::End::kLocalError) {
        return fail(context, r.message, kExitLocalError);
    }
    // The daemon records the outcome before it closes our socket, so this
    // answer is final for reset/timed-out; "open" means the peer sent FIN.
    auto st = client::status(opt.socket_path, s.id);
    if (!st) {
        if (st.error().kind == client::Error::Kind::kUnavailable) {
            return fail(context, "lost tapstackd (" + st.error().message + ")", kExitNoDaemon);
        }
        return fail(context, describe(st.error()), exit_code_for(st.error()));
    }
    int code = exit_code_for(st->outcome);
    if (code != kExitOk) {
        return fail(context, describe(st->outcome), code);
    }
    if (r.end == PumpResult::End::kSocketError) {
        return fail(context, r.message, kExitAborted);
    }
    return kExitOk;
}

int cmd_connect(const Options& opt) {
    if (opt.args.size() != 2) {
        return usage_error("connect needs ADDR and PORT");
    }
    unsigned long port = 0;
    if (!parse_number(opt.args[1], 1, 65535, &port)) {
        return usage_error("\"" + opt.args[1] + "\" is not a port (1..65535)");
    }
    std::string context = "connect " + opt.args[0] + ":" + opt.args[1];
    auto s = client::connect(opt.socket_path, opt.args[0], static_cast<std::uint16_t>(port), stream_options(opt));
    if (!s) {
        return fail(context, describe(s.error()), exit_code_for(s.error()));
    }
    bool in_eof = false;
    return run_stream(opt, s.value(), context, &in_eof);
}

int cmd_listen(const Options& opt) {
    if (opt.args.size() != 1) {
        return usage_error("listen needs PORT");
    }
    unsigned long port = 0;
    if (!parse_number(opt.args[0], 1, 65535, &port)) {
        return usage_error("\"" + opt.args[0] + "\" is not a port (1..65535)");
    }
    std::string context = "listen " + opt.args[0];
    // Holding the listener keeps SYNs that arrive between accepts queued.
    auto l = client::listen(opt.socket_path, static_cast<std::uint16_t>(port));
    if (!l) {
        return fail(context, describe(l.error()), exit_code_for(l.error()));
    }
    if (opt.verbose) {
        std::fprintf(stderr, "tapstack: listening on %s\n", l->local.c_str());
    }
    bool in_eof = false;
    int code = kExitOk;
    do {
        auto s = client::accept(l.value(), stream_options(opt));
        if (!s) {
            code = fail(context, describe(s.error()), exit_code_for(s.error()));
            break;
        }
        code = run_stream(opt, s.value(), context, &in_eof);
        if (code == kExitLocalError || code == kExitNoDaemon) {
            break;
        }
    } while (opt.keep);
    ::close(l->fd);
    return code;
}

int cmd_stats(const Options& opt) {
    if (!opt.args.empty()) {
        return usage_error("stats takes no arguments");
    }
    auto counters = client::stats(opt.socket_path);
    if (!counters) {
        return fail("stats", describe(counters.error()), exit_code_for(counters.error()));
    }
    for (const auto& [name, value] : counters.value()) {
        std::printf("%s %llu\n", name.c_str(), static_cast<unsigned long long>(value));
    }
    return std::fflush(stdout) == 0 ? kExitOk : fail("stats", "writing stdout failed", kExitLocalError);
}

// Writes a table to stdout; a failing stdout is a local error.
int print(const std::string& context, const std::string& text) {
    if (std::fwrite(text.data(), 1, text.size(), stdout) != text.size() || std::fflush(stdout) != 0) {
        return fail(context, "writing stdout failed", kExitLocalError);
    }
    return kExitOk;
}

int cmd_connections(const Options& opt, const std::string& command) {
    if (!opt.args.empty()) {
        return usage_error(command + " takes no arguments");
    }
    auto rows = client::connections(opt.socket_path);
    if (!rows) {
        return fail(command, describe(rows.error()), exit_code_for(rows.error()));
    }
    return print(command, render(connections_table(rows.value())));
}

int cmd_info(const Options& opt) {
    unsigned long id = 0;
    if (opt.args.size() != 1 || !parse_number(opt.args[0], 1, ~0ul, &id)) {
        return usage_error("info needs the ID of a live stream (see tapstack connections)");
    }
    const std::string context = "info " + opt.args[0];
    auto fields = client::info(opt.socket_path, id);
    if (!fields) {
        return fail(context, describe(fields.error()), exit_code_for(fields.error()));
    }
    std::string out;
    for (const auto& [name, value] : fields.value()) {
        out += name + " " + value + "\n";
    }
    return print(context, out);
}

int run(int argc, char** argv) {
    Options opt;
    std::string command;
    for (int i = 1; i < argc; ++i) {
        std::string_view a = argv[i];
        auto value = [&](const char* name, std::string* out) {
            if (i + 1 >= argc) {
                return false;
            }
            static_cast<void>(name);
            *out = argv[++i];
            return true;
        };
        if (a == "--help" || a == "-h") {
            std::printf("%s%s", kUsage, kHelp);
            return kExitOk;
        }
        if (a == "--version") {
            std::printf("tapstack %s\n", TAPSTACK_VERSION);
            return kExitOk;
        }
        if (a == "--socket" || a == "-s") {
            if (!value("--socket", &opt.socket_path)) {
                return usage_error("--socket needs a PATH");
            }
        } else if (a.substr(0, 9) == "--socket=") {
            opt.socket_path = std::string(a.substr(9));
        } else if (a == "-v") {
            opt.verbose = true;
        } else if (a == "-k") {
            opt.keep = true;
        } else if (a == "--nodelay") {
            opt.nodelay = true;
        } else if (a == "--keepalive") {
            opt.keepalive = true;
        } else if (a == "-w") {
            std::string text;
            if (!value("-w", &text) || !parse_number(text, 1, 3600, &opt.timeout_s)) {
                return usage_error("-w needs a number of seconds (1..3600)");
            }
        } else if (a == "--") {
            for (++i; i < argc; ++i) {
                (command.empty() ? command : opt.args.emplace_back()) = argv[i];
            }
        } else if (a.size() > 1 && a[0] == '-' && !(a[1] >= '0' && a[1] <= '9')) {
            return usage_error("unknown option " + std::string(a));
        } else if (command.empty()) {
            command = std::string(a);
        } else {
            opt.args.emplace_back(a);
        }
    }
    if (command == "connect") {
        if (opt.keep) {
            return usage_error("-k is for listen");
        }
        return cmd_connect(opt);
    }
    if (command == "listen") {
        if (opt.timeout_s) {
            return usage_error("-w is for connect");
        }
        return cmd_listen(opt);
    }
    if ((opt.nodelay || opt.keepalive) && command != "connect" && command != "listen" && !command.empty()) {
        return usage_error(std::string(opt.nodelay ? "--nodelay" : "--keepalive") + " is for connect and listen");
    }
    if (command == "stats") {
        return cmd_stats(opt);
    }
    if (command == "connections" || command == "ss") {
        return cmd_connections(opt, command);
    }
    if (command == "info") {
        return cmd_info(opt);
    }
    return usage_error(command.empty() ? "no command given" : "unknown command \"" + command + "\"");
}

}  // namespace
}  // namespace tapstack::cli

int main(int argc, char** argv) {
    // Writes to a closed stream or stdout must come back as EPIPE errors,
    // not kill us before we can say what happened.
    ::signal(SIGPIPE, SIG_IGN);
    return tapstack::cli::run(argc, argv);
}
