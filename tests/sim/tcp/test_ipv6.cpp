// TCP over IPv6 (RFC 9293 with RFC 8200 8): the same TcpStack serves both
// families. Two stacks on the seeded lossy link move exact bytes over IPv6;
// one listener serves both families unless told otherwise; IPv4 and IPv6
// tuples with equal ports are distinct connections; our MSS is the MTU less
// 60; SYN cookies work over IPv6; an ICMPv6 Packet Too Big (as the
// interface hands it over) lowers the MSS only when it quotes a sequence
// number in flight (RFC 5927) and never below 1280 - 60.
#include <doctest/doctest.h>

#include <array>
#include <vector>

#include "stack/wire/byte_order.hpp"
#include "stack/wire/icmp.hpp"
#include "stack/wire/tcp_header.hpp"
#include "tests/sim/tcp/sim_net.hpp"

using namespace tapstack;
using namespace tapstack::sim;
namespace flag = wire::tcp_flag;

namespace {

const wire::IpAddress kA6 = SimNet::kAddr6A;
const wire::IpAddress kB6 = SimNet::kAddr6B;
// Payload of a full segment at MTU 1500 over IPv6 with timestamps (ConnStats::snd_mss).
constexpr std::uint32_t kFull6 = 1500 - 40 - 20 - 12;

// Accepts one connection on `l` of stack A.
tcp::ConnId accept_one(SimNet& net, tcp::ListenerId l) {
    tcp::ConnId s;
    REQUIRE(net.run_until(
        [&] {
            if (!s.valid()) s = net.a().accept(l);
            return s.valid();
        },
        seconds(300)));
    return s;
}

// Both directions at once, every byte checked, orderly end, no TCB left.
void exchange6(SimNet& net, tcp::ConnId c, tcp::ConnId s, std::size_t up_len, std::size_t down_len) {
    const auto up = pattern(up_len, net.seed());
    const auto down = pattern(down_len, net.seed() + 1);
    StreamSender txb(net.b(), up, false);
    StreamSender txa(net.a(), down, false);
    StreamReceiver rxa(net.a(), 5000, Duration::zero());
    StreamReceiver rxb(net.b(), 5000, Duration::zero());
    rxa.close_on_eof = false;
    rxb.close_on_eof = false;
    txb.attach(c);
    txa.attach(s);
    rxa.attach(s);
    rxb.attach(c);
    net.add_app(&txb);
    net.add_app(&txa);
    net.add_app(&rxa);
    net.add_app(&rxb);
    CHECK(net.run_until([&] { return rxa.eof() && rxb.eof(); }, seconds(3000)));
    CHECK(rxa.received() == up);
    CHECK(rxb.received() == down);
    CHECK(net.a().info(s).error == tcp::Error::kNone);
    CHECK(net.b().info(c).error == tcp::Error::kNone);
    net.a().close(net.now(), s);
    net.b().close(net.now(), c);
    net.run_for(seconds(200));
    CHECK(net.a().connection_count() == 0);
    CHECK(net.b().connection_count() == 0);
}

}  // namespace

TEST_CASE("TCP over IPv6 on the seeded lossy link: exact bytes both ways, IPv6 endpoints, MSS = MTU - 60") {
    for (std::uint64_t seed : {601u, 602u, 603u, 604u}) {
        INFO("seed=" << seed);
        LinkFaults f;
        f.drop = 0.05;
        f.reorder = 0.05;
        f.duplicate = 0.02;
        f.corrupt = 0.02;
        f.delay = milliseconds(10);
        SimNet net(seed, SimNet::default_config(SimNet::kAddrA), SimNet::default_config(SimNet::kAddrB), f, f);
        std::uint32_t v4_on_wire = 0;
        std::uint32_t largest_payload = 0;
        std::optional<std::uint16_t> syn_mss;
        net.on_wire = [&](const SimNet::Packet& p) {
            if (!p.src.is_ipv6() || !p.dst.is_ipv6()) ++v4_on_wire;
            wire::TcpRepr r;
            if (wire::TcpRepr::parse(p.bytes, p.src, p.dst, r)) return;  // the IPv6 pseudo-header checksum holds
            if ((r.flags & flag::kSyn) && !syn_mss) syn_mss = r.options.mss;
            largest_payload = std::max(largest_payload, static_cast<std::uint32_t>(r.payload.size()));
        };
        tcp::ListenerId l;
        REQUIRE(net.a().listen(80, 0, &l) == tcp::Error::kNone);
        tcp::ConnId c;
        REQUIRE(net.b().connect(net.now(), {kA6, 80}, 0, &c) == tcp::Error::kNone);
        const tcp::ConnId s = accept_one(net, l);
        CHECK(net.a().info(s).local == wire::IpEndpoint{kA6, 80});
        CHECK(net.a().info(s).remote.address == kB6);
        CHECK(net.b().info(c).local.address == kB6);
        CHECK(net.b().info(c).remote.to_string() == "[fd00::1]:80");
        CHECK(net.b().stats(c).snd_mss == kFull6);
        CHECK(net.a().stats(s).snd_mss == kFull6);
        exchange6(net, c, s, 150000, 120000);
        CHECK(v4_on_wire == 0);
        REQUIRE(syn_mss.has_value());
        CHECK(*syn_mss == 1440);                 // 1500 - 40 - 20
        CHECK(largest_payload == kFull6);
        // Corrupted segments were refused by the IPv6 pseudo-header checksum.
        CHECK(net.counter(true, "tcp.rx_bad_checksum") + net.counter(false, "tcp.rx_bad_checksum") > 0);
    }
}

