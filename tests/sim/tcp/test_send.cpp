// The sending side: peer window, persist timer, RFC 6298 retransmission,
// fast retransmit and NewReno (RFC 5681, RFC 6582), events for send space.
#include <doctest/doctest.h>

#include "tests/sim/tcp/states.hpp"

using namespace tapstack;
using namespace tapstack::sim;
using tcp::Error;
using tcp::State;

namespace {
std::size_t payload_bytes(const std::vector<Out>& out) {
    std::size_t n = 0;
    for (const auto& o : out) n += o.payload.size();
    return n;
}
}  // namespace

TEST_CASE("3.8.6.1 peer zero window: sending stops, probes back off exponentially, connection stays while answered") {
    auto cfg = ScriptedPeer::default_config();
    cfg.max_retransmits = 4;
    ScriptedPeer p(cfg);
    tcp::ConnId c = p.establish_passive(ScriptedPeer::mss_option(1000), 3000);
    p.stack.send(p.now, c, bytes_of(10000));
    p.stack.poll(p.now);
    CHECK(payload_bytes(p.take()) == 3000);  // exactly the window, nothing past its right edge
    // ACK everything with window 0.
    p.our_nxt += 3000;
    p.inject(Seg{.seq = p.peer_nxt, .ack = p.our_nxt, .flags = flag::kAck, .window = 0});
    p.expect_none();
    std::vector<Instant> probe_times;
    for (int i = 0; i < 8; ++i) {  // more probes than max_retransmits: answered ones never abort
        REQUIRE(p.advance_to_next());
        auto out = p.take();
        if (out.empty()) {
            --i;
            continue;
        }
        REQUIRE(out.size() == 1);
        CHECK(out[0].payload.size() <= 1);
        CHECK(out[0].h.seq + out[0].payload.size() <= p.our_nxt + 1);
        probe_times.push_back(p.now);
        p.inject(Seg{.seq = p.peer_nxt, .ack = p.our_nxt, .flags = flag::kAck, .window = 0});
        p.expect_none();
    }
    for (std::size_t i = 2; i < probe_times.size(); ++i) {
        const Duration prev = probe_times[i - 1] - probe_times[i - 2];
        const Duration cur = probe_times[i] - probe_times[i - 1];
        CHECK((cur == 2 * prev || cur == cfg.max_rto));
    }
    CHECK(p.stack.info(c).state == State::kEstablished);
    CHECK(p.counter("tcp.persist_probes") == 8);
    // The window opens: data resumes.
    p.inject(Seg{.seq = p.peer_nxt, .ack = p.our_nxt, .flags = flag::kAck, .window = 5000});
    CHECK(payload_bytes(p.take()) == 5000);
}

TEST_CASE("3.8.6.1 unanswered zero-window probes end with kTimedOut") {
    auto cfg = ScriptedPeer::default_config();
    cfg.max_retransmits = 3;
    ScriptedPeer p(cfg);
    tcp::ConnId c = p.establish_passive(ScriptedPeer::mss_option(1000), 1000);
    p.stack.send(p.now, c, bytes_of(5000));
    p.stack.poll(p.now);
    p.take();
    p.inject(Seg{.seq = p.peer_nxt, .ack = p.our_nxt + 1000, .flags = flag::kAck, .window = 0});
    p.advance(seconds(300));
    CHECK(p.stack.info(c).state == State::kClosed);
    CHECK(p.stack.info(c).error == Error::kTimedOut);
}

TEST_CASE("RFC 6298: retransmission with exponential backoff from the measured RTO, then abort with kTimedOut") {
    auto cfg = ScriptedPeer::default_config();
    cfg.max_retransmits = 4;
    ScriptedPeer p(cfg);
    // The handshake takes 100 ms: the first RTT sample gives SRTT = 100 ms,
    // RTTVAR = 50 ms, RTO = 100 + 4 * 50 = 300 ms (RFC 6298 2.2).
    REQUIRE(p.stack.listen(80, 0, &p.listener) == Error::kNone);
    p.inject(Seg{.seq = 1000, .flags = flag::kSyn});
    Out synack = p.expect_one();
    p.now += milliseconds(100);
    p.peer_nxt = 1001;
    p.our_nxt = synack.h.seq + 1;
    p.inject(Seg{.seq = p.peer_nxt, .ack = p.our_nxt, .flags = flag::kAck});
    tcp::ConnId c = p.stack.accept(p.listener);
    REQUIRE(c.valid());
    p.events();
    // Now a segment that is never acknowledged.
    p.stack.send(p.now, c, bytes_of(200));
    p.stack.poll(p.now);
    const Instant sent = p.now;
    p.take();
    std::vector<Duration> at;
    while (p.advance_to_next(seconds(100))) {
        auto out = p.take();
        for (auto& o : out) {
            CHECK(o.h.seq == p.our_nxt);  // always from SND.UNA
            CHECK(o.payload.size() == 200);
            at.push_back(p.now - sent);
        }
        if (p.stack.info(c).state == State::kClosed) break;
    }
    REQUIRE(at.size() == 4);
    CHECK(at[0] == milliseconds(300));
    CHECK(at[1] == milliseconds(300 + 600));
    CHECK(at[2] == milliseconds(300 + 600 + 1200));
    CHECK(at[3] == milliseconds(300 + 600 + 1200 + 2400));
    auto info = p.stack.info(c);
    CHECK(info.state == State::kClosed);
    CHECK(info.error == Error::kTimedOut);
    CHECK_FALSE(p.events().empty());
    CHECK(p.counter("tcp.conn_timed_out") == 1);
}

