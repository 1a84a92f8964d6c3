// Path MTU: ICMP "fragmentation needed" (RFC 1191) believed only when it
// quotes a sequence number in flight (RFC 5927), ICMP soft and hard errors
// (RFC 1122 4.2.3.9), and packetization-layer probing for paths that drop
// large segments silently (RFC 4821): against a scripted peer, and a bulk
// transfer on the simulated link through a black hole.
#include <doctest/doctest.h>

#include <array>
#include <vector>

#include "stack/tcp/path_mtu.hpp"
#include "stack/wire/icmp.hpp"
#include "tests/sim/tcp/peer_fixture.hpp"
#include "tests/sim/tcp/sim_net.hpp"

using namespace tapstack;
using namespace tapstack::sim;
using tcp::Error;
using tcp::State;

namespace {

// An ICMP error as the interface hands it over, quoting a segment of ours
// from `local_port` to the peer's `remote_port` with sequence number `seq`.
struct Quote {
    std::array<std::uint8_t, 8> tcp{};
    tcp::IcmpErrorReport report;
    Quote(std::uint8_t type, std::uint8_t code, std::uint32_t seq, std::uint16_t next_hop_mtu = 0,
          std::uint16_t local_port = 80, std::uint16_t remote_port = 40000, std::uint16_t quoted_length = 1500) {
        wire::store_be16(tcp.data(), local_port);
        wire::store_be16(tcp.data() + 2, remote_port);
        wire::store_be32(tcp.data() + 4, seq);
        report.type = type;
        report.code = code;
        report.next_hop_mtu = next_hop_mtu;
        report.src = ScriptedPeer::kUs;
        report.dst = ScriptedPeer::kPeer;
        report.quoted_length = quoted_length;
        report.tcp = tcp;
    }
};

Quote frag_needed(std::uint32_t seq, std::uint16_t mtu) {
    return Quote(wire::icmp_type::kDestUnreachable, wire::icmp_code::kFragmentationNeeded, seq, mtu);
}

void deliver(ScriptedPeer& p, const Quote& q) {
    p.stack.icmp_error(p.now, q.report);
    p.stack.poll(p.now);
}

// Established (passive) with four full segments of ours (5840 bytes) sent
// and not acknowledged.
constexpr std::uint32_t kInFlight = 4 * 1460;
tcp::ConnId with_data_in_flight(ScriptedPeer& p, std::vector<Out>* sent) {
    tcp::ConnId c = p.establish_passive();
    REQUIRE(p.stack.send(p.now, c, bytes_of(kInFlight)) == kInFlight);
    p.stack.poll(p.now);
    *sent = p.take();
    REQUIRE(sent->size() == 4);
    return c;
}

}  // namespace

TEST_CASE("RFC 1191: fragmentation needed quoting a segment in flight lowers the MSS, and what was in flight goes again at once at the new size") {
    ScriptedPeer p;
    std::vector<Out> sent;
    tcp::ConnId c = with_data_in_flight(p, &sent);
    CHECK(p.stack.stats(c).snd_mss == 1460);
    deliver(p, frag_needed(sent[1].h.seq, 1280));
    CHECK(p.counter("tcp.pmtu_lowered") == 1);
    CHECK(p.stack.stats(c).snd_mss == 1240);
    // Go-back-N from SND.UNA at 1240 bytes, no congestion response.
    const auto again = p.take();
    REQUIRE(again.size() >= 4);
    std::uint32_t next = p.our_nxt;
    for (const Out& o : again) {
        CHECK(o.payload.size() <= 1240);
        CHECK(o.h.seq == next);
        next += static_cast<std::uint32_t>(o.payload.size());
    }
    CHECK(next == p.our_nxt + kInFlight);
    CHECK(p.counter("tcp.rto_expiries") == 0);
    // The peer acknowledges it all; later data keeps the new size.
    p.inject(Seg{.seq = p.peer_nxt, .ack = p.our_nxt + kInFlight, .flags = flag::kAck});
    p.our_nxt += kInFlight;
    p.take();
    REQUIRE(p.stack.send(p.now, c, bytes_of(3 * 1240)) == 3 * 1240);
    p.stack.poll(p.now);
    const auto later = p.take();
    CHECK(later.size() == 3);
    for (const Out& o : later) CHECK(o.payload.size() == 1240);
}

