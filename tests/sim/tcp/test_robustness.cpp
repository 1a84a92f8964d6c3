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

namespace {

// Sends `n` bytes from us and acknowledges every segment as the peer,
// until all is acknowledged; returns the last TSval we sent.
std::uint32_t send_all_acked(ScriptedPeer& p, tcp::ConnId c, std::size_t n, std::uint32_t peer_tsval) {
    REQUIRE(p.stack.send(p.now, c, bytes_of(n)) == n);
    p.stack.poll(p.now);
    std::uint32_t last_tsval = 0;
    std::uint32_t acked = 0;
    for (int round = 0; round < 100 && acked < n; ++round) {
        std::uint32_t top = p.our_nxt;
        for (const Out& o : p.take()) {
            if (o.h.options.timestamps) last_tsval = o.h.options.timestamps->tsval;
            top = std::max(top, o.h.seq + static_cast<std::uint32_t>(o.payload.size()));
        }
        acked = top - p.our_nxt;
        p.inject(Seg{.seq = p.peer_nxt, .ack = top, .flags = flag::kAck, .options = ts_opt(peer_tsval)});
    }
    p.our_nxt += acked;
    REQUIRE(acked == n);
    for (const Out& o : p.take())
        if (o.h.options.timestamps) last_tsval = o.h.options.timestamps->tsval;
    return last_tsval;
}

// Our active close of an established connection up to TIME-WAIT (the
// application releases the handle); returns the last TSval we sent.
std::uint32_t close_to_time_wait(ScriptedPeer& p, tcp::ConnId c, std::uint32_t peer_tsval) {
    p.stack.close(p.now, c);
    p.stack.poll(p.now);
    REQUIRE(p.expect_one().has(flag::kFin));
    p.our_nxt += 1;
    p.inject(Seg{.seq = p.peer_nxt, .ack = p.our_nxt, .flags = flag::kAck | flag::kFin, .options = ts_opt(peer_tsval)});
    p.peer_nxt += 1;
    const Out ack = p.expect_one();
    REQUIRE(ack.only(flag::kAck));
    REQUIRE(ack.h.options.timestamps.has_value());
    REQUIRE(p.stack.connection_count() == 1);  // the TIME-WAIT TCB
    return ack.h.options.timestamps->tsval;
}

}  // namespace

TEST_CASE("RFC 6191: a SYN reusing a TIME-WAIT tuple gets an ISS beyond the old SND.MAX, and our TSvals go on growing") {
    // Several secrets: neither property may hold by chance.
    for (std::uint64_t secret = 1; secret <= 8; ++secret) {
        CAPTURE(secret);
        ScriptedPeer p(ScriptedPeer::default_config(), secret);
        tcp::ConnId c = p.establish_passive(syn_ts(1000));
        p.take();
        // 60,000 bytes in no time: the old SND.MAX is far ahead of the ISN
        // clock (250 ticks per millisecond).
        send_all_acked(p, c, 60000, 1001);
        const std::uint32_t last_tsval = close_to_time_wait(p, c, 1002);
        const std::uint32_t old_snd_max = p.our_nxt;
        p.advance(milliseconds(3));
        p.inject(Seg{.seq = p.peer_nxt + 100000, .flags = flag::kSyn, .options = syn_ts(1010)});
        const Out synack = p.expect_one();
        REQUIRE(synack.only(flag::kSyn | flag::kAck));
        CHECK(p.counter("tcp.time_wait_reused") == 1);
        CHECK(static_cast<std::int32_t>(synack.h.seq - old_snd_max) > 0);
        REQUIRE(synack.h.options.timestamps.has_value());
        CHECK(static_cast<std::int32_t>(synack.h.options.timestamps->tsval - last_tsval) > 0);
    }
}

