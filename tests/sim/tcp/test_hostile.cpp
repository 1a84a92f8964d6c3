// Hostile input to every state: random segments near and far from the
// windows, every flag combination, random options and lengths. Whatever
// arrives, the stack must not crash or hang (ASan/UBSan build), must keep
// its TCB count bounded, and must never deliver bytes the peer did not send
// at their position (checked with a stream whose bytes encode their offset).
#include <doctest/doctest.h>

#include <random>
#include <string>

#include "tests/sim/tcp/states.hpp"

using namespace tapstack;
using namespace tapstack::sim;
using tcp::State;

namespace {

std::uint8_t stream_byte(std::uint32_t offset) { return static_cast<std::uint8_t>(offset * 131 + (offset >> 9)); }

}  // namespace

TEST_CASE("random hostile segments in every synchronized state: no crash, bounded state, no corrupted delivery") {
    for (State s : kSynchronizedStates) {
        for (std::uint64_t seed = 1; seed <= 4; ++seed) {
            INFO("state " << std::string(tcp::to_string(s)) << " seed=" << seed);
            ScriptedPeer p;
            tcp::ConnId c = reach_state(p, s);
            const std::uint32_t base = p.peer_nxt;  // stream offset 0
            std::mt19937_64 rng(seed);
            std::vector<std::uint8_t> got;
            for (int i = 0; i < 3000; ++i) {
                Seg g;
                const auto pick = rng() % 8;
                g.seq = pick < 5 ? base + static_cast<std::uint32_t>(rng() % 70000) - 1000u
                                 : static_cast<std::uint32_t>(rng());
                g.ack = (rng() % 4 == 0) ? static_cast<std::uint32_t>(rng())
                                         : p.our_nxt - static_cast<std::uint32_t>(rng() % 3);
                g.flags = static_cast<std::uint8_t>(rng());
                if (rng() % 4 != 0) g.flags = static_cast<std::uint8_t>(g.flags & ~(flag::kRst | flag::kSyn));
                g.window = static_cast<std::uint16_t>(rng());
                if (rng() % 3 == 0) g.options.mss = static_cast<std::uint16_t>(rng());
                if (rng() % 5 == 0) g.options.window_scale = static_cast<std::uint8_t>(rng() % 20);
                const std::size_t len = rng() % 3 == 0 ? 0 : rng() % 1500;
                g.payload.resize(len);
                // Payload bytes consistent with their stream offset, so that
                // whatever is delivered can be checked.
                for (std::size_t k = 0; k < len; ++k)
                    g.payload[k] = stream_byte(g.seq - base + static_cast<std::uint32_t>(k));
                p.inject(g);
                if (rng() % 10 == 0) p.advance(milliseconds(static_cast<std::int64_t>(rng() % 3000)));
                p.take();
                if (p.stack.info(c).error != tcp::Error::kNotConnected) {
                    auto more = p.read_all(c);
                    got.insert(got.end(), more.begin(), more.end());
                }
                if (p.stack.connection_count() > 2) FAIL("TCB count grew: " << p.stack.connection_count());
            }
            // Every delivered byte is the one the stream has at its position.
            const std::uint32_t first = 0;
            for (std::size_t k = 0; k < got.size(); ++k) {
                if (got[k] != stream_byte(first + static_cast<std::uint32_t>(k))) {
                    FAIL("byte " << k << " corrupted");
                    break;
                }
            }
        }
    }
}

TEST_CASE("random hostile segments to a listener and a closed port: bounded by the backlog, never a crash") {
    ScriptedPeer p;
    REQUIRE(p.stack.listen(80, 16, &p.listener) == tcp::Error::kNone);
    std::mt19937_64 rng(99);
    for (int i = 0; i < 20000; ++i) {
        Seg g;
        g.seq = static_cast<std::uint32_t>(rng());
        g.ack = static_cast<std::uint32_t>(rng());
        g.flags = static_cast<std::uint8_t>(rng());
        g.sport = static_cast<std::uint16_t>(1 + rng() % 2000);
        g.dport = rng() % 2 ? 80 : static_cast<std::uint16_t>(rng());
        g.window = static_cast<std::uint16_t>(rng());
        g.payload.resize(rng() % 64);
        p.inject(g);
        if (rng() % 100 == 0) p.advance(milliseconds(static_cast<std::int64_t>(rng() % 5000)));
        p.take();
        if (p.stack.connection_count() > 16) FAIL("TCB count beyond the backlog: " << p.stack.connection_count());
        if (tcp::ConnId c = p.stack.accept(p.listener); c.valid()) p.stack.abort(p.now, c);
    }
    p.advance(seconds(600));
    CHECK(p.stack.connection_count() == 0);
}
