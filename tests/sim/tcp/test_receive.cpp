// The receiving side of ESTABLISHED and what follows (RFC 9293 3.10.7.4
// steps 1, 7, 8; RFC 5681 4.2; RFC 1122 4.2.3.3), against a scripted peer.
#include <doctest/doctest.h>

#include <algorithm>
#include <numeric>

#include "tests/sim/tcp/peer_fixture.hpp"

using namespace tapstack;
using namespace tapstack::sim;
using tcp::Error;
using tcp::State;

TEST_CASE("3.10.7.4 step 7: in-order data is delivered; delayed ACK fires within 200 ms, every 2nd full segment at once") {
    ScriptedPeer p;
    tcp::ConnId c = p.establish_passive();
    p.peer_data(bytes_of(100));
    p.expect_none();  // delayed
    p.advance(milliseconds(200));
    Out a = p.expect_one();
    CHECK(a.only(flag::kAck));
    CHECK(a.h.ack == p.peer_nxt);
    CHECK(p.read_all(c) == bytes_of(100));
    p.take();
    p.peer_data(bytes_of(1460));
    p.expect_none();
    p.peer_data(bytes_of(1460));
    Out b = p.expect_one();
    CHECK(b.h.ack == p.peer_nxt);
}

TEST_CASE("3.10.7.4 step 5: a segment without ACK in ESTABLISHED is not queued") {
    ScriptedPeer p;
    tcp::ConnId c = p.establish_passive();
    p.inject(Seg{.seq = p.peer_nxt, .flags = 0, .payload = bytes_of(10)});
    p.inject(Seg{.seq = p.peer_nxt, .flags = flag::kPsh, .payload = bytes_of(10)});
    p.advance(seconds(1));
    p.expect_none();
    CHECK(p.stack.info(c).recv_available == 0);
    CHECK(p.counter("tcp.rx_no_ack") == 2);
}

TEST_CASE("RFC 5681 4.2: out-of-order permutations of 3-5 segments: immediate duplicate ACKs, delivered exactly once in order") {
    for (std::size_t n : {3u, 4u, 5u}) {
        std::vector<std::size_t> order(n);
        std::iota(order.begin(), order.end(), 0);
        do {
            ScriptedPeer p;
            tcp::ConnId c = p.establish_passive();
            const std::uint32_t base = p.peer_nxt;
            const auto data = bytes_of(n * 500, static_cast<std::uint8_t>(n));
            for (std::size_t k = 0; k < n; ++k) {
                const std::size_t i = order[k];
                std::vector<std::uint8_t> part(data.begin() + static_cast<std::ptrdiff_t>(i * 500),
                                               data.begin() + static_cast<std::ptrdiff_t>(i * 500 + 500));
                p.inject(Seg{.seq = base + static_cast<std::uint32_t>(i * 500), .ack = p.our_nxt, .flags = flag::kAck,
                             .payload = part});
                // The contiguous prefix decides what is acknowledged.
                std::size_t prefix = 0;
                std::vector<bool> have(n, false);
                for (std::size_t j = 0; j <= k; ++j) have[order[j]] = true;
                while (prefix < n && have[prefix]) ++prefix;
                bool ahead = false;
                for (std::size_t j = prefix; j < n; ++j) ahead = ahead || have[j];
                auto out = p.take();
                if (ahead) {
                    // Out-of-order data pending: an immediate (duplicate) ACK.
                    REQUIRE(out.size() == 1);
                    CHECK(out[0].h.ack == base + prefix * 500);
                }
                for (auto& o : out) CHECK(o.h.ack == base + prefix * 500);
            }
            p.advance(milliseconds(300));
            auto got = p.read_all(c);
            CHECK(got == data);
            CHECK(p.stack.info(c).recv_available == 0);
        } while (std::next_permutation(order.begin(), order.end()));
    }
}

TEST_CASE("overlapping out-of-order segments are delivered exactly once") {
    ScriptedPeer p;
    tcp::ConnId c = p.establish_passive();
    const std::uint32_t base = p.peer_nxt;
    const auto data = bytes_of(3000);
    auto piece = [&](std::size_t from, std::size_t to) {
        return std::vector<std::uint8_t>(data.begin() + static_cast<std::ptrdiff_t>(from),
                                         data.begin() + static_cast<std::ptrdiff_t>(to));
    };
    auto send = [&](std::size_t from, std::size_t to) {
        p.inject(Seg{.seq = base + static_cast<std::uint32_t>(from), .ack = p.our_nxt, .flags = flag::kAck,
                     .payload = piece(from, to)});
    };
    send(1000, 2000);
    send(1500, 2500);
    send(2400, 3000);
    send(500, 1200);
    send(1000, 2000);
    CHECK(p.stack.info(c).recv_available == 0);
    send(0, 600);
    CHECK(p.stack.info(c).recv_available == 3000);
    CHECK(p.read_all(c) == data);
    auto out = p.take();
    REQUIRE_FALSE(out.empty());
    CHECK(out.back().h.ack == base + 3000);
}

