// Connection set-up, per state, against a scripted peer (RFC 9293 3.5,
// 3.10.7.1-3.10.7.3, RFC 5961, RFC 7323, RFC 6528).
#include <doctest/doctest.h>

#include "tests/sim/tcp/peer_fixture.hpp"

using namespace tapstack;
using namespace tapstack::sim;
using tcp::Error;
using tcp::State;

TEST_CASE("3.10.7.1: SYN to a closed port gets RST|ACK with seq 0 and ack = SEG.SEQ + SEG.LEN") {
    ScriptedPeer p;
    p.inject(Seg{.seq = 777, .flags = flag::kSyn});
    Out r = p.expect_one();
    CHECK(r.only(flag::kRst | flag::kAck));
    CHECK(r.h.seq == 0);
    CHECK(r.h.ack == 778);
    // SYN with data and FIN: SEG.LEN counts all of them.
    p.inject(Seg{.seq = 900, .flags = flag::kSyn | flag::kFin, .payload = bytes_of(10)});
    r = p.expect_one();
    CHECK(r.h.ack == 900 + 10 + 2);
    CHECK(p.counter("tcp.rx_no_listener") == 2);
}

TEST_CASE("3.10.7.1: ACK to a closed port gets RST with seq = SEG.ACK and no ACK bit") {
    ScriptedPeer p;
    p.inject(Seg{.seq = 10, .ack = 123456, .flags = flag::kAck, .payload = bytes_of(5)});
    Out r = p.expect_one();
    CHECK(r.only(flag::kRst));
    CHECK(r.h.seq == 123456);
}

TEST_CASE("3.10.7.1: an RST to a closed port is never answered") {
    ScriptedPeer p;
    p.inject(Seg{.seq = 10, .ack = 5, .flags = flag::kRst | flag::kAck});
    p.inject(Seg{.seq = 10, .flags = flag::kRst});
    p.expect_none();
}

TEST_CASE("3.10.7.2: LISTEN ignores RST, answers ACK with RST, drops segments without SYN") {
    ScriptedPeer p;
    REQUIRE(p.stack.listen(80, 0, &p.listener) == Error::kNone);
    p.inject(Seg{.seq = 1, .flags = flag::kRst});
    p.expect_none();
    p.inject(Seg{.seq = 1, .ack = 4242, .flags = flag::kAck});
    Out r = p.expect_one();
    CHECK(r.only(flag::kRst));
    CHECK(r.h.seq == 4242);
    p.inject(Seg{.seq = 1, .flags = flag::kFin});
    p.expect_none();
    CHECK(p.stack.connection_count() == 0);
}

TEST_CASE("3.10.7.2: SYN in LISTEN gets SYN-ACK with our MSS (mtu-40) and SYN-RECEIVED") {
    ScriptedPeer p;
    REQUIRE(p.stack.listen(80, 0, &p.listener) == Error::kNone);
    p.inject(Seg{.seq = 1000, .flags = flag::kSyn, .options = ScriptedPeer::mss_option(1400)});
    Out r = p.expect_one();
    CHECK(r.only(flag::kSyn | flag::kAck));
    CHECK(r.h.ack == 1001);
    REQUIRE(r.h.options.mss.has_value());
    CHECK(*r.h.options.mss == 1460);
    CHECK_FALSE(r.h.options.window_scale.has_value());  // the peer did not offer it
    CHECK(p.stack.connection_count() == 1);
    CHECK_FALSE(p.stack.accept(p.listener).valid());  // not established yet
}

TEST_CASE("3.5 three-way handshake (passive): ESTABLISHED, listener event, accept") {
    ScriptedPeer p;
    REQUIRE(p.stack.listen(80, 0, &p.listener) == Error::kNone);
    p.inject(Seg{.seq = 1000, .flags = flag::kSyn});
    Out synack = p.expect_one();
    p.inject(Seg{.seq = 1001, .ack = synack.h.seq + 1, .flags = flag::kAck});
    p.expect_none();
    auto ev = p.events();
    REQUIRE(ev.size() == 1);
    CHECK(ev[0].kind == tcp::Event::Kind::kListener);
    tcp::ConnId c = p.stack.accept(p.listener);
    REQUIRE(c.valid());
    auto info = p.stack.info(c);
    CHECK(info.state == State::kEstablished);
    CHECK(info.remote.port == 40000);
    CHECK(info.local.port == 80);
    CHECK(info.established);
}