TEST_CASE("RFC 6191 2: with timestamps a SYN with a newer TSval reuses TIME-WAIT whatever its sequence number; an older TSval never does") {
    ScriptedPeer p;
    tcp::ConnId c = p.establish_passive(syn_ts(1000));
    p.take();
    close_to_time_wait(p, c, 2000);
    // Older TSval, higher sequence number: an old duplicate, not a new
    // incarnation (TIME-WAIT stays; PAWS answers it with an ACK).
    p.inject(Seg{.seq = p.peer_nxt + 5000, .flags = flag::kSyn, .options = syn_ts(1500)});
    for (const Out& o : p.take()) CHECK_FALSE(o.has(flag::kSyn));
    CHECK(p.counter("tcp.time_wait_reused") == 0);
    CHECK(p.stack.connection_count() == 1);
    // Newer TSval, sequence number below the old RCV.NXT: a new incarnation.
    p.inject(Seg{.seq = p.peer_nxt - 500, .flags = flag::kSyn, .options = syn_ts(2001)});
    const Out synack = p.expect_one();
    CHECK(synack.only(flag::kSyn | flag::kAck));
    CHECK(synack.h.ack == p.peer_nxt - 499);
    CHECK(p.counter("tcp.time_wait_reused") == 1);
}

TEST_CASE("RFC 9293 3.10.4-3.10.5 / RFC 5961 3.2: abort and close with unread data after an RTO reset from SND.MAX, not SND.NXT") {
    for (const bool use_abort : {true, false}) {
        CAPTURE(use_abort);
        ScriptedPeer p;
        tcp::ConnId c = p.establish_passive();
        // Unread data for the close() case.
        p.peer_data(bytes_of(10));
        p.take();
        REQUIRE(p.stack.send(p.now, c, bytes_of(3 * 1460)) == 3 * 1460);
        p.stack.poll(p.now);
        CHECK(p.take().size() == 3);  // the peer received all three: its RCV.NXT is our_nxt + 4380
        // Their ACK is lost; the RTO goes back to SND.UNA and resends the first.
        REQUIRE(p.advance_to_next());
        const auto rtx = p.take();
        REQUIRE(rtx.size() == 1);
        CHECK(rtx[0].h.seq == p.our_nxt);
        if (use_abort)
            p.stack.abort(p.now, c);
        else
            p.stack.close(p.now, c);
        p.stack.poll(p.now);
        const Out rst = p.expect_one();
        CHECK(rst.has(flag::kRst));
        CHECK(rst.h.seq == p.our_nxt + 3 * 1460);
        CHECK(rst.h.ack == p.peer_nxt);
    }
}

namespace {

// A passive connection from the peer's port `sport`, accepted, closed by us
// and taken to TIME-WAIT by the peer's FIN (a server's active close).
void server_close_to_time_wait(ScriptedPeer& p, std::uint16_t sport) {
    p.inject(Seg{.seq = 1000, .flags = flag::kSyn, .options = ScriptedPeer::mss_option(1460), .sport = sport});
    const Out synack = p.expect_one();
    REQUIRE(synack.only(flag::kSyn | flag::kAck));
    p.inject(Seg{.seq = 1001, .ack = synack.h.seq + 1, .flags = flag::kAck, .sport = sport});
    const tcp::ConnId c = p.stack.accept(p.listener);
    REQUIRE(c.valid());
    p.stack.close(p.now, c);
    p.stack.poll(p.now);
    REQUIRE(p.expect_one().has(flag::kFin));
    p.inject(Seg{.seq = 1001, .ack = synack.h.seq + 2, .flags = flag::kAck | flag::kFin, .sport = sport});
    REQUIRE(p.expect_one().only(flag::kAck));
}

}  // namespace

