// The API server's request-line parser and reply formatting
// (daemon/api/request.hpp): what is accepted, and that everything else is
// refused with a reason rather than guessed at.
#include <doctest/doctest.h>

#include <algorithm>
#include <string>

#include "daemon/api/request.hpp"

using namespace tapstack;
using namespace tapstack::daemon::api;

namespace {

Request ok(std::string_view line) {
    auto r = parse_request(line);
    INFO("line: " << std::string(line));
    REQUIRE(std::holds_alternative<Request>(r));
    return std::get<Request>(r);
}

std::string err(std::string_view line) {
    auto r = parse_request(line);
    INFO("line: " << std::string(line));
    REQUIRE(std::holds_alternative<ParseError>(r));
    auto reason = std::get<ParseError>(r).reason;
    CHECK(!reason.empty());
    CHECK(reason.find('\n') == std::string::npos);
    return reason;
}

}  // namespace

TEST_CASE("CONNECT with address and port parses, timeout optional") {
    auto r = std::get<ConnectRequest>(ok("CONNECT 10.0.0.1 80"));
    CHECK(r.address == wire::Ipv4Address::from_octets(10, 0, 0, 1));
    CHECK(r.port == 80);
    CHECK(r.timeout_s == 0);
    auto t = std::get<ConnectRequest>(ok("CONNECT 10.0.0.1 65535 timeout=5"));
    CHECK(t.port == 65535);
    CHECK(t.timeout_s == 5);
}

TEST_CASE("verbs are case-insensitive; extra blanks, tabs and a trailing CR are tolerated") {
    CHECK(std::holds_alternative<ConnectRequest>(ok("connect  10.0.0.1\t80\r")));
    CHECK(std::holds_alternative<StatsRequest>(ok("  Stats ")));
    CHECK(std::get<ListenRequest>(ok("listen 7")).port == 7);
}

TEST_CASE("LISTEN, ACCEPT, STATUS and STATS parse with their options") {
    auto l = std::get<ListenRequest>(ok("LISTEN 7 backlog=16"));
    CHECK(l.port == 7);
    CHECK(l.backlog == 16);
    CHECK(std::get<ListenRequest>(ok("LISTEN 8080")).backlog == 0);
    auto a = std::get<AcceptRequest>(ok("ACCEPT 7 timeout=30"));
    CHECK(a.port == 7);
    CHECK(a.timeout_s == 30);
    CHECK(std::get<StatusRequest>(ok("STATUS 17")).id == 17);
    CHECK(std::holds_alternative<StatsRequest>(ok("STATS")));
}

TEST_CASE("CONNECT and ACCEPT take the stream options nodelay and keepalive, bare (on) or =on/=off") {
    auto plain = std::get<ConnectRequest>(ok("CONNECT 10.0.0.1 80"));
    CHECK_FALSE(plain.options.nodelay.has_value());  // the config decides
    CHECK_FALSE(plain.options.keepalive.has_value());
    auto c = std::get<ConnectRequest>(ok("CONNECT 10.0.0.1 80 nodelay timeout=5 keepalive"));
    CHECK(c.timeout_s == 5);
    CHECK(c.options.nodelay == true);
    CHECK(c.options.keepalive == true);
    auto off = std::get<ConnectRequest>(ok("connect 10.0.0.1 80 nodelay=off keepalive=on"));
    CHECK(off.options.nodelay == false);
    CHECK(off.options.keepalive == true);
    auto a = std::get<AcceptRequest>(ok("ACCEPT 7 keepalive"));
    CHECK_FALSE(a.options.nodelay.has_value());
    CHECK(a.options.keepalive == true);
    auto b = std::get<AcceptRequest>(ok("ACCEPT 7 timeout=30 nodelay=on keepalive=off"));
    CHECK(b.timeout_s == 30);
    CHECK(b.options.nodelay == true);
    CHECK(b.options.keepalive == false);
}