TEST_CASE("RFC 5681 3.2 / RFC 6582: three duplicate ACKs trigger fast retransmit; a partial ACK retransmits the next hole") {
    ScriptedPeer p;
    tcp::ConnId c = p.establish_passive();
    p.stack.send(p.now, c, bytes_of(1460 * 6));
    p.stack.poll(p.now);
    auto out = p.take();
    REQUIRE(out.size() == 6);
    const std::uint32_t una = p.our_nxt;
    // Segments 1 and 3 lost; the peer ACKs segment 0 and then dup-ACKs.
    p.inject(Seg{.seq = p.peer_nxt, .ack = una + 1460, .flags = flag::kAck});
    p.take();
    for (int i = 0; i < 2; ++i) {
        p.inject(Seg{.seq = p.peer_nxt, .ack = una + 1460, .flags = flag::kAck});
        p.expect_none();
    }
    p.inject(Seg{.seq = p.peer_nxt, .ack = una + 1460, .flags = flag::kAck});
    Out rtx = p.expect_one();
    CHECK(rtx.h.seq == una + 1460);
    CHECK(rtx.payload.size() == 1460);
    CHECK(p.counter("tcp.fast_retransmits") == 1);
    // Partial ACK (up to the second hole): the next hole goes out at once.
    p.inject(Seg{.seq = p.peer_nxt, .ack = una + 3 * 1460, .flags = flag::kAck});
    auto after = p.take();
    REQUIRE_FALSE(after.empty());
    CHECK(after[0].h.seq == una + 3 * 1460);
    // Full ACK ends recovery; the connection is healthy.
    p.inject(Seg{.seq = p.peer_nxt, .ack = una + 6 * 1460, .flags = flag::kAck});
    CHECK(p.stack.info(c).send_queued == 0);
    CHECK(p.stack.info(c).state == State::kEstablished);
}

TEST_CASE("Nagle (RFC 896): small writes while data is in flight wait for the ACK and leave as one segment") {
    ScriptedPeer p;
    tcp::ConnId c = p.establish_passive();
    p.stack.send(p.now, c, bytes_of(10));
    p.stack.poll(p.now);
    CHECK(p.expect_one().payload.size() == 10);
    for (int i = 0; i < 5; ++i) p.stack.send(p.now, c, bytes_of(10));
    p.stack.poll(p.now);
    p.expect_none();
    p.inject(Seg{.seq = p.peer_nxt, .ack = p.our_nxt + 10, .flags = flag::kAck});
    Out o = p.expect_one();
    CHECK(o.payload.size() == 50);
}

TEST_CASE("events: send space freed by an ACK raises an event") {
    auto cfg = ScriptedPeer::default_config();
    cfg.send_buffer = 4000;
    ScriptedPeer p(cfg);
    tcp::ConnId c = p.establish_passive();
    CHECK(p.stack.send(p.now, c, bytes_of(5000)) == 4000);
    CHECK(p.stack.info(c).send_free == 0);
    p.stack.poll(p.now);
    p.take();
    p.events();
    p.inject(Seg{.seq = p.peer_nxt, .ack = p.our_nxt + 1460, .flags = flag::kAck});
    auto ev = p.events();
    REQUIRE(ev.size() == 1);
    CHECK(ev[0].conn == c);
    CHECK(p.stack.info(c).send_free == 1460);
}

TEST_CASE("3.10.7.4 step 5: an ACK for data never sent is answered with an ACK and dropped") {
    ScriptedPeer p;
    tcp::ConnId c = p.establish_passive();
    p.inject(Seg{.seq = p.peer_nxt, .ack = p.our_nxt + 5000, .flags = flag::kAck, .payload = bytes_of(10)});
    Out a = p.expect_one();
    CHECK(a.only(flag::kAck));
    CHECK(a.h.seq == p.our_nxt);
    CHECK(p.stack.info(c).recv_available == 0);
}