TEST_CASE("one listener serves both families; family=4 and family=6 refuse the other family with RST") {
    SimNet net(611, SimNet::default_config(SimNet::kAddrA), SimNet::default_config(SimNet::kAddrB));
    tcp::ListenerId both;
    REQUIRE(net.a().listen(80, 0, &both) == tcp::Error::kNone);
    tcp::ConnId c4;
    tcp::ConnId c6;
    REQUIRE(net.b().connect(net.now(), {SimNet::kAddrA, 80}, 0, &c4) == tcp::Error::kNone);
    REQUIRE(net.b().connect(net.now(), {kA6, 80}, 0, &c6) == tcp::Error::kNone);
    std::vector<tcp::ConnId> accepted;
    REQUIRE(net.run_until(
        [&] {
            for (tcp::ConnId s; (s = net.a().accept(both)).valid();) accepted.push_back(s);
            return accepted.size() == 2;
        },
        seconds(10)));
    CHECK(net.a().info(accepted[0]).remote.address.family() != net.a().info(accepted[1]).remote.address.family());
    CHECK(net.b().info(c4).state == tcp::State::kEstablished);
    CHECK(net.b().info(c6).state == tcp::State::kEstablished);

    tcp::ListenerId only6;
    tcp::ListenerId only4;
    REQUIRE(net.a().listen(81, 0, &only6, tcp::ListenFamily::kIpv6) == tcp::Error::kNone);
    REQUIRE(net.a().listen(82, 0, &only4, tcp::ListenFamily::kIpv4) == tcp::Error::kNone);
    tcp::ConnId refused4;
    tcp::ConnId ok6;
    tcp::ConnId refused6;
    tcp::ConnId ok4;
    REQUIRE(net.b().connect(net.now(), {SimNet::kAddrA, 81}, 0, &refused4) == tcp::Error::kNone);
    REQUIRE(net.b().connect(net.now(), {kA6, 81}, 0, &ok6) == tcp::Error::kNone);
    REQUIRE(net.b().connect(net.now(), {kA6, 82}, 0, &refused6) == tcp::Error::kNone);
    REQUIRE(net.b().connect(net.now(), {SimNet::kAddrA, 82}, 0, &ok4) == tcp::Error::kNone);
    net.run_for(seconds(2));
    CHECK(net.b().info(refused4).error == tcp::Error::kRefused);
    CHECK(net.b().info(refused6).error == tcp::Error::kRefused);
    CHECK(net.b().info(ok6).state == tcp::State::kEstablished);
    CHECK(net.b().info(ok4).state == tcp::State::kEstablished);
    CHECK(net.a().accept(only6).valid());
    CHECK(net.a().accept(only4).valid());
}

TEST_CASE("IPv4 and IPv6 connections with the same ports are two connections (one table, 128-bit keys)") {
    SimNet net(621, SimNet::default_config(SimNet::kAddrA), SimNet::default_config(SimNet::kAddrB));
    tcp::ListenerId l;
    REQUIRE(net.a().listen(80, 0, &l) == tcp::Error::kNone);
    tcp::ConnId c4;
    tcp::ConnId c6;
    REQUIRE(net.b().connect(net.now(), {SimNet::kAddrA, 80}, 5000, &c4) == tcp::Error::kNone);
    REQUIRE(net.b().connect(net.now(), {kA6, 80}, 5000, &c6) == tcp::Error::kNone);
    // The same tuple again in one family is taken.
    tcp::ConnId dup;
    CHECK(net.b().connect(net.now(), {kA6, 80}, 5000, &dup) == tcp::Error::kAddressInUse);
    std::vector<tcp::ConnId> s;
    REQUIRE(net.run_until(
        [&] {
            for (tcp::ConnId x; (x = net.a().accept(l)).valid();) s.push_back(x);
            return s.size() == 2;
        },
        seconds(10)));
    // Different data on each: nothing crosses between them.
    const std::vector<std::uint8_t> four(3000, 4);
    const std::vector<std::uint8_t> six(3000, 6);
    REQUIRE(net.b().send(net.now(), c4, four) == four.size());
    REQUIRE(net.b().send(net.now(), c6, six) == six.size());
    net.run_for(seconds(1));
    for (tcp::ConnId x : s) {
        std::vector<std::uint8_t> got(8000);
        got.resize(net.a().recv(net.now(), x, got));
        CHECK(got == (net.a().info(x).remote.address.is_ipv6() ? six : four));
    }
    // Their ISNs differ (RFC 6528 F over the family's own addresses).
    CHECK(net.counter(true, "tcp.conn_established") == 2);
}