TEST_CASE("TIME-WAIT does not make max_connections refuse new connections: the oldest TIME-WAIT is recycled") {
    auto cfg = ScriptedPeer::default_config();
    cfg.max_connections = 3;
    ScriptedPeer p(cfg);
    REQUIRE(p.stack.listen(80, 0, &p.listener) == Error::kNone);
    for (std::uint16_t sport = 41000; sport < 41003; ++sport) {
        server_close_to_time_wait(p, sport);
        p.advance(milliseconds(10));
    }
    CHECK(p.stack.connection_count() == 3);  // all in TIME-WAIT, the table is full
    // A new client is served: the oldest TIME-WAIT (port 41000) gives way.
    p.inject(Seg{.seq = 7000, .flags = flag::kSyn, .options = ScriptedPeer::mss_option(1460), .sport = 41010});
    CHECK(p.expect_one().only(flag::kSyn | flag::kAck));
    CHECK(p.counter("tcp.time_wait_recycled") == 1);
    CHECK(p.counter("tcp.rx_table_full") == 0);
    CHECK(p.stack.connection_count() == 3);
    // 41000 is gone (its retransmitted FIN now meets the listener: RST);
    // 41001 is still in TIME-WAIT (re-acknowledges it).
    p.inject(Seg{.seq = 1001, .ack = 1, .flags = flag::kAck | flag::kFin, .sport = 41000});
    CHECK(p.expect_one().has(flag::kRst));
    p.inject(Seg{.seq = 1001, .ack = 1, .flags = flag::kAck | flag::kFin, .sport = 41001});
    CHECK(p.expect_one().only(flag::kAck));
    // Active opens recycle the next ones, oldest first.
    tcp::ConnId out;
    CHECK(p.stack.connect(p.now, {ScriptedPeer::kPeer, 9}, 0, &out) == Error::kNone);
    CHECK(p.counter("tcp.time_wait_recycled") == 2);
    p.stack.poll(p.now);
    CHECK(p.expect_one().only(flag::kSyn));
    p.inject(Seg{.seq = 1001, .ack = 1, .flags = flag::kAck | flag::kFin, .sport = 41002});
    CHECK(p.expect_one().only(flag::kAck));  // 41002 was still there
    CHECK(p.stack.connect(p.now, {ScriptedPeer::kPeer, 9}, 0, &out) == Error::kNone);
    CHECK(p.counter("tcp.time_wait_recycled") == 3);
    // With no TIME-WAIT left to recycle the table is full again.
    CHECK(p.stack.connect(p.now, {ScriptedPeer::kPeer, 9}, 0, &out) == Error::kNoResources);
}

TEST_CASE("ACKs to invalid segments are rate-limited per connection (tcp.invalid_ack_ratelimit, as Linux's tcp_invalid_ratelimit)") {
    ScriptedPeer p;
    tcp::ConnId c = p.establish_passive(syn_ts(1000));
    p.take();
    struct Invalid {
        const char* what;
        Seg seg;
    };
    const Invalid kinds[] = {
        {"out of window (3.10.7.4 step 1)",
         Seg{.seq = p.peer_nxt + 200000, .ack = p.our_nxt, .flags = flag::kAck, .options = ts_opt(1001)}},
        {"PAWS failure (RFC 7323 5.3 R1)",
         Seg{.seq = p.peer_nxt, .ack = p.our_nxt, .flags = flag::kAck, .options = ts_opt(10)}},
        {"ACK of data never sent (3.10.7.4 step 5)",
         Seg{.seq = p.peer_nxt, .ack = p.our_nxt + 100000, .flags = flag::kAck, .options = ts_opt(1001)}},
    };
    std::uint64_t suppressed = 0;
    for (const Invalid& k : kinds) {
        const std::string what = k.what;
        CAPTURE(what);
        p.advance(milliseconds(600));
        p.take();
        // A burst: one ACK, the rest suppressed and counted.
        for (int i = 0; i < 5; ++i) p.inject(k.seg);
        CHECK(p.take().size() == 1);
        suppressed += 4;
        CHECK(p.counter("tcp.invalid_acks_suppressed") == suppressed);
        // Still within 500 ms: nothing; after it: one again.
        p.advance(milliseconds(499));
        p.inject(k.seg);
        CHECK(p.take().empty());
        ++suppressed;
        p.advance(milliseconds(1));
        p.inject(k.seg);
        CHECK(p.take().size() == 1);
    }
    // Data is always answered: a retransmission whose ACK was lost must
    // learn RCV.NXT every time.
    p.peer_data(bytes_of(100));
    p.advance(milliseconds(300));
    p.take();
    for (int i = 0; i < 3; ++i) {
        p.inject(Seg{.seq = p.peer_nxt - 100, .ack = p.our_nxt, .flags = flag::kAck, .payload = bytes_of(100),
                     .options = ts_opt(1002)});
        const Out a = p.expect_one();
        CHECK(a.h.ack == p.peer_nxt);
    }
    CHECK(p.counter("tcp.invalid_acks_suppressed") == suppressed);
    CHECK(p.read_all(c).size() == 100);
}

TEST_CASE("tcp.invalid_ack_ratelimit 0ms: every invalid segment is answered") {
    auto cfg = ScriptedPeer::default_config();
    cfg.invalid_ack_ratelimit = Duration::zero();
    ScriptedPeer p(cfg);
    p.establish_passive();
    for (int i = 0; i < 5; ++i) p.inject(Seg{.seq = p.peer_nxt + 200000, .ack = p.our_nxt, .flags = flag::kAck});
    CHECK(p.take().size() == 5);
    CHECK(p.counter("tcp.invalid_acks_suppressed") == 0);
}