TEST_CASE("data and FIN in one segment: the application reads the data, then EOF; FIN acknowledged at once") {
    ScriptedPeer p;
    tcp::ConnId c = p.establish_passive();
    p.events();
    p.peer_data(bytes_of(1000), flag::kFin);
    Out a = p.expect_one();
    CHECK(a.only(flag::kAck));
    CHECK(a.h.ack == p.peer_nxt);  // data + FIN
    auto info = p.stack.info(c);
    CHECK(info.state == State::kCloseWait);
    CHECK(info.recv_available == 1000);
    CHECK_FALSE(info.eof);  // unread data first
    CHECK_FALSE(p.events().empty());
    CHECK(p.read_all(c) == bytes_of(1000));
    CHECK(p.stack.info(c).eof);
}

TEST_CASE("FIN arriving ahead of a hole is not acknowledged until the hole is filled") {
    ScriptedPeer p;
    tcp::ConnId c = p.establish_passive();
    const std::uint32_t base = p.peer_nxt;
    const auto data = bytes_of(2000);
    // Second half + FIN first.
    p.inject(Seg{.seq = base + 1000, .ack = p.our_nxt, .flags = flag::kAck | flag::kFin,
                 .payload = std::vector<std::uint8_t>(data.begin() + 1000, data.end())});
    Out dup = p.expect_one();
    CHECK(dup.h.ack == base);  // neither the data nor the FIN
    auto info = p.stack.info(c);
    CHECK(info.state == State::kEstablished);
    CHECK_FALSE(info.eof);
    // A retransmitted FIN alone still waits.
    p.inject(Seg{.seq = base + 2000, .ack = p.our_nxt, .flags = flag::kAck | flag::kFin});
    CHECK(p.expect_one().h.ack == base);
    CHECK(p.stack.info(c).state == State::kEstablished);
    // Fill the hole: everything including the FIN is acknowledged.
    p.inject(Seg{.seq = base, .ack = p.our_nxt, .flags = flag::kAck,
                 .payload = std::vector<std::uint8_t>(data.begin(), data.begin() + 1000)});
    Out all = p.expect_one();
    CHECK(all.h.ack == base + 2001);
    info = p.stack.info(c);
    CHECK(info.state == State::kCloseWait);
    CHECK_FALSE(info.eof);
    CHECK(p.read_all(c) == data);
    CHECK(p.stack.info(c).eof);
}

TEST_CASE("3.10.7.4: retransmitted old data gets a pure ACK of RCV.NXT and is not delivered twice") {
    ScriptedPeer p;
    tcp::ConnId c = p.establish_passive();
    const std::uint32_t base = p.peer_nxt;
    p.peer_data(bytes_of(500));
    p.advance(milliseconds(300));
    p.take();
    p.inject(Seg{.seq = base, .ack = p.our_nxt, .flags = flag::kAck, .payload = bytes_of(500)});
    Out a = p.expect_one();
    CHECK(a.only(flag::kAck));
    CHECK(a.h.ack == base + 500);
    CHECK(a.payload.empty());
    CHECK(p.read_all(c) == bytes_of(500));
    CHECK(p.counter("tcp.rx_duplicate_segments") == 1);
}

TEST_CASE("3.10.7.4: a segment straddling RCV.NXT delivers only its new part") {
    ScriptedPeer p;
    tcp::ConnId c = p.establish_passive();
    const std::uint32_t base = p.peer_nxt;
    const auto data = bytes_of(1000);
    p.inject(Seg{.seq = base, .ack = p.our_nxt, .flags = flag::kAck,
                 .payload = std::vector<std::uint8_t>(data.begin(), data.begin() + 600)});
    p.inject(Seg{.seq = base + 400, .ack = p.our_nxt, .flags = flag::kAck,
                 .payload = std::vector<std::uint8_t>(data.begin() + 400, data.end())});
    auto out = p.take();
    REQUIRE_FALSE(out.empty());
    CHECK(out.back().h.ack == base + 1000);
    CHECK(p.read_all(c) == data);
}

TEST_CASE("3.10.7.4 step 1: data beyond the window is ACKed and the excess not accepted") {
    auto cfg = ScriptedPeer::default_config();
    cfg.receive_buffer = 4000;
    ScriptedPeer p(cfg);
    tcp::ConnId c = p.establish_passive();
    const std::uint32_t base = p.peer_nxt;
    // Wholly beyond the right edge: unacceptable, ACK.
    p.inject(Seg{.seq = base + 5000, .ack = p.our_nxt, .flags = flag::kAck, .payload = bytes_of(100)});
    Out a = p.expect_one();
    CHECK(a.h.ack == base);
    CHECK(a.h.window == 4000);
    // Straddling the right edge: the part inside is taken.
    p.inject(Seg{.seq = base, .ack = p.our_nxt, .flags = flag::kAck, .payload = bytes_of(5000)});
    Out b = p.expect_one();
    CHECK(b.h.ack == base + 4000);
    CHECK(b.h.window == 0);
    const auto sent = bytes_of(5000);
    CHECK(p.read_all(c) == std::vector<std::uint8_t>(sent.begin(), sent.begin() + 4000));
    CHECK(p.counter("tcp.rx_beyond_window") == 1000);
}

