// Many idle connections: 10,000 ESTABLISHED connections each with
// an armed timer, driven by a scripted peer on the virtual clock. Proves that
// poll() visits only the TCBs whose timer is due or that have output pending
// (counted by tcp.poll_timer_visits / tcp.poll_output_visits, not timed),
// that timers hours ahead fire at their exact virtual instant, and that
// re-arming and cancelling move a connection's one timer, and that an idle
// connection's emptied buffers are given back.
#include <doctest/doctest.h>

#include <vector>

#include "stack/wire/tcp_header.hpp"
#include "tests/sim/tcp/peer_fixture.hpp"

using namespace tapstack;
using namespace tapstack::sim;
using tcp::State;

namespace {

constexpr std::uint32_t kConns = 10000;
constexpr std::uint16_t kFirstPort = 20000;

struct Peer {
    std::uint16_t port = 0;
    std::uint32_t peer_nxt = 0;  // next sequence number the peer sends
    std::uint32_t our_nxt = 0;   // next sequence number we send
    tcp::ConnId conn;
};

// Opens `n` passive connections from peer ports kFirstPort... at p.now.
std::vector<Peer> open_many(ScriptedPeer& p, std::uint32_t n) {
    REQUIRE(p.stack.listen(80, 0, &p.listener) == tcp::Error::kNone);
    std::vector<Peer> peers(n);
    for (std::uint32_t i = 0; i < n; ++i) {
        Peer& c = peers[i];
        c.port = static_cast<std::uint16_t>(kFirstPort + i);
        p.inject(Seg{.seq = 1000, .flags = flag::kSyn, .options = ScriptedPeer::mss_option(1460), .sport = c.port});
        auto out = p.take();
        REQUIRE(out.size() == 1);
        REQUIRE(out[0].only(flag::kSyn | flag::kAck));
        c.peer_nxt = 1001;
        c.our_nxt = out[0].h.seq + 1;
        p.inject(Seg{.seq = c.peer_nxt, .ack = c.our_nxt, .flags = flag::kAck, .sport = c.port});
        REQUIRE(p.take().empty());
        c.conn = p.stack.accept(p.listener);
        REQUIRE(c.conn.valid());
    }
    return peers;
}

void peer_sends(ScriptedPeer& p, Peer& c, std::size_t len) {
    p.inject(Seg{.seq = c.peer_nxt, .ack = c.our_nxt, .flags = flag::kAck, .payload = bytes_of(len), .sport = c.port});
    c.peer_nxt += static_cast<std::uint32_t>(len);
}

tcp::TcpConfig keepalive_config() {
    auto cfg = ScriptedPeer::default_config();
    cfg.keepalive = true;  // every idle connection has a timer 2 h ahead
    cfg.keepalive_idle = seconds(7200);
    cfg.keepalive_interval = seconds(75);
    cfg.msl = seconds(30);
    return cfg;
}

}  // namespace

