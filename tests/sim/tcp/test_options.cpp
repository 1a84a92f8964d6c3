// RFC 7323 timestamps (negotiation, TS.Recent, RTTM, PAWS) and RFC 2018 /
// RFC 6675 SACK (receiver blocks, sender recovery) plus RFC 3042 limited
// transmit, segment by segment against a scripted peer.
#include <doctest/doctest.h>

#include <vector>

#include "tests/sim/tcp/peer_fixture.hpp"

using namespace tapstack;
using namespace tapstack::sim;
using tcp::Error;
using tcp::State;

namespace {

wire::TcpOptions syn_opts(bool ts, bool sack, std::uint32_t tsval = 100) {
    wire::TcpOptions o = ScriptedPeer::mss_option(1460);
    if (ts) o.timestamps = wire::TcpTimestamps{tsval, 0};
    o.sack_permitted = sack;
    return o;
}

wire::TcpOptions ts_opt(std::uint32_t tsval, std::uint32_t tsecr) {
    wire::TcpOptions o;
    o.timestamps = wire::TcpTimestamps{tsval, tsecr};
    return o;
}

wire::TcpOptions sack_opt(std::initializer_list<std::pair<std::uint32_t, std::uint32_t>> blocks) {
    wire::TcpOptions o;
    for (auto [l, r] : blocks) o.sack_blocks[o.sack_count++] = wire::SackBlock{l, r};
    return o;
}

std::vector<std::pair<std::uint32_t, std::uint32_t>> blocks_of(const Out& o) {
    std::vector<std::pair<std::uint32_t, std::uint32_t>> v;
    for (std::size_t i = 0; i < o.h.options.sack_count; ++i)
        v.emplace_back(o.h.options.sack_blocks[i].left, o.h.options.sack_blocks[i].right);
    return v;
}

}  // namespace

TEST_CASE("RFC 7323 3.2 / RFC 2018 2: negotiation matrix, passive open (peer offers both / one / neither)") {
    struct Case {
        bool ts;
        bool sack;
    };
    for (Case k : {Case{true, true}, Case{true, false}, Case{false, true}, Case{false, false}}) {
        INFO("peer offers ts=" << k.ts << " sack=" << k.sack);
        ScriptedPeer p;
        REQUIRE(p.stack.listen(80, 0, &p.listener) == Error::kNone);
        p.inject(Seg{.seq = 1000, .flags = flag::kSyn, .options = syn_opts(k.ts, k.sack, 777)});
        Out synack = p.expect_one();
        CHECK(synack.h.options.timestamps.has_value() == k.ts);
        if (k.ts) CHECK(synack.h.options.timestamps->tsecr == 777);  // echoes the SYN's TSval
        CHECK(synack.h.options.sack_permitted == k.sack);
        p.inject(Seg{.seq = 1001, .ack = synack.h.seq + 1, .flags = flag::kAck,
                     .options = k.ts ? ts_opt(778, synack.h.options.timestamps->tsval) : wire::TcpOptions{}});
        tcp::ConnId c = p.stack.accept(p.listener);
        REQUIRE(c.valid());
        const tcp::ConnStats st = p.stack.stats(c);
        CHECK(st.timestamps == k.ts);
        CHECK(st.sack == k.sack);
        p.stack.send(p.now, c, bytes_of(k.ts ? 2 * 1448 : 2 * 1460));
        p.stack.poll(p.now);
        auto out = p.take();
        REQUIRE(out.size() == 2);
        CHECK(out[0].payload.size() == (k.ts ? 1448u : 1460u));  // RFC 6691: options come out of the MSS
        for (const auto& o : out) CHECK(o.h.options.timestamps.has_value() == k.ts);
        if (k.ts) CHECK(out[0].h.options.timestamps->tsecr == 778);
    }
}

