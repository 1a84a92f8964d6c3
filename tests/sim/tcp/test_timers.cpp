// Delayed ACKs (RFC 1122 4.2.3.2, RFC 5681 4.2), Nagle and no-delay (RFC 896),
// sender silly-window avoidance (RFC 9293 3.8.6.2.1), keepalive (RFC 1122
// 4.2.3.6), receive buffer auto-tuning and the per-connection figures, on
// the virtual clock (exact instants).
#include <doctest/doctest.h>

#include <optional>
#include <vector>

#include "stack/wire/tcp_header.hpp"
#include "tests/sim/tcp/peer_fixture.hpp"
#include "tests/sim/tcp/sim_net.hpp"

using namespace tapstack;
using namespace tapstack::sim;
using tcp::Error;
using tcp::State;

TEST_CASE("RFC 1122 4.2.3.2: delayed ACK after exactly delayed_ack_timeout; every second full segment at once") {
    auto cfg = ScriptedPeer::default_config();
    cfg.delayed_ack_timeout = milliseconds(100);
    ScriptedPeer p(cfg);
    tcp::ConnId c = p.establish_passive();
    p.peer_data(bytes_of(1460));
    p.advance(milliseconds(99));
    p.expect_none();
    p.advance(milliseconds(1));
    Out a = p.expect_one();
    CHECK(a.h.ack == p.peer_nxt);
    // Full segments: no ACK after the first, one at once after the second.
    for (int round = 0; round < 3; ++round) {
        p.peer_data(bytes_of(1460));
        p.expect_none();
        p.peer_data(bytes_of(1460));
        CHECK(p.expect_one().h.ack == p.peer_nxt);
    }
    CHECK(p.read_all(c).size() == 7 * 1460);
}

TEST_CASE("delayed_ack_timeout is capped at 200 ms (RFC 5681 4.2) and 0 acknowledges every segment at once") {
    auto cfg = ScriptedPeer::default_config();
    cfg.delayed_ack_timeout = seconds(2);
    ScriptedPeer p(cfg);
    p.establish_passive();
    p.peer_data(bytes_of(10));
    p.advance(milliseconds(199));
    p.expect_none();
    p.advance(milliseconds(1));
    CHECK(p.expect_one().h.ack == p.peer_nxt);

    auto now_cfg = ScriptedPeer::default_config();
    now_cfg.delayed_ack_timeout = Duration::zero();
    ScriptedPeer q(now_cfg);
    q.establish_passive();
    q.peer_data(bytes_of(10));
    CHECK(q.expect_one().h.ack == q.peer_nxt);
}

TEST_CASE("batch arrival: in-order full segments between two poll()s get one cumulative (stretch) ACK (RFC 5681 4.2)") {
    ScriptedPeer p;
    tcp::ConnId c = p.establish_passive();
    // Six segments handed over before one poll (one event-loop turn); more
    // in tests/sim/tcp/test_batch_ack.cpp.
    for (int i = 0; i < 6; ++i) {
        p.stack.receive(p.now, ScriptedPeer::kPeer, ScriptedPeer::kUs,
                        p.build(Seg{.seq = p.peer_nxt, .ack = p.our_nxt, .flags = flag::kAck, .payload = bytes_of(1460)}));
        p.peer_nxt += 1460;
    }
    p.stack.poll(p.now);
    auto out = p.take();
    REQUIRE(out.size() == 1);
    CHECK(out[0].h.ack == p.peer_nxt);
    CHECK(p.read_all(c).size() == 6 * 1460);
}

TEST_CASE("batch arrival: every out-of-order segment gets its own duplicate ACK (RFC 5681 4.2)") {
    ScriptedPeer p;
    p.establish_passive();
    const std::uint32_t base = p.peer_nxt;
    for (std::uint32_t i = 1; i <= 4; ++i)
        p.stack.receive(p.now, ScriptedPeer::kPeer, ScriptedPeer::kUs,
                        p.build(Seg{.seq = base + 1000 * i, .ack = p.our_nxt, .flags = flag::kAck,
                                    .payload = bytes_of(1000)}));
    p.stack.poll(p.now);
    auto out = p.take();
    REQUIRE(out.size() == 4);
    for (const auto& o : out) CHECK(o.h.ack == base);
}

