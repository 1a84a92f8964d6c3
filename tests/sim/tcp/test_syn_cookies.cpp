// SYN cookies against a full SYN queue (RFC 4987 3.6): a new SYN gets a
// stateless cookie SYN-ACK and its ACK completes the connection with the
// options the cookie carried; half-open connections already queued keep
// their place and complete; stale, forged and unexpected cookie ACKs get
// what a bad ACK to a listener gets (RST); the accept queue still bounds.
#include <doctest/doctest.h>

#include "stack/tcp/syn_cookie.hpp"
#include "tests/sim/tcp/peer_fixture.hpp"

using namespace tapstack;
using namespace tapstack::sim;
using tcp::Error;
using tcp::State;

namespace {

constexpr std::uint32_t kBacklog = 4;

wire::TcpOptions full_syn_options(std::uint32_t tsval) {
    wire::TcpOptions o;
    o.mss = 1460;
    o.window_scale = 7;
    o.sack_permitted = true;
    o.timestamps = wire::TcpTimestamps{tsval, 0};
    return o;
}

struct HalfOpen {
    std::uint16_t port;
    std::uint32_t our_iss;
};

// Fills the listener's SYN queue with half-open connections that never
// send their final ACK (yet).
std::vector<HalfOpen> fill_syn_queue(ScriptedPeer& p) {
    std::vector<HalfOpen> q;
    for (std::uint16_t i = 0; i < kBacklog; ++i) {
        const auto port = static_cast<std::uint16_t>(30000 + i);
        p.inject(Seg{.seq = 500, .flags = flag::kSyn, .options = ScriptedPeer::mss_option(1460), .sport = port});
        Out synack = p.expect_one();
        REQUIRE(synack.only(flag::kSyn | flag::kAck));
        q.push_back({port, synack.h.seq});
    }
    REQUIRE(p.stack.connection_count() == kBacklog);
    return q;
}

}  // namespace

TEST_CASE("RFC 4987 3.6: SYN queue full -> cookie SYN-ACK without state; the ACK completes with wscale, SACK, TS") {
    ScriptedPeer p;
    REQUIRE(p.stack.listen(80, kBacklog, &p.listener) == Error::kNone);
    auto queued = fill_syn_queue(p);

    p.inject(Seg{.seq = 7000, .flags = flag::kSyn, .options = full_syn_options(111), .sport = 50000});
    Out synack = p.expect_one();
    REQUIRE(synack.only(flag::kSyn | flag::kAck));
    CHECK(synack.h.ack == 7001);
    CHECK(p.counter("tcp.syncookies_sent") == 1);
    CHECK(p.stack.connection_count() == kBacklog);  // no state for it
    REQUIRE(synack.h.options.timestamps.has_value());
    CHECK(synack.h.options.timestamps->tsecr == 111);
    CHECK(synack.h.options.window_scale.has_value());
    CHECK(synack.h.options.sack_permitted);
    CHECK(synack.h.options.mss == 1460);

    // The final ACK comes a second later and carries data.
    p.advance(seconds(1));
    const std::uint32_t cookie = synack.h.seq;
    wire::TcpOptions ts;
    ts.timestamps = wire::TcpTimestamps{1111, synack.h.options.timestamps->tsval};
    p.inject(Seg{.seq = 7001, .ack = cookie + 1, .flags = flag::kAck | flag::kPsh, .window = 1000,
                 .payload = bytes_of(300), .options = ts, .sport = 50000});
    CHECK(p.counter("tcp.syncookies_accepted") == 1);
    CHECK(p.counter("tcp.resets_sent") == 0);
    tcp::ConnId c = p.stack.accept(p.listener);
    REQUIRE(c.valid());
    CHECK(p.stack.info(c).state == State::kEstablished);
    CHECK(p.stack.info(c).remote.port == 50000);
    CHECK(p.read_all(c) == bytes_of(300));
    const auto st = p.stack.stats(c);
    CHECK(st.timestamps);
    CHECK(st.sack);
    CHECK(st.window_scaling);
    CHECK(st.snd_wnd == 1000u << 7);  // the peer's shift came back from the cookie
    CHECK(st.snd_mss == 1460 - 12);
    // Our data continues the cookie's TSval clock (never backwards for PAWS).
    p.take();
    p.stack.send(p.now, c, bytes_of(100));
    p.stack.poll(p.now);
    Out data = p.expect_one();
    CHECK(data.h.seq == cookie + 1);
    CHECK(data.h.ack == 7301);
    REQUIRE(data.h.options.timestamps.has_value());
    CHECK(data.h.options.timestamps->tsecr == 1111);
    CHECK(static_cast<std::int32_t>(data.h.options.timestamps->tsval - synack.h.options.timestamps->tsval) >= 0);

    // The half-open connections that were queued first kept their place.
    for (const HalfOpen& h : queued) {
        p.inject(Seg{.seq = 501, .ack = h.our_iss + 1, .flags = flag::kAck, .sport = h.port});
        tcp::ConnId q = p.stack.accept(p.listener);
        REQUIRE(q.valid());
        CHECK(p.stack.info(q).remote.port == h.port);
    }
    CHECK(p.counter("tcp.resets_sent") == 0);
}

