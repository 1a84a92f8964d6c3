// tapstack: the command-line client of tapstackd (nc-like).
//
//   tapstack [--socket PATH] connect [-v] [-w SECONDS] [--nodelay] [--keepalive] ADDR PORT
//   tapstack [--socket PATH] listen [-v] [-k] [--nodelay] [--keepalive] PORT
//   tapstack [--socket PATH] connections | ss
//   tapstack [--socket PATH] info ID
//   tapstack [--socket PATH] stats [--prometheus]
//   tapstack [--socket PATH] status | version
//   tapstack [--socket PATH] capture [-c COUNT] [-s SNAPLEN] [-B KIB] [-w FILE|-]
//
// The command line is parsed with getopt_long (options.hpp). connect and
// listen stream stdin to the connection and the connection to stdout
// (pump.hpp). When the stream's socket reaches EOF, the daemon is asked how
// the connection ended (STATUS id): an orderly close exits 0, a reset or a
// timeout prints one line and exits with its own status (exit_codes.hpp).
// `connections`, `info` and `status` print the daemon's figures for people
// (table.hpp); `capture` is capture.hpp. Everything goes through the
// client library (daemon/client).
#include <signal.h>
#include <unistd.h>

#include <charconv>
#include <cstdio>
#include <cstdlib>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "daemon/cli/capture.hpp"
#include "daemon/cli/exit_codes.hpp"
#include "daemon/cli/options.hpp"
#include "daemon/cli/pump.hpp"
#include "daemon/cli/table.hpp"
#include "daemon/client/client.hpp"
#include "tapstack_version.hpp"