TEST_CASE("3.10.7.4: RST in SYN-RECEIVED (passive) quietly returns to LISTEN") {
    ScriptedPeer p;
    REQUIRE(p.stack.listen(80, 0, &p.listener) == Error::kNone);
    p.inject(Seg{.seq = 1000, .flags = flag::kSyn});
    p.take();
    p.inject(Seg{.seq = 1001, .flags = flag::kRst});
    p.expect_none();
    CHECK(p.stack.connection_count() == 0);
    CHECK(p.events().empty());
    // Still listening.
    p.inject(Seg{.seq = 2000, .flags = flag::kSyn});
    CHECK(p.expect_one().only(flag::kSyn | flag::kAck));
}

TEST_CASE("3.10.7.4: RST in SYN-RECEIVED not at RCV.NXT is answered with a challenge ACK (RFC 5961 3.2)") {
    ScriptedPeer p;
    REQUIRE(p.stack.listen(80, 0, &p.listener) == Error::kNone);
    p.inject(Seg{.seq = 1000, .flags = flag::kSyn});
    p.take();
    p.inject(Seg{.seq = 1005, .flags = flag::kRst});
    Out r = p.expect_one();
    CHECK(r.only(flag::kAck));
    CHECK(r.h.ack == 1001);
    CHECK(p.stack.connection_count() == 1);
}

TEST_CASE("3.10.7.4 step 5: bad ACK in SYN-RECEIVED gets RST with seq = SEG.ACK") {
    ScriptedPeer p;
    REQUIRE(p.stack.listen(80, 0, &p.listener) == Error::kNone);
    p.inject(Seg{.seq = 1000, .flags = flag::kSyn});
    Out synack = p.expect_one();
    p.inject(Seg{.seq = 1001, .ack = synack.h.seq + 100, .flags = flag::kAck});
    Out r = p.expect_one();
    CHECK(r.only(flag::kRst));
    CHECK(r.h.seq == synack.h.seq + 100);
    CHECK_FALSE(p.stack.accept(p.listener).valid());
}

TEST_CASE("SYN-RECEIVED: a lost SYN-ACK is repeated at RTO and at once on a repeated SYN") {
    ScriptedPeer p;
    REQUIRE(p.stack.listen(80, 0, &p.listener) == Error::kNone);
    p.inject(Seg{.seq = 1000, .flags = flag::kSyn});
    Out first = p.expect_one();
    p.advance(milliseconds(999));
    p.expect_none();
    p.advance(milliseconds(2));
    Out again = p.expect_one();
    CHECK(again.only(flag::kSyn | flag::kAck));
    CHECK(again.h.seq == first.h.seq);
    p.inject(Seg{.seq = 1000, .flags = flag::kSyn});
    Out third = p.expect_one();
    CHECK(third.only(flag::kSyn | flag::kAck));
    CHECK(third.h.seq == first.h.seq);
    p.inject(Seg{.seq = 1001, .ack = first.h.seq + 1, .flags = flag::kAck});
    CHECK(p.stack.accept(p.listener).valid());
}

TEST_CASE("SYN-RECEIVED gives up after max_syn_retransmits and frees the embryo") {
    auto cfg = ScriptedPeer::default_config();
    cfg.max_syn_retransmits = 2;
    ScriptedPeer p(cfg);
    REQUIRE(p.stack.listen(80, 0, &p.listener) == Error::kNone);
    p.inject(Seg{.seq = 1000, .flags = flag::kSyn});
    p.take();
    p.advance(seconds(100));
    CHECK(p.take().size() == 2);
    CHECK(p.stack.connection_count() == 0);
}