TEST_CASE("3.8.6 zero window: right edge never moves left, probes answered with window 0, update once drained enough") {
    auto cfg = ScriptedPeer::default_config();
    cfg.receive_buffer = 8000;
    ScriptedPeer p(cfg);
    tcp::ConnId c = p.establish_passive();
    std::uint32_t right_edge = p.peer_nxt + 8000;
    auto check_edge = [&](const std::vector<Out>& out) {
        for (const auto& o : out) {
            if (!o.has(flag::kAck)) continue;
            const std::uint32_t edge = o.h.ack + o.h.window;
            CHECK(static_cast<std::int32_t>(edge - right_edge) >= 0);  // never left
            right_edge = edge;
        }
    };
    // The peer fills the window while the application reads nothing.
    for (int i = 0; i < 5; ++i) {
        p.peer_data(bytes_of(1460));
        check_edge(p.take());
    }
    p.peer_data(bytes_of(700));
    auto out = p.take();
    check_edge(out);
    REQUIRE_FALSE(out.empty());
    CHECK(out.back().h.window == 0);
    CHECK(out.back().h.ack == p.peer_nxt);
    // Zero-window probe with one byte at RCV.NXT: answered with window 0, not accepted.
    p.inject(Seg{.seq = p.peer_nxt, .ack = p.our_nxt, .flags = flag::kAck, .payload = bytes_of(1)});
    Out probe_ack = p.expect_one();
    CHECK(probe_ack.h.window == 0);
    CHECK(probe_ack.h.ack == p.peer_nxt);
    // Linux-style probe (SEQ = RCV.NXT - 1): also answered with window 0.
    p.inject(Seg{.seq = p.peer_nxt - 1, .ack = p.our_nxt, .flags = flag::kAck});
    Out probe2 = p.expect_one();
    CHECK(probe2.h.window == 0);
    // Reading a little does not reopen the window (receiver SWS avoidance).
    std::vector<std::uint8_t> buf(100);
    CHECK(p.stack.recv(p.now, c, buf) == 100);
    p.stack.poll(p.now);
    p.expect_none();
    p.inject(Seg{.seq = p.peer_nxt, .ack = p.our_nxt, .flags = flag::kAck, .payload = bytes_of(1)});
    CHECK(p.expect_one().h.window == 0);
    // Reading enough sends a window update at the next poll, unprompted.
    std::vector<std::uint8_t> big(4000);
    CHECK(p.stack.recv(p.now, c, big) == 4000);
    CHECK(p.stack.poll_at() <= p.now);
    p.stack.poll(p.now);
    Out upd = p.expect_one();
    check_edge({upd});
    CHECK(upd.h.window >= 4000);
    CHECK(p.counter("tcp.window_updates") == 1);
    // The window reopened: data flows again.
    p.peer_data(bytes_of(1000));
    CHECK(p.stack.info(c).recv_available == 8000 - 4100 + 1000);
}

TEST_CASE("N bytes + FIN into a small window: FIN taken at its position even when the window is exactly full") {
    auto cfg = ScriptedPeer::default_config();
    cfg.receive_buffer = 3000;
    ScriptedPeer p(cfg);
    tcp::ConnId c = p.establish_passive();
    p.peer_data(bytes_of(1500));
    p.peer_data(bytes_of(1500));
    p.take();
    // FIN alone at RCV.NXT with a zero window: no buffer needed, acted on.
    p.inject(Seg{.seq = p.peer_nxt, .ack = p.our_nxt, .flags = flag::kAck | flag::kFin});
    Out a = p.expect_one();
    CHECK(a.h.ack == p.peer_nxt + 1);
    CHECK(p.stack.info(c).state == State::kCloseWait);
    CHECK_FALSE(p.stack.info(c).eof);
    auto got = p.read_all(c);
    CHECK(got.size() == 3000);
    CHECK(p.stack.info(c).eof);
}

TEST_CASE("recv after EOF returns 0 and info().eof stays true") {
    ScriptedPeer p;
    tcp::ConnId c = p.establish_passive();
    p.peer_data({}, flag::kFin);
    p.take();
    std::vector<std::uint8_t> buf(10);
    CHECK(p.stack.recv(p.now, c, buf) == 0);
    CHECK(p.stack.info(c).eof);
    CHECK(p.stack.recv(p.now, c, buf) == 0);
    CHECK(p.stack.info(c).eof);
}