namespace tapstack::cli {
namespace {

constexpr const char* kUsage =
    "usage: tapstack [--socket PATH] connect [-v] [-w SECONDS] [--nodelay] [--keepalive] ADDR PORT\n"
    "       tapstack [--socket PATH] listen [-vk] [--nodelay] [--keepalive] PORT\n"
    "       tapstack [--socket PATH] connections | ss\n"
    "       tapstack [--socket PATH] info ID\n"
    "       tapstack [--socket PATH] stats [--prometheus]\n"
    "       tapstack [--socket PATH] status | version\n"
    "       tapstack [--socket PATH] capture [-c COUNT] [-s SNAPLEN] [-B KIB] [-w FILE|-]\n"
    "       tapstack -h|--help | -V|--version\n";

constexpr const char* kHelp =
    "\n"
    "TCP streams through tapstackd's userspace stack, like nc, and a look inside.\n"
    "\n"
    "  connect ADDR PORT  connect to ADDR:PORT; stdin goes to the peer, the peer's\n"
    "                     data to stdout; after stdin's EOF the sending side is\n"
    "                     half-closed (FIN, as nc -N); exits once the peer has\n"
    "                     closed and everything received is written out, whether\n"
    "                     or not stdin has ended\n"
    "      -w SECONDS     give up connecting after SECONDS (1..3600)\n"
    "  listen PORT        wait for one connection on PORT and stream the same way\n"
    "      -k             keep listening: serve connections one after another\n"
    "  -v                 (connect, listen) report the endpoints and stream id on stderr\n"
    "  -N, -n             (connect, listen) accepted for nc's sake: tapstack always\n"
    "                     half-closes on stdin's EOF and never looks up names\n"
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
    "  stats              every counter and gauge of the daemon, one 'name value' a line\n"
    "      --prometheus   the same in the Prometheus text exposition format\n"
    "                     (tapstack_ prefix, HELP and TYPE lines)\n"
    "  status             the daemon's version, uptime, interface, address and what\n"
    "                     it holds (streams, listeners, connections, captures)\n"
    "  version            this program's version and the daemon's\n"
    "  capture            stream the frames the stack receives and sends (after\n"
    "                     fault injection: what it really sees) as pcapng, with\n"
    "                     each frame's direction; Ctrl-C ends it and prints how\n"
    "                     many frames were captured and dropped; root or the\n"
    "                     daemon's user only\n"
    "      -c COUNT       stop after COUNT frames\n"
    "      -s SNAPLEN     keep at most SNAPLEN bytes of each frame (0: whole frames)\n"
    "      -B KIB         how far (KiB, 64..65536) this reader may fall behind before\n"
    "                     the daemon drops frames for it (default 4096)\n"
    "      -w FILE        write to FILE; '-' or nothing: stdout, which must not be a\n"
    "                     terminal (tapstack capture | tcpdump -nr -)\n"
    "  --socket PATH      the daemon's API socket (default $TAPSTACK_SOCKET, else\n"
    "                     /run/tapstack/tapstack.sock)\n"
    "\n"
    "Flags may come before or after the command; short flags combine (-vk) and\n"
    "take their value attached or separate (-w5, -w 5); --socket=PATH works too.\n"
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

using Options = CommandLine;

// The stream options of connect and listen; without a flag the daemon's
// configuration decides.
client::StreamOptions stream_options(const Options& opt) {
    client::StreamOptions o;
    o.timeout_s = opt.timeout_s;
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

int cmd_stats_prometheus(const Options& opt) {
    if (!opt.args.empty()) {
        return usage_error("stats takes no arguments");
    }
    auto text = client::stats_prometheus(opt.socket_path);
    if (!text) {
        return fail("stats", describe(text.error()), exit_code_for(text.error()));
    }
    return print("stats", text.value());
}

int cmd_status(const Options& opt) {
    if (!opt.args.empty()) {
        return usage_error("status takes no arguments");
    }
    auto fields = client::daemon_status(opt.socket_path);
    if (!fields) {
        return fail("status", describe(fields.error()), exit_code_for(fields.error()));
    }
    return print("status", status_text(fields.value()));
}

// The client's version first, then the daemon's (asked over the API), as
// `docker version` does: the first line is there even without a daemon.
int cmd_version(const Options& opt) {
    if (!opt.args.empty()) {
        return usage_error("version takes no arguments");
    }
    std::printf("tapstack %s\n", TAPSTACK_VERSION);
    std::fflush(stdout);
    auto fields = client::daemon_status(opt.socket_path);
    if (!fields) {
        return fail("version: tapstackd", describe(fields.error()), exit_code_for(fields.error()));
    }
    return print("version", "tapstackd " + std::string(*client::find_field(fields.value(), "version")) + "\n");
}

int run(int argc, char** argv) {
    auto parsed = parse_command_line(std::span<const char* const>(argv, static_cast<std::size_t>(argc)),
                                     std::getenv("TAPSTACK_SOCKET"));
    if (!parsed.error.empty()) {
        return usage_error(parsed.error);
    }
    const Options& opt = parsed.line;
    switch (opt.action) {
    case CommandLine::Action::kHelp: std::printf("%s%s", kUsage, kHelp); return kExitOk;
    case CommandLine::Action::kVersion: std::printf("tapstack %s\n", TAPSTACK_VERSION); return kExitOk;
    case CommandLine::Action::kRun: break;
    }
    const std::string& command = opt.command;
    if (command == "connect") return cmd_connect(opt);
    if (command == "listen") return cmd_listen(opt);
    if (command == "stats") return opt.prometheus ? cmd_stats_prometheus(opt) : cmd_stats(opt);
    if (command == "connections" || command == "ss") return cmd_connections(opt, command);
    if (command == "info") return cmd_info(opt);
    if (command == "status") return cmd_status(opt);
    if (command == "version") return cmd_version(opt);
    if (command == "capture") return run_capture(opt);
    return usage_error("unknown command \"" + command + "\"");
}

}  // namespace
}  // namespace tapstack::cli

int main(int argc, char** argv) {
    // Writes to a closed stream or stdout must come back as EPIPE errors,
    // not kill us before we can say what happened.
    ::signal(SIGPIPE, SIG_IGN);
    return tapstack::cli::run(argc, argv);
}