TEST_CASE("3.10.7.3: SYN-SENT with an unacceptable ACK sends RST seq = SEG.ACK and stays") {
    ScriptedPeer p;
    tcp::ConnId c;
    REQUIRE(p.stack.connect(p.now, {ScriptedPeer::kPeer, 40000}, 80, &c) == Error::kNone);
    p.stack.poll(p.now);
    Out syn = p.expect_one();
    CHECK(syn.only(flag::kSyn));
    REQUIRE(syn.h.options.mss.has_value());
    p.inject(Seg{.seq = 5000, .ack = syn.h.seq + 7, .flags = flag::kSyn | flag::kAck});
    Out r = p.expect_one();
    CHECK(r.only(flag::kRst));
    CHECK(r.h.seq == syn.h.seq + 7);
    CHECK(p.stack.info(c).state == State::kSynSent);
    // ACK of the ISS itself is also unacceptable (SEG.ACK =< ISS).
    p.inject(Seg{.seq = 5000, .ack = syn.h.seq, .flags = flag::kAck});
    CHECK(p.expect_one().only(flag::kRst));
    CHECK(p.stack.info(c).state == State::kSynSent);
}

TEST_CASE("3.10.7.3: RST with an acceptable ACK in SYN-SENT is 'connection refused'") {
    ScriptedPeer p;
    tcp::ConnId c;
    REQUIRE(p.stack.connect(p.now, {ScriptedPeer::kPeer, 40000}, 0, &c) == Error::kNone);
    p.stack.poll(p.now);
    Out syn = p.expect_one();
    p.events();
    // Without ACK: ignored.
    p.inject(Seg{.seq = 0, .flags = flag::kRst, .sport = 40000, .dport = syn.h.src_port});
    CHECK(p.stack.info(c).state == State::kSynSent);
    p.inject(Seg{.seq = 0, .ack = syn.h.seq + 1, .flags = flag::kRst | flag::kAck, .sport = 40000,
                 .dport = syn.h.src_port});
    p.expect_none();
    auto info = p.stack.info(c);
    CHECK(info.state == State::kClosed);
    CHECK(info.error == Error::kRefused);
    auto ev = p.events();
    REQUIRE(ev.size() == 1);
    CHECK(ev[0].conn == c);
    // The handle stays valid until the application closes it.
    p.stack.close(p.now, c);
    CHECK(p.stack.info(c).error == Error::kNotConnected);
    CHECK(p.stack.connection_count() == 0);
}

TEST_CASE("3.5: active open completes on SYN-ACK; ACK sent at once") {
    ScriptedPeer p;
    tcp::ConnId c = p.establish_active();
    auto info = p.stack.info(c);
    CHECK(info.state == State::kEstablished);
    CHECK(info.established);
}

TEST_CASE("3.5 figure 7: simultaneous open") {
    ScriptedPeer p;
    tcp::ConnId c;
    REQUIRE(p.stack.connect(p.now, {ScriptedPeer::kPeer, 40000}, 80, &c) == Error::kNone);
    p.stack.poll(p.now);
    Out syn = p.expect_one();
    // The peer's own SYN crosses ours.
    p.inject(Seg{.seq = 300, .flags = flag::kSyn});
    Out synack = p.expect_one();
    CHECK(synack.only(flag::kSyn | flag::kAck));
    CHECK(synack.h.seq == syn.h.seq);
    CHECK(synack.h.ack == 301);
    CHECK(p.stack.info(c).state == State::kSynReceived);
    // Line 7: the peer's SYN-ACK establishes at once.
    p.inject(Seg{.seq = 300, .ack = syn.h.seq + 1, .flags = flag::kSyn | flag::kAck});
    CHECK(p.stack.info(c).state == State::kEstablished);
    // No SYN-ACK retransmission follows.
    p.advance(seconds(5));
    for (const auto& o : p.take()) CHECK_FALSE(o.has(flag::kSyn));
    // A peer that answers with a plain ACK instead (line 7 lost) also works.
    ScriptedPeer q;
    tcp::ConnId d;
    REQUIRE(q.stack.connect(q.now, {ScriptedPeer::kPeer, 40000}, 80, &d) == Error::kNone);
    q.stack.poll(q.now);
    Out syn2 = q.expect_one();
    q.inject(Seg{.seq = 300, .flags = flag::kSyn});
    q.take();
    q.inject(Seg{.seq = 301, .ack = syn2.h.seq + 1, .flags = flag::kAck});
    CHECK(q.stack.info(d).state == State::kEstablished);
}