TEST_CASE("10,000 idle connections with keepalive timers: a poll() with one due timer visits only that TCB") {
    ScriptedPeer p(keepalive_config());
    auto peers = open_many(p, kConns);
    CHECK(p.stack.connection_count() == kConns);
    const Instant opened = p.now;
    // Nothing is due before the keepalives.
    CHECK(p.stack.poll_at() == opened + seconds(7200));

    p.now += seconds(10);
    Peer& busy = peers[kConns / 2];
    peer_sends(p, busy, 100);  // a lone short segment: delayed ACK (40 ms)
    REQUIRE(p.take().empty());
    CHECK(p.stack.poll_at() == p.now + milliseconds(40));

    const auto timer_visits = p.counter("tcp.poll_timer_visits");
    const auto output_visits = p.counter("tcp.poll_output_visits");
    p.now += milliseconds(40);
    p.stack.poll(p.now);
    auto out = p.take();
    REQUIRE(out.size() == 1);
    CHECK(out[0].h.dst_port == busy.port);
    CHECK(out[0].h.ack == busy.peer_nxt);
    CHECK(p.counter("tcp.poll_timer_visits") - timer_visits == 1);
    CHECK(p.counter("tcp.poll_output_visits") - output_visits == 0);

    // Pending output (a user send) is found through the dirty list: one
    // visit, for that TCB only.
    Peer& sender = peers[77];
    REQUIRE(p.stack.send(p.now, sender.conn, bytes_of(10)) == 10);
    const auto output_before = p.counter("tcp.poll_output_visits");
    p.stack.poll(p.now);
    out = p.take();
    REQUIRE(out.size() == 1);
    CHECK(out[0].h.dst_port == sender.port);
    CHECK(out[0].payload.size() == 10);
    CHECK(p.counter("tcp.poll_output_visits") - output_before == 1);
    CHECK(p.counter("tcp.poll_timer_visits") - timer_visits == 1);
    // The peer acknowledges it: the retransmission timer goes away again.
    p.inject(Seg{.seq = sender.peer_nxt, .ack = sender.our_nxt + 10, .flags = flag::kAck, .sport = sender.port});
    REQUIRE(p.take().empty());

    // Polls with nothing due visit nobody.
    for (int i = 0; i < 100; ++i) {
        p.now += seconds(1);
        p.stack.poll(p.now);
    }
    CHECK(p.counter("tcp.poll_timer_visits") - timer_visits == 1);
    CHECK(p.take().empty());
    CHECK(p.stack.poll_at() == opened + seconds(7200));
    // Meanwhile the sender's emptied buffers were given back; the busy
    // connection's unread data was not touched.
    CHECK(p.counter("tcp.buffers_reclaimed") == 1);
    CHECK(p.stack.info(busy.conn).recv_available == 100);
}

TEST_CASE("RFC 1122 4.2.3.6 at scale: 10,000 keepalive timers 2 h ahead fire at their exact virtual instant") {
    ScriptedPeer p(keepalive_config());
    auto peers = open_many(p, kConns);
    const Instant opened = p.now;
    // One connection hears from its peer an hour later: its idle time restarts.
    p.now += seconds(3600);
    Peer& late = peers[1234];
    peer_sends(p, late, 10);
    p.advance(milliseconds(40));  // its delayed ACK
    REQUIRE(p.take().size() == 1);

    const auto visits = p.counter("tcp.poll_timer_visits");
    p.advance(opened + seconds(7200) - nanoseconds(1) - p.now);
    CHECK(p.take().empty());
    CHECK(p.counter("tcp.poll_timer_visits") == visits);
    p.advance(nanoseconds(1));
    auto probes = p.take();
    CHECK(probes.size() == kConns - 1);
    CHECK(p.counter("tcp.keepalive_probes") == kConns - 1);
    CHECK(p.counter("tcp.poll_timer_visits") - visits == kConns - 1);
    bool late_probed = false;
    for (const auto& o : probes) {
        CHECK(o.only(flag::kAck));
        if (o.h.dst_port == late.port) late_probed = true;
    }
    CHECK_FALSE(late_probed);
    // Its own probe comes 2 h after its last segment.
    CHECK(p.stack.poll_at() == opened + seconds(7200) + seconds(75));  // the others' second probes come first
    p.advance(seconds(75));
    probes = p.take();
    REQUIRE(probes.size() == kConns - 1);  // second probes, still unanswered
    const Instant late_due = opened + seconds(3600) + seconds(7200);
    while (p.stack.poll_at() < late_due) REQUIRE(p.advance_to_next(seconds(100000)));
    p.take();
    CHECK(p.stack.poll_at() == late_due);
    REQUIRE(p.advance_to_next(seconds(100000)));
    bool found = false;
    for (const auto& o : p.take())
        if (o.h.dst_port == late.port) found = true;
    CHECK(found);
}

TEST_CASE("RFC 9293 3.10.8 at scale: TIME-WAIT lasts exactly 2*MSL among 10,000 idle connections") {
    ScriptedPeer p(keepalive_config());
    auto peers = open_many(p, kConns);
    Peer& c = peers[42];
    // We close first: FIN, the peer ACKs it and sends its own FIN.
    p.stack.close(p.now, c.conn);
    p.stack.poll(p.now);
    auto out = p.take();
    REQUIRE(out.size() == 1);
    REQUIRE(out[0].has(flag::kFin));
    c.our_nxt += 1;
    p.inject(Seg{.seq = c.peer_nxt, .ack = c.our_nxt, .flags = flag::kAck | flag::kFin, .sport = c.port});
    c.peer_nxt += 1;
    out = p.take();
    REQUIRE(out.size() == 1);
    CHECK(out[0].h.ack == c.peer_nxt);
    const Instant entered = p.now;
    CHECK(p.stack.connection_count() == kConns);
    CHECK(p.stack.poll_at() == entered + seconds(60));
    p.advance(seconds(60) - nanoseconds(1));
    CHECK(p.stack.connection_count() == kConns);
    p.advance(nanoseconds(1));
    CHECK(p.stack.connection_count() == kConns - 1);
    CHECK(p.counter("tcp.time_wait_expired") == 1);
}

