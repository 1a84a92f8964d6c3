// The C interface (daemon/client/tapstack.h) against the fake daemon: the
// request lines it sends, the descriptors it hands back (stream bytes
// untouched), every kind of error filled in, and the header compiled as C
// (c_header_check.c) calling through it.
#include <doctest/doctest.h>

#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>
#include <utility>
#include <vector>

#include "daemon/client/tapstack.h"
#include "tests/unit/api/fake_daemon.hpp"

using tapstack::test::FakeDaemon;
using tapstack::test::read_all;

extern "C" long c_connect_and_echo(const char* socket_path, const char* address, uint16_t port, const char* out,
                                   char* in, unsigned long size, struct tapstack_error* error);
extern "C" int c_touch_every_function(void);

TEST_CASE("tapstack_connect: CONNECT with options, the stream fd with its first bytes unread, the stream's names") {
    FakeDaemon d({"OK 10.0.0.2:49152 10.0.0.1:80 id=17\nfirst bytes"});
    tapstack_options options = TAPSTACK_OPTIONS_DEFAULT;
    options.timeout_s = 5;
    options.keepalive = 0;
    tapstack_stream stream{};
    tapstack_error error{};
    error.kind = TAPSTACK_ERR_SYSTEM;  // cleared on success
    int fd = tapstack_connect(d.path().c_str(), "10.0.0.1", 80, &options, &stream, &error);
    REQUIRE(fd >= 0);
    CHECK(error.kind == TAPSTACK_OK);
    CHECK(stream.id == 17);
    CHECK(std::string(stream.local) == "10.0.0.2:49152");
    CHECK(std::string(stream.remote) == "10.0.0.1:80");
    CHECK(read_all(fd) == "first bytes");
    ::close(fd);
    d.join();
    CHECK(d.requests().at(0) == "CONNECT 10.0.0.1 80 timeout=5 keepalive=off");
}

TEST_CASE("tapstack_connect: defaults without options, and NULL stream and error pointers are fine") {
    FakeDaemon d({"OK 10.0.0.2:49152 10.0.0.1:80 id=3\n"});
    int fd = tapstack_connect(d.path().c_str(), "10.0.0.1", 80, nullptr, nullptr, nullptr);
    REQUIRE(fd >= 0);
    ::close(fd);
    d.join();
    CHECK(d.requests().at(0) == "CONNECT 10.0.0.1 80");
}

TEST_CASE("tapstack_connect over IPv6: the address goes as given, the bracketed endpoints fill the stream's names") {
    FakeDaemon d({"OK [fd3e:dfa0:4efb:77:ffff:ffff:ffff:2]:49152 [fd3e:dfa0:4efb:77:ffff:ffff:ffff:1]:65535 id=9\n"});
    tapstack_stream stream{};
    int fd = tapstack_connect(d.path().c_str(), "fd3e:dfa0:4efb:77:ffff:ffff:ffff:1", 65535, nullptr, &stream, nullptr);
    REQUIRE(fd >= 0);
    CHECK(std::string(stream.local) == "[fd3e:dfa0:4efb:77:ffff:ffff:ffff:2]:49152");
    CHECK(std::string(stream.remote) == "[fd3e:dfa0:4efb:77:ffff:ffff:ffff:1]:65535");
    ::close(fd);
    d.join();
    CHECK(d.requests().at(0) == "CONNECT fd3e:dfa0:4efb:77:ffff:ffff:ffff:1 65535");
}

TEST_CASE("errors: the daemon's code and message, an unreachable daemon with errno, bad arguments as usage") {
    FakeDaemon d({"ERR refused connect 10.0.0.1:9: connection refused\n", "ERR no-resources too many clients\n",
                  "something else\n"});
    tapstack_error e{};
    CHECK(tapstack_connect(d.path().c_str(), "10.0.0.1", 9, nullptr, nullptr, &e) == -1);
    CHECK(e.kind == TAPSTACK_ERR_DAEMON);
    CHECK(e.code == TAPSTACK_CODE_REFUSED);
    CHECK(std::string(e.message) == "connect 10.0.0.1:9: connection refused");
    CHECK(std::string(tapstack_code_name(e.code)) == "refused");
    CHECK(tapstack_listen(d.path().c_str(), 7, 0, &e) == -1);
    CHECK(e.kind == TAPSTACK_ERR_DAEMON);
    CHECK(e.code == TAPSTACK_CODE_NO_RESOURCES);
    CHECK(tapstack_accept(d.path().c_str(), 7, nullptr, nullptr, &e) == -1);
    CHECK(e.kind == TAPSTACK_ERR_PROTOCOL);
    CHECK(e.code == TAPSTACK_CODE_NONE);

    CHECK(tapstack_connect("/nonexistent/dir/tapstack.sock", "10.0.0.1", 9, nullptr, nullptr, &e) == -1);
    CHECK(e.kind == TAPSTACK_ERR_UNAVAILABLE);
    CHECK(e.sys_errno == ENOENT);
    CHECK(std::string(e.message).find("/nonexistent/dir/tapstack.sock") != std::string::npos);
    CHECK(tapstack_connect(d.path().c_str(), nullptr, 9, nullptr, nullptr, &e) == -1);
    CHECK(e.kind == TAPSTACK_ERR_USAGE);
    CHECK(tapstack_connect(d.path().c_str(), "10.0.0.1 80", 9, nullptr, nullptr, &e) == -1);
    CHECK(e.kind == TAPSTACK_ERR_USAGE);
}