TEST_CASE("SYN-SENT: SYN retransmitted with exponential backoff, then kTimedOut") {
    auto cfg = ScriptedPeer::default_config();
    cfg.max_syn_retransmits = 3;
    ScriptedPeer p(cfg);
    tcp::ConnId c;
    REQUIRE(p.stack.connect(p.now, {ScriptedPeer::kPeer, 40000}, 0, &c) == Error::kNone);
    p.stack.poll(p.now);
    const Instant start = p.now;
    p.expect_one();
    std::vector<Duration> gaps;
    Instant last = start;
    while (p.advance_to_next()) {
        auto out = p.take();
        if (out.empty()) continue;
        CHECK(out.size() == 1);
        CHECK(out[0].only(flag::kSyn));
        gaps.push_back(p.now - last);
        last = p.now;
        if (p.stack.info(c).state == State::kClosed) break;
    }
    REQUIRE(gaps.size() == 3);
    CHECK(gaps[0] == seconds(1));
    CHECK(gaps[1] == seconds(2));
    CHECK(gaps[2] == seconds(4));
    CHECK(p.stack.info(c).state == State::kClosed);
    CHECK(p.stack.info(c).error == Error::kTimedOut);
}

TEST_CASE("host_unreachable fails a SYN-SENT connection with kHostUnreachable") {
    ScriptedPeer p;
    tcp::ConnId c;
    REQUIRE(p.stack.connect(p.now, {ScriptedPeer::kPeer, 40000}, 0, &c) == Error::kNone);
    p.stack.poll(p.now);
    p.take();
    p.stack.host_unreachable(p.now, ScriptedPeer::kPeer);
    CHECK(p.stack.info(c).error == Error::kHostUnreachable);
    CHECK(p.stack.info(c).state == State::kClosed);
}

TEST_CASE("3.7.1: without an MSS option the peer gets 536-byte segments; tiny MSS clamped, no stall") {
    SUBCASE("absent") {
        ScriptedPeer p;
        tcp::ConnId c = p.establish_passive(wire::TcpOptions{});
        p.stack.send(p.now, c, bytes_of(2000));
        p.stack.poll(p.now);
        auto out = p.take();
        REQUIRE(out.size() >= 3);
        CHECK(out[0].payload.size() == 536);
        CHECK(out[1].payload.size() == 536);
    }
    SUBCASE("tiny (1 byte) is raised to 64") {
        ScriptedPeer p;
        tcp::ConnId c = p.establish_passive(ScriptedPeer::mss_option(1));
        p.stack.send(p.now, c, bytes_of(640));
        p.stack.poll(p.now);
        auto out = p.take();
        REQUIRE(out.size() == 10);
        for (auto& o : out) CHECK(o.payload.size() == 64);
    }
    SUBCASE("MSS is only sent on SYN segments") {
        ScriptedPeer p;
        tcp::ConnId c = p.establish_passive();
        p.stack.send(p.now, c, bytes_of(100));
        p.stack.poll(p.now);
        Out d = p.expect_one();
        CHECK_FALSE(d.h.options.mss.has_value());
    }
}