TEST_CASE("RFC 7323 3.2 / RFC 2018 2: negotiation matrix, active open (we offer; SYN-ACK answers with both / one / neither)") {
    for (int variant = 0; variant < 4; ++variant) {
        const bool ts = variant & 1;
        const bool sack = variant & 2;
        INFO("peer answers ts=" << ts << " sack=" << sack);
        ScriptedPeer p;
        tcp::ConnId c;
        REQUIRE(p.stack.connect(p.now, {ScriptedPeer::kPeer, 40000}, 80, &c) == Error::kNone);
        p.stack.poll(p.now);
        Out syn = p.expect_one();
        REQUIRE(syn.h.options.timestamps.has_value());
        CHECK(syn.h.options.timestamps->tsecr == 0);
        CHECK(syn.h.options.sack_permitted);
        wire::TcpOptions o = ScriptedPeer::mss_option(1460);
        if (ts) o.timestamps = wire::TcpTimestamps{5555, syn.h.options.timestamps->tsval};
        o.sack_permitted = sack;
        p.inject(Seg{.seq = 5000, .ack = syn.h.seq + 1, .flags = flag::kSyn | flag::kAck, .options = o});
        Out ack = p.expect_one();
        CHECK(ack.h.options.timestamps.has_value() == ts);
        if (ts) CHECK(ack.h.options.timestamps->tsecr == 5555);
        const tcp::ConnStats st = p.stack.stats(c);
        CHECK(st.timestamps == ts);
        CHECK(st.sack == sack);
    }
    SUBCASE("config off: the SYN offers neither") {
        auto cfg = ScriptedPeer::default_config();
        cfg.timestamps = false;
        cfg.sack = false;
        ScriptedPeer p(cfg);
        tcp::ConnId c;
        REQUIRE(p.stack.connect(p.now, {ScriptedPeer::kPeer, 40000}, 80, &c) == Error::kNone);
        p.stack.poll(p.now);
        Out syn = p.expect_one();
        CHECK_FALSE(syn.h.options.timestamps.has_value());
        CHECK_FALSE(syn.h.options.sack_permitted);
    }
}

TEST_CASE("RFC 7323 4.3: TS.Recent follows the segment our next ACK acknowledges, and our TSecr echoes it") {
    ScriptedPeer p;
    tcp::ConnId c = p.establish_passive(syn_opts(true, false, 100));
    p.take();
    // Two full segments: the ACK after the second echoes the first's TSval
    // (SEG.SEQ <= Last.ACK.sent only held for the first).
    p.inject(Seg{.seq = p.peer_nxt, .ack = p.our_nxt, .flags = flag::kAck, .payload = bytes_of(1448),
                 .options = ts_opt(200, 0)});
    p.expect_none();  // delayed
    p.inject(Seg{.seq = p.peer_nxt + 1448, .ack = p.our_nxt, .flags = flag::kAck, .payload = bytes_of(1448),
                 .options = ts_opt(210, 0)});
    Out a = p.expect_one();
    REQUIRE(a.h.options.timestamps.has_value());
    CHECK(a.h.options.timestamps->tsecr == 200);
    p.peer_nxt += 2 * 1448;
    // The next segment starts at Last.ACK.sent: its TSval is taken.
    p.inject(Seg{.seq = p.peer_nxt, .ack = p.our_nxt, .flags = flag::kAck | flag::kPsh, .payload = bytes_of(10),
                 .options = ts_opt(220, 0)});
    p.advance(milliseconds(200));
    Out b = p.expect_one();
    CHECK(b.h.options.timestamps->tsecr == 220);
    CHECK(p.read_all(c).size() == 2 * 1448 + 10);
}

TEST_CASE("RFC 7323 4: RTTM feeds RFC 6298 from the echoed TSval, retransmissions included") {
    ScriptedPeer p;
    tcp::ConnId c = p.establish_passive(syn_opts(true, false, 100));
    // The handshake took no time: SRTT 0, RTO at its 200 ms floor.
    CHECK(p.stack.stats(c).srtt == Duration::zero());
    p.stack.send(p.now, c, bytes_of(500));
    p.stack.poll(p.now);
    Out d = p.expect_one();
    REQUIRE(d.h.options.timestamps.has_value());
    p.now += milliseconds(80);
    p.inject(Seg{.seq = p.peer_nxt, .ack = p.our_nxt + 500, .flags = flag::kAck,
                 .options = ts_opt(101, d.h.options.timestamps->tsval)});
    // RFC 6298 2.3 with one expected sample: SRTT = 0 + 80/8 = 10 ms,
    // RTTVAR = 3/4 * 0 + 80/4 = 20 ms.
    CHECK(p.stack.stats(c).srtt == milliseconds(10));
    CHECK(p.stack.stats(c).rttvar == milliseconds(20));
    CHECK(p.stack.stats(c).rto == milliseconds(200));  // 10 + 4*20 = 90 ms, raised to min_rto
}

