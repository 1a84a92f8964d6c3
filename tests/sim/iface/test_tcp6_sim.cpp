// TCP over IPv6 through two Interfaces on the simulated LAN (tcp6_glue.cpp):
// Neighbour Discovery resolves the peer, segments leave as IPv6 next
// header 6 with our hop limit, data arrives exact both ways; an ICMPv6
// Packet Too Big from a router reaches TCP through the IPv6 layer and
// lowers the connection's MSS only when it quotes a sequence number in
// flight (RFC 8201, RFC 5927).
#include <doctest/doctest.h>

#include <algorithm>

#include "stack/wire/tcp_header.hpp"
#include "tests/sim/iface/sim6.hpp"

using namespace sim;

namespace {

struct Tcp6Segment {
    wire::Ipv6Repr ip;
    wire::TcpRepr tcp;
    Frame frame;
};

// The unfragmented IPv6 TCP segments among `frames`.
std::vector<Tcp6Segment> tcp6_segments(const std::vector<Frame>& frames) {
    std::vector<Tcp6Segment> out;
    for (const Frame& f : frames) {
        auto eth = wire::EthernetView::check(f);
        if (!eth || eth->ethertype() != wire::ethertype::kIpv6) continue;
        auto v = wire::Ipv6View::check(eth->payload());
        if (!v || v->next_header() != wire::ip_protocol::kTcp) continue;
        Tcp6Segment s{wire::Ipv6Repr::parse(*v), {}, f};
        if (wire::TcpRepr::parse(v->payload(), s.ip.src, s.ip.dst, s.tcp)) continue;  // checksum over IPv6
        out.push_back(std::move(s));
    }
    return out;
}

struct Established {
    tcp::ConnId server;  // on a (fd00::1)
    tcp::ConnId client;  // on b (fd00::2)
};

Established establish(Lan6& lan) {
    tcp::ListenerId l;
    REQUIRE(lan.a.iface().tcp().listen(80, 0, &l) == tcp::Error::kNone);
    tcp::ConnId c;
    REQUIRE(lan.b.iface().tcp().connect(lan.hub.now(), {ip6(1), 80}, 0, &c) == tcp::Error::kNone);
    tcp::ConnId s;
    lan.hub.run_for(seconds(5), [&] { return (s = lan.a.iface().tcp().accept(l)).valid(); });
    REQUIRE(s.valid());
    return {s, c};
}

}  // namespace

TEST_CASE("TCP over IPv6 between two Interfaces: ND, next header 6, our hop limit, exact bytes both ways") {
    Lan6 lan;
    lan.settle();
    const Established e = establish(lan);
    tcp::TcpStack& a = lan.a.iface().tcp();
    tcp::TcpStack& b = lan.b.iface().tcp();
    CHECK(a.info(e.server).remote.to_string().starts_with("[fd00::2]:"));
    CHECK(b.info(e.client).remote.to_string() == "[fd00::1]:80");
    CHECK(b.stats(e.client).snd_mss == 1500 - 60 - 12);
    std::vector<std::uint8_t> up(300000), down(200000);
    for (std::size_t i = 0; i < up.size(); ++i) up[i] = static_cast<std::uint8_t>(i * 7 + i / 251);
    for (std::size_t i = 0; i < down.size(); ++i) down[i] = static_cast<std::uint8_t>(i * 13 + i / 509);
    std::size_t up_sent = 0, down_sent = 0;
    std::vector<std::uint8_t> got_up, got_down;
    std::vector<std::uint8_t> buf(65536);
    for (int i = 0; i < 20000 && (got_up.size() < up.size() || got_down.size() < down.size()); ++i) {
        const Instant now = lan.hub.now();
        up_sent += b.send(now, e.client, std::span(up).subspan(up_sent));
        down_sent += a.send(now, e.server, std::span(down).subspan(down_sent));
        if (up_sent == up.size()) b.shutdown_write(now, e.client);
        if (down_sent == down.size()) a.shutdown_write(now, e.server);
        got_up.insert(got_up.end(), buf.begin(), buf.begin() + static_cast<std::ptrdiff_t>(a.recv(now, e.server, buf)));
        got_down.insert(got_down.end(), buf.begin(),
                        buf.begin() + static_cast<std::ptrdiff_t>(b.recv(now, e.client, buf)));
        lan.a.iface().poll(now);
        lan.b.iface().poll(now);
        lan.hub.run_for(milliseconds(1));
    }
    CHECK(got_up == up);
    CHECK(got_down == down);
    lan.hub.run_for(milliseconds(100));
    CHECK(a.info(e.server).eof);
    CHECK(b.info(e.client).eof);
    const auto segs = tcp6_segments(lan.raw.sniffed());
    REQUIRE(segs.size() > 100);
    for (const auto& s : segs) {
        CHECK(s.ip.hop_limit == 64);
        CHECK(s.frame.size() <= 14 + 1500);
    }
    CHECK(lan.a.counter("ipv4.tx_packets") == 0);
    CHECK(lan.a.counter("ipv6.rx_unknown_next_header") == 0);
}

