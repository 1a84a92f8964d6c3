// RST and SYN arriving in every synchronized state (RFC 9293 3.10.7.4 steps
// 2 and 4, RFC 5961 3.2 and 4.2, RFC 1337).
#include <doctest/doctest.h>

#include <string>

#include "tests/sim/tcp/states.hpp"

using namespace tapstack;
using namespace tapstack::sim;
using tcp::Error;
using tcp::State;

TEST_CASE("RFC 5961 3.2: RST exactly at RCV.NXT resets (TIME-WAIT ignores it per RFC 1337)") {
    for (State s : kSynchronizedStates) {
        INFO("state " << std::string(tcp::to_string(s)));
        ScriptedPeer p;
        tcp::ConnId c = reach_state(p, s);
        p.inject(Seg{.seq = p.peer_nxt, .flags = flag::kRst});
        p.expect_none();
        auto info = p.stack.info(c);
        if (s == State::kTimeWait) {
            CHECK(info.state == State::kTimeWait);
            CHECK(p.counter("tcp.rx_rst_time_wait_ignored") == 1);
        } else {
            CHECK(info.state == State::kClosed);
            CHECK(info.error == Error::kReset);
            CHECK_FALSE(p.events().empty());
        }
    }
}

TEST_CASE("RFC 5961 3.2: RST in the window but not at RCV.NXT gets a challenge ACK; the connection survives") {
    for (State s : kSynchronizedStates) {
        INFO("state " << std::string(tcp::to_string(s)));
        ScriptedPeer p;
        tcp::ConnId c = reach_state(p, s);
        p.inject(Seg{.seq = p.peer_nxt + 100, .flags = flag::kRst});
        Out a = p.expect_one();
        CHECK(a.only(flag::kAck));
        CHECK(a.h.seq == p.our_nxt);
        CHECK(a.h.ack == p.peer_nxt);
        CHECK(p.stack.info(c).state == s);
        CHECK(p.counter("tcp.challenge_acks") == 1);
    }
}

TEST_CASE("RFC 5961 3.2: RST outside the window is dropped silently") {
    for (State s : kSynchronizedStates) {
        INFO("state " << std::string(tcp::to_string(s)));
        ScriptedPeer p;
        tcp::ConnId c = reach_state(p, s);
        p.inject(Seg{.seq = p.peer_nxt + 200000, .flags = flag::kRst});
        p.inject(Seg{.seq = p.peer_nxt - 10, .flags = flag::kRst});
        p.expect_none();
        CHECK(p.stack.info(c).state == s);
    }
}

TEST_CASE("RFC 5961 4.2: SYN in a synchronized state gets a challenge ACK and changes nothing") {
    for (State s : kSynchronizedStates) {
        INFO("state " << std::string(tcp::to_string(s)));
        ScriptedPeer p;
        tcp::ConnId c = reach_state(p, s);
        if (s != State::kTimeWait) {  // TIME-WAIT: see the RFC 6191 case below
            // In the window...
            p.inject(Seg{.seq = p.peer_nxt + 10, .flags = flag::kSyn});
            Out a = p.expect_one();
            CHECK(a.only(flag::kAck));
            CHECK(a.h.ack == p.peer_nxt);
        }
        // ...and at an old sequence number (step 1 answers with the same ACK).
        p.inject(Seg{.seq = 1000, .flags = flag::kSyn});
        Out b = p.expect_one();
        CHECK(b.only(flag::kAck));
        CHECK(b.h.ack == p.peer_nxt);
        CHECK(p.stack.info(c).state == s);
    }
}

TEST_CASE("RFC 5961 7: challenge ACKs are rate-limited per connection") {
    ScriptedPeer p;
    tcp::ConnId c = reach_state(p, State::kEstablished);
    std::size_t acks = 0;
    for (int i = 0; i < 50; ++i) {
        p.inject(Seg{.seq = p.peer_nxt + 100, .flags = flag::kRst});
        acks += p.take().size();
    }
    CHECK(acks == 10);
    CHECK(p.counter("tcp.challenge_acks_suppressed") == 40);
    p.advance(seconds(2));
    p.take();
    p.inject(Seg{.seq = p.peer_nxt + 100, .flags = flag::kRst});
    CHECK(p.take().size() == 1);
    CHECK(p.stack.info(c).state == State::kEstablished);
}

TEST_CASE("RST after data: unread data stays readable, then the error shows") {
    ScriptedPeer p;
    tcp::ConnId c = reach_state(p, State::kEstablished);
    p.peer_data(bytes_of(300));
    p.inject(Seg{.seq = p.peer_nxt, .flags = flag::kRst});
    auto info = p.stack.info(c);
    CHECK(info.state == State::kClosed);
    CHECK(info.error == Error::kReset);
    CHECK(info.recv_available == 300);
    CHECK_FALSE(info.eof);
    CHECK(p.read_all(c) == bytes_of(300));
    p.stack.close(p.now, c);
    CHECK(p.stack.connection_count() == 0);
}

TEST_CASE("RFC 6191 / RFC 1122 4.2.2.13: a new SYN beyond RCV.NXT replaces a TIME-WAIT connection") {
    ScriptedPeer p;
    tcp::ConnId old = reach_state(p, State::kTimeWait);
    const std::size_t before = p.stack.connection_count();
    CHECK(before == 1);
    p.inject(Seg{.seq = p.peer_nxt + 100000, .flags = flag::kSyn});
    Out synack = p.expect_one();
    CHECK(synack.only(flag::kSyn | flag::kAck));
    CHECK(synack.h.ack == p.peer_nxt + 100001);
    CHECK(p.counter("tcp.time_wait_reused") == 1);
    // The old handle (still held by the application) ended orderly.
    CHECK(p.stack.info(old).state == State::kClosed);
    CHECK(p.stack.info(old).error == Error::kNone);
    p.stack.close(p.now, old);
    CHECK(p.stack.connection_count() == 1);
}