TEST_CASE("stream options: repeated, misspelt, wrong values and on LISTEN are refused with a reason") {
    CHECK(err("CONNECT 10.0.0.1 80 nodelay nodelay=off") == "nodelay given twice");
    CHECK(err("CONNECT 10.0.0.1 80 keepalive keepalive") == "keepalive given twice");
    CHECK(err("CONNECT 10.0.0.1 80 nodelay=yes") == "nodelay \"yes\" is not on or off");
    CHECK(err("ACCEPT 7 keepalive=") == "keepalive \"\" is not on or off");
    CHECK(err("CONNECT 10.0.0.1 80 NODELAY") == "unexpected field \"NODELAY\"");
    CHECK(err("CONNECT 10.0.0.1 80 no_delay") == "unexpected field \"no_delay\"");
    // The listener has no stream: options belong on each ACCEPT.
    CHECK(err("LISTEN 7 nodelay") == "option \"nodelay\" is for CONNECT and ACCEPT, not LISTEN");
    CHECK(err("LISTEN 7 keepalive=on") == "option \"keepalive\" is for CONNECT and ACCEPT, not LISTEN");
    CHECK(err("CONNECT 10.0.0.1").find("nodelay[=on|off]") != std::string::npos);  // the usage names them
}

TEST_CASE("INFO takes one live-stream id; CONNECTIONS takes nothing") {
    CHECK(std::get<InfoRequest>(ok("INFO 17")).id == 17);
    CHECK(std::get<InfoRequest>(ok("info\t18446744073709551615\r")).id == 18446744073709551615ull);
    CHECK(std::holds_alternative<ConnectionsRequest>(ok("CONNECTIONS")));
    CHECK(std::holds_alternative<ConnectionsRequest>(ok(" connections ")));
    CHECK(err("INFO") == "usage: INFO <id>");
    CHECK(err("INFO 1 2") == "usage: INFO <id>");
    CHECK(err("INFO 0") == "\"0\" is not a connection id");
    CHECK(err("INFO -1") == "\"-1\" is not a connection id");
    CHECK(err("CONNECTIONS all") == "usage: CONNECTIONS");
    CHECK(err("CONNECTION").find("INFO, CONNECTIONS") != std::string::npos);
}

TEST_CASE("bad ports are refused: 0, 65536, signs, hex, empty") {
    for (const char* line : {"CONNECT 10.0.0.1 0", "CONNECT 10.0.0.1 65536", "CONNECT 10.0.0.1 +80",
                             "CONNECT 10.0.0.1 -1", "CONNECT 10.0.0.1 0x50", "LISTEN 0", "ACCEPT 99999",
                             "LISTEN eighty"}) {
        err(line);
    }
}

TEST_CASE("bad addresses are refused: malformed, unspecified, broadcast, multicast, names") {
    for (const char* line : {"CONNECT 10.0.0.300 80", "CONNECT 10.0.0 80", "CONNECT 0.0.0.0 80",
                             "CONNECT 255.255.255.255 80", "CONNECT 224.0.0.1 80", "CONNECT localhost 80",
                             "CONNECT 10.0.0.1:80"}) {
        err(line);
    }
}

TEST_CASE("missing, extra and unknown fields and options are refused") {
    err("CONNECT");
    err("CONNECT 10.0.0.1");
    err("CONNECT 10.0.0.1 80 90");
    err("CONNECT 10.0.0.1 80 backlog=3");  // backlog is LISTEN's
    err("CONNECT 10.0.0.1 80 timeout=0");
    err("CONNECT 10.0.0.1 80 timeout=3601");
    err("CONNECT 10.0.0.1 80 timeout=5 timeout=6");
    err("LISTEN 7 timeout=5");  // timeout is ACCEPT's / CONNECT's
    err("LISTEN 7 backlog=0");
    err("ACCEPT");
    err("STATUS");
    err("STATUS 0");
    err("STATUS 1 2");
    err("STATUS abc");
    err("STATUS 99999999999999999999999");
    err("STATS now");
}

TEST_CASE("unknown verbs and empty lines name what is expected") {
    CHECK(err("FETCH").find("CONNECT") != std::string::npos);
    CHECK(err("FETCH").find("HELLO") != std::string::npos);
    CHECK(err("").find("empty") != std::string::npos);
    err("   \r");
}

TEST_CASE("control and non-ASCII bytes are refused and never echoed raw") {
    std::string reason = err(std::string("CONNECT 10.0.0.1 80\0x", 21));
    CHECK(reason.find('\0') == std::string::npos);
    err("CONNECT 10.0.0.1 8\x1b[0m0");
    err("LISTEN \xff\xfe");
    std::string long_verb(300, 'A');
    auto r = err(long_verb);
    CHECK(r.size() < 200);  // the echo is shortened
}

