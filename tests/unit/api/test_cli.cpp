// The tapstack CLI's pieces that need no daemon: the nc-style pump
// (daemon/cli/pump.hpp) over a socketpair and pipes, the exit statuses and
// the `connections` table (daemon/cli/table.hpp).
#include <doctest/doctest.h>

#include <fcntl.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <set>
#include <string>
#include <thread>

#include "daemon/cli/exit_codes.hpp"
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
    // (The feeder may then write into a pipe nobody reads: no SIGPIPE.)
    ::signal(SIGPIPE, SIG_IGN);
    ::close(sv[1]);
    std::thread feeder([&] {
        std::string chunk(65536, 'x');
        for (int i = 0; i < 64; ++i) {
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