TEST_CASE("Nagle (RFC 896) holds a short segment while data is in flight; set_nodelay and TcpConfig::no_delay send it at once") {
    SUBCASE("Nagle on (default)") {
        ScriptedPeer p;
        tcp::ConnId c = p.establish_passive();
        CHECK_FALSE(p.stack.stats(c).no_delay);
        p.stack.send(p.now, c, bytes_of(10));
        p.stack.poll(p.now);
        CHECK(p.expect_one().payload.size() == 10);
        p.stack.send(p.now, c, bytes_of(10));
        p.stack.poll(p.now);
        p.expect_none();
        // Turning no-delay on releases what waits.
        p.stack.set_nodelay(c, true);
        p.stack.poll(p.now);
        CHECK(p.expect_one().payload.size() == 10);
        CHECK(p.stack.stats(c).no_delay);
    }
    SUBCASE("no_delay in the config") {
        auto cfg = ScriptedPeer::default_config();
        cfg.no_delay = true;
        ScriptedPeer p(cfg);
        tcp::ConnId c = p.establish_passive();
        for (int i = 0; i < 3; ++i) {
            p.stack.send(p.now, c, bytes_of(10));
            p.stack.poll(p.now);
            CHECK(p.expect_one().payload.size() == 10);  // each write leaves at once, unacknowledged data or not
        }
    }
}

TEST_CASE("RFC 9293 3.8.6.2.1 sender SWS: a window below MSS and half the max window waits for the override timer") {
    auto cfg = ScriptedPeer::default_config();
    cfg.send_buffer = 100000;
    ScriptedPeer p(cfg);
    tcp::ConnId c = p.establish_passive(ScriptedPeer::mss_option(1000), 10000);
    p.stack.send(p.now, c, bytes_of(20000));
    p.stack.poll(p.now);
    std::size_t sent = 0;
    for (auto& o : p.take()) sent += o.payload.size();
    CHECK(sent == 10000);
    // Everything acknowledged, but the peer offers only 300 bytes.
    p.our_nxt += 10000;
    p.inject(Seg{.seq = p.peer_nxt, .ack = p.our_nxt, .flags = flag::kAck, .window = 300});
    p.expect_none();
    p.advance(milliseconds(199));
    p.expect_none();
    p.advance(milliseconds(1));  // the override timeout
    Out o = p.expect_one();
    CHECK(o.payload.size() == 300);
    // Half the largest window the peer ever offered may go at once.
    p.our_nxt += 300;
    p.inject(Seg{.seq = p.peer_nxt, .ack = p.our_nxt, .flags = flag::kAck, .window = 5000});
    sent = 0;
    for (auto& x : p.take()) sent += x.payload.size();
    CHECK(sent == 5000);
}

TEST_CASE("RFC 1122 4.2.3.6: keepalive is off by default; when on, probes at idle, idle+interval, ...; silence ends in kTimedOut") {
    auto cfg = ScriptedPeer::default_config();
    cfg.keepalive_idle = seconds(10);
    cfg.keepalive_interval = seconds(2);
    cfg.keepalive_count = 3;
    SUBCASE("off by default: an idle connection sends nothing") {
        ScriptedPeer p(cfg);
        tcp::ConnId c = p.establish_passive();
        CHECK_FALSE(p.stack.stats(c).keepalive);
        p.advance(seconds(100));
        p.expect_none();
        CHECK(p.stack.info(c).state == State::kEstablished);
    }
    SUBCASE("a dead peer") {
        ScriptedPeer p(cfg);
        tcp::ConnId c = p.establish_passive();
        const Instant t0 = p.now;
        p.stack.set_keepalive(c, true);
        std::vector<Duration> probes;
        while (p.advance_to_next(seconds(100))) {
            for (auto& o : p.take()) {
                CHECK(o.only(flag::kAck));
                CHECK(o.payload.empty());
                CHECK(o.h.seq == p.our_nxt - 1);  // SND.UNA - 1: the peer must answer
                probes.push_back(p.now - t0);
            }
            if (p.stack.info(c).state == State::kClosed) break;
        }
        CHECK(probes == std::vector<Duration>{seconds(10), seconds(12), seconds(14)});
        CHECK(p.now - t0 == seconds(16));
        CHECK(p.stack.info(c).error == Error::kTimedOut);
        CHECK(p.counter("tcp.keepalive_probes") == 3);
        CHECK(p.counter("tcp.keepalive_timeouts") == 1);
    }
    SUBCASE("answered probes keep the connection; the idle time restarts from the answer") {
        cfg.keepalive = true;  // globally on
        ScriptedPeer p(cfg);
        tcp::ConnId c = p.establish_passive();
        CHECK(p.stack.stats(c).keepalive);
        // poll_at() is a lower bound: step until something is sent.
        auto next_output = [&] {
            for (;;) {
                REQUIRE(p.advance_to_next(seconds(100)));
                auto out = p.take();
                if (!out.empty()) {
                    REQUIRE(out.size() == 1);
                    return out[0];
                }
            }
        };
        Instant answered = p.now;  // the handshake's last segment
        for (int i = 0; i < 5; ++i) {
            Out probe = next_output();
            CHECK(probe.h.seq == p.our_nxt - 1);
            CHECK(p.now - answered == seconds(10));
            answered = p.now;
            p.inject(Seg{.seq = p.peer_nxt, .ack = p.our_nxt, .flags = flag::kAck});
        }
        CHECK(p.stack.info(c).state == State::kEstablished);
        p.stack.set_keepalive(c, false);
        p.advance(seconds(100));
        p.expect_none();
    }
}