TEST_CASE("RFC 4987 3.6 over IPv6: with syncookies always the connection comes from the cookie and moves data") {
    auto ca = SimNet::default_config(SimNet::kAddrA);
    ca.syncookies = tcp::SynCookieMode::kAlways;
    SimNet net(631, ca, SimNet::default_config(SimNet::kAddrB));
    tcp::ListenerId l;
    REQUIRE(net.a().listen(80, 0, &l) == tcp::Error::kNone);
    tcp::ConnId c;
    REQUIRE(net.b().connect(net.now(), {kA6, 80}, 0, &c) == tcp::Error::kNone);
    const tcp::ConnId s = accept_one(net, l);
    CHECK(net.counter(true, "tcp.syncookies_sent") == 1);
    CHECK(net.counter(true, "tcp.syncookies_accepted") == 1);
    CHECK(net.a().info(s).remote.address == kB6);
    CHECK(net.a().stats(s).sack);  // carried in the cookie's timestamp
    exchange6(net, c, s, 40000, 40000);
}

TEST_CASE("connect() to IPv6 without a source address fails with kHostUnreachable; to ::1 or a mapped address is invalid") {
    struct NoSource : tcp::SegmentSink {
        void send_segment(const wire::IpAddress&, const wire::IpAddress&, std::span<const std::uint8_t>) override {}
    } sink;
    tcp::TcpStack stack(SimNet::default_config(SimNet::kAddrA), sink, 1);
    tcp::ConnId c;
    CHECK(stack.connect(instant_from_ns(1), {kB6, 80}, 0, &c) == tcp::Error::kHostUnreachable);
    CHECK(stack.connect(instant_from_ns(1), {wire::Ipv6Address::loopback(), 80}, 0, &c) ==
          tcp::Error::kInvalidArgument);
    CHECK(stack.connect(instant_from_ns(1), {*wire::IpAddress::parse("::ffff:10.0.0.2"), 80}, 0, &c) ==
          tcp::Error::kInvalidArgument);
    CHECK(stack.connection_count() == 0);
}

namespace {

// A router of MTU `mtu` between the stacks for IPv6: a larger packet is
// dropped and answered (to its sender, at the next step) with a Packet Too
// Big, handed to TCP as the interface does (tcp6_glue.cpp).
struct PtbRouter : SimApp {
    PtbRouter(SimNet& n, std::uint16_t m) : net(n), mtu(m) {}
    bool pass(const SimNet::Packet& p) {
        if (!p.src.is_ipv6() || 40 + p.bytes.size() <= mtu) return true;
        ++dropped;
        pending.push_back(p);
        return false;
    }
    void run(Instant now) override {
        auto todo = std::move(pending);
        pending.clear();
        for (const SimNet::Packet& p : todo) {
            tcp::IcmpErrorReport r;
            r.type = wire::icmp_type::kDestUnreachable;
            r.code = wire::icmp_code::kFragmentationNeeded;
            r.next_hop_mtu = mtu;
            r.src = p.src;
            r.dst = p.dst;
            r.tcp = std::span<const std::uint8_t>(p.bytes).first(8);
            (p.src == kA6 ? net.a() : net.b()).icmp_error(now, r);
        }
    }
    Instant wake_at() const override { return pending.empty() ? kNever : net.now(); }
    SimNet& net;
    std::uint16_t mtu;
    std::vector<SimNet::Packet> pending;
    std::uint32_t dropped = 0;
};

}  // namespace

