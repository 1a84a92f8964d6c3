// One ACK per batch: segments handed to receive() between two
// poll()s (the daemon drains up to rx_budget frames per wakeup) are one
// batch. In-order data of a batch is acknowledged by ONE cumulative ACK at
// poll() (a stretch ACK, as Linux does with GRO; RFC 9293 3.8.6.3 and
// RFC 5681 4.2 allow acknowledging a batch), while each out-of-order
// segment still gets its own duplicate ACK with SACK blocks (RFC 5681 4.2,
// RFC 2018 4), a filled hole and a FIN are acknowledged at once, and a lone
// segment still waits for the delayed-ACK timer.
#include <doctest/doctest.h>

#include <vector>

#include "tests/sim/tcp/peer_fixture.hpp"

using namespace tapstack;
using namespace tapstack::sim;

namespace {

wire::TcpOptions sack_syn() {
    wire::TcpOptions o = ScriptedPeer::mss_option(1460);
    o.sack_permitted = true;
    return o;
}

// Hands a data segment to receive() without polling (part of a batch).
void queue_data(ScriptedPeer& p, std::uint32_t seq, std::size_t len, std::uint8_t extra = 0) {
    p.stack.receive(p.now, ScriptedPeer::kPeer, ScriptedPeer::kUs,
                    p.build(Seg{.seq = seq, .ack = p.our_nxt, .flags = static_cast<std::uint8_t>(flag::kAck | extra),
                                .payload = bytes_of(len)}));
}

std::vector<std::pair<std::uint32_t, std::uint32_t>> blocks_of(const Out& o) {
    std::vector<std::pair<std::uint32_t, std::uint32_t>> v;
    for (std::size_t i = 0; i < o.h.options.sack_count; ++i)
        v.emplace_back(o.h.options.sack_blocks[i].left, o.h.options.sack_blocks[i].right);
    return v;
}

}  // namespace

TEST_CASE("RFC 5681 4.2 stretch ACK: 40 in-order full segments before one poll() get exactly one ACK covering all") {
    ScriptedPeer p;  // a 65535-byte window: room for all 40 (58400 bytes)
    tcp::ConnId c = p.establish_passive();
    const std::uint32_t base = p.peer_nxt;
    for (std::uint32_t i = 0; i < 40; ++i) queue_data(p, base + i * 1460, 1460);
    p.peer_nxt = base + 40 * 1460;
    CHECK(p.take().empty());  // nothing leaves from receive()
    p.stack.poll(p.now);
    auto out = p.take();
    REQUIRE(out.size() == 1);
    CHECK(out[0].only(flag::kAck));
    CHECK(out[0].h.ack == p.peer_nxt);
    CHECK(out[0].payload.empty());
    // No delayed ACK is left behind for the same data.
    p.advance(milliseconds(500));
    CHECK(p.take().empty());
    CHECK(p.read_all(c).size() == 40 * 1460);
}

TEST_CASE("RFC 5681 4.2: a batch of in-order data then out-of-order segments: one cumulative ACK, then one duplicate ACK with SACK per out-of-order segment") {
    ScriptedPeer p;
    tcp::ConnId c = p.establish_passive(sack_syn());
    const std::uint32_t base = p.peer_nxt;
    for (std::uint32_t i = 0; i < 10; ++i) queue_data(p, base + i * 1000, 1000);
    // 10000..10999 is lost; four segments after it arrive in the same batch.
    for (std::uint32_t i = 11; i <= 14; ++i) queue_data(p, base + i * 1000, 1000);
    p.stack.poll(p.now);
    auto out = p.take();
    REQUIRE(out.size() == 5);
    for (const auto& o : out) {
        CHECK(o.only(flag::kAck));
        CHECK(o.h.ack == base + 10 * 1000);  // the first advances, the other four are duplicates
    }
    // The duplicates carry the SACK block of the data held beyond the hole.
    for (std::size_t i = 1; i < out.size(); ++i) {
        const auto blocks = blocks_of(out[i]);
        REQUIRE(!blocks.empty());
        CHECK(blocks.front() == std::make_pair(base + 11 * 1000, base + 15 * 1000));
    }
    // The hole filled: acknowledged at once, up to everything held.
    queue_data(p, base + 10 * 1000, 1000);
    p.stack.poll(p.now);
    out = p.take();
    REQUIRE(out.size() == 1);
    CHECK(out[0].h.ack == base + 15 * 1000);
    CHECK(out[0].h.options.sack_count == 0);
    CHECK(p.read_all(c).size() == 15 * 1000);
}

TEST_CASE("RFC 5681 4.2: out-of-order segments alone in a batch each get their own duplicate ACK") {
    ScriptedPeer p;
    p.establish_passive(sack_syn());
    const std::uint32_t base = p.peer_nxt;
    for (std::uint32_t i = 1; i <= 6; ++i) queue_data(p, base + 1000 * i, 1000);
    p.stack.poll(p.now);
    auto out = p.take();
    REQUIRE(out.size() == 6);
    for (const auto& o : out) {
        CHECK(o.h.ack == base);
        CHECK(o.h.options.sack_count >= 1);
    }
}

TEST_CASE("RFC 9293 3.10.7.4 eighth: a FIN ending a batch of in-order data is acknowledged by the one ACK at once") {
    ScriptedPeer p;
    tcp::ConnId c = p.establish_passive();
    const std::uint32_t base = p.peer_nxt;
    for (std::uint32_t i = 0; i < 5; ++i) queue_data(p, base + i * 1460, 1460, i == 4 ? flag::kFin : 0);
    p.peer_nxt = base + 5 * 1460 + 1;
    p.stack.poll(p.now);
    auto out = p.take();
    REQUIRE(out.size() == 1);
    CHECK(out[0].h.ack == p.peer_nxt);
    CHECK(p.stack.info(c).state == tcp::State::kCloseWait);
}

TEST_CASE("RFC 1122 4.2.3.2: a lone segment in a batch still waits for the delayed-ACK timer") {
    ScriptedPeer p;
    p.establish_passive();
    queue_data(p, p.peer_nxt, 1460);
    p.peer_nxt += 1460;
    p.stack.poll(p.now);
    CHECK(p.take().empty());
    p.advance(milliseconds(39));
    CHECK(p.take().empty());
    p.advance(milliseconds(1));
    auto out = p.take();
    REQUIRE(out.size() == 1);
    CHECK(out[0].h.ack == p.peer_nxt);
}

TEST_CASE("one ACK per batch, batch after batch: each poll() acknowledges what arrived since the previous one") {
    ScriptedPeer p;
    tcp::ConnId c = p.establish_passive();
    std::uint32_t seq = p.peer_nxt;
    for (int batch = 0; batch < 5; ++batch) {
        for (int i = 0; i < 4; ++i, seq += 1460) queue_data(p, seq, 1460);
        p.stack.poll(p.now);
        auto out = p.take();
        REQUIRE(out.size() == 1);
        CHECK(out[0].h.ack == seq);
        p.read_all(c);  // keeps the window open (a window update may follow)
        p.take();
    }
}
