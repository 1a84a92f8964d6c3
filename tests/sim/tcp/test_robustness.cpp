// What a blind or hostile peer must not achieve, and how the stack answers
// invalid segments (RFC 7323 4.3/5.3, RFC 6191, RFC 5961, RFC 6528, Linux's
// tcp_invalid_ratelimit), segment by segment against a scripted peer.
#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "tests/sim/tcp/peer_fixture.hpp"
#include "tests/sim/tcp/states.hpp"

using namespace tapstack;
using namespace tapstack::sim;
using tcp::Error;
using tcp::State;

namespace {

wire::TcpOptions syn_ts(std::uint32_t tsval) {
    wire::TcpOptions o = ScriptedPeer::mss_option(1460);
    o.timestamps = wire::TcpTimestamps{tsval, 0};
    return o;
}

wire::TcpOptions ts_opt(std::uint32_t tsval, std::uint32_t tsecr = 0) {
    wire::TcpOptions o;
    o.timestamps = wire::TcpTimestamps{tsval, tsecr};
    return o;
}

}  // namespace

TEST_CASE("RFC 7323 4.3 / 5.3: a blind segment with a far-future TSval that fails a later check does not move TS.Recent") {
    // Each blind segment starts at RCV.NXT (it passes step 1 and SEG.SEQ <=
    // Last.ACK.sent) but fails the SYN or ACK check; TS.Recent must stay,
    // so the real peer's next segment (TSval 1001) is not dropped by PAWS.
    struct Blind {
        const char* what;
        std::uint8_t flags;
        bool bad_ack;
    };
    const Blind cases[] = {
        {"no ACK bit (step 5, first bullet)", 0, false},
        {"ACK of data never sent (step 5)", flag::kAck, true},
        {"SYN in a synchronized state (step 4, challenge ACK)", flag::kSyn | flag::kAck, false},
    };
    for (const Blind& b : cases) {
        const std::string what = b.what;
        CAPTURE(what);
        ScriptedPeer p;
        tcp::ConnId c = p.establish_passive(syn_ts(1000));
        p.take();
        const std::uint32_t far_future = 1000u + 0x7fff0000u;
        p.inject(Seg{.seq = p.peer_nxt, .ack = b.bad_ack ? p.our_nxt + 5000 : p.our_nxt, .flags = b.flags,
                     .payload = (b.flags & flag::kSyn) ? std::vector<std::uint8_t>{} : bytes_of(10),
                     .options = ts_opt(far_future)});
        p.take();
        // The real peer goes on with its own clock.
        p.inject(Seg{.seq = p.peer_nxt, .ack = p.our_nxt, .flags = flag::kAck | flag::kPsh, .payload = bytes_of(100),
                     .options = ts_opt(1001)});
        p.peer_nxt += 100;
        CHECK(p.counter("tcp.rx_paws_rejected") == 0);
        CHECK(p.read_all(c) == bytes_of(100));
        // And our TSecr still echoes the real peer's clock.
        p.advance(milliseconds(300));
        auto out = p.take();
        REQUIRE_FALSE(out.empty());
        REQUIRE(out.back().h.options.timestamps.has_value());
        CHECK(out.back().h.options.timestamps->tsecr == 1001);
    }
}