TEST_CASE("reply lines: OK with endpoints and id, LISTEN OK, STATUS, ERR with a sanitized one-line message") {
    wire::IpEndpoint local{wire::Ipv4Address::from_octets(10, 0, 0, 2), 49152};
    wire::IpEndpoint remote{wire::Ipv4Address::from_octets(10, 0, 0, 1), 80};
    CHECK(format_stream_ok(local, remote, 17) == "OK 10.0.0.2:49152 10.0.0.1:80 id=17\n");
    CHECK(format_listen_ok({wire::Ipv4Address::from_octets(10, 0, 0, 2), 7}) == "OK 10.0.0.2:7 listening\n");
    CHECK(format_status_ok(17, "closed", client::Outcome::kReset, 1000) ==
          "OK id=17 outcome=reset state=closed uid=1000\n");
    CHECK(format_status_ok(17, "closed", client::Outcome::kReset, 1000, 4096) ==
          "OK id=17 outcome=reset state=closed undelivered=4096 uid=1000\n");
    CHECK(format_error(client::ErrorCode::kRefused, "connect 10.0.0.1:80: connection refused") ==
          "ERR refused connect 10.0.0.1:80: connection refused\n");
    std::string e = format_error(client::ErrorCode::kBadRequest, "two\nlines\r\x01");
    CHECK(e == "ERR bad-request two lines  \n");
    CHECK(format_error(client::ErrorCode::kBadRequest, std::string(1000, 'x')).size() < 300);
}

namespace {

tcp::ConnInfo sample_info() {
    tcp::ConnInfo info;
    info.state = tcp::State::kEstablished;
    info.local = {wire::Ipv4Address::from_octets(10, 0, 0, 2), 49152};
    info.remote = {wire::Ipv4Address::from_octets(10, 0, 0, 1), 80};
    info.recv_available = 12;
    info.send_queued = 3000;
    info.memory = 8192;
    return info;
}

tcp::ConnStats sample_stats() {
    tcp::ConnStats st;
    st.srtt = std::chrono::microseconds(1234);
    st.rttvar = std::chrono::microseconds(567);
    st.rto = milliseconds(201);
    st.snd_mss = 1448;
    st.cwnd = 14480;
    st.ssthresh = 0xffffffffu;
    st.bytes_in_flight = 2896;
    st.snd_wnd = 65535;
    st.rcv_wnd = 262132;
    st.rcv_buffer = 262144;
    st.bytes_sent = 10;
    st.bytes_acked = 11;
    st.bytes_received = 12;
    st.segments_sent = 13;
    st.segments_received = 14;
    st.retransmissions = 15;
    st.rto_expiries = 16;
    st.fast_retransmits = 17;
    st.sack_recoveries = 18;
    st.dup_segments_received = 19;
    st.ooo_segments_received = 20;
    st.paws_rejected = 21;
    st.timestamps = true;
    st.sack = true;
    st.window_scaling = false;
    st.no_delay = true;
    st.keepalive = false;
    st.in_recovery = false;
    st.congestion_control = "cubic";
    return st;
}

}  // namespace

TEST_CASE("INFO reply: every figure of ConnStats and ConnInfo under its documented name") {
    CHECK(format_info_ok(7, "established", sample_info(), sample_stats(), 65534) ==
          "OK id=7 state=established local=10.0.0.2:49152 remote=10.0.0.1:80 cc=cubic srtt_us=1234 rttvar_us=567 "
          "rto_ms=201 mss=1448 cwnd=14480 ssthresh=inf in_flight=2896 snd_wnd=65535 rcv_wnd=262132 "
          "rcv_buffer=262144 memory=8192 send_queued=3000 recv_queued=12 bytes_sent=10 bytes_acked=11 bytes_received=12 "
          "segments_sent=13 segments_received=14 retransmissions=15 rto_expiries=16 fast_retransmits=17 "
          "sack_recoveries=18 dup_segments=19 ooo_segments=20 paws_rejected=21 timestamps=on sack=on wscale=off "
          "nodelay=on keepalive=off recovery=off uid=65534\n");
    auto st = sample_stats();
    st.ssthresh = 20000;
    st.in_recovery = true;
    const std::string line = format_info_ok(7, "fin wait=1", sample_info(), st, 0);
    CHECK(line.find(" ssthresh=20000 ") != std::string::npos);
    CHECK(line.find(" recovery=on uid=0\n") != std::string::npos);
    CHECK(line.find(" state=fin-wait-1 ") != std::string::npos);  // one word, no stray '=' or blank
}

