// The client library (daemon/client/client.hpp) against a fake daemon: a
// temporary Unix socket served by a thread with scripted replies. Proves
// the request lines it sends, the parsing of every reply, the mapping of
// errors, and that nothing of the stream after "OK ...\n" is consumed.
#include <doctest/doctest.h>

#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include "daemon/client/client.hpp"
#include "tests/unit/api/fake_daemon.hpp"

using namespace tapstack::client;
using tapstack::test::FakeDaemon;
using tapstack::test::read_all;

TEST_CASE("connect sends CONNECT, returns the endpoints and id, and leaves the stream bytes unread") {
    FakeDaemon d({"OK 10.0.0.2:49152 10.0.0.1:80 id=17\nhello, stream"});
    auto s = connect(d.path(), "10.0.0.1", 80);
    REQUIRE(s.ok());
    CHECK(s->local == "10.0.0.2:49152");
    CHECK(s->remote == "10.0.0.1:80");
    CHECK(s->id == 17);
    REQUIRE(::write(s->fd, "request", 7) == 7);
    ::shutdown(s->fd, SHUT_WR);
    CHECK(read_all(s->fd) == "hello, stream");
    ::close(s->fd);
    d.join();
    CHECK(d.requests() == std::vector<std::string>{"CONNECT 10.0.0.1 80"});
    CHECK(read_all(d.server_fd(0)) == "request");
}

TEST_CASE("connect with a timeout asks the daemon to bound the attempt") {
    FakeDaemon d({"OK 10.0.0.2:49153 10.0.0.1:22 id=1\n"});
    auto s = connect(d.path(), "10.0.0.1", 22, 5);
    REQUIRE(s.ok());
    ::close(s->fd);
    d.join();
    CHECK(d.requests().at(0) == "CONNECT 10.0.0.1 22 timeout=5");
}

TEST_CASE("ERR replies become daemon errors with their code and message") {
    struct Case {
        const char* reply;
        ErrorCode code;
        const char* message;
    };
    for (const Case& c : {Case{"ERR refused connect 10.0.0.1:80: connection refused\n", ErrorCode::kRefused,
                               "connect 10.0.0.1:80: connection refused"},
                          Case{"ERR timed-out connect 10.0.0.1:80: connection timed out\n", ErrorCode::kTimedOut,
                               "connect 10.0.0.1:80: connection timed out"},
                          Case{"ERR unreachable no ARP answer\r\n", ErrorCode::kUnreachable, "no ARP answer"},
                          Case{"ERR no-resources too many clients\n", ErrorCode::kNoResources, "too many clients"},
                          Case{"ERR some-new-code whatever\n", ErrorCode::kInternal, "whatever"}}) {
        FakeDaemon d({c.reply});
        auto s = connect(d.path(), "10.0.0.1", 80);
        REQUIRE_FALSE(s.ok());
        CHECK(s.error().kind == Error::Kind::kDaemon);
        CHECK(s.error().code == c.code);
        CHECK(s.error().message == c.message);
    }
}

TEST_CASE("a daemon that hangs up or answers nonsense is a protocol error, not a stream") {
    for (const char* reply : {"", "OK\n", "OK 10.0.0.2:1 id=3\n", "OK 10.0.0.2:1 10.0.0.1:2 id=0\n",
                              "OK 10.0.0.2:1 10.0.0.1:2 id=x\n", "HTTP/1.1 200 OK\n", "OK 10.0.0.2:1 10.0.0.1:2 id=3"}) {
        FakeDaemon d({reply});
        auto s = connect(d.path(), "10.0.0.1", 80);
        INFO("reply: " << reply);
        REQUIRE_FALSE(s.ok());
        CHECK(s.error().kind == Error::Kind::kProtocol);
    }
}

TEST_CASE("an endless reply line is cut off as a protocol error") {
    FakeDaemon d({std::string(100000, 'A')});
    auto s = connect(d.path(), "10.0.0.1", 80);
    REQUIRE_FALSE(s.ok());
    CHECK(s.error().kind == Error::Kind::kProtocol);
}

TEST_CASE("no daemon at the socket path is 'unavailable', with the path in the message") {
    auto s = connect("/nonexistent/tapstack-test.sock", "10.0.0.1", 80);
    REQUIRE_FALSE(s.ok());
    CHECK(s.error().kind == Error::Kind::kUnavailable);
    CHECK(s.error().message.find("/nonexistent/tapstack-test.sock") != std::string::npos);
    auto too_long = connect(std::string(200, 'x'), "10.0.0.1", 80);
    CHECK(too_long.error().kind == Error::Kind::kUsage);
    auto bad_addr = connect("/tmp/x.sock", "10.0.0.1 80\nSTATS", 80);
    CHECK(bad_addr.error().kind == Error::Kind::kUsage);
}

