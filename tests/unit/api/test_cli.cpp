// The tapstack CLI's pieces that need no daemon: the nc-style pump
// (daemon/cli/pump.hpp) over a socketpair and pipes, the command line
// (daemon/cli/options.hpp, getopt_long), the exit statuses, the
// `connections` table and `status` text (daemon/cli/table.hpp).
#include <doctest/doctest.h>

#include <fcntl.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <initializer_list>
#include <set>
#include <string>
#include <thread>

#include "daemon/cli/exit_codes.hpp"
#include "daemon/cli/options.hpp"
#include "daemon/cli/pump.hpp"
#include "daemon/cli/table.hpp"

using namespace tapstack;

namespace {

std::string pattern(std::size_t n, unsigned seed) {
    std::string s(n, '\0');
    for (std::size_t i = 0; i < n; ++i) {
        s[i] = static_cast<char>((i * 131 + seed) % 251);
    }
    return s;
}

void write_all(int fd, const std::string& data) {
    std::size_t off = 0;
    while (off < data.size()) {
        ssize_t n = ::write(fd, data.data() + off, data.size() - off);
        REQUIRE(n > 0);
        off += static_cast<std::size_t>(n);
    }
}

std::string read_all(int fd) {
    std::string out;
    char buf[65536];
    for (;;) {
        ssize_t n = ::read(fd, buf, sizeof buf);
        if (n <= 0) {
            return out;
        }
        out.append(buf, static_cast<std::size_t>(n));
    }
}

}  // namespace

