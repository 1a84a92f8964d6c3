// Handle lifecycle and events: what the application sees and when
// (the contract in stack/tcp/tcp_stack.hpp), plus the remaining transitions.
#include <doctest/doctest.h>

#include "tests/sim/tcp/states.hpp"

using namespace tapstack;
using namespace tapstack::sim;
using tcp::Error;
using tcp::State;

TEST_CASE("data + FIN completing the handshake before accept(): the accepted connection reads all data, then EOF") {
    ScriptedPeer p;
    REQUIRE(p.stack.listen(80, 0, &p.listener) == Error::kNone);
    p.inject(Seg{.seq = 1000, .flags = flag::kSyn});
    Out synack = p.expect_one();
    const auto data = bytes_of(3000);
    p.inject(Seg{.seq = 1001, .ack = synack.h.seq + 1, .flags = flag::kAck,
                 .payload = std::vector<std::uint8_t>(data.begin(), data.begin() + 1460)});
    p.inject(Seg{.seq = 1001 + 1460, .ack = synack.h.seq + 1, .flags = flag::kAck | flag::kFin,
                 .payload = std::vector<std::uint8_t>(data.begin() + 1460, data.end())});
    auto acks = p.take();
    REQUIRE_FALSE(acks.empty());
    CHECK(acks.back().h.ack == 1001 + 3000 + 1);
    tcp::ConnId c = p.stack.accept(p.listener);
    REQUIRE(c.valid());
    auto ev = p.events();
    bool conn_event = false;
    for (auto& e : ev) conn_event = conn_event || (e.kind == tcp::Event::Kind::kConnection && e.conn == c);
    CHECK(conn_event);  // the application is told to look
    auto info = p.stack.info(c);
    CHECK(info.state == State::kCloseWait);
    CHECK(info.recv_available == 3000);
    CHECK_FALSE(info.eof);
    CHECK(p.read_all(c) == data);
    CHECK(p.stack.info(c).eof);
}

TEST_CASE("a TCB with unread data outlives TIME-WAIT while the application holds it") {
    ScriptedPeer p;
    tcp::ConnId c = reach_state(p, State::kFinWait2);
    p.peer_data(bytes_of(500), flag::kFin);
    CHECK(p.stack.info(c).state == State::kTimeWait);
    p.advance(seconds(30));  // well past 2*MSL
    auto info = p.stack.info(c);
    CHECK(info.state == State::kClosed);
    CHECK(info.error == Error::kNone);
    CHECK(info.recv_available == 500);
    CHECK(p.read_all(c) == bytes_of(500));
    CHECK(p.stack.info(c).eof);
    p.stack.close(p.now, c);
    CHECK(p.stack.connection_count() == 0);
}

TEST_CASE("events: readable data, EOF and state changes each raise a connection event; drained once") {
    ScriptedPeer p;
    tcp::ConnId c = p.establish_passive();
    p.events();
    p.peer_data(bytes_of(10));
    auto e1 = p.events();
    REQUIRE(e1.size() == 1);
    CHECK(e1[0].conn == c);
    CHECK(p.events().empty());  // drained
    p.peer_data({}, flag::kFin);
    CHECK(p.events().size() == 1);
    p.stack.has_pending_events();
    p.read_all(c);
    CHECK(p.stack.info(c).eof);
}

TEST_CASE("poll_at() asks for an immediate poll when a user call left output pending") {
    ScriptedPeer p;
    tcp::ConnId c = p.establish_passive();
    CHECK(p.stack.poll_at() > p.now);
    p.stack.send(p.now, c, bytes_of(10));
    CHECK(p.stack.poll_at() <= p.now);
    p.stack.poll(p.now);
    CHECK(p.expect_one().payload.size() == 10);
    CHECK(p.stack.poll_at() > p.now);  // only the retransmission timer now
}

TEST_CASE("3.10.4: close() in SYN-SENT deletes the TCB without a segment") {
    ScriptedPeer p;
    tcp::ConnId c;
    REQUIRE(p.stack.connect(p.now, {ScriptedPeer::kPeer, 40000}, 0, &c) == Error::kNone);
    p.stack.close(p.now, c);
    p.stack.poll(p.now);
    p.expect_none();
    CHECK(p.stack.connection_count() == 0);
}