TEST_CASE("keepalive timer re-armed by traffic, cancelled by set_keepalive(false), re-armed by set_keepalive(true)") {
    ScriptedPeer p(keepalive_config());
    auto peers = open_many(p, 100);
    Peer& c = peers[7];
    const Instant opened = p.now;
    // Everybody else turns keepalive off: only c has a timer.
    for (auto& other : peers)
        if (other.port != c.port) p.stack.set_keepalive(other.conn, false);
    CHECK(p.stack.poll_at() == opened + seconds(7200));
    p.now += seconds(100);
    peer_sends(p, c, 1);
    p.advance(milliseconds(40));
    REQUIRE(p.take().size() == 1);
    CHECK(p.read_all(c.conn).size() == 1);
    // The buffers it used are given back after 10 s of quiet.
    CHECK(p.stack.poll_at() == p.now + seconds(10));
    p.advance(seconds(10));
    CHECK(p.counter("tcp.buffers_reclaimed") == 1);
    CHECK(p.stack.poll_at() == opened + seconds(100) + seconds(7200));
    p.stack.set_keepalive(c.conn, false);
    CHECK(p.stack.poll_at() == kNever);
    p.advance(seconds(10000));
    CHECK(p.take().empty());
    p.stack.set_keepalive(c.conn, true);
    CHECK(p.stack.poll_at() == p.now + seconds(7200));
    const auto visits = p.counter("tcp.poll_timer_visits");
    REQUIRE(p.advance_to_next(seconds(100000)));
    auto out = p.take();
    REQUIRE(out.size() == 1);
    CHECK(out[0].h.dst_port == c.port);
    CHECK(p.counter("tcp.poll_timer_visits") - visits == 1);
}

TEST_CASE("idle buffer reclaim: 10 s after a connection went quiet with empty buffers their storage is freed; data flows again after") {
    ScriptedPeer p;
    auto peers = open_many(p, 3);
    Peer& reader = peers[0];
    Peer& unread = peers[1];
    const std::size_t rcv_buffer = p.stack.stats(reader.conn).rcv_buffer;
    for (Peer* c : {&reader, &unread}) {
        for (int i = 0; i < 4; ++i) peer_sends(p, *c, 1460);
    }
    p.take();
    CHECK(p.read_all(reader.conn).size() == 4 * 1460);
    p.take();
    const Instant quiet = p.now;
    p.advance(seconds(10) - nanoseconds(1));
    CHECK(p.counter("tcp.buffers_reclaimed") == 0);
    p.advance(nanoseconds(1));
    CHECK(p.counter("tcp.buffers_reclaimed") == 1);  // the reader's; not the one holding unread data
    CHECK(p.stack.info(unread.conn).recv_available == 4 * 1460);
    CHECK(p.stack.stats(reader.conn).rcv_buffer == rcv_buffer);  // capacity (and window) unchanged
    CHECK(p.now == quiet + seconds(10));
    // Both directions work again on fresh storage.
    peer_sends(p, reader, 1000);
    REQUIRE(p.stack.send(p.now, reader.conn, bytes_of(500)) == 500);
    p.stack.poll(p.now);
    bool data_out = false;
    for (const auto& o : p.take())
        if (o.h.dst_port == reader.port && o.payload == bytes_of(500)) data_out = true;
    CHECK(data_out);
    CHECK(p.read_all(reader.conn) == bytes_of(1000));
    // The unread data is still all there once the application reads it.
    std::vector<std::uint8_t> want;
    for (int i = 0; i < 4; ++i) {
        const auto b = bytes_of(1460);
        want.insert(want.end(), b.begin(), b.end());
    }
    CHECK(p.read_all(unread.conn) == want);
}