TEST_CASE("a message longer than the struct's buffer is cut and stays NUL-terminated") {
    FakeDaemon d({"ERR internal " + std::string(400, 'x') + "\n"});
    tapstack_error e{};
    std::memset(e.message, 'z', sizeof e.message);
    CHECK(tapstack_status(d.path().c_str(), 1, nullptr, &e) == -1);
    CHECK(std::strlen(e.message) == sizeof e.message - 1);
}

TEST_CASE("tapstack_listen holds the port; tapstack_accept sends ACCEPT with its options on a new connection") {
    FakeDaemon d({"OK 10.0.0.2:7 listening\n", "OK 10.0.0.2:7 10.0.0.1:5555 id=4\n"});
    tapstack_error e{};
    int holder = tapstack_listen(d.path().c_str(), 7, 16, &e);
    REQUIRE(holder >= 0);
    tapstack_options options = TAPSTACK_OPTIONS_DEFAULT;
    options.nodelay = 1;
    tapstack_stream s{};
    int fd = tapstack_accept(d.path().c_str(), 7, &options, &s, &e);
    REQUIRE(fd >= 0);
    CHECK(s.id == 4);
    CHECK(std::string(s.remote) == "10.0.0.1:5555");
    ::close(fd);
    ::close(holder);
    d.join();
    CHECK(d.requests().at(0) == "LISTEN 7 backlog=16");
    CHECK(d.requests().at(1) == "ACCEPT 7 nodelay");
}

TEST_CASE("tapstack_stats calls back once per counter in order; a non-zero return stops it and is returned") {
    FakeDaemon d({"OK stats\neth.rx_frames 12\ntcp.connections 3\napi.clients 1\nEND\n", "OK stats\na 1\nb 2\nEND\n"});
    std::vector<std::pair<std::string, std::uint64_t>> seen;
    auto collect = [](const char* name, uint64_t value, void* ctx) {
        static_cast<decltype(seen)*>(ctx)->emplace_back(name, value);
        return 0;
    };
    CHECK(tapstack_stats(d.path().c_str(), collect, &seen, nullptr) == 0);
    CHECK(seen == decltype(seen){{"eth.rx_frames", 12}, {"tcp.connections", 3}, {"api.clients", 1}});
    int calls = 0;
    auto stop = [](const char*, uint64_t, void* ctx) { return ++*static_cast<int*>(ctx) == 1 ? 42 : 0; };
    CHECK(tapstack_stats(d.path().c_str(), stop, &calls, nullptr) == 42);
    CHECK(calls == 1);
}

TEST_CASE("tapstack_status gives the outcome; tapstack_hello the version and the features, cut to the buffer") {
    FakeDaemon d({"OK id=9 outcome=timed-out state=timed-out\n", "ERR not-found no connection 10\n",
                  "OK HELLO version=1 daemon=0.1.0 features=connect,listen,socks\n",
                  "OK HELLO version=1 daemon=0.1.0 features=connect,listen,socks\n"});
    tapstack_outcome o = TAPSTACK_OUTCOME_OPEN;
    tapstack_error e{};
    CHECK(tapstack_status(d.path().c_str(), 9, &o, &e) == 0);
    CHECK(o == TAPSTACK_OUTCOME_TIMED_OUT);
    CHECK(tapstack_status(d.path().c_str(), 10, &o, &e) == -1);
    CHECK(e.code == TAPSTACK_CODE_NOT_FOUND);
    char features[64];
    CHECK(tapstack_hello(d.path().c_str(), features, sizeof features, &e) == 1);
    CHECK(std::string(features) == "connect,listen,socks");
    char small[8];
    CHECK(tapstack_hello(d.path().c_str(), small, sizeof small, &e) == 1);
    CHECK(std::string(small) == "connect");
    d.join();
    CHECK(d.requests().at(0) == "STATUS 9");
    CHECK(d.requests().at(2) == "HELLO");
}

TEST_CASE("the header compiles as C and a C program streams through it") {
    FakeDaemon d({"OK 10.0.0.2:49152 10.0.0.1:80 id=1\nfrom the peer"});
    char in[64] = {};
    tapstack_error e{};
    long got = c_connect_and_echo(d.path().c_str(), "10.0.0.1", 80, "to the peer", in, sizeof in - 1, &e);
    CHECK(got == 13);
    CHECK(std::string(in) == "from the peer");
    d.join();
    CHECK(d.requests().at(0) == "CONNECT 10.0.0.1 80 nodelay");
    char sent[32] = {};
    CHECK(::read(d.server_fd(0), sent, sizeof sent - 1) == 11);
    CHECK(std::string(sent) == "to the peer");
    CHECK(c_touch_every_function() == 7);
    CHECK(std::string(tapstack_version()).find('.') != std::string::npos);
}