TEST_CASE("shutdown_write before the handshake completes: FIN follows establishment") {
    ScriptedPeer p;
    tcp::ConnId c;
    REQUIRE(p.stack.connect(p.now, {ScriptedPeer::kPeer, 40000}, 80, &c) == Error::kNone);
    p.stack.send(p.now, c, bytes_of(100));
    p.stack.shutdown_write(p.now, c);
    p.stack.poll(p.now);
    Out syn = p.expect_one();
    CHECK(syn.only(flag::kSyn));
    p.inject(Seg{.seq = 5000, .ack = syn.h.seq + 1, .flags = flag::kSyn | flag::kAck});
    auto out = p.take();
    REQUIRE_FALSE(out.empty());
    CHECK(out.back().has(flag::kFin));
    CHECK(out.back().payload.size() == 100);
    CHECK(p.stack.info(c).state == State::kFinWait1);
}

TEST_CASE("RFC 1122 4.2.3.6 (MUST-40): keepalive probes are answered with an ACK") {
    ScriptedPeer p;
    tcp::ConnId c = p.establish_passive();
    p.inject(Seg{.seq = p.peer_nxt - 1, .ack = p.our_nxt, .flags = flag::kAck});
    Out a = p.expect_one();
    CHECK(a.only(flag::kAck));
    CHECK(a.h.ack == p.peer_nxt);
    p.inject(Seg{.seq = p.peer_nxt - 1, .ack = p.our_nxt, .flags = flag::kAck, .payload = {0}});
    CHECK(p.expect_one().h.ack == p.peer_nxt);
    CHECK(p.stack.info(c).recv_available == 0);
}

TEST_CASE("RFC 7323 / RFC 2018: timestamps and SACK are not negotiated unless we offer them (config off)") {
    auto cfg = ScriptedPeer::default_config();
    cfg.timestamps = false;
    cfg.sack = false;
    ScriptedPeer p(cfg);
    REQUIRE(p.stack.listen(80, 0, &p.listener) == Error::kNone);
    wire::TcpOptions o = ScriptedPeer::mss_option(1460);
    o.timestamps = wire::TcpTimestamps{1, 0};
    o.sack_permitted = true;
    p.inject(Seg{.seq = 1000, .flags = flag::kSyn, .options = o});
    Out synack = p.expect_one();
    CHECK_FALSE(synack.h.options.timestamps.has_value());
    CHECK_FALSE(synack.h.options.sack_permitted);
}

TEST_CASE("connection table: max_connections bounds TCBs; connect reports kNoResources") {
    auto cfg = ScriptedPeer::default_config();
    cfg.max_connections = 3;
    ScriptedPeer p(cfg);
    tcp::ConnId c;
    for (int i = 0; i < 3; ++i) CHECK(p.stack.connect(p.now, {ScriptedPeer::kPeer, 80}, 0, &c) == Error::kNone);
    CHECK(p.stack.connect(p.now, {ScriptedPeer::kPeer, 80}, 0, &c) == Error::kNoResources);
    REQUIRE(p.stack.listen(80, 0, &p.listener) == Error::kNone);
    p.take();
    p.stack.poll(p.now);
    p.take();
    p.inject(Seg{.seq = 1, .flags = flag::kSyn});
    p.expect_none();
    CHECK(p.counter("tcp.rx_table_full") == 1);
}

TEST_CASE("a released handle is dead to the application: no-op calls, no events, even while FIN-WAIT continues") {
    ScriptedPeer p;
    tcp::ConnId c = p.establish_passive();
    p.events();
    p.peer_data({}, flag::kPsh);  // nothing; keep state
    p.stack.close(p.now, c);
    p.stack.poll(p.now);
    CHECK(p.expect_one().has(flag::kFin));
    CHECK(p.stack.connection_count() == 1);  // FIN-WAIT-1, owned by the stack
    CHECK(p.stack.info(c).error == Error::kNotConnected);
    std::vector<std::uint8_t> buf(4);
    CHECK(p.stack.send(p.now, c, buf) == 0);
    CHECK(p.stack.recv(p.now, c, buf) == 0);
    p.stack.close(p.now, c);  // double close: harmless
    p.inject(Seg{.seq = p.peer_nxt, .ack = p.our_nxt + 1, .flags = flag::kAck | flag::kFin});
    for (const auto& e : p.events()) CHECK_FALSE(e.conn == c);
    CHECK(p.stack.info(c).error == Error::kNotConnected);
}