namespace {
// Samples the window a connection currently offers (ConnStats::rcv_wnd).
class WindowSampler : public SimApp {
public:
    WindowSampler(tcp::TcpStack& stack, tcp::ConnId conn) : stack_(stack), conn_(conn) {}
    void run(Instant now) override {
        if (now < next_) return;
        max_rcv_wnd = std::max(max_rcv_wnd, stack_.stats(conn_).rcv_wnd);
        next_ = now + milliseconds(5);
    }
    Instant wake_at() const override { return next_; }
    std::uint32_t max_rcv_wnd = 0;

private:
    tcp::TcpStack& stack_;
    tcp::ConnId conn_;
    Instant next_{};
};
}  // namespace

TEST_CASE("receive buffer auto-tuning: the window grows with the delivered bytes per RTT up to receive_buffer_max, its right edge never moves left") {
    for (bool tuning : {false, true}) {
        INFO("auto-tuning " << tuning);
        auto ca = SimNet::default_config(SimNet::kAddrA);
        auto cb = SimNet::default_config(SimNet::kAddrB);
        ca.receive_buffer = 64 * 1024;
        ca.receive_buffer_max = tuning ? 2 * 1024 * 1024 : 0;
        LinkFaults slow;
        slow.delay = milliseconds(25);  // 50 ms RTT: 64 KiB per RTT is about 10 Mbit/s
        SimNet net(21, ca, cb, slow, slow);
        std::uint32_t wscale = 0;
        std::optional<std::uint32_t> right_edge;
        bool edge_moved_left = false;
        net.on_wire = [&](const SimNet::Packet& p) {
            if (p.src != SimNet::kAddrA) return;
            wire::TcpRepr r;
            if (wire::TcpRepr::parse(p.bytes, p.src, p.dst, r)) return;
            if (r.has(wire::tcp_flag::kSyn)) {
                wscale = r.options.window_scale.value_or(0);
                return;
            }
            const std::uint32_t wnd = std::uint32_t{r.window} << wscale;
            const std::uint32_t edge = r.ack + wnd;  // modular, like sequence numbers
            if (right_edge && static_cast<std::int32_t>(edge - *right_edge) < 0) edge_moved_left = true;
            if (!right_edge || static_cast<std::int32_t>(edge - *right_edge) > 0) right_edge = edge;
        };
        tcp::ListenerId l;
        REQUIRE(net.a().listen(80, 0, &l) == Error::kNone);
        tcp::ConnId client;
        REQUIRE(net.b().connect(net.now(), {SimNet::kAddrA, 80}, 0, &client) == Error::kNone);
        tcp::ConnId server;
        REQUIRE(net.run_until([&] { return (server = net.a().accept(l)).valid(); }, seconds(10)));
        const auto data = pattern(8 << 20, 3);
        StreamSender tx(net.b(), data, false);
        StreamReceiver rx(net.a(), 1 << 20, Duration::zero());
        rx.close_on_eof = false;
        tx.attach(client);
        rx.attach(server);
        WindowSampler sampler(net.a(), server);
        net.add_app(&tx);
        net.add_app(&rx);
        net.add_app(&sampler);
        REQUIRE(net.run_until([&] { return rx.eof(); }, seconds(600)));
        CHECK(rx.received() == data);
        CHECK_FALSE(edge_moved_left);
        const std::uint32_t max_window = sampler.max_rcv_wnd;
        const tcp::ConnStats st = net.a().stats(server);
        if (tuning) {
            CHECK(st.rcv_buffer > 64 * 1024);
            CHECK(st.rcv_buffer <= 2 * 1024 * 1024);
            CHECK(max_window > 64 * 1024);
            CHECK(net.counter(true, "tcp.receive_buffer_grown") >= 1);
        } else {
            CHECK(st.rcv_buffer == 64 * 1024);
            CHECK(max_window <= 64 * 1024);
        }
    }
}