TEST_CASE("pump: stdin reaches the socket, then a half-close; the peer's reply reaches stdout in full") {
    // The peer reads the request to EOF before replying: this only ends if
    // the pump half-closes after stdin's EOF (the behaviour of `nc -N`).
    int sv[2];
    REQUIRE(::socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
    int in_pipe[2], out_pipe[2];
    REQUIRE(::pipe(in_pipe) == 0);
    REQUIRE(::pipe(out_pipe) == 0);
    const std::string request = pattern(3 * 1024 * 1024 + 7, 1);
    const std::string reply = pattern(5 * 1024 * 1024 + 3, 2);
    std::string got_request;
    std::thread peer([&] {
        got_request = read_all(sv[1]);
        write_all(sv[1], reply);
        ::close(sv[1]);
    });
    std::thread feeder([&] {
        write_all(in_pipe[1], request);
        ::close(in_pipe[1]);
    });
    std::string got_reply;
    std::thread drainer([&] { got_reply = read_all(out_pipe[0]); });

    bool in_eof = false;
    cli::PumpResult r = cli::pump(sv[0], in_pipe[0], out_pipe[1], &in_eof);
    ::close(out_pipe[1]);
    feeder.join();
    peer.join();
    drainer.join();
    CHECK(r.end == cli::PumpResult::End::kDone);
    CHECK(in_eof);
    CHECK(got_request == request);
    CHECK(got_reply == reply);
    ::close(sv[0]);
    ::close(in_pipe[0]);
    ::close(out_pipe[0]);
}

TEST_CASE("pump: an empty stdin half-closes at once and still receives everything") {
    int sv[2];
    REQUIRE(::socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
    int in_pipe[2], out_pipe[2];
    REQUIRE(::pipe(in_pipe) == 0);
    REQUIRE(::pipe(out_pipe) == 0);
    ::close(in_pipe[1]);
    const std::string reply = pattern(54241, 3);
    std::string got_request = "unset";
    std::thread peer([&] {
        got_request = read_all(sv[1]);
        write_all(sv[1], reply);
        ::close(sv[1]);
    });
    std::string got_reply;
    std::thread drainer([&] { got_reply = read_all(out_pipe[0]); });
    bool in_eof = false;
    cli::PumpResult r = cli::pump(sv[0], in_pipe[0], out_pipe[1], &in_eof);
    ::close(out_pipe[1]);
    peer.join();
    drainer.join();
    CHECK(r.end == cli::PumpResult::End::kDone);
    CHECK(got_request.empty());
    CHECK(got_reply == reply);
    ::close(sv[0]);
    ::close(in_pipe[0]);
    ::close(out_pipe[0]);
}

TEST_CASE("pump: a socket that fails while we still send is a socket error, not success") {
    int sv[2];
    REQUIRE(::socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
    int in_pipe[2], out_pipe[2];
    REQUIRE(::pipe(in_pipe) == 0);
    REQUIRE(::pipe(out_pipe) == 0);
    // Peer closes at once without reading: our writes hit EPIPE/ECONNRESET.
    // The first chunk is in the pipe before the pump starts, so it has
    // unsent stdin when it sees the close. (The feeder may then write into
    // a pipe nobody reads: no SIGPIPE.)
    ::signal(SIGPIPE, SIG_IGN);
    ::close(sv[1]);
    const std::string first(65536, 'x');
    write_all(in_pipe[1], first);
    std::thread feeder([&] {
        std::string chunk(65536, 'x');
        for (int i = 1; i < 64; ++i) {
            if (::write(in_pipe[1], chunk.data(), chunk.size()) <= 0) {
                break;
            }
        }
        ::close(in_pipe[1]);
    });
    bool in_eof = false;
    cli::PumpResult r = cli::pump(sv[0], in_pipe[0], out_pipe[1], &in_eof);
    ::close(in_pipe[0]);  // unblocks the feeder if the pump stopped early
    feeder.join();
    CHECK(r.end == cli::PumpResult::End::kSocketError);
    CHECK(!r.message.empty());
    ::close(sv[0]);
    ::close(out_pipe[0]);
    ::close(out_pipe[1]);
}

TEST_CASE("every kind of failure has its own exit status, none of them 0") {
    using client::Error;
    using client::ErrorCode;
    std::set<int> seen;
    for (ErrorCode code : {ErrorCode::kRefused, ErrorCode::kReset, ErrorCode::kTimedOut, ErrorCode::kUnreachable,
                           ErrorCode::kInUse, ErrorCode::kPermission, ErrorCode::kNoResources,
                           ErrorCode::kBadRequest}) {
        int status = cli::exit_code_for(Error{Error::Kind::kDaemon, code, "m"});
        CHECK(status != 0);
        CHECK(seen.insert(status).second);
    }
    int unavailable = cli::exit_code_for(Error{Error::Kind::kUnavailable, ErrorCode::kInternal, "m"});
    CHECK(seen.insert(unavailable).second);
    CHECK(cli::exit_code_for(Error{Error::Kind::kUsage, ErrorCode::kInternal, "m"}) == cli::kExitUsage);
    CHECK(cli::exit_code_for(client::Outcome::kOrderly) == 0);
    CHECK(cli::exit_code_for(client::Outcome::kOpen) == 0);
    CHECK(cli::exit_code_for(client::Outcome::kReset) ==
          cli::exit_code_for(Error{Error::Kind::kDaemon, ErrorCode::kReset, "m"}));
    CHECK(cli::exit_code_for(client::Outcome::kTimedOut) == cli::kExitTimedOut);
    CHECK(cli::exit_code_for(client::Outcome::kAborted) == cli::kExitAborted);
    CHECK(cli::describe(Error{Error::Kind::kDaemon, ErrorCode::kRefused, "x"}) == "connection refused");
}

TEST_CASE("tables: columns as wide as their widest cell, numbers right-aligned, no trailing blanks") {
    cli::Table t;
    t.header = {"ID", "STATE", "CWND"};
    t.right_aligned = {true, false, true};
    t.rows = {{"1", "established", "14480"}, {"12", "close-wait", "7"}, {"3"}};
    CHECK(cli::render(t) ==
          "ID  STATE        CWND\n"
          " 1  established  14480\n"
          "12  close-wait       7\n"
          " 3\n");
    cli::Table empty;
    empty.header = {"A", "B"};
    CHECK(cli::render(empty) == "A  B\n");
}

TEST_CASE("connections table: the listing's fields under ss-like headers, '-' for what is missing") {
    client::Fields a{{"id", "3"},        {"state", "established"}, {"local", "10.0.0.2:49152"},
                     {"remote", "10.0.0.1:80"}, {"srtt_us", "1234"}, {"rto_ms", "201"},
                     {"cwnd", "14480"},   {"in_flight", "2896"},    {"retransmissions", "0"},
                     {"send_queued", "3000"}, {"recv_queued", "12"}};
    client::Fields b{{"id", "10"}, {"state", "syn-received"}, {"local", "10.0.0.2:7"}, {"remote", "10.0.0.1:5"},
                     {"srtt_us", "0"}, {"rto_ms", "1000"}};
    cli::Table t = cli::connections_table({a, b});
    REQUIRE(t.rows.size() == 2);
    CHECK(t.header == std::vector<std::string>{"ID", "STATE", "LOCAL", "REMOTE", "RTT(ms)", "RTO(ms)", "CWND",
                                               "IN-FLIGHT", "RETRANS", "SEND-Q", "RECV-Q"});
    CHECK(t.rows[0] == std::vector<std::string>{"3", "established", "10.0.0.2:49152", "10.0.0.1:80", "1.234", "201",
                                                "14480", "2896", "0", "3000", "12"});
    // No RTT sample yet, and fields an older daemon does not send.
    CHECK(t.rows[1] == std::vector<std::string>{"10", "syn-received", "10.0.0.2:7", "10.0.0.1:5", "-", "1000", "-",
                                                "-", "-", "-", "-"});
    client::Fields c{{"id", "4"}, {"state", "x"}, {"local", "l"}, {"remote", "r"}, {"srtt_us", "45"}};
    CHECK(cli::connections_table({c}).rows[0][4] == "0.045");
    const std::string text = cli::render(t);
    CHECK(text.rfind("ID  STATE", 0) == 0);
    CHECK(std::count(text.begin(), text.end(), '\n') == 3);
}

TEST_CASE("pump: the peer's close ends the session while stdin stays open (as nc -l), after every byte") {
    // stdin is a pipe whose writer never closes: the old behaviour waited
    // for its EOF forever. Like OpenBSD nc -l, the pump ends once the peer
    // closed and everything received is written out.
    int sv[2];
    REQUIRE(::socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
    int in_pipe[2], out_pipe[2];
    REQUIRE(::pipe(in_pipe) == 0);
    REQUIRE(::pipe(out_pipe) == 0);
    const std::string reply = pattern(2 * 1024 * 1024 + 5, 4);
    std::thread peer([&] {
        write_all(sv[1], reply);
        ::shutdown(sv[1], SHUT_WR);  // a FIN; the peer still reads (half-open)
    });
    std::string got_reply;
    std::thread drainer([&] { got_reply = read_all(out_pipe[0]); });
    bool in_eof = false;
    const auto start = std::chrono::steady_clock::now();
    cli::PumpResult r = cli::pump(sv[0], in_pipe[0], out_pipe[1], &in_eof);
    const auto took = std::chrono::steady_clock::now() - start;
    ::close(out_pipe[1]);
    peer.join();
    drainer.join();
    CHECK(r.end == cli::PumpResult::End::kDone);
    CHECK_FALSE(in_eof);  // stdin never ended
    CHECK(got_reply == reply);
    CHECK(took < std::chrono::seconds(10));
    ::close(in_pipe[1]);
    ::close(in_pipe[0]);
    ::close(out_pipe[0]);
    ::close(sv[0]);
    ::close(sv[1]);
}

TEST_CASE("pump: what was read from stdin before the peer's FIN is still sent") {
    int sv[2];
    REQUIRE(::socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
    int in_pipe[2], out_pipe[2];
    REQUIRE(::pipe(in_pipe) == 0);
    REQUIRE(::pipe(out_pipe) == 0);
    const std::string request = "a request the peer must see in full\n";
    write_all(in_pipe[1], request);  // stdin stays open after it
    std::string got;
    std::thread peer([&] {
        char buf[256];
        while (got.size() < request.size()) {
            ssize_t n = ::read(sv[1], buf, sizeof buf);
            if (n <= 0) break;
            got.append(buf, static_cast<std::size_t>(n));
        }
        write_all(sv[1], "bye\n");
        ::shutdown(sv[1], SHUT_WR);
    });
    std::string out;
    std::thread drainer([&] { out = read_all(out_pipe[0]); });
    bool in_eof = false;
    cli::PumpResult r = cli::pump(sv[0], in_pipe[0], out_pipe[1], &in_eof);
    ::close(out_pipe[1]);
    peer.join();
    drainer.join();
    CHECK(r.end == cli::PumpResult::End::kDone);
    CHECK(got == request);
    CHECK(out == "bye\n");
    for (int fd : {in_pipe[0], in_pipe[1], out_pipe[0], sv[0], sv[1]}) ::close(fd);
}

namespace {

cli::ParsedCommandLine parse(std::initializer_list<const char*> args, const char* env = nullptr) {
    std::vector<const char*> argv{"tapstack"};
    argv.insert(argv.end(), args.begin(), args.end());
    return cli::parse_command_line(argv, env);
}

}  // namespace

TEST_CASE("command line: flags before or after the command, combined short flags, attached values") {
    auto a = parse({"listen", "-vk", "7"});
    REQUIRE(a.error.empty());
    CHECK(a.line.command == "listen");
    CHECK(a.line.args == std::vector<std::string>{"7"});
    CHECK(a.line.verbose);
    CHECK(a.line.keep);
    auto b = parse({"-v", "connect", "-w5", "10.0.0.1", "80", "--nodelay"});
    REQUIRE(b.error.empty());
    CHECK(b.line.command == "connect");
    CHECK(b.line.args == std::vector<std::string>{"10.0.0.1", "80"});
    CHECK(b.line.timeout_s == 5);
    CHECK(b.line.nodelay);
    CHECK(b.line.verbose);
    CHECK(parse({"connect", "-w", "7", "h", "1"}).line.timeout_s == 7);
    auto c = parse({"connect", "-Nnv", "10.0.0.1", "9"});  // nc's -N and -n are accepted
    REQUIRE(c.error.empty());
    CHECK(c.line.verbose);
}

TEST_CASE("command line: the socket from --socket, --socket=, $TAPSTACK_SOCKET, else the default; the flag wins") {
    CHECK(parse({"stats"}).line.socket_path == client::kDefaultSocketPath);
    CHECK(parse({"stats"}, "/env/api.sock").line.socket_path == "/env/api.sock");
    CHECK(parse({"stats"}, "").line.socket_path == client::kDefaultSocketPath);
    CHECK(parse({"--socket", "/flag.sock", "stats"}, "/env/api.sock").line.socket_path == "/flag.sock");
    CHECK(parse({"stats", "--socket=/eq.sock"}, "/env/api.sock").line.socket_path == "/eq.sock");
    CHECK(parse({"--socket="}).error == "--socket needs a PATH");
}

TEST_CASE("command line: capture's -c, -s, -B and -w (a file there, a timeout for connect)") {
    auto c = parse({"capture", "-c", "100", "-s96", "-B", "128", "-w", "out.pcapng"});
    REQUIRE(c.error.empty());
    CHECK(c.line.count == 100);
    CHECK(c.line.snaplen == 96);
    CHECK(c.line.buffer_kib == 128);
    REQUIRE(c.line.output);
    CHECK(*c.line.output == "out.pcapng");
    CHECK(*parse({"capture", "-w-"}).line.output == "-");
    CHECK(parse({"capture", "-s", "0"}).error.empty());
    CHECK(parse({"capture", "-c", "0"}).error == "-c needs a number of frames (at least 1)");
    CHECK(parse({"capture", "-s", "262145"}).error ==
          "-s needs a snap length in bytes (0..262144; 0 keeps whole frames)");
    CHECK(parse({"capture", "-B", "1"}).error == "-B needs a buffer size in KiB (64..65536)");
    CHECK(parse({"connect", "-w", "out.pcapng", "h", "1"}).error == "-w needs a number of seconds (1..3600)");
    CHECK(parse({"stats", "--prometheus"}).line.prometheus);
}

TEST_CASE("command line: usage errors name the flag and the commands it belongs to") {
    CHECK(parse({}).error == "no command given");
    CHECK(parse({"frobnicate"}).error == "unknown command \"frobnicate\"");
    CHECK(parse({"connect", "-k", "h", "1"}).error == "-k is for listen");
    CHECK(parse({"listen", "-w", "5", "7"}).error == "-w is for connect and capture");
    CHECK(parse({"stats", "--nodelay"}).error == "--nodelay is for connect and listen");
    CHECK(parse({"listen", "--prometheus", "7"}).error == "--prometheus is for stats");
    CHECK(parse({"stats", "-c", "3"}).error == "-c is for capture");
    CHECK(parse({"connect", "-x"}).error == "unknown option -x");
    CHECK(parse({"--frobnicate", "stats"}).error == "unknown option --frobnicate");
    CHECK(parse({"connect", "-w"}).error == "-w needs a value");
    CHECK(parse({"--socket"}).error == "--socket needs a value");
    CHECK(parse({"stats", "--prometheus=yes"}).error == "--prometheus takes no value");
}

TEST_CASE("command line: --help and --version win, '--' ends the flags") {
    CHECK(parse({"--help", "frobnicate"}).line.action == cli::CommandLine::Action::kHelp);
    CHECK(parse({"-h"}).line.action == cli::CommandLine::Action::kHelp);
    CHECK(parse({"-V"}).line.action == cli::CommandLine::Action::kVersion);
    CHECK(parse({"--version"}).line.action == cli::CommandLine::Action::kVersion);
    auto r = parse({"connect", "--", "10.0.0.1", "-5"});
    REQUIRE(r.error.empty());
    CHECK(r.line.args == std::vector<std::string>{"10.0.0.1", "-5"});
    // The parser can run again in the same process (getopt's state is reset).
    CHECK(parse({"listen", "-k", "7"}).line.keep);
    CHECK_FALSE(parse({"listen", "7"}).line.keep);
}

TEST_CASE("status text: aligned names, uptime spelled out, start time in UTC") {
    const client::Fields f{{"version", "0.1.0"}, {"uptime_s", "93784"}, {"start_time", "0"}, {"interface", "tap0"},
                           {"streams", "3"}};
    CHECK(cli::status_text(f) ==
          "version    0.1.0\n"
          "uptime     1d 2h 03m 04s\n"
          "started    1970-01-01 00:00:00 UTC\n"
          "interface  tap0\n"
          "streams    3\n");
    CHECK(cli::uptime_text(59) == "59s");
    CHECK(cli::uptime_text(61) == "1m 01s");
    CHECK(cli::uptime_text(3725) == "1h 02m 05s");
}

TEST_CASE("pump: a file on stdin is still sent to its end after the peer's FIN (nc -l would cut it short)") {
    int sv[2];
    REQUIRE(::socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
    int out_pipe[2];
    REQUIRE(::pipe(out_pipe) == 0);
    char path[] = "/tmp/tapstack-pump-XXXXXX";
    const int file = ::mkstemp(path);
    REQUIRE(file >= 0);
    ::unlink(path);
    const std::string data = pattern(3 * 1024 * 1024 + 11, 5);
    write_all(file, data);
    REQUIRE(::lseek(file, 0, SEEK_SET) == 0);
    ::shutdown(sv[1], SHUT_WR);  // the peer half-closes at once, then reads everything
    std::string got;
    std::thread peer([&] { got = read_all(sv[1]); });
    bool in_eof = false;
    cli::PumpResult r = cli::pump(sv[0], file, out_pipe[1], &in_eof);
    ::close(sv[0]);
    peer.join();
    CHECK(r.end == cli::PumpResult::End::kDone);
    CHECK(in_eof);
    CHECK(got == data);
    for (int fd : {file, sv[1], out_pipe[0], out_pipe[1]}) ::close(fd);
}