TEST_CASE("CONNECTIONS line: the listing's subset of INFO's fields, same names, no OK, the owner's uid last") {
    CHECK(format_connection_line(7, "close-wait", sample_info(), sample_stats(), 1000) ==
          "id=7 state=close-wait local=10.0.0.2:49152 remote=10.0.0.1:80 srtt_us=1234 rto_ms=201 cwnd=14480 "
          "in_flight=2896 retransmissions=15 send_queued=3000 recv_queued=12 uid=1000\n");
    CHECK(kConnectionsOk == "OK connections\n");
}

TEST_CASE("every error code and outcome word round-trips through the shared vocabulary") {
    for (const auto& [code, name] : client::kErrorCodeNames) {
        CHECK(client::to_string(code) == name);
        CHECK(client::parse_error_code(name) == code);
    }
    for (const auto& [outcome, name] : client::kOutcomeNames) {
        CHECK(client::to_string(outcome) == name);
        CHECK(client::parse_outcome(name) == outcome);
    }
    CHECK_FALSE(client::parse_error_code("Refused").has_value());
    CHECK_FALSE(client::parse_outcome("").has_value());
}

TEST_CASE("random lines never crash the parser and every refusal is one printable line") {
    std::uint64_t state = 0x9e3779b97f4a7c15ull;  // fixed seed: reproducible
    auto next = [&state] {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        return state;
    };
    const std::string_view words[] = {"CONNECT", "LISTEN", "ACCEPT", "STATUS", "STATS", "INFO", "CONNECTIONS",
                                      "10.0.0.1", "80", "timeout=", "backlog=", "nodelay", "keepalive", "=on",
                                      "=off", " ", "\t", "\r", "0", "65536", "-", "="};
    std::size_t accepted = 0;
    for (int i = 0; i < 20000; ++i) {
        std::string line;
        const auto parts = next() % 8;
        for (std::uint64_t p = 0; p < parts; ++p) {
            if (next() % 4 == 0) {
                line += static_cast<char>(next() % 256);
            } else {
                line += words[next() % std::size(words)];
            }
        }
        auto r = parse_request(line);
        if (auto* e = std::get_if<ParseError>(&r)) {
            const bool printable_line = !e->reason.empty() && std::all_of(e->reason.begin(), e->reason.end(), [](char c) {
                return c >= 0x20 && c < 0x7f;
            });
            INFO("reason: " << e->reason);
            REQUIRE(printable_line);
        } else {
            ++accepted;
        }
    }
    CHECK(accepted > 0);  // the generator does hit valid requests
}

TEST_CASE("STATS takes format=text or format=prometheus; DAEMON takes nothing") {
    CHECK(std::get<StatsRequest>(ok("STATS")).format == StatsRequest::Format::kText);
    CHECK(std::get<StatsRequest>(ok("STATS format=text")).format == StatsRequest::Format::kText);
    CHECK(std::get<StatsRequest>(ok("stats format=prometheus")).format == StatsRequest::Format::kPrometheus);
    CHECK(err("STATS format=json") == "usage: STATS [format=text|prometheus]");
    CHECK(err("STATS format=prometheus format=text") == "usage: STATS [format=text|prometheus]");
    CHECK(std::holds_alternative<DaemonRequest>(ok("DAEMON")));
    CHECK(std::holds_alternative<DaemonRequest>(ok("daemon\r")));
    CHECK(err("DAEMON now") == "usage: DAEMON");
}

