// The global TCP memory budget (TcpConfig::memory_max, memory_budget.hpp):
// out-of-order data is pruned under pressure and the stream still arrives
// exactly; acknowledged data is never dropped when the budget bites; under
// pressure windows stay small (right edge never left), new connections are
// refused (SYN to the cookie path, connect() with kNoMemory) and served
// again once memory is back; the account never exceeds the budget.
#include <doctest/doctest.h>

#include <vector>

#include "tests/sim/tcp/peer_fixture.hpp"

using namespace tapstack;
using namespace tapstack::sim;
using tcp::Error;
using tcp::State;

namespace {

constexpr std::uint64_t kBudget = 256 * 1024;
constexpr std::uint32_t kMss = 1460;
constexpr std::size_t kFill = 60000;  // < the 65535-byte window

tcp::TcpConfig budget_config() {
    auto cfg = ScriptedPeer::default_config();
    cfg.memory_max = kBudget;
    return cfg;
}

// The peer sends stream bytes [from, to) of its connection as full segments.
void send_range(ScriptedPeer& p, const ScriptedPeer::PeerConn& c, const std::vector<std::uint8_t>& stream,
                std::size_t from, std::size_t to) {
    for (std::size_t off = from; off < to; off += kMss) {
        const std::size_t n = std::min<std::size_t>(kMss, to - off);
        p.inject(Seg{.seq = c.peer_nxt + static_cast<std::uint32_t>(off), .ack = c.our_nxt, .flags = flag::kAck,
                     .payload = std::vector<std::uint8_t>(stream.begin() + static_cast<std::ptrdiff_t>(off),
                                                          stream.begin() + static_cast<std::ptrdiff_t>(off + n)),
                     .sport = c.port});
        CHECK(p.stack.memory_in_use() <= kBudget);
    }
}

// The highest ACK the stack sent on `port` since the last take().
std::uint32_t last_ack(ScriptedPeer& p, std::uint16_t port, std::uint32_t fallback) {
    std::uint32_t ack = fallback;
    for (const Out& o : p.take())
        if (o.h.dst_port == port && o.has(flag::kAck)) ack = o.h.ack;
    return ack;
}

}  // namespace

TEST_CASE("memory_max: out-of-order data is pruned under pressure, oldest first; every stream still arrives exactly") {
    ScriptedPeer p(budget_config());
    REQUIRE(p.stack.listen(80, 0, &p.listener) == Error::kNone);
    std::vector<ScriptedPeer::PeerConn> conns;
    std::vector<std::vector<std::uint8_t>> streams;
    for (std::uint16_t i = 0; i < 4; ++i) {
        conns.push_back(p.open_from(static_cast<std::uint16_t>(30000 + i)));
        streams.push_back(bytes_of(kFill, static_cast<std::uint8_t>(i * 31)));
    }
    // Each connection gets everything but its first segment: a hole at RCV.NXT.
    for (std::size_t i = 0; i < conns.size(); ++i) send_range(p, conns[i], streams[i], kMss, kFill);
    p.take();
    CHECK(p.counter("tcp.memory_pressure_entered") >= 1);
    CHECK(p.counter("tcp.memory_ooo_pruned") >= 2);
    CHECK(p.counter("tcp.memory_ooo_pruned_bytes") >= 2 * (kFill - kMss));
    CHECK(p.stack.memory_in_use() <= kBudget);
    // The oldest holders were pruned: their memory is back to zero.
    CHECK(p.stack.info(conns[0].conn).memory == 0);
    CHECK(p.stack.info(conns[3].conn).memory > 0);
    // Holes filled and everything retransmitted: each stream is exact.
    for (std::size_t i = 0; i < conns.size(); ++i) {
        std::vector<std::uint8_t> got;
        for (int round = 0; round < 20 && got.size() < kFill; ++round) {
            send_range(p, conns[i], streams[i], got.size(), kFill);
            auto more = p.read_all(conns[i].conn);
            got.insert(got.end(), more.begin(), more.end());
        }
        p.take();
        CHECK(got == streams[i]);
    }
    CHECK(p.stack.memory_in_use() <= kBudget);
}

