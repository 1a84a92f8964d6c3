// Closing: every closing sequence of RFC 9293 3.6, TIME-WAIT (3.10.8,
// RFC 1337), CLOSE with unread data (3.10.4), ABORT (3.10.5), half-close.
#include <doctest/doctest.h>

#include "tests/sim/tcp/states.hpp"

using namespace tapstack;
using namespace tapstack::sim;
using tcp::Error;
using tcp::State;

TEST_CASE("3.6 active close: FIN-WAIT-1, FIN-WAIT-2, TIME-WAIT re-ACKs a retransmitted FIN and lasts 2*MSL") {
    ScriptedPeer p;  // msl = 5 s
    tcp::ConnId c = p.establish_passive();
    p.stack.send(p.now, c, bytes_of(100));
    p.stack.close(p.now, c);  // orderly: nothing unread
    p.stack.poll(p.now);
    Out d = p.expect_one();
    CHECK(d.has(flag::kFin));  // data and FIN together
    CHECK(d.payload.size() == 100);
    p.our_nxt += 101;
    p.inject(Seg{.seq = p.peer_nxt, .ack = p.our_nxt, .flags = flag::kAck});
    p.expect_none();
    CHECK(p.stack.connection_count() == 1);  // FIN-WAIT-2, owned by the stack
    p.inject(Seg{.seq = p.peer_nxt, .ack = p.our_nxt, .flags = flag::kAck | flag::kFin});
    Out a = p.expect_one();
    CHECK(a.only(flag::kAck));
    CHECK(a.h.ack == p.peer_nxt + 1);
    p.advance(seconds(6));
    // The peer did not get our ACK and repeats its FIN: re-ACK, timer restarts.
    p.inject(Seg{.seq = p.peer_nxt, .ack = p.our_nxt, .flags = flag::kAck | flag::kFin});
    Out again = p.expect_one();
    CHECK(again.h.ack == p.peer_nxt + 1);
    p.advance(seconds(9));
    CHECK(p.stack.connection_count() == 1);  // 2*MSL from the last FIN: not yet
    p.advance(seconds(2));
    CHECK(p.stack.connection_count() == 0);
    CHECK(p.counter("tcp.time_wait_expired") == 1);
    CHECK(p.stack.info(c).error == Error::kNotConnected);  // stale handle
}

TEST_CASE("3.6 passive close: CLOSE-WAIT, LAST-ACK, CLOSED") {
    ScriptedPeer p;
    tcp::ConnId c = reach_state(p, State::kCloseWait);
    CHECK(p.stack.info(c).eof);
    p.stack.send(p.now, c, bytes_of(10));
    p.stack.shutdown_write(p.now, c);
    CHECK(p.stack.info(c).state == State::kLastAck);
    p.stack.poll(p.now);
    Out f = p.expect_one();
    CHECK(f.has(flag::kFin));
    CHECK(f.payload.size() == 10);
    p.inject(Seg{.seq = p.peer_nxt, .ack = p.our_nxt + 11, .flags = flag::kAck});
    auto info = p.stack.info(c);
    CHECK(info.state == State::kClosed);
    CHECK(info.error == Error::kNone);
    p.stack.close(p.now, c);
    CHECK(p.stack.connection_count() == 0);
}

TEST_CASE("3.6 figure 13: simultaneous close goes through CLOSING to TIME-WAIT") {
    ScriptedPeer p;
    tcp::ConnId c = reach_state(p, State::kClosing);
    p.inject(Seg{.seq = p.peer_nxt, .ack = p.our_nxt, .flags = flag::kAck});
    CHECK(p.stack.info(c).state == State::kTimeWait);
}

TEST_CASE("FIN-WAIT-1: a FIN that also acknowledges ours goes straight to TIME-WAIT") {
    ScriptedPeer p;
    tcp::ConnId c = reach_state(p, State::kFinWait1);
    p.inject(Seg{.seq = p.peer_nxt, .ack = p.our_nxt, .flags = flag::kAck | flag::kFin});
    CHECK(p.expect_one().h.ack == p.peer_nxt + 1);
    CHECK(p.stack.info(c).state == State::kTimeWait);
}

TEST_CASE("half-close: after shutdown_write the peer's data is still delivered, then its FIN") {
    ScriptedPeer p;
    tcp::ConnId c = reach_state(p, State::kFinWait2);
    p.peer_data(bytes_of(2000));
    p.peer_data({}, flag::kFin);
    CHECK(p.stack.info(c).state == State::kTimeWait);
    CHECK(p.read_all(c) == bytes_of(2000));
    CHECK(p.stack.info(c).eof);
}

