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