TEST_CASE("ConnStats: the figures of a finished transfer add up") {
    SimNet net(5, SimNet::default_config(SimNet::kAddrA), SimNet::default_config(SimNet::kAddrB));
    tcp::ListenerId l;
    REQUIRE(net.a().listen(80, 0, &l) == Error::kNone);
    tcp::ConnId client;
    REQUIRE(net.b().connect(net.now(), {SimNet::kAddrA, 80}, 0, &client) == Error::kNone);
    tcp::ConnId server;
    REQUIRE(net.run_until([&] { return (server = net.a().accept(l)).valid(); }, seconds(10)));
    const auto data = pattern(100000, 5);
    StreamSender tx(net.b(), data, false);
    StreamReceiver rx(net.a(), 65536, Duration::zero());
    rx.close_on_eof = false;
    tx.attach(client);
    rx.attach(server);
    net.add_app(&tx);
    net.add_app(&rx);
    REQUIRE(net.run_until([&] { return rx.eof(); }, seconds(60)));
    net.run_for(milliseconds(100));  // the last ACKs reach the sender
    const tcp::ConnStats s = net.b().stats(client);
    const tcp::ConnStats r = net.a().stats(server);
    CHECK(s.bytes_acked == data.size());
    CHECK(s.bytes_sent == data.size());  // no loss: nothing resent
    CHECK(s.retransmissions == 0);
    CHECK(r.bytes_received == data.size());
    CHECK(s.srtt >= milliseconds(10));  // the link's 2 x 5 ms
    CHECK(s.rto >= milliseconds(200));
    CHECK(s.cwnd >= 10 * s.snd_mss);
    CHECK(s.timestamps);
    CHECK(s.sack);
    CHECK(s.window_scaling);
    CHECK(s.congestion_control == "cubic");
    CHECK(s.segments_sent > 0);
    CHECK(r.segments_received > 0);
    CHECK(tcp::is_known_congestion_control("newreno"));
    CHECK_FALSE(tcp::is_known_congestion_control("bbr"));
    CHECK(net.b().stats(tcp::ConnId{}).bytes_sent == 0);  // stale handle: zeros
}