TEST_CASE("listen holds a connection; accept(listener) sends ACCEPT for its port on a new one") {
    FakeDaemon d({"OK 10.0.0.2:7 listening\n", "OK 10.0.0.2:7 10.0.0.1:40000 id=5\nX"});
    auto l = listen(d.path(), 7);
    REQUIRE(l.ok());
    CHECK(l->local == "10.0.0.2:7");
    CHECK(l->port == 7);
    auto s = accept(l.value(), 9);
    REQUIRE(s.ok());
    CHECK(s->remote == "10.0.0.1:40000");
    CHECK(s->id == 5);
    CHECK(read_all(s->fd) == "X");
    ::close(s->fd);
    ::close(l->fd);
    d.join();
    CHECK(d.requests() == std::vector<std::string>{"LISTEN 7", "ACCEPT 7 timeout=9"});
}

TEST_CASE("listen maps in-use and permission errors") {
    FakeDaemon d({"ERR in-use port 7 is already held by a LISTEN\n", "ERR permission port 80 needs root\n"});
    auto a = listen(d.path(), 7);
    CHECK(a.error().code == ErrorCode::kInUse);
    auto b = listen(d.path(), 80, 4);
    CHECK(b.error().code == ErrorCode::kPermission);
    d.join();
    CHECK(d.requests().at(1) == "LISTEN 80 backlog=4");
}

TEST_CASE("status parses every outcome; not-found is a daemon error") {
    FakeDaemon d({"OK id=17 outcome=reset state=closed\n", "OK id=18 outcome=open state=close-wait extra=1\n",
                  "ERR not-found no connection 19 among the recent ones\n", "OK id=20 outcome=weird\n"});
    auto a = status(d.path(), 17);
    REQUIRE(a.ok());
    CHECK(a->id == 17);
    CHECK(a->outcome == Outcome::kReset);
    CHECK(a->state == "closed");
    auto b = status(d.path(), 18);
    REQUIRE(b.ok());
    CHECK(b->outcome == Outcome::kOpen);
    CHECK(b->state == "close-wait");
    auto c = status(d.path(), 19);
    CHECK(c.error().code == ErrorCode::kNotFound);
    auto e = status(d.path(), 20);
    CHECK(e.error().kind == Error::Kind::kProtocol);
    d.join();
    CHECK(d.requests().at(0) == "STATUS 17");
}

TEST_CASE("stats reads 'name value' lines up to END") {
    FakeDaemon d({"OK stats\nipv4.rx_bad_checksum 3\ntcp.connections 0\nEND\n", "OK stats\nbroken line here\nEND\n",
                  "OK stats\na 1\n"});
    auto s = stats(d.path());
    REQUIRE(s.ok());
    REQUIRE(s->size() == 2);
    CHECK(s->at(0) == Counter{"ipv4.rx_bad_checksum", 3});
    CHECK(s->at(1) == Counter{"tcp.connections", 0});
    CHECK(stats(d.path()).error().kind == Error::Kind::kProtocol);
    CHECK(stats(d.path()).error().kind == Error::Kind::kProtocol);  // no END
}

TEST_CASE("reply parsers accept exactly the documented shapes") {
    CHECK(parse_stream_reply("OK 10.0.0.2:49152 10.0.0.1:80 id=17").ok());
    CHECK(parse_stream_reply("OK 10.0.0.2:49152 10.0.0.1:80 id=17\r").ok());
    CHECK_FALSE(parse_stream_reply("OK 10.0.0.2:99999 10.0.0.1:80 id=17").ok());
    CHECK_FALSE(parse_stream_reply("OK 10.0.0.2:1 10.0.0.1:80 id=17 more").ok());
    CHECK(parse_listen_reply("OK 10.0.0.2:7 listening").value() == "10.0.0.2:7");
    CHECK_FALSE(parse_listen_reply("OK 10.0.0.2:7").ok());
    // IPv6 endpoints in brackets (RFC 5952 6).
    const auto six = parse_stream_reply("OK [fd00::2]:49152 [fd3e:dfa0:4efb:1::1]:80 id=5");
    REQUIRE(six.ok());
    CHECK(six->local == "[fd00::2]:49152");
    CHECK(six->remote == "[fd3e:dfa0:4efb:1::1]:80");
    CHECK(parse_listen_reply("OK [fd00::2]:7 listening").value() == "[fd00::2]:7");
    CHECK_FALSE(parse_stream_reply("OK fd00::2:49152 10.0.0.1:80 id=5").ok());  // no brackets
    CHECK_FALSE(parse_stream_reply("OK [fd00::2:49152 10.0.0.1:80 id=5").ok());
    CHECK_FALSE(parse_stream_reply("OK []:49152 10.0.0.1:80 id=5").ok());
    CHECK_FALSE(parse_status_reply("OK outcome=orderly").ok());
    CHECK(parse_status_reply("OK id=3 outcome=reset state=x").value().undelivered == 0);
    CHECK(parse_status_reply("OK id=3 outcome=reset state=x undelivered=512").value().undelivered == 512);
    CHECK_FALSE(parse_status_reply("OK id=3 outcome=reset state=x undelivered=lots").ok());
    CHECK(parse_status_reply("OK id=3 outcome=reset state=x future=1").ok());  // unknown fields ignored
    CHECK(parse_counter_line("x.y 18446744073709551615").value().second == 18446744073709551615ull);
    CHECK_FALSE(parse_counter_line("x.y -1").ok());
    CHECK_FALSE(parse_counter_line("x.y 18446744073709551616").ok());
}