TEST_CASE("CAPTURE takes count, snaplen and buffer, each once and within its range") {
    auto plain = std::get<CaptureRequest>(ok("CAPTURE"));
    CHECK(plain.count == 0);
    CHECK(plain.snaplen == 0);
    CHECK(plain.buffer == 0);
    auto c = std::get<CaptureRequest>(ok("capture count=10 snaplen=96 buffer=65536"));
    CHECK(c.count == 10);
    CHECK(c.snaplen == 96);
    CHECK(c.buffer == 65536);
    CHECK(std::get<CaptureRequest>(ok("CAPTURE snaplen=0")).snaplen == 0);
    CHECK(std::get<CaptureRequest>(ok("CAPTURE snaplen=262144")).snaplen == 262144);
    CHECK(err("CAPTURE count=0") == "count \"0\" is not a number of frames (at least 1)");
    CHECK(err("CAPTURE snaplen=262145") == "snaplen \"262145\" is not a snap length in 0..262144 (0: whole frames)");
    CHECK(err("CAPTURE buffer=1024") == "buffer \"1024\" is not a buffer size in bytes, 65536..67108864");
    CHECK(err("CAPTURE count=1 count=2") == "count given twice");
    CHECK(err("CAPTURE count") == "count needs a value");
    CHECK(err("CAPTURE filter=tcp") == "unknown option \"filter\"");
}

TEST_CASE("HELLO takes nothing; its reply names the protocol version, the daemon and the features") {
    CHECK(std::holds_alternative<HelloRequest>(ok("HELLO")));
    CHECK(std::holds_alternative<HelloRequest>(ok("hello\r")));
    CHECK(err("HELLO 1") == "usage: HELLO");
    CHECK(format_hello_ok("0.1.0", "connect,socks") == "OK HELLO version=1 daemon=0.1.0 features=connect,socks\n");
    CHECK(client::kProtocolVersion == 1);
}

TEST_CASE("connect targets: CONNECT lines and SOCKS5 requests are held to the same rule") {
    using wire::Ipv4Address;
    CHECK_FALSE(connect_target_error(Ipv4Address::from_octets(10, 0, 0, 1), 80));
    CHECK(connect_target_error(Ipv4Address::any(), 80) == "cannot connect to 0.0.0.0");
    CHECK(connect_target_error(Ipv4Address::limited_broadcast(), 80));
    CHECK(connect_target_error(Ipv4Address::from_octets(239, 1, 2, 3), 80));
    CHECK(connect_target_error(Ipv4Address::from_octets(10, 0, 0, 1), 0));
    CHECK(err("CONNECT 239.1.2.3 80") == "cannot connect to 239.1.2.3");
}

TEST_CASE("CONNECT takes an IPv6 address, bare or in brackets; LISTEN takes family=4|6") {
    auto r = std::get<ConnectRequest>(ok("CONNECT fd00::1 80"));
    CHECK(r.address == wire::IpAddress(*wire::Ipv6Address::parse("fd00::1")));
    CHECK(r.port == 80);
    CHECK(std::get<ConnectRequest>(ok("CONNECT [fd3e:dfa0:4efb:1::1] 443 timeout=3")).address.to_string() ==
          "fd3e:dfa0:4efb:1::1");
    CHECK(std::get<ConnectRequest>(ok("CONNECT fe80::1 22")).address.is_ipv6());
    CHECK(err("CONNECT fd00::g 80") == "\"fd00::g\" is not an IPv4 or IPv6 address");
    for (const char* line : {"CONNECT :: 80", "CONNECT ::1 80", "CONNECT ff02::1 80", "CONNECT ::ffff:10.0.0.1 80",
                             "CONNECT [fd00::1 80", "CONNECT [fd00::1]:80 80", "CONNECT fd00::1%eth0 80"}) {
        err(line);
    }
    CHECK(err("CONNECT ff02::1 80") == "cannot connect to ff02::1");
    CHECK(std::get<ListenRequest>(ok("LISTEN 7")).family == tcp::ListenFamily::kBoth);
    CHECK(std::get<ListenRequest>(ok("LISTEN 7 family=6")).family == tcp::ListenFamily::kIpv6);
    auto l = std::get<ListenRequest>(ok("LISTEN 7 family=4 backlog=3"));
    CHECK(l.family == tcp::ListenFamily::kIpv4);
    CHECK(l.backlog == 3);
    CHECK(err("LISTEN 7 family=5") == "\"family=5\": family is 4 or 6");
    err("ACCEPT 7 family=6");  // a LISTEN option only
    CHECK(format_stream_ok({*wire::Ipv6Address::parse("fd00::2"), 49152}, {*wire::Ipv6Address::parse("fd00::1"), 80},
                           3) == "OK [fd00::2]:49152 [fd00::1]:80 id=3\n");
    CHECK(format_listen_ok({*wire::Ipv6Address::parse("fd00::2"), 7}) == "OK [fd00::2]:7 listening\n");
}