TEST_CASE("RFC 7323 5.3 R1 PAWS: an old duplicate (TSval < TS.Recent) is dropped with an ACK; after 24 days idle it is accepted") {
    ScriptedPeer p;
    tcp::ConnId c = p.establish_passive(syn_opts(true, false, 1000));
    p.take();
    p.inject(Seg{.seq = p.peer_nxt, .ack = p.our_nxt, .flags = flag::kAck | flag::kPsh, .payload = bytes_of(100),
                 .options = ts_opt(2000, 0)});
    p.peer_nxt += 100;
    p.advance(milliseconds(200));
    p.take();
    CHECK(p.read_all(c).size() == 100);
    // In-window sequence number, but a timestamp from an older incarnation
    // of the sequence space: not acceptable.
    p.inject(Seg{.seq = p.peer_nxt, .ack = p.our_nxt, .flags = flag::kAck | flag::kPsh, .payload = bytes_of(50, 9),
                 .options = ts_opt(1500, 0)});
    Out a = p.expect_one();
    CHECK(a.only(flag::kAck));
    CHECK(a.h.ack == p.peer_nxt);  // nothing taken
    CHECK(p.stack.info(c).recv_available == 0);
    CHECK(p.counter("tcp.rx_paws_rejected") == 1);
    CHECK(p.stack.stats(c).paws_rejected == 1);
    // An RST is never subject to PAWS (it is judged by its sequence number).
    // The same bytes with a current timestamp are accepted.
    p.inject(Seg{.seq = p.peer_nxt, .ack = p.our_nxt, .flags = flag::kAck | flag::kPsh, .payload = bytes_of(50, 9),
                 .options = ts_opt(2100, 0)});
    p.peer_nxt += 50;
    CHECK(p.read_all(c) == bytes_of(50, 9));
    // RFC 7323 5.5: more than 24 days idle, TS.Recent is no longer valid.
    p.now += std::chrono::hours(24 * 24 + 1);
    p.inject(Seg{.seq = p.peer_nxt, .ack = p.our_nxt, .flags = flag::kAck | flag::kPsh, .payload = bytes_of(20, 3),
                 .options = ts_opt(5, 0)});
    p.peer_nxt += 20;
    CHECK(p.read_all(c) == bytes_of(20, 3));
    CHECK(p.counter("tcp.rx_paws_rejected") == 1);
}

TEST_CASE("RFC 2018 4 case 2: first segment lost, each later one is SACKed at once in one growing block") {
    ScriptedPeer p;
    tcp::ConnId c = p.establish_passive(syn_opts(false, true));
    p.take();
    const std::uint32_t base = p.peer_nxt;
    const auto data = bytes_of(8 * 500);
    for (std::uint32_t i = 1; i < 8; ++i) {
        p.inject(Seg{.seq = base + 500 * i, .ack = p.our_nxt, .flags = flag::kAck,
                     .payload = std::vector<std::uint8_t>(data.begin() + 500 * i, data.begin() + 500 * (i + 1))});
        Out a = p.expect_one();
        CHECK(a.h.ack == base);
        CHECK(blocks_of(a) == std::vector<std::pair<std::uint32_t, std::uint32_t>>{{base + 500, base + 500 * (i + 1)}});
    }
    p.inject(Seg{.seq = base, .ack = p.our_nxt, .flags = flag::kAck,
                 .payload = std::vector<std::uint8_t>(data.begin(), data.begin() + 500)});
    Out all = p.expect_one();
    CHECK(all.h.ack == base + 4000);
    CHECK(all.h.options.sack_count == 0);  // nothing held out of order any more
    CHECK(p.read_all(c) == data);
}

TEST_CASE("RFC 2018 4 case 3: 2nd, 4th, 6th, 8th lost; newest block first, then the most recently reported ones") {
    ScriptedPeer p;
    tcp::ConnId c = p.establish_passive(syn_opts(false, true));
    p.take();
    const std::uint32_t b = p.peer_nxt;  // the RFC's 5000
    const auto data = bytes_of(8 * 500);
    auto send = [&](std::uint32_t i) {
        p.inject(Seg{.seq = b + 500 * i, .ack = p.our_nxt, .flags = flag::kAck,
                     .payload = std::vector<std::uint8_t>(data.begin() + 500 * i, data.begin() + 500 * (i + 1))});
    };
    using V = std::vector<std::pair<std::uint32_t, std::uint32_t>>;
    send(0);
    p.advance(milliseconds(200));
    CHECK(p.expect_one().h.ack == b + 500);
    send(2);
    Out a = p.expect_one();
    CHECK(a.h.ack == b + 500);
    CHECK(blocks_of(a) == V{{b + 1000, b + 1500}});
    send(4);
    a = p.expect_one();
    CHECK(blocks_of(a) == V{{b + 2000, b + 2500}, {b + 1000, b + 1500}});
    send(6);
    a = p.expect_one();
    CHECK(blocks_of(a) == V{{b + 3000, b + 3500}, {b + 2000, b + 2500}, {b + 1000, b + 1500}});
    // The 4th segment arrives out of order: its block (merged) comes first.
    send(3);
    a = p.expect_one();
    CHECK(a.h.ack == b + 500);
    CHECK(blocks_of(a) == V{{b + 1000, b + 2500}, {b + 3000, b + 3500}});
    // The 2nd arrives: cumulative ACK moves, the remaining block stays.
    send(1);
    a = p.expect_one();
    CHECK(a.h.ack == b + 2500);
    CHECK(blocks_of(a) == V{{b + 3000, b + 3500}});
    send(5);
    send(7);
    p.advance(milliseconds(200));
    p.take();
    CHECK(p.read_all(c) == data);
}