TEST_CASE("3.10.4: close() with unread received data sends RST, not FIN") {
    ScriptedPeer p;
    tcp::ConnId c = p.establish_passive();
    p.peer_data(bytes_of(10));
    p.advance(milliseconds(300));
    p.take();
    p.stack.close(p.now, c);
    p.stack.poll(p.now);
    Out r = p.expect_one();
    CHECK(r.has(flag::kRst));
    CHECK_FALSE(r.has(flag::kFin));
    CHECK(r.h.seq == p.our_nxt);
    CHECK(p.stack.connection_count() == 0);
}

TEST_CASE("data arriving after close() (orphaned FIN-WAIT-2) is answered with RST") {
    ScriptedPeer p;
    tcp::ConnId c = p.establish_passive();
    p.stack.close(p.now, c);
    p.stack.poll(p.now);
    CHECK(p.expect_one().has(flag::kFin));
    p.our_nxt += 1;
    p.inject(Seg{.seq = p.peer_nxt, .ack = p.our_nxt, .flags = flag::kAck});
    p.peer_data(bytes_of(10));
    Out r = p.expect_one();
    CHECK(r.has(flag::kRst));
    CHECK(p.stack.connection_count() == 0);
}

TEST_CASE("orphaned FIN-WAIT-2 does not last forever") {
    ScriptedPeer p;
    tcp::ConnId c = p.establish_passive();
    p.stack.close(p.now, c);
    p.stack.poll(p.now);
    p.take();
    p.inject(Seg{.seq = p.peer_nxt, .ack = p.our_nxt + 1, .flags = flag::kAck});
    CHECK(p.stack.connection_count() == 1);
    p.advance(seconds(11));
    CHECK(p.stack.connection_count() == 0);
}

TEST_CASE("3.10.5: abort() sends RST and frees at once; handle becomes stale") {
    ScriptedPeer p;
    tcp::ConnId c = p.establish_passive();
    p.stack.abort(p.now, c);
    CHECK(p.stack.connection_count() == 0);
    p.stack.poll(p.now);
    Out r = p.expect_one();
    CHECK(r.has(flag::kRst));
    CHECK(p.stack.info(c).error == Error::kNotConnected);
    std::vector<std::uint8_t> buf(10);
    CHECK(p.stack.recv(p.now, c, buf) == 0);
    CHECK(p.stack.send(p.now, c, buf) == 0);
}

TEST_CASE("a lost FIN is retransmitted by the RTO") {
    ScriptedPeer p;
    tcp::ConnId c = reach_state(p, State::kFinWait1);
    REQUIRE(p.advance_to_next());
    auto out = p.take();
    REQUIRE(out.size() == 1);
    CHECK(out[0].has(flag::kFin));
    CHECK(out[0].h.seq == p.our_nxt - 1);
    p.inject(Seg{.seq = p.peer_nxt, .ack = p.our_nxt, .flags = flag::kAck});
    CHECK(p.stack.info(c).state == State::kFinWait2);
}

TEST_CASE("send() after shutdown_write is refused; send_free is 0") {
    ScriptedPeer p;
    tcp::ConnId c = reach_state(p, State::kFinWait1);
    std::vector<std::uint8_t> buf(10);
    CHECK(p.stack.send(p.now, c, buf) == 0);
    CHECK(p.stack.info(c).send_free == 0);
    CHECK(p.stack.info(c).write_closed);
}

TEST_CASE("close_listener resets connections never accepted") {
    ScriptedPeer p;
    REQUIRE(p.stack.listen(80, 0, &p.listener) == Error::kNone);
    p.inject(Seg{.seq = 1000, .flags = flag::kSyn});
    Out synack = p.expect_one();
    p.inject(Seg{.seq = 1001, .ack = synack.h.seq + 1, .flags = flag::kAck});
    p.stack.close_listener(p.listener);
    p.stack.poll(p.now);
    Out r = p.expect_one();
    CHECK(r.has(flag::kRst));
    CHECK(p.stack.connection_count() == 0);
    p.inject(Seg{.seq = 5, .flags = flag::kSyn});
    CHECK(p.expect_one().has(flag::kRst));  // port closed now
}