TEST_CASE("RFC 5927 4.1: ICMP errors change a connection only when they quote a sequence number in flight") {
    ScriptedPeer p;
    std::vector<Out> sent;
    tcp::ConnId c = with_data_in_flight(p, &sent);
    // Sequence numbers outside SND.UNA..SND.MAX: below (already
    // acknowledged), at SND.MAX (not sent), far away; and a quote that names
    // another port pair.
    const std::uint32_t una = p.our_nxt;
    const std::uint32_t max = p.our_nxt + kInFlight;
    for (const std::uint32_t seq : {una - 1, max, max + 100000, una + 0x80000000u}) {
        deliver(p, frag_needed(seq, 1280));
        deliver(p, Quote(wire::icmp_type::kDestUnreachable, wire::icmp_code::kPortUnreachable, seq));
    }
    CHECK(p.counter("tcp.icmp_out_of_window") == 8);
    deliver(p, Quote(wire::icmp_type::kDestUnreachable, wire::icmp_code::kFragmentationNeeded, sent[0].h.seq, 1280,
                     80, 40001));
    CHECK(p.counter("tcp.icmp_unmatched") == 1);
    p.expect_none();
    CHECK(p.stack.stats(c).snd_mss == 1460);
    CHECK(p.counter("tcp.pmtu_lowered") == 0);
    CHECK(p.counter("tcp.icmp_soft_errors") == 0);
    CHECK(p.stack.info(c).state == State::kEstablished);
    // The same message quoting SND.UNA, and SND.MAX - 1, is believed.
    deliver(p, frag_needed(max - 1, 1400));
    CHECK(p.stack.stats(c).snd_mss == 1360);
    deliver(p, frag_needed(una, 1280));
    CHECK(p.stack.stats(c).snd_mss == 1240);
    CHECK(p.counter("tcp.pmtu_lowered") == 2);
}

TEST_CASE("RFC 1191: a next-hop MTU is never taken below 552 nor as an increase; 0 means the plateau below the quoted length") {
    ScriptedPeer p;
    std::vector<Out> sent;
    tcp::ConnId c = with_data_in_flight(p, &sent);
    deliver(p, frag_needed(sent[0].h.seq, 1600));  // larger than the path's: ignored
    CHECK(p.stack.stats(c).snd_mss == 1460);
    CHECK(p.counter("tcp.pmtu_lowered") == 0);
    // No next-hop MTU (a router before RFC 1191), quoted length 1500: the
    // plateau below is 1492.
    deliver(p, Quote(wire::icmp_type::kDestUnreachable, wire::icmp_code::kFragmentationNeeded, sent[0].h.seq, 0, 80,
                     40000, 1500));
    CHECK(p.stack.stats(c).snd_mss == 1452);
    deliver(p, frag_needed(sent[0].h.seq, 68));  // a forged tiny MTU: 552 at most
    CHECK(p.stack.stats(c).snd_mss == 512);
    deliver(p, frag_needed(sent[0].h.seq, 600));  // above the 552 now in force: ignored
    CHECK(p.stack.stats(c).snd_mss == 512);
}