TEST_CASE("RFC 2883 4: a duplicate segment is reported once as the first SACK block (D-SACK), ahead of the out-of-order blocks") {
    ScriptedPeer p;
    tcp::ConnId c = p.establish_passive(syn_opts(false, true));
    p.take();
    const std::uint32_t base = p.peer_nxt;
    const auto data = bytes_of(5 * 500);
    auto piece = [&](std::uint32_t i) {
        return std::vector<std::uint8_t>(data.begin() + 500 * i, data.begin() + 500 * (i + 1));
    };
    p.inject(Seg{.seq = base, .ack = p.our_nxt, .flags = flag::kAck, .payload = piece(0)});
    p.now = p.now + milliseconds(300);  // the delayed ACK goes
    p.stack.poll(p.now);
    p.take();
    // Segment 0 again (its ACK was lost, say), with 2 held out of order.
    p.inject(Seg{.seq = base + 1000, .ack = p.our_nxt, .flags = flag::kAck, .payload = piece(2)});
    p.take();
    p.inject(Seg{.seq = base, .ack = p.our_nxt, .flags = flag::kAck, .payload = piece(0)});
    Out d = p.expect_one();
    CHECK(d.h.ack == base + 500);
    CHECK(blocks_of(d) == std::vector<std::pair<std::uint32_t, std::uint32_t>>{{base, base + 500}, {base + 1000, base + 1500}});
    // Reported once: the next ACK has only the out-of-order block.
    p.inject(Seg{.seq = base + 1500, .ack = p.our_nxt, .flags = flag::kAck, .payload = piece(3)});
    Out n = p.expect_one();
    CHECK(blocks_of(n) == std::vector<std::pair<std::uint32_t, std::uint32_t>>{{base + 1000, base + 2000}});
    p.inject(Seg{.seq = base + 500, .ack = p.our_nxt, .flags = flag::kAck, .payload = piece(1)});
    CHECK(p.expect_one().h.ack == base + 2000);  // the hole filled
    // A partial duplicate (old bytes followed by new ones): only its old
    // part is the D-SACK block.
    std::vector<std::uint8_t> straddling(data.begin() + 1750, data.begin() + 2500);
    p.inject(Seg{.seq = base + 1750, .ack = p.our_nxt, .flags = flag::kAck, .payload = straddling});
    Out f = p.expect_one();
    CHECK(f.h.ack == base + 2500);
    CHECK(blocks_of(f) == std::vector<std::pair<std::uint32_t, std::uint32_t>>{{base + 1750, base + 2000}});
    CHECK(p.read_all(c) == data);
}

TEST_CASE("RFC 2018 3: at most 4 SACK blocks, 3 beside the timestamp option") {
    for (bool ts : {false, true}) {
        INFO("timestamps " << ts);
        ScriptedPeer p;
        p.establish_passive(syn_opts(ts, true));
        p.take();
        const std::uint32_t b = p.peer_nxt;
        Out last;
        for (std::uint32_t i = 1; i <= 5; ++i) {
            p.inject(Seg{.seq = b + 200 * i, .ack = p.our_nxt, .flags = flag::kAck, .payload = bytes_of(100),
                         .options = ts ? ts_opt(500 + i, 0) : wire::TcpOptions{}});
            last = p.expect_one();
        }
        CHECK(last.h.options.sack_count == (ts ? 3 : 4));
        CHECK(last.h.options.sack_blocks[0].left == b + 1000);  // the newest first
    }
}