TEST_CASE("RFC 6298 5.5-5.7 with timestamps negotiated: RTO backoff instants and the abort instant are exact") {
    auto cfg = ScriptedPeer::default_config();
    cfg.max_retransmits = 4;
    ScriptedPeer p(cfg);
    REQUIRE(p.stack.listen(80, 0, &p.listener) == Error::kNone);
    wire::TcpOptions o = ScriptedPeer::mss_option(1460);
    o.timestamps = wire::TcpTimestamps{1, 0};
    o.sack_permitted = true;
    p.inject(Seg{.seq = 1000, .flags = flag::kSyn, .options = o});
    Out synack = p.expect_one();
    REQUIRE(synack.h.options.timestamps.has_value());
    p.now += milliseconds(100);  // SRTT 100, RTTVAR 50: RTO 300 ms (RFC 6298 2.2)
    p.peer_nxt = 1001;
    p.our_nxt = synack.h.seq + 1;
    wire::TcpOptions ack_ts;
    ack_ts.timestamps = wire::TcpTimestamps{2, synack.h.options.timestamps->tsval};
    p.inject(Seg{.seq = p.peer_nxt, .ack = p.our_nxt, .flags = flag::kAck, .options = ack_ts});
    tcp::ConnId c = p.stack.accept(p.listener);
    REQUIRE(c.valid());
    CHECK(p.stack.stats(c).rto == milliseconds(300));
    p.stack.send(p.now, c, bytes_of(200));
    p.stack.poll(p.now);
    const Instant sent = p.now;
    p.take();
    std::vector<Duration> at;
    Duration closed_at{0};
    while (p.advance_to_next(seconds(100))) {
        for (auto& out : p.take()) {
            CHECK(out.h.seq == p.our_nxt);
            CHECK(out.payload.size() == 200);
            at.push_back(p.now - sent);
        }
        if (p.stack.info(c).state == State::kClosed) {
            closed_at = p.now - sent;
            break;
        }
    }
    CHECK(at == std::vector<Duration>{milliseconds(300), milliseconds(900), milliseconds(2100), milliseconds(4500)});
    CHECK(closed_at == milliseconds(9300));
    CHECK(p.stack.info(c).error == Error::kTimedOut);
    CHECK(p.stack.stats(c).rto_expiries == 5);
}

TEST_CASE("RFC 7323 2.4: with window scaling, a buffer the application does not read never gets promised past its end; probes keep the connection") {
    auto ca = SimNet::default_config(SimNet::kAddrA);
    ca.receive_buffer_max = 4 * 1024 * 1024;  // scale shift 7: window granularity 128 bytes
    SimNet net(1, ca, SimNet::default_config(SimNet::kAddrB));
    tcp::ListenerId l;
    REQUIRE(net.a().listen(80, 0, &l) == Error::kNone);
    tcp::ConnId client;
    REQUIRE(net.b().connect(net.now(), {SimNet::kAddrA, 80}, 0, &client) == Error::kNone);
    tcp::ConnId server;
    REQUIRE(net.run_until([&] { return (server = net.a().accept(l)).valid(); }, seconds(10)));
    const auto data = pattern(2 << 20, 9);
    StreamSender tx(net.b(), data, false);
    tx.attach(client);
    net.add_app(&tx);
    net.run_for(seconds(300));  // nobody reads
    CHECK(net.b().info(client).state == State::kEstablished);
    CHECK(net.counter(false, "tcp.rto_expiries") == 0);  // nothing in-window was ever dropped
    CHECK(net.counter(false, "tcp.persist_probes") > 0);
    // Full up to less than one window-scale unit (the edge is a multiple of 128).
    CHECK(net.a().info(server).recv_available > ca.receive_buffer - 128);
    CHECK(net.a().info(server).recv_available <= ca.receive_buffer);
    StreamReceiver rx(net.a(), 65536, Duration::zero());
    rx.close_on_eof = false;
    rx.attach(server);
    net.add_app(&rx);
    REQUIRE(net.run_until([&] { return rx.eof(); }, seconds(600)));
    CHECK(rx.received() == data);
}

TEST_CASE("RFC 6298 5.7: after the SYN timed out, data starts with an RTO of 3 s") {
    ScriptedPeer p;
    tcp::ConnId c;
    REQUIRE(p.stack.connect(p.now, {ScriptedPeer::kPeer, 40000}, 80, &c) == Error::kNone);
    p.stack.poll(p.now);
    p.expect_one();  // the SYN, "lost"
    REQUIRE(p.advance_to_next());
    Out syn = p.expect_one();  // again after 1 s; RTO now 2 s
    REQUIRE(syn.only(flag::kSyn));
    p.inject(Seg{.seq = 5000, .ack = syn.h.seq + 1, .flags = flag::kSyn | flag::kAck,
                 .options = ScriptedPeer::mss_option(1460)});
    p.take();
    CHECK(p.stack.stats(c).rto == seconds(3));
    p.stack.send(p.now, c, bytes_of(100));
    p.stack.poll(p.now);
    const Instant sent = p.now;
    p.take();
    while (p.take().empty()) REQUIRE(p.advance_to_next());
    CHECK(p.now - sent == seconds(3));
}