TEST_CASE("RFC 7323 2: window scaling only when both offer it; shift > 14 treated as 14; SYN window unscaled") {
    auto cfg = ScriptedPeer::default_config();
    cfg.receive_buffer = 1 << 20;  // needs shift 5
    SUBCASE("both offer") {
        ScriptedPeer p(cfg);
        REQUIRE(p.stack.listen(80, 0, &p.listener) == Error::kNone);
        wire::TcpOptions o = ScriptedPeer::mss_option(1460);
        o.window_scale = 15;  // illegal: treated as 14
        p.inject(Seg{.seq = 1000, .flags = flag::kSyn, .window = 4, .options = o});
        Out synack = p.expect_one();
        REQUIRE(synack.h.options.window_scale.has_value());
        CHECK(*synack.h.options.window_scale == 5);
        CHECK(synack.h.window == 65535);  // unscaled in the SYN-ACK
        // Peer ACK with window field 1 << 14 == 16384 bytes (1 scaled by 14).
        p.inject(Seg{.seq = 1001, .ack = synack.h.seq + 1, .flags = flag::kAck, .window = 1});
        tcp::ConnId c = p.stack.accept(p.listener);
        REQUIRE(c.valid());
        auto upd = p.take();  // our window grows past 64 KiB: a scaled update
        REQUIRE(upd.size() == 1);
        CHECK(upd[0].h.window == (1u << 20) >> 5);
        p.stack.send(p.now, c, bytes_of(40000));
        p.stack.poll(p.now);
        std::size_t sent = 0;
        for (auto& s : p.take()) sent += s.payload.size();
        CHECK(sent == 14600);  // the initial window (RFC 6928) is the smaller limit
        // Acknowledge it all, window field still 1 (16384 bytes): exactly the
        // window is sent next, nothing beyond its right edge.
        p.inject(Seg{.seq = 1001, .ack = synack.h.seq + 1 + 14600, .flags = flag::kAck, .window = 1});
        sent = 0;
        std::uint32_t right = 0;
        for (auto& s : p.take()) {
            sent += s.payload.size();
            right = s.h.seq + static_cast<std::uint32_t>(s.payload.size());
        }
        CHECK(right - (synack.h.seq + 1 + 14600) <= 16384);
        CHECK(sent > 16384 - 1460);  // only the sub-MSS tail waits (sender SWS)
    }
    SUBCASE("peer does not offer: no scaling either way") {
        ScriptedPeer p(cfg);
        REQUIRE(p.stack.listen(80, 0, &p.listener) == Error::kNone);
        p.inject(Seg{.seq = 1000, .flags = flag::kSyn, .window = 1072});
        Out synack = p.expect_one();
        CHECK_FALSE(synack.h.options.window_scale.has_value());
        p.inject(Seg{.seq = 1001, .ack = synack.h.seq + 1, .flags = flag::kAck, .window = 1072});
        tcp::ConnId c = p.stack.accept(p.listener);
        REQUIRE(c.valid());
        p.take();
        p.stack.send(p.now, c, bytes_of(40000));
        p.stack.poll(p.now);
        std::size_t sent = 0;
        for (auto& s : p.take()) {
            sent += s.payload.size();
            CHECK(s.h.window == 65535);  // capped: no scaling
        }
        CHECK(sent == 1072);  // two 536-byte segments fill the unscaled window
    }
    SUBCASE("active open offers WS; SYN-ACK without WS disables it") {
        ScriptedPeer p(cfg);
        tcp::ConnId c;
        REQUIRE(p.stack.connect(p.now, {ScriptedPeer::kPeer, 40000}, 80, &c) == Error::kNone);
        p.stack.poll(p.now);
        Out syn = p.expect_one();
        REQUIRE(syn.h.options.window_scale.has_value());
        CHECK(*syn.h.options.window_scale == 5);
        p.inject(Seg{.seq = 5000, .ack = syn.h.seq + 1, .flags = flag::kSyn | flag::kAck, .window = 2144});
        Out ack = p.expect_one();
        CHECK(ack.h.window == 65535);
        p.stack.send(p.now, c, bytes_of(4000));
        p.stack.poll(p.now);
        std::size_t sent = 0;
        for (auto& s : p.take()) sent += s.payload.size();
        CHECK(sent == 2144);
    }
}

TEST_CASE("RFC 4987: a SYN flood keeps memory bounded by the backlog and a real connection still succeeds (cookie)") {
    ScriptedPeer p;
    REQUIRE(p.stack.listen(80, 8, &p.listener) == Error::kNone);
    for (std::uint16_t i = 0; i < 2000; ++i) {
        p.inject(Seg{.seq = 1000u + i * 77777u, .flags = flag::kSyn, .sport = static_cast<std::uint16_t>(1024 + i)});
        CHECK(p.stack.connection_count() <= 8);
    }
    p.take();
    CHECK(p.counter("tcp.syncookies_sent") == 2000 - 8);  // the queue full: cookies, no state
    p.advance(milliseconds(10));
    p.take();
    p.inject(Seg{.seq = 1, .flags = flag::kSyn, .sport = 60000});
    Out synack = p.expect_one();
    p.inject(Seg{.seq = 2, .ack = synack.h.seq + 1, .flags = flag::kAck, .sport = 60000});
    tcp::ConnId c = p.stack.accept(p.listener);
    REQUIRE(c.valid());
    CHECK(p.stack.info(c).remote.port == 60000);
}