TEST_CASE("RFC 1191 6.3: the lowered path MTU is remembered for the destination: a new connection starts with it") {
    ScriptedPeer p;
    std::vector<Out> sent;
    with_data_in_flight(p, &sent);
    deliver(p, frag_needed(sent[0].h.seq, 1300));
    p.take();
    tcp::ConnId second;
    REQUIRE(p.stack.connect(p.now, {ScriptedPeer::kPeer, 40001}, 81, &second) == Error::kNone);
    p.stack.poll(p.now);
    const Out syn = p.expect_one();
    p.inject(Seg{.seq = 9000, .ack = syn.h.seq + 1, .flags = flag::kSyn | flag::kAck,
                 .options = ScriptedPeer::mss_option(1460), .sport = 40001, .dport = 81});
    p.take();
    CHECK(p.stack.stats(second).snd_mss == 1260);
    // After the cache's lifetime a new connection tries the full size again.
    p.now += std::chrono::minutes(11);
    tcp::ConnId third;
    REQUIRE(p.stack.connect(p.now, {ScriptedPeer::kPeer, 40002}, 82, &third) == Error::kNone);
    p.stack.poll(p.now);
    Out syn3;
    for (const Out& o : p.take())  // the first connections' timers ran too
        if (o.has(flag::kSyn) && o.h.dst_port == 40002) syn3 = o;
    REQUIRE(syn3.has(flag::kSyn));
    p.inject(Seg{.seq = 9000, .ack = syn3.h.seq + 1, .flags = flag::kSyn | flag::kAck,
                 .options = ScriptedPeer::mss_option(1460), .sport = 40002, .dport = 82});
    CHECK(p.stack.stats(third).snd_mss == 1460);
}

TEST_CASE("RFC 1122 4.2.3.9: unreachable is a soft error for a synchronized connection; reported only if it then times out") {
    auto cfg = ScriptedPeer::default_config();
    cfg.max_retransmits = 2;
    ScriptedPeer p(cfg);
    std::vector<Out> sent;
    tcp::ConnId c = with_data_in_flight(p, &sent);
    deliver(p, Quote(wire::icmp_type::kDestUnreachable, wire::icmp_code::kHostUnreachable, sent[0].h.seq));
    deliver(p, Quote(wire::icmp_type::kDestUnreachable, wire::icmp_code::kPortUnreachable, sent[0].h.seq));
    CHECK(p.counter("tcp.icmp_soft_errors") == 2);
    CHECK(p.stack.info(c).state == State::kEstablished);
    // An ACK clears it: something got through.
    p.inject(Seg{.seq = p.peer_nxt, .ack = p.our_nxt + 1460, .flags = flag::kAck});
    deliver(p, Quote(wire::icmp_type::kTimeExceeded, 0, p.our_nxt + 1460));
    CHECK(p.counter("tcp.icmp_soft_errors") == 3);
    // The peer is gone: the timeout reports what ICMP said.
    while (p.stack.info(c).state != State::kClosed && p.advance_to_next(seconds(100))) p.take();
    CHECK(p.stack.info(c).error == Error::kHostUnreachable);
}

TEST_CASE("RFC 5927 / RFC 1122 4.2.3.9: port unreachable quoting our SYN fails the connect as refused; one not quoting it does nothing") {
    ScriptedPeer p;
    tcp::ConnId c;
    REQUIRE(p.stack.connect(p.now, {ScriptedPeer::kPeer, 40000}, 80, &c) == Error::kNone);
    p.stack.poll(p.now);
    const Out syn = p.expect_one();
    deliver(p, Quote(wire::icmp_type::kDestUnreachable, wire::icmp_code::kPortUnreachable, syn.h.seq + 1));
    CHECK(p.stack.info(c).state == State::kSynSent);
    CHECK(p.counter("tcp.icmp_out_of_window") == 1);
    deliver(p, Quote(wire::icmp_type::kDestUnreachable, wire::icmp_code::kPortUnreachable, syn.h.seq));
    CHECK(p.stack.info(c).state == State::kClosed);
    CHECK(p.stack.info(c).error == Error::kRefused);
    CHECK(p.counter("tcp.icmp_aborted_opens") == 1);
    tcp::ConnId d;
    REQUIRE(p.stack.connect(p.now, {ScriptedPeer::kPeer, 40000}, 81, &d) == Error::kNone);
    p.stack.poll(p.now);
    const Out syn2 = p.expect_one();
    deliver(p, Quote(wire::icmp_type::kDestUnreachable, wire::icmp_code::kNetUnreachable, syn2.h.seq, 0, 81));
    CHECK(p.stack.info(d).error == Error::kHostUnreachable);
}