TEST_CASE("memory_max: acknowledged data is never dropped; at the limit new data waits, new connections are refused") {
    ScriptedPeer p(budget_config());
    REQUIRE(p.stack.listen(80, 0, &p.listener) == Error::kNone);
    std::vector<ScriptedPeer::PeerConn> conns;
    std::vector<std::vector<std::uint8_t>> streams;
    std::vector<std::uint32_t> acked;
    for (std::uint16_t i = 0; i < 5; ++i) {
        conns.push_back(p.open_from(static_cast<std::uint16_t>(31000 + i)));
        streams.push_back(bytes_of(kFill, static_cast<std::uint8_t>(i * 17 + 3)));
    }
    // Nobody reads: in-order data accumulates until the budget bites.
    for (std::size_t i = 0; i < conns.size(); ++i) {
        p.take();
        send_range(p, conns[i], streams[i], 0, kFill);
        p.advance(milliseconds(50));  // delayed ACKs out
        acked.push_back(last_ack(p, conns[i].port, conns[i].peer_nxt) - conns[i].peer_nxt);
        CHECK(p.stack.info(conns[i].conn).recv_available == acked[i]);  // stored == acknowledged
    }
    CHECK(p.stack.memory_pressure());
    CHECK(p.counter("tcp.memory_rx_dropped") > 0);
    CHECK(acked[0] == kFill);
    CHECK(acked[4] < kFill);  // the last one hit the hard limit: not acknowledged
    CHECK(acked[4] >= 4096);  // at least the guaranteed first page
    CHECK(p.stack.memory_in_use() <= kBudget);
    CHECK(p.counter("tcp.memory_ooo_pruned") == 0);  // nothing out of order to prune

    // New connections are refused while under pressure.
    p.inject(Seg{.seq = 1, .flags = flag::kSyn, .options = ScriptedPeer::mss_option(kMss), .sport = 39000});
    Out synack = p.expect_one();
    CHECK(p.counter("tcp.syncookies_sent") == 1);  // the cookie path: no state
    p.inject(Seg{.seq = 2, .ack = synack.h.seq + 1, .flags = flag::kAck, .sport = 39000});
    CHECK(p.counter("tcp.memory_conn_refused") >= 1);
    CHECK_FALSE(p.stack.accept(p.listener).valid());
    tcp::ConnId out;
    CHECK(p.stack.connect(p.now, {ScriptedPeer::kPeer, 9}, 0, &out) == Error::kNoMemory);
    CHECK(p.counter("tcp.memory_connect_refused") == 1);

    // The first application reads: its buffer empties and is freed at once.
    // The peer still has 5,535 bytes of window: no update reopens it beyond
    // 4 segments under pressure.
    const std::uint32_t edge = conns[0].peer_nxt + 65535;  // right edge advertised so far
    CHECK(p.read_all(conns[0].conn) == streams[0]);
    CHECK(p.counter("tcp.memory_buffers_released") >= 1);
    CHECK(p.stack.info(conns[0].conn).memory == 0);
    for (const Out& o : p.take()) {
        if (o.h.dst_port != conns[0].port) continue;
        CHECK(o.h.window <= 4 * kMss);
        CHECK(o.h.ack + o.h.window >= edge);  // RFC 9293 3.8.6: never left
    }
    // 2,000 more bytes: their ACK offers 4 segments (not the free buffer);
    // read in 100-byte pieces afterwards they earn no further update (a
    // same-window pure ACK per read would be a duplicate ACK for the peer,
    // RFC 5681 2).
    const auto extra = bytes_of(2000, 99);
    p.inject(Seg{.seq = conns[0].peer_nxt + static_cast<std::uint32_t>(kFill), .ack = conns[0].our_nxt,
                 .flags = flag::kAck, .payload = extra, .sport = conns[0].port});
    p.advance(milliseconds(50));
    std::vector<Out> acks;
    for (Out& o : p.take())
        if (o.h.dst_port == conns[0].port) acks.push_back(std::move(o));
    REQUIRE(acks.size() == 1);
    CHECK(acks[0].h.ack == conns[0].peer_nxt + kFill + 2000);
    CHECK(acks[0].h.window == 4 * kMss);
    CHECK(acks[0].h.ack + acks[0].h.window >= edge);
    std::vector<std::uint8_t> piece(100), got_more;
    for (int i = 0; i < 20; ++i) {
        const std::size_t n = p.stack.recv(p.now, conns[0].conn, piece);
        got_more.insert(got_more.end(), piece.begin(), piece.begin() + static_cast<std::ptrdiff_t>(n));
        p.stack.poll(p.now);
    }
    CHECK(got_more == extra);
    std::size_t updates = 0;
    for (const Out& o : p.take())
        if (o.h.dst_port == conns[0].port) ++updates;
    CHECK(updates == 0);
    CHECK(p.counter("tcp.memory_window_clamped") >= 1);

    // Every acknowledged byte reaches its application, in order.
    for (std::size_t i = 1; i < conns.size(); ++i) {
        auto got = p.read_all(conns[i].conn);
        CHECK(got.size() == acked[i]);
        CHECK(std::equal(got.begin(), got.end(), streams[i].begin()));
    }
    p.take();
    CHECK_FALSE(p.stack.memory_pressure());
    // The peer whose data was refused sends the rest again: it arrives exactly.
    std::vector<std::uint8_t> tail;
    for (int round = 0; round < 10 && acked[4] + tail.size() < kFill; ++round) {
        send_range(p, conns[4], streams[4], acked[4] + tail.size(), kFill);
        auto more = p.read_all(conns[4].conn);
        tail.insert(tail.end(), more.begin(), more.end());
    }
    CHECK(acked[4] + tail.size() == kFill);
    CHECK(std::equal(tail.begin(), tail.end(), streams[4].begin() + acked[4]));
    // And new connections are served again.
    auto fresh = p.open_from(39001);
    CHECK(p.stack.info(fresh.conn).state == State::kEstablished);
    CHECK(p.stack.connect(p.now, {ScriptedPeer::kPeer, 9}, 0, &out) == Error::kNone);
}

