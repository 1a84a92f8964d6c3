// Orphaned connections (closed by the application, finished by the stack
// alone) against peers that never let them finish: a permanent zero window
// with every probe answered (the "sockstress" pattern), a FIN never
// acknowledged; and the bound on how many orphans may exist at once.
#include <doctest/doctest.h>

#include <map>

#include "tests/sim/tcp/peer_fixture.hpp"

using namespace tapstack;
using namespace tapstack::sim;
using tcp::Error;
using tcp::State;

namespace {

tcp::TcpConfig orphan_config(Duration timeout, std::uint32_t max_orphans = 100000) {
    auto cfg = ScriptedPeer::default_config();
    cfg.orphan_timeout = timeout;
    cfg.max_orphans = max_orphans;
    cfg.max_connections = 100000;
    return cfg;
}

// Answers every segment the stack sent with an ACK advertising window 0
// (what a peer that never reads does to a zero-window probe).
void answer_with_zero_window(ScriptedPeer& p, const std::map<std::uint16_t, ScriptedPeer::PeerConn>& conns) {
    for (const Out& o : p.take()) {
        if (o.has(flag::kRst)) continue;
        const auto it = conns.find(o.h.dst_port);
        if (it == conns.end()) continue;
        p.inject(Seg{.seq = it->second.peer_nxt, .ack = it->second.our_nxt, .flags = flag::kAck, .window = 0,
                     .sport = it->second.port});
    }
}

}  // namespace

TEST_CASE("orphan_timeout: 2,000 orphans facing a permanent zero window are all reset after the timeout") {
    constexpr std::uint32_t kOrphans = 2000;
    const Duration timeout = seconds(30);
    ScriptedPeer p(orphan_config(timeout));
    REQUIRE(p.stack.listen(80, kOrphans, &p.listener) == Error::kNone);
    std::map<std::uint16_t, ScriptedPeer::PeerConn> conns;
    for (std::uint32_t i = 0; i < kOrphans; ++i) {
        auto c = p.open_from(static_cast<std::uint16_t>(10000 + i), ScriptedPeer::mss_option(1460), 0);
        // Data the peer's zero window never lets out, then close(): an orphan.
        REQUIRE(p.stack.send(p.now, c.conn, bytes_of(5000)) == 5000);
        p.stack.close(p.now, c.conn);
        conns[c.port] = c;
    }
    p.stack.poll(p.now);
    p.take();
    CHECK(p.stack.connection_count() == kOrphans);
    const Instant closed_at = p.now;
    // The peer answers every probe, for as long as the stack keeps probing.
    std::uint64_t probes_answered = 0;
    while (p.stack.connection_count() > 0 && p.now < closed_at + 10 * timeout) {
        if (!p.advance_to_next(seconds(600))) break;
        const auto before = p.counter("tcp.persist_probes");
        answer_with_zero_window(p, conns);
        probes_answered += p.counter("tcp.persist_probes") - before;
    }
    INFO("probes answered: " << probes_answered << ", virtual seconds: "
                             << std::chrono::duration_cast<seconds>(p.now - closed_at).count());
    CHECK(p.stack.connection_count() == 0);
    CHECK(p.counter("tcp.orphans_timed_out") == kOrphans);
    // Bounded by the timeout (plus the timer wheel's rounding), not by the peer.
    CHECK(p.now - closed_at <= timeout + seconds(1));
    CHECK(p.counter("tcp.persist_probes") > 0);
}

TEST_CASE("orphan_timeout: a slow orphan that makes progress is kept while a stuck one is reset") {
    ScriptedPeer p(orphan_config(seconds(10)));
    REQUIRE(p.stack.listen(80, 0, &p.listener) == Error::kNone);
    auto slow = p.open_from(20000, ScriptedPeer::mss_option(1000), 0);
    auto stuck = p.open_from(20001, ScriptedPeer::mss_option(1000), 0);
    REQUIRE(p.stack.send(p.now, slow.conn, bytes_of(20000)) == 20000);
    REQUIRE(p.stack.send(p.now, stuck.conn, bytes_of(4000)) == 4000);
    p.stack.close(p.now, slow.conn);
    p.stack.close(p.now, stuck.conn);
    p.stack.poll(p.now);
    p.take();
    // Every 8 s the slow peer opens its window for one segment and
    // acknowledges it; the stuck one keeps it shut and answers probes.
    for (int round = 0; round < 6; ++round) {
        p.inject(Seg{.seq = slow.peer_nxt, .ack = slow.our_nxt, .flags = flag::kAck, .window = 1000, .sport = slow.port});
        for (const Out& o : p.take())
            if (o.h.dst_port == slow.port && !o.payload.empty()) slow.our_nxt = o.h.seq + static_cast<std::uint32_t>(o.payload.size());
        p.inject(Seg{.seq = slow.peer_nxt, .ack = slow.our_nxt, .flags = flag::kAck, .window = 0, .sport = slow.port});
        const Instant until = p.now + seconds(8);
        while (p.now < until) {
            if (!p.advance_to_next(until - p.now)) break;
            std::map<std::uint16_t, ScriptedPeer::PeerConn> both{{slow.port, slow}, {stuck.port, stuck}};
            answer_with_zero_window(p, both);
        }
        p.now = until;
        p.stack.poll(p.now);
        answer_with_zero_window(p, {{slow.port, slow}});
    }
    CHECK(p.counter("tcp.orphans_timed_out") == 1);
    CHECK(p.stack.connection_count() == 1);  // the slow one is still delivering
}

