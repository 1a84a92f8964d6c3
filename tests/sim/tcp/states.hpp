// Brings a scripted-peer connection into any synchronized state through the
// real sequence of segments (RFC 9293 3.6 closing sequences).
#pragma once

#include "tests/sim/tcp/peer_fixture.hpp"

namespace tapstack::sim {

inline tcp::ConnId reach_state(ScriptedPeer& p, tcp::State target) {
    using tcp::State;
    tcp::ConnId c = p.establish_passive();
    auto our_fin = [&] {
        p.stack.shutdown_write(p.now, c);
        p.stack.poll(p.now);
        Out f = p.expect_one();
        REQUIRE(f.has(flag::kFin));
        p.our_nxt += 1;
    };
    auto peer_fin = [&](std::uint32_t ack) {
        p.inject(Seg{.seq = p.peer_nxt, .ack = ack, .flags = flag::kAck | flag::kFin});
        p.peer_nxt += 1;
        p.take();
    };
    switch (target) {
        case State::kEstablished: break;
        case State::kFinWait1: our_fin(); break;
        case State::kFinWait2:
            our_fin();
            p.inject(Seg{.seq = p.peer_nxt, .ack = p.our_nxt, .flags = flag::kAck});
            break;
        case State::kCloseWait: peer_fin(p.our_nxt); break;
        case State::kLastAck:
            peer_fin(p.our_nxt);
            our_fin();
            break;
        case State::kClosing:
            our_fin();
            peer_fin(p.our_nxt - 1);  // crosses our FIN: does not acknowledge it
            break;
        case State::kTimeWait:
            our_fin();
            p.inject(Seg{.seq = p.peer_nxt, .ack = p.our_nxt, .flags = flag::kAck});
            peer_fin(p.our_nxt);
            break;
        default: FAIL("not a synchronized state");
    }
    p.take();
    p.events();
    REQUIRE(p.stack.info(c).state == target);
    return c;
}

inline constexpr tcp::State kSynchronizedStates[] = {
    tcp::State::kEstablished, tcp::State::kFinWait1, tcp::State::kFinWait2, tcp::State::kCloseWait,
    tcp::State::kClosing,     tcp::State::kLastAck,  tcp::State::kTimeWait,
};

}  // namespace tapstack::sim