TEST_CASE("window update rule: an old segment (SND.WL1) cannot shrink the window") {
    ScriptedPeer p;
    tcp::ConnId c = p.establish_passive(ScriptedPeer::mss_option(1000), 10000);
    p.peer_data(bytes_of(10));  // peer_nxt moves on, window 10000 recorded with WL1 = new seq
    p.advance(milliseconds(300));
    p.take();
    // A reordered older segment with a small window.
    p.inject(Seg{.seq = p.peer_nxt - 10, .ack = p.our_nxt, .flags = flag::kAck, .window = 100});
    p.take();
    p.stack.send(p.now, c, bytes_of(5000));
    p.stack.poll(p.now);
    CHECK(payload_bytes(p.take()) == 5000);
}

TEST_CASE("3.8.6: the peer shrinks its window to 0 with our data in flight: probes, no abort, resend once it opens") {
    auto cfg = ScriptedPeer::default_config();
    cfg.max_retransmits = 3;
    ScriptedPeer p(cfg);
    tcp::ConnId c = p.establish_passive(ScriptedPeer::mss_option(1000), 3000);
    p.stack.send(p.now, c, bytes_of(3000));
    p.stack.poll(p.now);
    CHECK(payload_bytes(p.take()) == 3000);
    const std::uint32_t una = p.our_nxt + 1000;
    p.inject(Seg{.seq = p.peer_nxt, .ack = una, .flags = flag::kAck, .window = 0});
    for (int i = 0; i < 8; ++i) {  // more than max_retransmits, all answered
        REQUIRE(p.advance_to_next());
        auto out = p.take();
        if (out.empty()) {
            --i;
            continue;
        }
        for (const auto& o : out) CHECK(o.payload.empty());  // nothing past the right edge
        p.inject(Seg{.seq = p.peer_nxt, .ack = una, .flags = flag::kAck, .window = 0});
    }
    CHECK(p.stack.info(c).state == State::kEstablished);
    p.inject(Seg{.seq = p.peer_nxt, .ack = una, .flags = flag::kAck, .window = 4000});
    auto out = p.take();
    REQUIRE_FALSE(out.empty());
    CHECK(out[0].h.seq == una);  // from SND.UNA again
    CHECK(payload_bytes(out) == 2000);
}

TEST_CASE("after an RTO pulls SND.NXT back, pure ACKs still carry SND.MAX (acceptable to the peer)") {
    ScriptedPeer p;
    tcp::ConnId c = p.establish_passive();
    p.stack.send(p.now, c, bytes_of(2920));
    p.stack.poll(p.now);
    REQUIRE(p.take().size() == 2);
    REQUIRE(p.advance_to_next());  // RTO: the first segment again
    auto rtx = p.take();
    REQUIRE(rtx.size() == 1);
    CHECK(rtx[0].h.seq == p.our_nxt);
    // The peer sends data; our ACK for it must not be numbered below 2920.
    p.peer_data(bytes_of(10), flag::kPsh);
    p.advance(milliseconds(300));
    auto acks = p.take();
    REQUIRE_FALSE(acks.empty());
    CHECK(acks.back().payload.empty());
    CHECK(acks.back().h.seq == p.our_nxt + 2920);
}

TEST_CASE("RFC 6298 3 (Karn): an ACK of retransmitted data gives no RTT sample; the backed-off RTO stays") {
    ScriptedPeer p;
    REQUIRE(p.stack.listen(80, 0, &p.listener) == Error::kNone);
    p.inject(Seg{.seq = 1000, .flags = flag::kSyn});
    Out synack = p.expect_one();
    p.now += milliseconds(100);  // SRTT 100, RTTVAR 50: RTO 300 ms
    p.peer_nxt = 1001;
    p.our_nxt = synack.h.seq + 1;
    p.inject(Seg{.seq = p.peer_nxt, .ack = p.our_nxt, .flags = flag::kAck});
    tcp::ConnId c = p.stack.accept(p.listener);
    REQUIRE(c.valid());
    p.stack.send(p.now, c, bytes_of(100));
    p.stack.poll(p.now);
    const Instant first = p.now;
    p.take();
    REQUIRE(p.advance_to_next());
    CHECK(p.now - first == milliseconds(300));
    CHECK(p.take().size() == 1);  // retransmitted; RTO now 600 ms
    p.now += milliseconds(50);
    p.our_nxt += 100;
    p.inject(Seg{.seq = p.peer_nxt, .ack = p.our_nxt, .flags = flag::kAck});
    // New data: its timer runs with the backed-off 600 ms, not a fresh
    // estimate from the ambiguous ACK (50 ms or 350 ms).
    p.stack.send(p.now, c, bytes_of(100));
    p.stack.poll(p.now);
    const Instant second = p.now;
    p.take();
    // poll_at() may wake us early (it is a lower bound); wait for the output.
    while (p.take().empty()) REQUIRE(p.advance_to_next());
    CHECK(p.now - second == milliseconds(600));
}
