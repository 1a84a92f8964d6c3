// ICMP errors reach TCP through the interface (RFC 1122 3.2.2.1): a router
// on the LAN (the raw station) answers one of our TCP segments with
// "fragmentation needed" and the connection's segments shrink to fit
// (RFC 1191), but only for a quote of a sequence number in flight (RFC 5927).
#include <doctest/doctest.h>

#include "stack/wire/tcp_header.hpp"
#include "tests/sim/iface/lan.hpp"

using namespace sim;

namespace {

struct TcpSeen {
    wire::Ipv4Repr ip;
    std::vector<std::uint8_t> datagram;  // IPv4 header and everything after it, as sent
    wire::TcpRepr tcp;                    // payload span not valid
    std::size_t payload = 0;
};

std::vector<TcpSeen> tcp_from(const std::vector<Frame>& frames) {
    std::vector<TcpSeen> out;
    for (const Frame& f : frames) {
        auto eth = wire::EthernetView::check(f);
        if (!eth || eth->ethertype() != wire::ethertype::kIpv4) continue;
        auto v = wire::Ipv4View::check(eth->payload());
        if (!v || v->protocol() != wire::ip_protocol::kTcp) continue;
        TcpSeen s;
        s.ip = wire::Ipv4Repr::parse(*v);
        s.datagram.assign(v->bytes().begin(), v->bytes().end());
        REQUIRE_FALSE(wire::TcpRepr::parse(v->payload(), v->src(), v->dst(), s.tcp).has_value());
        s.payload = s.tcp.payload.size();
        s.tcp.payload = {};
        out.push_back(std::move(s));
    }
    return out;
}

Frame tcp_frame(const wire::TcpRepr& r) {
    std::vector<std::uint8_t> seg(r.buffer_len());
    r.emit(seg, ip(3), ip(2));
    wire::Ipv4Repr h;
    h.src = ip(3);
    h.dst = ip(2);
    h.protocol = wire::ip_protocol::kTcp;
    return ipv4_frame(mac(2), mac(3), h, seg);
}

// ICMP "fragmentation needed" from the raw station quoting `quoted`'s
// IPv4 header and the first 8 bytes of what follows (RFC 792).
Frame frag_needed(const TcpSeen& quoted, std::uint16_t mtu) {
    std::vector<std::uint8_t> quote(quoted.datagram.begin(),
                                    quoted.datagram.begin() + static_cast<std::ptrdiff_t>(quoted.ip.header_len() + 8));
    wire::IcmpRepr icmp;
    icmp.type = wire::icmp_type::kDestUnreachable;
    icmp.code = wire::icmp_code::kFragmentationNeeded;
    icmp.next_hop_mtu = mtu;
    icmp.data = quote;
    std::vector<std::uint8_t> msg(icmp.buffer_len());
    icmp.emit(msg);
    wire::Ipv4Repr h;
    h.src = ip(3);
    h.dst = ip(2);
    h.protocol = wire::ip_protocol::kIcmp;
    return ipv4_frame(mac(2), mac(3), h, msg);
}

}  // namespace

TEST_CASE("RFC 1191 / RFC 5927 through the interface: fragmentation needed quoting our segment in flight shrinks what follows; a stale quote does nothing") {
    Lan lan;
    tcp::TcpStack& b = lan.b.iface().tcp();
    tcp::ListenerId l;
    REQUIRE(b.listen(80, 0, &l) == tcp::Error::kNone);
    // The raw station opens a connection to b (MSS 1460, no other options).
    wire::TcpRepr syn;
    syn.src_port = 40000;
    syn.dst_port = 80;
    syn.seq = 1000;
    syn.flags = wire::tcp_flag::kSyn;
    syn.window = 65535;
    syn.options.mss = 1460;
    lan.raw.send(tcp_frame(syn));
    lan.hub.run_for(milliseconds(20));
    auto seen = tcp_from(lan.raw.received());
    REQUIRE(seen.size() == 1);
    const std::uint32_t iss = seen[0].tcp.seq;
    wire::TcpRepr ack;
    ack.src_port = 40000;
    ack.dst_port = 80;
    ack.seq = 1001;
    ack.ack = iss + 1;
    ack.flags = wire::tcp_flag::kAck;
    ack.window = 65535;
    lan.raw.send(tcp_frame(ack));
    lan.hub.run_for(milliseconds(20));
    lan.raw.received().clear();
    const tcp::ConnId c = b.accept(l);
    REQUIRE(c.valid());
    const auto data = pattern(4 * 1460, 1);  // four full segments (Nagle would hold a short fifth)
    REQUIRE(b.send(lan.hub.now(), c, data) == data.size());
    lan.hub.run_for(milliseconds(5));
    seen = tcp_from(lan.raw.received());
    lan.raw.received().clear();
    REQUIRE(seen.size() == 4);
    CHECK(seen[0].ip.buffer_len() == 1500);
    // A quote of data already acknowledged (the SYN-ACK) is not believed.
    TcpSeen stale = seen[0];
    wire::store_be32(stale.datagram.data() + stale.ip.header_len() + 4, iss);
    lan.raw.send(frag_needed(stale, 1280));
    lan.hub.run_for(milliseconds(5));
    CHECK(tcp_from(lan.raw.received()).empty());
    CHECK(lan.b.counter("icmp.rx_errors_for_tcp") == 1);
    CHECK(lan.b.counter("tcp.icmp_out_of_window") == 1);
    // The real thing: everything in flight goes again in 1280-byte datagrams.
    lan.raw.send(frag_needed(seen[1], 1280));
    lan.hub.run_for(milliseconds(5));
    const auto again = tcp_from(lan.raw.received());
    REQUIRE(again.size() >= 5);
    std::size_t bytes = 0;
    for (const TcpSeen& s : again) {
        CHECK(s.ip.buffer_len() <= 1280);
        CHECK(s.ip.dont_fragment);
        bytes += s.payload;
    }
    CHECK(bytes == data.size());
    CHECK(lan.b.counter("tcp.pmtu_lowered") == 1);
    CHECK(b.stats(c).snd_mss == 1240);
}