TEST_CASE("a malformed TCP option is ignored and the segment kept, as Linux does") {
    ScriptedPeer p;
    tcp::ConnId c = p.establish_passive();
    p.take();
    // Data segments whose option area holds: a zero length (kind 34), a
    // length running past the header, a timestamp option of length 8.
    const std::vector<std::vector<std::uint8_t>> areas = {
        {34, 0, 1, 1}, {1, 1, 34, 30}, {8, 8, 0, 0, 0, 0, 0, 0}};
    std::vector<std::uint8_t> expected;
    for (std::size_t i = 0; i < areas.size(); ++i) {
        CAPTURE(i);
        const auto data = bytes_of(50, static_cast<std::uint8_t>(i));
        wire::TcpRepr r;
        r.src_port = 40000;
        r.dst_port = 80;
        r.seq = p.peer_nxt;
        r.ack = p.our_nxt;
        r.flags = flag::kAck | flag::kPsh;
        r.window = 65535;
        r.payload = data;
        // Emit with room for the option area, then put the bad area in.
        r.options.timestamps = wire::TcpTimestamps{0, 0};  // 12 bytes of room
        std::vector<std::uint8_t> seg(r.buffer_len());
        r.emit(seg, ScriptedPeer::kPeer, ScriptedPeer::kUs);
        std::fill(seg.begin() + 20, seg.begin() + 32, std::uint8_t{0});
        std::copy(areas[i].begin(), areas[i].end(), seg.begin() + 20);
        seg[16] = seg[17] = 0;
        wire::ChecksumAccumulator acc;
        wire::add_ipv4_pseudo_header(acc, ScriptedPeer::kPeer, ScriptedPeer::kUs, 6,
                                     static_cast<std::uint16_t>(seg.size()));
        acc.add(seg);
        const auto ck = acc.checksum();
        seg[16] = static_cast<std::uint8_t>(ck >> 8);
        seg[17] = static_cast<std::uint8_t>(ck);
        p.inject_raw(seg);
        p.peer_nxt += 50;
        expected.insert(expected.end(), data.begin(), data.end());
    }
    CHECK(p.counter("tcp.rx_malformed_options") == 3);
    CHECK(p.read_all(c) == expected);
    p.advance(milliseconds(200));
    auto acks = p.take();
    REQUIRE_FALSE(acks.empty());
    CHECK(acks.back().h.ack == p.peer_nxt);
}

TEST_CASE("RFC 7323 5.4 / RFC 6528: our TSval offset is one per address pair, from its own key: it says nothing about the ISS") {
    ScriptedPeer p;
    REQUIRE(p.stack.listen(80, 0, &p.listener) == Error::kNone);
    // Two connections from the peer at the same instant, from two ports:
    // different ISSs (RFC 6528), the same TSval (the clock plus one offset
    // for the address pair). An offset drawn from the ISS would differ.
    std::vector<Out> synacks;
    for (const std::uint16_t sport : {std::uint16_t{42000}, std::uint16_t{42001}}) {
        p.inject(Seg{.seq = 1000, .flags = flag::kSyn, .options = syn_ts(5), .sport = sport});
        synacks.push_back(p.expect_one());
    }
    REQUIRE(synacks[0].h.options.timestamps.has_value());
    REQUIRE(synacks[1].h.options.timestamps.has_value());
    CHECK(synacks[0].h.seq != synacks[1].h.seq);
    CHECK(synacks[0].h.options.timestamps->tsval == synacks[1].h.options.timestamps->tsval);
    // And a different secret gives a different offset (it is keyed).
    ScriptedPeer q(ScriptedPeer::default_config(), 43);
    REQUIRE(q.stack.listen(80, 0, &q.listener) == Error::kNone);
    q.inject(Seg{.seq = 1000, .flags = flag::kSyn, .options = syn_ts(5), .sport = 42000});
    const Out other = q.expect_one();
    REQUIRE(other.h.options.timestamps.has_value());
    CHECK(other.h.options.timestamps->tsval != synacks[0].h.options.timestamps->tsval);
}
