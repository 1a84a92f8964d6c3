// TcpStack::set_config(): a new configuration applies to connections and
// listeners created afterwards; every existing connection keeps the one it
// was created with (tapstackd's SIGHUP reload relies on this: existing
// streams are never disturbed).
#include <doctest/doctest.h>

#include "tests/sim/tcp/peer_fixture.hpp"

using namespace tapstack;
using namespace tapstack::sim;

namespace {

// A second passive connection from the peer's port `sport` on the fixture's
// listener; returns it with the SYN-ACK we sent.
tcp::ConnId open_second(ScriptedPeer& p, std::uint16_t sport, Out* synack_out) {
    p.inject(Seg{.seq = 7000, .flags = flag::kSyn, .options = ScriptedPeer::mss_option(1460), .sport = sport});
    const Out synack = p.expect_one();
    REQUIRE(synack.only(flag::kSyn | flag::kAck));
    p.inject(Seg{.seq = 7001, .ack = synack.h.seq + 1, .flags = flag::kAck, .sport = sport});
    p.expect_none();
    const tcp::ConnId c = p.stack.accept(p.listener);
    REQUIRE(c.valid());
    *synack_out = synack;
    return c;
}

}  // namespace

TEST_CASE("set_config: an established connection keeps its settings, a connection accepted afterwards gets the new "
          "ones") {
    ScriptedPeer p;  // delayed ACK 40 ms, receive buffer 65535, Nagle on, CUBIC
    const tcp::ConnId old_conn = p.establish_passive();

    tcp::TcpConfig next = ScriptedPeer::default_config();
    next.receive_buffer = 32768;
    next.delayed_ack_timeout = Duration::zero();  // ACK every segment at once
    next.no_delay = true;
    next.congestion_control = "newreno";
    next.mtu = 9000;  // the interface's, not TCP's: ignored
    p.stack.set_config(next);
    CHECK(p.stack.config().mtu == 1500);
    CHECK(p.stack.config().no_delay);

    // The old connection: still a delayed ACK for one small segment, still
    // its own buffer, Nagle and congestion control.
    p.peer_data(bytes_of(100));
    p.expect_none();
    p.advance(milliseconds(39));
    p.expect_none();
    p.advance(milliseconds(2));
    CHECK(p.expect_one().h.ack == p.peer_nxt);
    const tcp::ConnStats old_stats = p.stack.stats(old_conn);
    CHECK(old_stats.rcv_buffer == 65535);
    CHECK_FALSE(old_stats.no_delay);
    CHECK(old_stats.congestion_control == "cubic");

    // A connection accepted afterwards on the listener opened before.
    Out synack;
    const tcp::ConnId new_conn = open_second(p, 40001, &synack);
    CHECK(synack.h.window == 32768);
    p.inject(Seg{.seq = 7001, .ack = synack.h.seq + 1, .flags = flag::kAck, .payload = bytes_of(100), .sport = 40001});
    const Out ack = p.expect_one();  // at once: delayed_ack 0
    CHECK(ack.h.ack == 7101);
    const tcp::ConnStats new_stats = p.stack.stats(new_conn);
    CHECK(new_stats.rcv_buffer == 32768);
    CHECK(new_stats.no_delay);
    CHECK(new_stats.congestion_control == "newreno");

    // And the old one still runs on its own settings.
    p.peer_data(bytes_of(100));
    p.expect_none();
    p.advance(milliseconds(41));
    CHECK(p.expect_one().h.ack == p.peer_nxt);
}

TEST_CASE("set_config: a connection keeps its retry limit when a reload lowers it") {
    ScriptedPeer p;
    const tcp::ConnId c = p.establish_passive();
    tcp::TcpConfig next = ScriptedPeer::default_config();
    next.max_retransmits = 1;
    p.stack.set_config(next);
    // Data the peer never acknowledges: with the old limit (15) the second
    // retransmission is still sent, the connection lives on.
    REQUIRE(p.stack.send(p.now, c, bytes_of(10)) == 10);
    p.stack.poll(p.now);
    REQUIRE(p.take().size() == 1);
    int retransmissions = 0;
    for (int i = 0; i < 3; ++i) {
        REQUIRE(p.advance_to_next(seconds(120)));
        for (const Out& o : p.take()) retransmissions += o.payload.size() == 10 ? 1 : 0;
    }
    CHECK(retransmissions >= 2);
    CHECK(p.stack.info(c).state == tcp::State::kEstablished);
}