TEST_CASE("RFC 4987 3.6: under a SYN flood queued half-open connections keep their place and complete late") {
    ScriptedPeer p;
    REQUIRE(p.stack.listen(80, kBacklog, &p.listener) == Error::kNone);
    auto queued = fill_syn_queue(p);
    // The flood: thousands of SYNs from other ports, none ever completes.
    for (std::uint32_t i = 0; i < 5000; ++i) {
        p.inject(Seg{.seq = 1000 + i * 7919u, .flags = flag::kSyn, .options = ScriptedPeer::mss_option(1460),
                     .sport = static_cast<std::uint16_t>(1024 + i)});
    }
    p.take();
    CHECK(p.stack.connection_count() == kBacklog);
    CHECK(p.counter("tcp.syncookies_sent") == 5000);
    // The queued connections' ACKs arrive 2.5 s late (their SYN-ACK was
    // retransmitted meanwhile): each completes, none gets an RST.
    p.advance(milliseconds(2500));
    p.take();
    for (const HalfOpen& h : queued) {
        p.inject(Seg{.seq = 501, .ack = h.our_iss + 1, .flags = flag::kAck, .sport = h.port});
    }
    CHECK(p.counter("tcp.resets_sent") == 0);
    for (const HalfOpen& h : queued) {
        tcp::ConnId q = p.stack.accept(p.listener);
        REQUIRE(q.valid());
        CHECK(p.stack.info(q).remote.port == h.port);
    }
}

TEST_CASE("RFC 4987 3.6: a peer without timestamps gets a cookie with its MSS only; the connection has no SACK/wscale") {
    ScriptedPeer p;
    REQUIRE(p.stack.listen(80, kBacklog, &p.listener) == Error::kNone);
    fill_syn_queue(p);
    wire::TcpOptions o;
    o.mss = 1300;
    o.window_scale = 5;
    o.sack_permitted = true;
    p.inject(Seg{.seq = 9, .flags = flag::kSyn, .options = o, .sport = 50001});
    Out synack = p.expect_one();
    CHECK_FALSE(synack.h.options.timestamps.has_value());
    CHECK_FALSE(synack.h.options.window_scale.has_value());
    CHECK_FALSE(synack.h.options.sack_permitted);
    p.inject(Seg{.seq = 10, .ack = synack.h.seq + 1, .flags = flag::kAck, .window = 5000, .sport = 50001});
    tcp::ConnId c = p.stack.accept(p.listener);
    REQUIRE(c.valid());
    const auto st = p.stack.stats(c);
    CHECK(st.snd_mss == 1300);
    CHECK_FALSE(st.sack);
    CHECK_FALSE(st.window_scaling);
    CHECK_FALSE(st.timestamps);
    CHECK(st.snd_wnd == 5000);
}