TEST_CASE("memory_max: with syncookies off a SYN under pressure is dropped, not queued") {
    auto cfg = budget_config();
    cfg.syncookies = tcp::SynCookieMode::kOff;
    ScriptedPeer p(cfg);
    REQUIRE(p.stack.listen(80, 0, &p.listener) == Error::kNone);
    std::vector<ScriptedPeer::PeerConn> conns;
    for (std::uint16_t i = 0; i < 4; ++i) conns.push_back(p.open_from(static_cast<std::uint16_t>(32000 + i)));
    for (const auto& c : conns) send_range(p, c, bytes_of(kFill), 0, kFill);
    p.take();
    REQUIRE(p.stack.memory_pressure());
    const auto before = p.stack.connection_count();
    p.inject(Seg{.seq = 1, .flags = flag::kSyn, .sport = 39500});
    p.expect_none();
    CHECK(p.stack.connection_count() == before);
    CHECK(p.counter("tcp.memory_conn_refused") == 1);
}

TEST_CASE("memory_max: application writes wait at the limit (beyond each ring's first page) and resume") {
    auto cfg = budget_config();
    ScriptedPeer p(cfg);
    REQUIRE(p.stack.listen(80, 0, &p.listener) == Error::kNone);
    auto w = p.open_from(33100, ScriptedPeer::mss_option(kMss), 0);
    // Four connections fill the budget with unread received data.
    std::vector<ScriptedPeer::PeerConn> conns;
    for (std::uint16_t i = 0; i < 4; ++i) conns.push_back(p.open_from(static_cast<std::uint16_t>(33000 + i)));
    for (const auto& c : conns) send_range(p, c, bytes_of(kFill), 0, kFill);
    p.take();
    // The fifth connection's application wants to send 60,000 bytes to a
    // peer whose window is closed: only what the budget allows is queued.
    const std::size_t queued = p.stack.send(p.now, w.conn, bytes_of(kFill));
    CHECK(queued < kFill);
    CHECK(queued >= 4096);  // the guaranteed first page
    CHECK(p.stack.info(w.conn).send_free == 0);
    CHECK(p.counter("tcp.memory_send_limited") == 1);
    CHECK(p.stack.memory_in_use() <= kBudget);
    // Memory comes back (the others read); the writer may go on.
    for (auto& c : conns) p.read_all(c.conn);
    CHECK(p.stack.info(w.conn).send_free > 0);
}