TEST_CASE("stream options go on the request line only when asked for") {
    FakeDaemon d({"OK 10.0.0.2:49153 10.0.0.1:22 id=1\n", "OK 10.0.0.2:49154 10.0.0.1:22 id=2\n",
                  "OK 10.0.0.2:7 listening\n", "OK 10.0.0.2:7 10.0.0.1:40000 id=3\n",
                  "OK 10.0.0.2:8 10.0.0.1:40001 id=4\n"});
    StreamOptions both;
    both.timeout_s = 3;
    both.nodelay = true;
    both.keepalive = false;
    auto a = connect(d.path(), "10.0.0.1", 22, both);
    REQUIRE(a.ok());
    ::close(a->fd);
    auto b = connect(d.path(), "10.0.0.1", 22, StreamOptions{});
    REQUIRE(b.ok());
    ::close(b->fd);
    auto l = listen(d.path(), 7);
    REQUIRE(l.ok());
    StreamOptions keep;
    keep.keepalive = true;
    auto c = accept(l.value(), keep);
    REQUIRE(c.ok());
    ::close(c->fd);
    StreamOptions fast;
    fast.nodelay = true;
    auto e = accept(d.path(), 8, fast);
    REQUIRE(e.ok());
    ::close(e->fd);
    ::close(l->fd);
    d.join();
    CHECK(d.requests() == std::vector<std::string>{"CONNECT 10.0.0.1 22 timeout=3 nodelay keepalive=off",
                                                   "CONNECT 10.0.0.1 22", "LISTEN 7", "ACCEPT 7 keepalive",
                                                   "ACCEPT 8 nodelay"});
}

TEST_CASE("info sends INFO and returns the fields in order; an ended stream is not-found") {
    FakeDaemon d({"OK id=7 state=established local=10.0.0.2:1 remote=10.0.0.1:2 srtt_us=120 nodelay=on\n",
                  "ERR not-found connection 8 has ended (outcome orderly); STATUS 8 tells how\n",
                  "OK id=9 state=established\n", "OK stats\n"});
    auto a = info(d.path(), 7);
    REQUIRE(a.ok());
    REQUIRE(a->size() == 6);
    CHECK(a->at(0) == Field{"id", "7"});
    CHECK(a->at(4) == Field{"srtt_us", "120"});
    CHECK(find_field(a.value(), "nodelay") == "on");
    CHECK_FALSE(find_field(a.value(), "cwnd").has_value());
    auto b = info(d.path(), 8);
    REQUIRE_FALSE(b.ok());
    CHECK(b.error().kind == Error::Kind::kDaemon);
    CHECK(b.error().code == ErrorCode::kNotFound);
    CHECK(info(d.path(), 9).error().kind == Error::Kind::kProtocol);  // no endpoints
    CHECK(info(d.path(), 10).error().kind == Error::Kind::kProtocol);
    d.join();
    CHECK(d.requests().at(0) == "INFO 7");
}