TEST_CASE("RFC 9293 3.10.7.2: forged, expired or misdirected cookie ACKs are bad ACKs to a listener (RST)") {
    ScriptedPeer p;
    REQUIRE(p.stack.listen(80, kBacklog, &p.listener) == Error::kNone);
    fill_syn_queue(p);
    p.inject(Seg{.seq = 7000, .flags = flag::kSyn, .options = ScriptedPeer::mss_option(1460), .sport = 50000});
    const std::uint32_t cookie = p.expect_one().h.seq;
    // Forged: off by one.
    p.inject(Seg{.seq = 7001, .ack = cookie + 2, .flags = flag::kAck, .sport = 50000});
    Out rst = p.expect_one();
    CHECK(rst.only(flag::kRst));
    CHECK(rst.h.seq == cookie + 2);
    // From another port (the cookie belongs to port 50000).
    p.inject(Seg{.seq = 7001, .ack = cookie + 1, .flags = flag::kAck, .sport = 50002});
    CHECK(p.expect_one().only(flag::kRst));
    // Another ISN (not just below the real one, see test_syn_cookie.cpp).
    p.inject(Seg{.seq = 8001, .ack = cookie + 1, .flags = flag::kAck, .sport = 50000});
    CHECK(p.expect_one().only(flag::kRst));
    CHECK(p.counter("tcp.syncookies_rejected") == 3);
    // Too late: beyond the cookie's lifetime.
    p.advance(tcp::SynCookies::kLifetime + seconds(1));
    p.take();
    p.inject(Seg{.seq = 7001, .ack = cookie + 1, .flags = flag::kAck, .sport = 50000});
    CHECK(p.expect_one().only(flag::kRst));
    CHECK_FALSE(p.stack.accept(p.listener).valid());
    CHECK(p.counter("tcp.syncookies_accepted") == 0);
}

TEST_CASE("RFC 4987 3.6: a listener that never sent a cookie does not check ACKs for one") {
    ScriptedPeer p;
    REQUIRE(p.stack.listen(80, kBacklog, &p.listener) == Error::kNone);
    p.inject(Seg{.seq = 7001, .ack = 12345, .flags = flag::kAck, .sport = 50000});
    CHECK(p.expect_one().only(flag::kRst));
    CHECK(p.counter("tcp.syncookies_rejected") == 0);
}

TEST_CASE("RFC 4987 3.6: a valid cookie ACK meeting a full accept queue is dropped and works once there is room") {
    ScriptedPeer p;
    REQUIRE(p.stack.listen(80, 2, &p.listener) == Error::kNone);
    auto cfg_cookie = [&](std::uint16_t port) {
        p.inject(Seg{.seq = 100, .flags = flag::kSyn, .options = ScriptedPeer::mss_option(1460), .sport = port});
        return p.expect_one();
    };
    // Two half-open connections fill the queue, a third SYN gets a cookie.
    Out a = cfg_cookie(1);
    Out b = cfg_cookie(2);
    Out c = cfg_cookie(3);
    CHECK(p.counter("tcp.syncookies_sent") == 1);
    // The first two complete: the accept queue is now full.
    p.inject(Seg{.seq = 101, .ack = a.h.seq + 1, .flags = flag::kAck, .sport = 1});
    p.inject(Seg{.seq = 101, .ack = b.h.seq + 1, .flags = flag::kAck, .sport = 2});
    p.inject(Seg{.seq = 101, .ack = c.h.seq + 1, .flags = flag::kAck, .sport = 3});
    p.expect_none();  // dropped without an RST
    CHECK(p.stack.connection_count() == 2);
    CHECK(p.stack.accept(p.listener).valid());
    // The peer's next segment (its data) carries the same cookie.
    p.inject(Seg{.seq = 101, .ack = c.h.seq + 1, .flags = flag::kAck, .payload = bytes_of(10), .sport = 3});
    CHECK(p.stack.accept(p.listener).valid());
    tcp::ConnId third = p.stack.accept(p.listener);
    REQUIRE(third.valid());
    CHECK(p.read_all(third) == bytes_of(10));
}