TEST_CASE("listen backlog: unaccepted connections fill it; further SYNs are dropped") {
    ScriptedPeer p;
    REQUIRE(p.stack.listen(80, 2, &p.listener) == Error::kNone);
    for (std::uint16_t i = 0; i < 3; ++i) {
        const auto port = static_cast<std::uint16_t>(2000 + i);
        p.inject(Seg{.seq = 100, .flags = flag::kSyn, .sport = port});
        auto out = p.take();
        if (i < 2) {
            REQUIRE(out.size() == 1);
            p.inject(Seg{.seq = 101, .ack = out[0].h.seq + 1, .flags = flag::kAck, .sport = port});
        } else {
            CHECK(out.empty());
        }
    }
    CHECK(p.counter("tcp.rx_backlog_full") == 1);
    CHECK(p.stack.accept(p.listener).valid());
    CHECK(p.stack.accept(p.listener).valid());
    CHECK_FALSE(p.stack.accept(p.listener).valid());
}

TEST_CASE("listen/connect argument errors") {
    ScriptedPeer p;
    tcp::ListenerId l;
    CHECK(p.stack.listen(0, 0, &l) == Error::kInvalidArgument);
    CHECK(p.stack.listen(80, 0, &l) == Error::kNone);
    CHECK(p.stack.listen(80, 0, &l) == Error::kAddressInUse);
    tcp::ConnId c;
    CHECK(p.stack.connect(p.now, {ScriptedPeer::kPeer, 0}, 0, &c) == Error::kInvalidArgument);
    CHECK(p.stack.connect(p.now, {wire::Ipv4Address::any(), 80}, 0, &c) == Error::kInvalidArgument);
    CHECK(p.stack.connect(p.now, {ScriptedPeer::kPeer, 80}, 5555, &c) == Error::kNone);
    CHECK(p.stack.connect(p.now, {ScriptedPeer::kPeer, 80}, 5555, &c) == Error::kAddressInUse);
}

TEST_CASE("RFC 6056: ephemeral ports come from the configured range and are not reused while in use") {
    auto cfg = ScriptedPeer::default_config();
    cfg.ephemeral_port_min = 50000;
    cfg.ephemeral_port_max = 50009;
    ScriptedPeer p(cfg);
    std::vector<std::uint16_t> ports;
    for (int i = 0; i < 10; ++i) {
        tcp::ConnId c;
        REQUIRE(p.stack.connect(p.now, {ScriptedPeer::kPeer, 80}, 0, &c) == Error::kNone);
        const auto port = p.stack.info(c).local.port;
        CHECK(port >= 50000);
        CHECK(port <= 50009);
        ports.push_back(port);
    }
    std::sort(ports.begin(), ports.end());
    CHECK(std::unique(ports.begin(), ports.end()) == ports.end());
    tcp::ConnId c;
    CHECK(p.stack.connect(p.now, {ScriptedPeer::kPeer, 80}, 0, &c) == Error::kNoResources);
    // Another remote port has its own tuples.
    CHECK(p.stack.connect(p.now, {ScriptedPeer::kPeer, 81}, 0, &c) == Error::kNone);
}