namespace {

struct BulkResult {
    bool finished = false;
    bool exact = false;
    tcp::ConnStats sender;
    std::uint64_t black_holes = 0, probes = 0, successes = 0, failures = 0, lowered = 0, timed_out = 0;
};

// B sends `size` bytes to A; B's segments larger than `path_mtu` (as IPv4
// datagrams) vanish without a word, as behind a router whose ICMP is filtered.
BulkResult through_black_hole(tcp::MtuProbing mode, std::size_t size, std::uint16_t path_mtu, Duration limit) {
    auto ca = SimNet::default_config(SimNet::kAddrA);
    auto cb = SimNet::default_config(SimNet::kAddrB);
    cb.mtu_probing = mode;
    cb.min_rto = milliseconds(50);
    cb.initial_rto = milliseconds(200);
    SimNet net(5, ca, cb);
    net.filter = [&](const SimNet::Packet& pk) { return pk.src != SimNet::kAddrB || pk.bytes.size() + 20 <= path_mtu; };
    tcp::ListenerId l;
    REQUIRE(net.a().listen(80, 0, &l) == Error::kNone);
    tcp::ConnId client;
    REQUIRE(net.b().connect(net.now(), {SimNet::kAddrA, 80}, 0, &client) == Error::kNone);
    tcp::ConnId server;
    REQUIRE(net.run_until([&] { return (server = net.a().accept(l)).valid(); }, seconds(30)));
    const auto data = pattern(size, 5);
    StreamSender tx(net.b(), data, false);
    StreamReceiver rx(net.a(), 65536, Duration::zero());
    rx.close_on_eof = false;
    tx.attach(client);
    rx.attach(server);
    net.add_app(&tx);
    net.add_app(&rx);
    BulkResult r;
    r.finished = net.run_until([&] { return rx.eof(); }, limit);
    r.exact = rx.received() == data;
    r.sender = net.b().stats(client);
    r.black_holes = net.counter(false, "tcp.pmtu_black_holes");
    r.probes = net.counter(false, "tcp.pmtu_probes");
    r.successes = net.counter(false, "tcp.pmtu_probe_successes");
    r.failures = net.counter(false, "tcp.pmtu_probe_failures");
    r.lowered = net.counter(false, "tcp.pmtu_lowered");
    r.timed_out = net.counter(false, "tcp.conn_timed_out");
    return r;
}

}  // namespace

TEST_CASE("RFC 4821: through a black hole (MTU 1280, no ICMP) the transfer finishes exact: the MSS falls to 1024, then probing finds 1240") {
    const BulkResult r = through_black_hole(tcp::MtuProbing::kOnBlackhole, 4 << 20, 1280, seconds(600));
    CHECK(r.finished);
    CHECK(r.exact);
    CHECK(r.black_holes == 1);
    CHECK(r.lowered == 0);
    CHECK(r.probes >= 3);
    CHECK(r.successes >= 1);
    CHECK(r.failures >= 1);
    // Within the search's resolution below the path's 1240 (MTU - 40),
    // timestamps (12 bytes) taken off the payload.
    CHECK(r.sender.snd_mss <= 1240 - 12);
    CHECK(r.sender.snd_mss + 12 + tcp::PathMtu::kSearchDone > 1240);
}

TEST_CASE("RFC 4821: with probing off a black hole stalls the transfer until the connection times out") {
    const BulkResult r = through_black_hole(tcp::MtuProbing::kOff, 1 << 20, 1280, seconds(600));
    CHECK_FALSE(r.finished);
    CHECK(r.timed_out == 1);
    CHECK(r.black_holes == 0);
}

TEST_CASE("RFC 4821 (mtu_probing: always): a connection starts at 1024 bytes and probes up to the full size on a clean path") {
    const BulkResult r = through_black_hole(tcp::MtuProbing::kAlways, 2 << 20, 1500, seconds(600));
    CHECK(r.finished);
    CHECK(r.exact);
    CHECK(r.black_holes == 0);
    CHECK(r.failures == 0);
    CHECK(r.successes >= 3);
    CHECK(r.sender.snd_mss + 12 + tcp::PathMtu::kSearchDone > 1460);
}