TEST_CASE("tcp.syncookies off: a full SYN queue drops new SYNs and still never evicts a queued half-open") {
    auto cfg = ScriptedPeer::default_config();
    cfg.syncookies = tcp::SynCookieMode::kOff;
    ScriptedPeer p(cfg);
    REQUIRE(p.stack.listen(80, kBacklog, &p.listener) == Error::kNone);
    auto queued = fill_syn_queue(p);
    p.inject(Seg{.seq = 1, .flags = flag::kSyn, .sport = 50000});
    p.expect_none();
    CHECK(p.counter("tcp.rx_syn_queue_full") == 1);
    CHECK(p.counter("tcp.syncookies_sent") == 0);
    for (const HalfOpen& h : queued) p.inject(Seg{.seq = 501, .ack = h.our_iss + 1, .flags = flag::kAck, .sport = h.port});
    for (std::uint32_t i = 0; i < kBacklog; ++i) CHECK(p.stack.accept(p.listener).valid());
}

TEST_CASE("tcp.syncookies always: every SYN gets a cookie, no half-open state at all") {
    auto cfg = ScriptedPeer::default_config();
    cfg.syncookies = tcp::SynCookieMode::kAlways;
    ScriptedPeer p(cfg);
    REQUIRE(p.stack.listen(80, kBacklog, &p.listener) == Error::kNone);
    p.inject(Seg{.seq = 1, .flags = flag::kSyn, .options = ScriptedPeer::mss_option(1440), .sport = 50000});
    Out synack = p.expect_one();
    CHECK(p.stack.connection_count() == 0);
    p.inject(Seg{.seq = 2, .ack = synack.h.seq + 1, .flags = flag::kAck, .sport = 50000});
    tcp::ConnId c = p.stack.accept(p.listener);
    REQUIRE(c.valid());
    CHECK(p.stack.stats(c).snd_mss == 1440);
}

TEST_CASE("RFC 4987 3.6: a cookie peer's FIN resent before its lost data is dropped, not reset; the data then completes") {
    ScriptedPeer p;
    REQUIRE(p.stack.listen(80, kBacklog, &p.listener) == Error::kNone);
    fill_syn_queue(p);
    p.inject(Seg{.seq = 7000, .flags = flag::kSyn, .options = ScriptedPeer::mss_option(1460), .sport = 50000});
    const std::uint32_t cookie = p.expect_one().h.seq;
    // The ACK and 100 bytes of data were lost; the peer's tail loss probe
    // resends its FIN (SEQ = ISN + 101): no cookie can be checked there.
    p.inject(Seg{.seq = 7101, .ack = cookie + 1, .flags = flag::kAck | flag::kFin, .sport = 50000});
    p.expect_none();
    CHECK(p.counter("tcp.syncookies_rejected") == 1);
    // Its retransmission from ISN+1 carries the cookie.
    p.inject(Seg{.seq = 7001, .ack = cookie + 1, .flags = flag::kAck, .payload = bytes_of(100), .sport = 50000});
    p.inject(Seg{.seq = 7101, .ack = cookie + 1, .flags = flag::kAck | flag::kFin, .sport = 50000});
    tcp::ConnId c = p.stack.accept(p.listener);
    REQUIRE(c.valid());
    CHECK(p.read_all(c) == bytes_of(100));
    CHECK(p.stack.info(c).eof);
    CHECK(p.counter("tcp.resets_sent") == 0);
}