TEST_CASE("orphan_timeout: the reset orphan's RST carries SND.MAX and the peer's RCV.NXT") {
    ScriptedPeer p(orphan_config(seconds(5)));
    tcp::ConnId c = p.establish_passive(ScriptedPeer::mss_option(1460), 0);
    REQUIRE(p.stack.send(p.now, c, bytes_of(100)) == 100);
    p.stack.close(p.now, c);
    p.stack.poll(p.now);
    p.take();
    bool saw_rst = false;
    for (int i = 0; i < 100 && !saw_rst; ++i) {
        if (!p.advance_to_next(seconds(60))) break;
        for (const Out& o : p.take()) {
            if (o.has(flag::kRst)) {
                saw_rst = true;
                CHECK(o.h.seq == p.our_nxt);  // SND.MAX: nothing of ours went out beyond the SYN
                CHECK(o.h.ack == p.peer_nxt);
            } else {
                p.inject(Seg{.seq = p.peer_nxt, .ack = p.our_nxt, .flags = flag::kAck, .window = 0});
            }
        }
    }
    CHECK(saw_rst);
    CHECK(p.stack.connection_count() == 0);
}

TEST_CASE("orphan_timeout: a FIN never acknowledged (LAST-ACK) ends after the timeout, not after 15 RTOs") {
    auto cfg = orphan_config(seconds(20));
    ScriptedPeer p(cfg);
    tcp::ConnId c = p.establish_passive();
    p.inject(Seg{.seq = p.peer_nxt, .ack = p.our_nxt, .flags = flag::kAck | flag::kFin});
    p.peer_nxt += 1;
    p.take();
    p.stack.close(p.now, c);  // CLOSE-WAIT -> LAST-ACK, our FIN goes out and is never acknowledged
    p.stack.poll(p.now);
    const Instant closed_at = p.now;
    while (p.stack.connection_count() > 0 && p.advance_to_next(seconds(600))) p.take();
    CHECK(p.counter("tcp.orphans_timed_out") == 1);
    CHECK(p.now - closed_at <= seconds(21));
}

TEST_CASE("max_orphans: beyond the bound the oldest orphan is reset (Linux \"too many orphaned sockets\")") {
    ScriptedPeer p(orphan_config(seconds(600), 3));
    REQUIRE(p.stack.listen(80, 0, &p.listener) == Error::kNone);
    std::vector<ScriptedPeer::PeerConn> conns;
    for (std::uint16_t i = 0; i < 5; ++i) {
        auto c = p.open_from(static_cast<std::uint16_t>(21000 + i), ScriptedPeer::mss_option(1460), 0);
        REQUIRE(p.stack.send(p.now, c.conn, bytes_of(100)) == 100);
        conns.push_back(c);
    }
    for (auto& c : conns) p.stack.close(p.now, c.conn);
    p.stack.poll(p.now);
    std::vector<std::uint16_t> reset_ports;
    for (const Out& o : p.take())
        if (o.has(flag::kRst)) reset_ports.push_back(o.h.dst_port);
    CHECK(p.counter("tcp.orphans_overflow") == 2);
    CHECK(reset_ports == std::vector<std::uint16_t>{21000, 21001});  // the two oldest
    CHECK(p.stack.connection_count() == 3);
    std::uint64_t orphans = 0;
    p.stack.visit_counters([&](std::string_view n, std::uint64_t v) {
        if (n == "tcp.orphans") orphans = v;
    });
    CHECK(orphans == 3);
}

TEST_CASE("max_orphans 0: a close() that would leave an orphan resets the connection instead") {
    ScriptedPeer p(orphan_config(seconds(600), 0));
    tcp::ConnId c = p.establish_passive(ScriptedPeer::mss_option(1460), 0);
    REQUIRE(p.stack.send(p.now, c, bytes_of(100)) == 100);
    p.stack.close(p.now, c);
    p.stack.poll(p.now);
    auto out = p.take();
    REQUIRE(out.size() == 1);
    CHECK(out[0].has(flag::kRst));
    CHECK(p.stack.connection_count() == 0);
}

TEST_CASE("an application-owned connection facing a zero window is kept while probes are answered (MUST-35..37)") {
    ScriptedPeer p(orphan_config(seconds(5)));
    tcp::ConnId c = p.establish_passive(ScriptedPeer::mss_option(1460), 0);
    REQUIRE(p.stack.send(p.now, c, bytes_of(100)) == 100);
    p.stack.poll(p.now);
    p.take();
    const Instant start = p.now;
    while (p.now < start + seconds(600) && p.advance_to_next(seconds(600))) {
        for (const Out& o : p.take()) {
            (void)o;
            p.inject(Seg{.seq = p.peer_nxt, .ack = p.our_nxt, .flags = flag::kAck, .window = 0});
        }
    }
    CHECK(p.stack.info(c).state == State::kEstablished);
    CHECK(p.counter("tcp.orphans_timed_out") == 0);
}