TEST_CASE("connections reads one row per line up to END; a broken row or a missing END is a protocol error") {
    FakeDaemon d({"OK connections\n"
                  "id=1 state=established local=10.0.0.2:49152 remote=10.0.0.1:80 cwnd=14480\n"
                  "id=2 state=close-wait local=10.0.0.2:7 remote=10.0.0.1:5000 future_field=x\n"
                  "END\n",
                  "OK connections\nEND\n", "OK connections\nid=1 state=x local=a:1 remote=b:2 junk\nEND\n",
                  "OK connections\nid=1 state=x local=a:1 remote=b:2\n", "ERR bad-request unknown request\n"});
    auto rows = connections(d.path());
    REQUIRE(rows.ok());
    REQUIRE(rows->size() == 2);
    CHECK(find_field(rows->at(0), "cwnd") == "14480");
    CHECK(find_field(rows->at(1), "state") == "close-wait");
    CHECK(find_field(rows->at(1), "future_field") == "x");  // newer daemons may add fields
    auto none = connections(d.path());
    REQUIRE(none.ok());
    CHECK(none->empty());
    CHECK(connections(d.path()).error().kind == Error::Kind::kProtocol);
    CHECK(connections(d.path()).error().kind == Error::Kind::kProtocol);
    auto old = connections(d.path());
    CHECK(old.error().kind == Error::Kind::kDaemon);
    CHECK(old.error().code == ErrorCode::kBadRequest);
    d.join();
    CHECK(d.requests().at(0) == "CONNECTIONS");
}

TEST_CASE("field lines: key=value pairs with an identity, nothing else") {
    CHECK(parse_fields("id=1 state=s local=a:1 remote=b:2").ok());
    CHECK(parse_fields("id=1 state=s local=a:1 remote=b:2 empty=").ok());
    CHECK_FALSE(parse_fields("id=0 state=s local=a:1 remote=b:2").ok());
    CHECK_FALSE(parse_fields("id=1 state=s local=a:1 remote=b:2 =v").ok());
    CHECK_FALSE(parse_fields("state=s local=a:1 remote=b:2").ok());
    CHECK_FALSE(parse_fields("").ok());
    CHECK(parse_info_reply("OK id=1 state=s local=a:1 remote=b:2\r").ok());
    CHECK_FALSE(parse_info_reply("id=1 state=s local=a:1 remote=b:2").ok());
}

TEST_CASE("OK lines of key=value fields: DAEMON's, and CAPTURE's after its word") {
    auto d = parse_ok_fields("OK version=0.1.0 uptime_s=5\r", "DAEMON");
    REQUIRE(d.ok());
    CHECK(find_field(d.value(), "uptime_s") == std::optional<std::string_view>("5"));
    auto c = parse_ok_fields("OK capture format=pcapng snaplen=96", "CAPTURE", "capture");
    REQUIRE(c.ok());
    CHECK(c->size() == 2);
    CHECK(find_field(c.value(), "format") == std::optional<std::string_view>("pcapng"));
    CHECK_FALSE(parse_ok_fields("OK captures format=pcapng", "CAPTURE", "capture").ok());
    CHECK_FALSE(parse_ok_fields("OK capture", "DAEMON").ok());  // "capture" is no field
    auto e = parse_ok_fields("ERR permission capture needs root", "CAPTURE", "capture");
    REQUIRE_FALSE(e.ok());
    CHECK(e.error().code == ErrorCode::kPermission);
}

TEST_CASE("hello sends HELLO and returns the version, the daemon's version and the features") {
    FakeDaemon d({"OK HELLO version=1 daemon=0.1.0 features=connect,listen,accept,stats,socks future=x\n"});
    auto h = hello(d.path());
    d.join();
    REQUIRE(h.ok());
    CHECK(d.requests().at(0) == "HELLO");
    CHECK(h->version == 1);
    CHECK(h->daemon == "0.1.0");
    CHECK(h->features == std::vector<std::string>{"connect", "listen", "accept", "stats", "socks"});
    CHECK(h->has("socks"));
    CHECK_FALSE(h->has("sock"));
}

TEST_CASE("HELLO replies: version and features are required, unknown fields ignored, ERR passed on") {
    CHECK(parse_hello_reply("OK HELLO version=2 features=").ok());
    CHECK(parse_hello_reply("OK HELLO version=2 features=").value().features.empty());
    CHECK(parse_hello_reply("OK HELLO features=a,,b version=1\r").value().features ==
          std::vector<std::string>{"a", "b"});
    for (const char* bad : {"OK HELLO", "OK HELLO version=1", "OK HELLO features=a", "OK HELLO version=0 features=a",
                            "OK HELLO version=x features=a", "OK version=1 features=a", "OK HELLO version=1 =x features=a",
                            "OK HELLO version=1 junk features=a", "HELLO version=1 features=a"}) {
        CAPTURE(bad);
        auto r = parse_hello_reply(bad);
        REQUIRE_FALSE(r.ok());
        CHECK(r.error().kind == Error::Kind::kProtocol);
    }
    auto e = parse_hello_reply("ERR bad-request unknown request \"HELLO\"");
    REQUIRE_FALSE(e.ok());
    CHECK(e.error().kind == Error::Kind::kDaemon);
    CHECK(e.error().code == ErrorCode::kBadRequest);
}