TEST_CASE("RFC 3042 + RFC 6675 5: limited transmit on the 1st and 2nd SACK duplicate ACK, then SACK recovery resends the hole") {
    ScriptedPeer p;
    tcp::ConnId c = p.establish_passive(syn_opts(false, true));
    p.stack.send(p.now, c, bytes_of(12 * 1460));
    p.stack.poll(p.now);
    REQUIRE(p.take().size() == 10);  // initial window
    const std::uint32_t una = p.our_nxt;
    auto dupack = [&](std::uint32_t sacked_segments) {
        p.inject(Seg{.seq = p.peer_nxt, .ack = una, .flags = flag::kAck,
                     .options = sack_opt({{una + 1460, una + 1460 * (1 + sacked_segments)}})});
        return p.take();
    };
    auto out = dupack(1);  // limited transmit: segment 10
    REQUIRE(out.size() == 1);
    CHECK(out[0].h.seq == una + 10 * 1460);
    out = dupack(2);  // segment 11
    REQUIRE(out.size() == 1);
    CHECK(out[0].h.seq == una + 11 * 1460);
    out = dupack(3);  // DupThresh: recovery, segment 0 again at once
    REQUIRE(out.size() >= 1);
    CHECK(out[0].h.seq == una);
    CHECK(out[0].payload.size() == 1460);
    CHECK(p.counter("tcp.sack_recoveries") == 1);
    CHECK(p.stack.stats(c).in_recovery);
    // The full ACK ends recovery.
    p.inject(Seg{.seq = p.peer_nxt, .ack = una + 12 * 1460, .flags = flag::kAck});
    CHECK_FALSE(p.stack.stats(c).in_recovery);
    CHECK(p.stack.info(c).send_queued == 0);
}

TEST_CASE("RFC 6675: two holes reported by SACK are resent within one recovery (NextSeg rules 1 and 4), SACKed data never") {
    ScriptedPeer p;
    tcp::ConnId c = p.establish_passive(syn_opts(false, true));
    p.stack.send(p.now, c, bytes_of(10 * 1460));
    p.stack.poll(p.now);
    REQUIRE(p.take().size() == 10);
    const std::uint32_t una = p.our_nxt;
    auto s = [&](std::uint32_t k) { return una + 1460 * k; };
    // Segments 2 and 5 lost; the rest arrive and are SACKed.
    std::vector<Out> all;
    p.inject(Seg{.seq = p.peer_nxt, .ack = s(2), .flags = flag::kAck});
    for (std::uint32_t k : {3u, 4u, 6u, 7u, 8u, 9u}) {
        const std::uint32_t left = k < 5 ? s(3) : s(6);
        p.inject(Seg{.seq = p.peer_nxt, .ack = s(2), .flags = flag::kAck,
                     .options = k < 5 ? sack_opt({{left, s(k + 1)}}) : sack_opt({{s(6), s(k + 1)}, {s(3), s(5)}})});
        for (auto& o : p.take()) all.push_back(o);
    }
    std::vector<std::uint32_t> resent;
    for (const auto& o : all) resent.push_back(o.h.seq);
    // Rule 1 resends the holes once each deems lost; with nothing new to
    // send, rule 4 adds one rescue retransmission of the highest unSACKed
    // segment (9, still in flight) so a lost tail needs no RTO.
    CHECK(resent == std::vector<std::uint32_t>{s(2), s(5), s(9)});
    CHECK(p.counter("tcp.sack_retransmits") == 1);  // segment 5 (segment 2 went out on entry)
    CHECK(p.counter("tcp.sack_rescue_retransmits") == 1);
    CHECK(p.counter("tcp.rto_expiries") == 0);
    (void)c;
}

TEST_CASE("RFC 3042 without SACK: the first two duplicate ACKs each send one new segment; the third retransmits") {
    ScriptedPeer p;
    tcp::ConnId c = p.establish_passive();
    p.stack.send(p.now, c, bytes_of(12 * 1460));
    p.stack.poll(p.now);
    REQUIRE(p.take().size() == 10);
    const std::uint32_t una = p.our_nxt;
    p.inject(Seg{.seq = p.peer_nxt, .ack = una, .flags = flag::kAck});
    auto out = p.take();
    REQUIRE(out.size() == 1);
    CHECK(out[0].h.seq == una + 10 * 1460);
    p.inject(Seg{.seq = p.peer_nxt, .ack = una, .flags = flag::kAck});
    out = p.take();
    REQUIRE(out.size() == 1);
    CHECK(out[0].h.seq == una + 11 * 1460);
    p.inject(Seg{.seq = p.peer_nxt, .ack = una, .flags = flag::kAck});
    out = p.take();
    REQUIRE(out.size() == 1);
    CHECK(out[0].h.seq == una);
    CHECK(p.counter("tcp.fast_retransmits") == 1);
    CHECK(p.counter("tcp.limited_transmits") == 2);
}