TEST_CASE("RFC 8201 / RFC 5927: a Packet Too Big through the IPv6 layer lowers the MSS only when it quotes a sequence number in flight") {
    Lan6 lan;
    lan.settle();
    // a connects to the raw station, which completes the handshake by hand
    // and then never acknowledges: a's data stays in flight.
    tcp::TcpStack& a = lan.a.iface().tcp();
    tcp::ConnId c;
    REQUIRE(a.connect(lan.hub.now(), {ip6(3), 80}, 0, &c) == tcp::Error::kNone);
    lan.hub.run_for(milliseconds(20));
    auto segs = tcp6_segments(lan.raw.received());
    REQUIRE(segs.size() == 1);
    const wire::TcpRepr syn = segs[0].tcp;
    CHECK(syn.options.mss == 1440);  // 1500 - 60
    wire::TcpRepr synack;
    synack.src_port = 80;
    synack.dst_port = syn.src_port;
    synack.seq = 1000;
    synack.ack = syn.seq + 1;
    synack.flags = wire::tcp_flag::kSyn | wire::tcp_flag::kAck;
    synack.window = 65535;
    synack.options.mss = 1440;
    std::vector<std::uint8_t> bytes(synack.buffer_len());
    synack.emit(bytes, ip6(3), ip6(1));
    lan.raw.send(frame6(ip6(3), ip6(1), wire::ip_protocol::kTcp, bytes, 64, mac(1)));
    lan.hub.run_for(milliseconds(5));
    REQUIRE(a.info(c).state == tcp::State::kEstablished);
    CHECK(a.stats(c).snd_mss == 1440);  // no timestamps offered back
    lan.raw.received().clear();
    const std::vector<std::uint8_t> data(4 * 1440, 0x5a);
    REQUIRE(a.send(lan.hub.now(), c, data) == data.size());
    lan.hub.run_for(milliseconds(1));
    segs = tcp6_segments(lan.raw.received());
    REQUIRE(segs.size() == 4);
    // SND.UNA's segment (the link's jitter may reorder arrivals).
    const Tcp6Segment first = *std::min_element(segs.begin(), segs.end(), [&](const Tcp6Segment& x, const Tcp6Segment& y) {
        return x.tcp.seq - syn.seq < y.tcp.seq - syn.seq;
    });
    REQUIRE(first.tcp.seq == syn.seq + 1);
    REQUIRE(first.tcp.payload.size() == 1440);
    auto ptb_quoting = [&](std::uint32_t mtu, std::uint32_t seq) {
        Frame quoted(first.frame.begin() + 14, first.frame.end());
        wire::store_be32(quoted.data() + 40 + 4, seq);
        wire::Icmpv6Repr ptb;
        ptb.type = wire::icmpv6_type::kPacketTooBig;
        ptb.mtu = mtu;
        ptb.data = std::span<const std::uint8_t>(quoted).first(1000);
        lan.raw.send(frame6(ip6(3), ip6(1), wire::next_header::kIcmpv6, icmpv6_message(ptb, ip6(3), ip6(1)), 64,
                            mac(1)));
        lan.hub.run_for(microseconds(500));
    };
    // A quote far outside SND.UNA..SND.MAX: the IPv6 layer lowers its path
    // MTU cache, TCP changes nothing.
    ptb_quoting(1400, first.tcp.seq + 0x40000000u);
    CHECK(lan.a.counter("tcp.icmp_out_of_window") == 1);
    CHECK(a.stats(c).snd_mss == 1440);
    // Quoting SND.UNA: believed, and not below IPv6's 1280.
    lan.raw.received().clear();
    ptb_quoting(1000, first.tcp.seq);
    CHECK(lan.a.counter("icmp6.rx_ptb_below_minimum") == 1);
    CHECK(lan.a.counter("tcp.pmtu_lowered") == 1);
    CHECK(a.stats(c).snd_mss == 1280 - 60);
    // What was in flight goes again at once, at the new size, from SND.UNA.
    lan.hub.run_for(milliseconds(1));
    segs = tcp6_segments(lan.raw.received());
    REQUIRE(!segs.empty());
    // (The link's jitter may reorder frames: order them by sequence number.)
    std::sort(segs.begin(), segs.end(), [&](const Tcp6Segment& x, const Tcp6Segment& y) {
        return x.tcp.seq - first.tcp.seq < y.tcp.seq - first.tcp.seq;
    });
    std::uint32_t next = first.tcp.seq;
    for (const auto& s : segs) {
        CHECK(s.tcp.seq == next);
        CHECK(s.tcp.payload.size() <= 1280 - 60);
        next += static_cast<std::uint32_t>(s.tcp.payload.size());
    }
    CHECK(next == first.tcp.seq + data.size());
}