TEST_CASE("RFC 9293 3.1 MUST-2/7: bad checksum, bad data offset and malformed options are dropped without reply") {
    ScriptedPeer p;
    tcp::ConnId c = p.establish_passive();
    (void)c;
    auto good = p.build(Seg{.seq = p.peer_nxt, .ack = p.our_nxt, .flags = flag::kAck, .payload = bytes_of(10)});
    auto bad = good;
    bad[25] ^= 0x40;
    p.inject_raw(bad);
    p.expect_none();
    CHECK(p.counter("tcp.rx_bad_checksum") == 1);
    // data offset 4 (< 5)
    auto off = good;
    off[12] = 0x40;
    p.inject_raw(off);
    // data offset 15 beyond a 30-byte segment
    auto off2 = good;
    off2[12] = 0xf0;
    p.inject_raw(off2);
    p.inject_raw(std::span(good).first(10));
    p.expect_none();
    CHECK(p.counter("tcp.rx_bad_offset") == 2);
    CHECK(p.counter("tcp.rx_truncated") == 1);
    // option with length 0 / 1 / beyond the header
    for (int len : {0, 1, 9}) {
        wire::TcpRepr r;
        r.src_port = 40000;
        r.dst_port = 80;
        r.seq = p.peer_nxt;
        r.ack = p.our_nxt;
        r.flags = flag::kAck;
        r.window = 65535;
        std::vector<std::uint8_t> seg(24);
        r.emit(seg, ScriptedPeer::kPeer, ScriptedPeer::kUs);
        seg[12] = 0x60;  // 24-byte header
        seg[20] = 0x22;  // unknown kind 34
        seg[21] = static_cast<std::uint8_t>(len);
        seg[22] = 0;
        seg[23] = 0;
        // recompute checksum
        seg[16] = seg[17] = 0;
        wire::ChecksumAccumulator acc;
        wire::add_ipv4_pseudo_header(acc, ScriptedPeer::kPeer, ScriptedPeer::kUs, 6, 24);
        acc.add(seg);
        const auto ck = acc.checksum();
        seg[16] = static_cast<std::uint8_t>(ck >> 8);
        seg[17] = static_cast<std::uint8_t>(ck);
        p.inject_raw(seg);
    }
    p.expect_none();
    CHECK(p.counter("tcp.rx_malformed_options") == 3);
    // The connection is unharmed: the good segment is accepted.
    p.inject_raw(good);
    CHECK(p.stack.info(c).recv_available == 10);
}

TEST_CASE("unknown options are skipped by length") {
    ScriptedPeer p;
    REQUIRE(p.stack.listen(80, 0, &p.listener) == Error::kNone);
    wire::TcpRepr r;
    r.src_port = 40000;
    r.dst_port = 80;
    r.seq = 1000;
    r.flags = flag::kSyn;
    r.window = 65535;
    std::vector<std::uint8_t> seg(32);
    r.emit(seg, ScriptedPeer::kPeer, ScriptedPeer::kUs);
    seg[12] = 0x80;                                       // 32-byte header
    const std::uint8_t opts[12] = {99, 6, 1, 2, 3, 4,     // unknown kind 99, length 6
                                   2, 4, 0x02, 0x00,      // MSS 512
                                   1, 0};                 // NOP, EOL
    std::copy(std::begin(opts), std::end(opts), seg.begin() + 20);
    seg[16] = seg[17] = 0;
    wire::ChecksumAccumulator acc;
    wire::add_ipv4_pseudo_header(acc, ScriptedPeer::kPeer, ScriptedPeer::kUs, 6, 32);
    acc.add(seg);
    const auto ck = acc.checksum();
    seg[16] = static_cast<std::uint8_t>(ck >> 8);
    seg[17] = static_cast<std::uint8_t>(ck);
    p.inject_raw(seg);
    Out synack = p.expect_one();
    CHECK(synack.only(flag::kSyn | flag::kAck));
    p.inject(Seg{.seq = 1001, .ack = synack.h.seq + 1, .flags = flag::kAck});
    tcp::ConnId c = p.stack.accept(p.listener);
    REQUIRE(c.valid());
    p.stack.send(p.now, c, bytes_of(1000));
    p.stack.poll(p.now);
    auto out = p.take();
    REQUIRE_FALSE(out.empty());
    CHECK(out[0].payload.size() == 512);  // the MSS after the unknown option was honoured
}

TEST_CASE("3.10.7.3: text and FIN carried by the SYN-ACK are processed (continue at the sixth step)") {
    ScriptedPeer p;
    tcp::ConnId c;
    REQUIRE(p.stack.connect(p.now, {ScriptedPeer::kPeer, 40000}, 80, &c) == Error::kNone);
    p.stack.poll(p.now);
    Out syn = p.expect_one();
    p.inject(Seg{.seq = 5000, .ack = syn.h.seq + 1, .flags = flag::kSyn | flag::kAck | flag::kFin,
                 .payload = bytes_of(100)});
    Out a = p.expect_one();
    CHECK(a.only(flag::kAck));
    CHECK(a.h.ack == 5000 + 1 + 100 + 1);
    CHECK(p.stack.info(c).state == State::kCloseWait);
    CHECK(p.read_all(c) == bytes_of(100));
    CHECK(p.stack.info(c).eof);
}