TEST_CASE("RFC 8201 / RFC 5927: Packet Too Big quoting a segment in flight lowers the IPv6 MSS to MTU - 60 (less options); the transfer stays exact") {
    SimNet net(641, SimNet::default_config(SimNet::kAddrA), SimNet::default_config(SimNet::kAddrB));
    PtbRouter router(net, 1400);
    net.filter = [&](const SimNet::Packet& p) { return router.pass(p); };
    net.add_app(&router);
    tcp::ListenerId l;
    REQUIRE(net.a().listen(80, 0, &l) == tcp::Error::kNone);
    tcp::ConnId c;
    REQUIRE(net.b().connect(net.now(), {kA6, 80}, 0, &c) == tcp::Error::kNone);
    const tcp::ConnId s = accept_one(net, l);
    CHECK(net.a().stats(s).snd_mss == kFull6);
    // Only A sends large segments: B's pure ACKs pass.
    const auto down = pattern(200000, 641);
    StreamSender tx(net.a(), down, false);
    StreamReceiver rx(net.b(), 8192, Duration::zero());
    rx.close_on_eof = false;
    tx.attach(s);
    rx.attach(c);
    net.add_app(&tx);
    net.add_app(&rx);
    CHECK(net.run_until([&] { return rx.eof(); }, seconds(60)));
    CHECK(rx.received() == down);
    CHECK(router.dropped > 0);
    CHECK(net.counter(true, "tcp.pmtu_lowered") == 1);
    CHECK(net.a().stats(s).snd_mss == 1400 - 60 - 12);
    // A new connection to the same destination starts at the cached size.
    tcp::ConnId c2;
    REQUIRE(net.b().connect(net.now(), {kA6, 80}, 0, &c2) == tcp::Error::kNone);
    const tcp::ConnId s2 = accept_one(net, l);
    CHECK(net.a().stats(s2).snd_mss == 1400 - 60 - 12);
}

TEST_CASE("RFC 8200 5 / RFC 5927 4.1: a Packet Too Big below 1280 is taken as 1280; one quoting no sequence number in flight is ignored") {
    SimNet net(651, SimNet::default_config(SimNet::kAddrA), SimNet::default_config(SimNet::kAddrB));
    tcp::ListenerId l;
    REQUIRE(net.a().listen(80, 0, &l) == tcp::Error::kNone);
    tcp::ConnId c;
    REQUIRE(net.b().connect(net.now(), {kA6, 80}, 0, &c) == tcp::Error::kNone);
    const tcp::ConnId s = accept_one(net, l);
    // Hold B's ACKs so A's data stays in flight.
    std::optional<std::uint32_t> first_seq;
    net.filter = [&](const SimNet::Packet& p) {
        if (p.src == kB6) return false;
        wire::TcpRepr r;
        if (!wire::TcpRepr::parse(p.bytes, p.src, p.dst, r) && !r.payload.empty() && !first_seq) first_seq = r.seq;
        return true;
    };
    const std::vector<std::uint8_t> data(20000, 7);
    REQUIRE(net.a().send(net.now(), s, data) == data.size());
    net.run_for(milliseconds(50));
    REQUIRE(first_seq.has_value());
    std::array<std::uint8_t, 8> quoted{};
    const auto info = net.a().info(s);
    wire::store_be16(quoted.data(), info.local.port);
    wire::store_be16(quoted.data() + 2, info.remote.port);
    tcp::IcmpErrorReport r;
    r.type = wire::icmp_type::kDestUnreachable;
    r.code = wire::icmp_code::kFragmentationNeeded;
    r.src = kA6;
    r.dst = kB6;
    r.tcp = quoted;
    // Out of window: before our ISS, far ahead.
    for (const std::uint32_t seq : {*first_seq - 1, *first_seq + 0x40000000u}) {
        wire::store_be32(quoted.data() + 4, seq);
        r.next_hop_mtu = 1300;
        net.a().icmp_error(net.now(), r);
    }
    CHECK(net.counter(true, "tcp.icmp_out_of_window") == 2);
    CHECK(net.a().stats(s).snd_mss == kFull6);
    // The IPv4 address in an IPv6 report matches nothing.
    r.src = wire::IpAddress(SimNet::kAddrA);
    r.dst = wire::IpAddress(SimNet::kAddrB);
    wire::store_be32(quoted.data() + 4, *first_seq);
    net.a().icmp_error(net.now(), r);
    CHECK(net.counter(true, "tcp.icmp_unmatched") == 1);
    CHECK(net.a().stats(s).snd_mss == kFull6);
    // In flight, with an MTU below IPv6's minimum: floored at 1280.
    r.src = kA6;
    r.dst = kB6;
    r.next_hop_mtu = 600;
    net.a().icmp_error(net.now(), r);
    CHECK(net.a().stats(s).snd_mss == 1280 - 60 - 12);
    CHECK(net.counter(true, "tcp.pmtu_lowered") == 1);
}