TEST_CASE("virtio NEEDS_CSUM over IPv6: a partial checksum naming TCP's field is trusted; naming anything else is dropped") {
    Lan6 lan;
    lan.settle();
    tcp::ListenerId l;
    REQUIRE(lan.b.iface().tcp().listen(80, 0, &l) == tcp::Error::kNone);
    // A SYN from fd00::3 whose checksum field holds only the pseudo-header
    // sum, as the local kernel hands it over with offloads on.
    wire::TcpRepr syn;
    syn.src_port = 40000;
    syn.dst_port = 80;
    syn.seq = 77;
    syn.flags = wire::tcp_flag::kSyn;
    syn.window = 65535;
    syn.options.mss = 1440;
    std::vector<std::uint8_t> seg(syn.buffer_len());
    syn.emit_partial(seg, ip6(3), ip6(2));
    const Frame f = frame6(ip6(3), ip6(2), wire::ip_protocol::kTcp, seg);
    wire::RxOffload wrong;
    wrong.csum_partial = true;
    wrong.csum_start = 14 + 40;
    wrong.csum_offset = 6;  // not the TCP checksum field
    lan.b.iface().receive_frame(lan.hub.now(), f, wrong);
    CHECK(lan.b.counter("ipv6.rx_bad_offload") == 1);
    CHECK(lan.b.counter("tcp.rx_segments") == 0);
    // Without metadata the partial sum is a bad checksum.
    lan.b.iface().receive_frame(lan.hub.now(), f);
    CHECK(lan.b.counter("tcp.rx_bad_checksum") == 1);
    wire::RxOffload right = wrong;
    right.csum_offset = 16;
    lan.b.iface().receive_frame(lan.hub.now(), f, right);
    lan.hub.run_for(milliseconds(5));
    CHECK(lan.b.counter("tcp.rx_bad_checksum") == 1);
    CHECK(lan.b.counter("ipv6.rx_bad_offload") == 1);
    const auto out = tcp6_segments(lan.raw.received());
    REQUIRE(out.size() == 1);  // the SYN-ACK, with a full checksum over the IPv6 pseudo-header
    CHECK(out[0].tcp.flags == (wire::tcp_flag::kSyn | wire::tcp_flag::kAck));
    CHECK(out[0].tcp.ack == 78u);
}