namespace {

// Handshake from the peer's port `sport` (ISS 1000) to the listener on 80,
// without accept(); returns our ISS.
std::uint32_t handshake_unaccepted(ScriptedPeer& p, std::uint16_t sport) {
    p.inject(Seg{.seq = 1000, .flags = flag::kSyn, .options = ScriptedPeer::mss_option(1460), .sport = sport});
    Out synack = p.expect_one();
    REQUIRE(synack.only(flag::kSyn | flag::kAck));
    p.inject(Seg{.seq = 1001, .ack = synack.h.seq + 1, .flags = flag::kAck, .sport = sport});
    p.expect_none();
    return synack.h.seq;
}

}  // namespace

TEST_CASE("a connection reset in the accept queue is still accepted: every acknowledged byte, then the reset") {
    ScriptedPeer p;
    REQUIRE(p.stack.listen(80, 0, &p.listener) == Error::kNone);
    const std::uint32_t iss = handshake_unaccepted(p, 40000);
    const std::vector<std::uint8_t> data = bytes_of(3000, 9);
    p.inject(Seg{.seq = 1001, .ack = iss + 1, .flags = flag::kAck,
                 .payload = std::vector<std::uint8_t>(data.begin(), data.begin() + 1460)});
    p.inject(Seg{.seq = 1001 + 1460, .ack = iss + 1, .flags = flag::kAck | flag::kFin,
                 .payload = std::vector<std::uint8_t>(data.begin() + 1460, data.end())});
    // Everything, FIN included, is acknowledged before the reset.
    bool acked = false;
    for (const Out& o : p.take()) acked = acked || (o.has(flag::kAck) && o.h.ack == 1001 + 3000 + 1);
    CHECK(acked);
    p.inject(Seg{.seq = 1001 + 3000 + 1, .flags = flag::kRst});
    p.expect_none();

    tcp::ConnId c = p.stack.accept(p.listener);
    REQUIRE(c.valid());
    tcp::ConnInfo info = p.stack.info(c);
    CHECK(info.state == State::kClosed);
    CHECK(info.error == Error::kReset);
    CHECK(info.recv_available == data.size());
    CHECK(p.read_all(c) == data);
    CHECK(p.stack.info(c).eof);
    p.stack.abort(p.now, c);
    p.expect_none();  // nothing to reset: the connection is over
    CHECK(p.stack.connection_count() == 0);
}

TEST_CASE("a queued connection that failed keeps its place in order; the same tuple may connect again") {
    ScriptedPeer p;
    REQUIRE(p.stack.listen(80, 0, &p.listener) == Error::kNone);
    const std::uint32_t iss = handshake_unaccepted(p, 40000);
    p.inject(Seg{.seq = 1001, .ack = iss + 1, .flags = flag::kAck, .payload = bytes_of(10, 1)});
    p.take();
    p.inject(Seg{.seq = 1011, .flags = flag::kRst});
    // A new incarnation of the same 4-tuple is a new connection behind it.
    p.inject(Seg{.seq = 90000, .flags = flag::kSyn, .sport = 40000});
    Out synack = p.expect_one();
    REQUIRE(synack.only(flag::kSyn | flag::kAck));
    p.inject(Seg{.seq = 90001, .ack = synack.h.seq + 1, .flags = flag::kAck, .sport = 40000});
    tcp::ConnId first = p.stack.accept(p.listener);
    tcp::ConnId second = p.stack.accept(p.listener);
    REQUIRE(first.valid());
    REQUIRE(second.valid());
    CHECK(p.stack.info(first).error == Error::kReset);
    CHECK(p.read_all(first) == bytes_of(10, 1));
    CHECK(p.stack.info(second).state == State::kEstablished);
}

TEST_CASE("RFC 9293 3.10.7.4: an embryonic connection reset before the handshake completes is forgotten") {
    ScriptedPeer p;
    REQUIRE(p.stack.listen(80, 0, &p.listener) == Error::kNone);
    p.inject(Seg{.seq = 1000, .flags = flag::kSyn});
    REQUIRE(p.expect_one().only(flag::kSyn | flag::kAck));
    p.inject(Seg{.seq = 1001, .flags = flag::kRst});
    CHECK_FALSE(p.stack.accept(p.listener).valid());
    CHECK(p.stack.connection_count() == 0);
}

TEST_CASE("close_listener frees a queued connection that already failed without sending it an RST") {
    ScriptedPeer p;
    REQUIRE(p.stack.listen(80, 0, &p.listener) == Error::kNone);
    const std::uint32_t iss = handshake_unaccepted(p, 40000);
    p.inject(Seg{.seq = 1001, .ack = iss + 1, .flags = flag::kAck, .payload = bytes_of(10, 1)});
    p.take();
    p.inject(Seg{.seq = 1011, .flags = flag::kRst});
    handshake_unaccepted(p, 40001);
    p.stack.close_listener(p.listener);
    p.stack.poll(p.now);
    auto out = p.take();
    REQUIRE(out.size() == 1);  // only the live one is reset
    CHECK(out[0].has(flag::kRst));
    CHECK(out[0].h.dst_port == 40001);
    CHECK(p.stack.connection_count() == 0);
}
