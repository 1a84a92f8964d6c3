// IPv6 and ICMPv6 through an Interface on the simulated LAN (RFC 8200,
// RFC 4443): echo of every size (fragmented both ways), extension header
// actions, reassembly rules (RFC 5722, RFC 6946, RFC 7112), ICMPv6
// errors with their limits, and Packet Too Big (RFC 8201).
#include <doctest/doctest.h>

#include <algorithm>

#include "tests/sim/iface/sim6.hpp"

using namespace sim;
namespace icmp6 = wire::icmpv6_type;
namespace nh = wire::next_header;

namespace {

// b's messages of one type (a answers multicast too).
std::vector<Icmp6Seen> from_b(Lan6& lan, std::uint8_t type) {
    std::vector<Icmp6Seen> out;
    for (const Icmp6Seen& s : of_type(icmp6_messages(lan.raw.received()), type)) {
        if (s.ip.src == ip6(2) || s.ip.src == ll6(2)) out.push_back(s);
    }
    return out;
}
std::vector<Icmp6Seen> replies(Lan6& lan) { return from_b(lan, icmp6::kEchoReply); }
std::vector<Icmp6Seen> problems(Lan6& lan) { return from_b(lan, icmp6::kParameterProblem); }

// One frame at a time, in order (the hub's jitter would reorder a burst).
void send_all(Lan6& lan, const std::vector<Frame>& frames) {
    for (const Frame& f : frames) {
        lan.raw.send(f);
        lan.hub.run_for(milliseconds(1));
    }
    lan.hub.run_for(milliseconds(50));
}

// A destination options (or hop-by-hop) header holding one option of
// `type` with two data bytes, then padding.
std::vector<std::uint8_t> options_header(std::uint8_t next, std::uint8_t type) {
    return {next, 0, type, 2, 0xaa, 0xbb, 1, 0};
}

// Past DAD, with nothing recorded yet.
void settle(Lan6& lan) {
    lan.settle();
    lan.raw.received().clear();
}

}  // namespace

TEST_CASE("RFC 4443 4.2: echo of 0, 56, 1452, 1453, 8000 and 65000 bytes: identical id, seq and data, fragmented as needed") {
    for (std::size_t size : {std::size_t{0}, std::size_t{56}, std::size_t{1452}, std::size_t{1453}, std::size_t{8000},
                             std::size_t{65000}}) {
        CAPTURE(size);
        Lan6 lan;
        settle(lan);
        send_all(lan, echo6_frames(ip6(3), ip6(2), 0x4242, 9, pattern(size, 9), 77));
        const auto got = replies(lan);
        REQUIRE(got.size() == 1);
        CHECK(got[0].ident == 0x4242);
        CHECK(got[0].seq == 9);
        CHECK(got[0].data == pattern(size, 9));
        CHECK(got[0].ip.src == ip6(2));
        CHECK(got[0].ip.dst == ip6(3));
        CHECK(got[0].largest_frame <= 1514);
        // 8 + size bytes of ICMPv6: one 1500-byte packet up to 1452; else
        // fragments of 1448 bytes (1500 - 40 - 8, a multiple of 8).
        const std::size_t icmp = 8 + size;
        CHECK(got[0].fragments == (icmp <= 1460 ? 1u : (icmp + 1447) / 1448));
        CHECK(lan.b.counter("icmp6.tx_echo_replies") == 1);
        if (size > 1452) CHECK(lan.b.counter("ipv6.reasm_completed") == 1);
    }
}

TEST_CASE("RFC 8200 4.5: fragments out of order and tiny (8-byte) fragments are reassembled and answered") {
    Lan6 lan;
    settle(lan);
    auto frames = echo6_frames(ip6(3), ip6(2), 1, 1, pattern(4000, 1), 5);
    std::reverse(frames.begin(), frames.end());
    std::swap(frames[1], frames[2]);
    send_all(lan, frames);
    send_all(lan, echo6_frames(ip6(3), ip6(2), 1, 2, pattern(200, 2), 6, 56));  // 8 bytes of data per fragment
    const auto got = replies(lan);
    REQUIRE(got.size() == 2);
    CHECK(got[0].data == pattern(4000, 1));
    CHECK(got[1].data == pattern(200, 2));
    CHECK(lan.b.counter("ipv6.reasm_completed") == 2);
}

TEST_CASE("RFC 5722: an overlapping fragment drops the whole packet, silently; a later packet is answered") {
    Lan6 lan;
    settle(lan);
    auto frames = echo6_frames(ip6(3), ip6(2), 1, 1, pattern(3000, 1), 5);
    REQUIRE(frames.size() == 3);
    // A copy of the second fragment moved 8 bytes back, with other bytes.
    auto overlap = echo6_frames(ip6(3), ip6(2), 1, 1, pattern(3000, 0x77), 5)[1];
    const std::size_t off_at = 14 + 40 + 2;
    const std::uint16_t off = static_cast<std::uint16_t>(wire::load_be16(overlap.data() + off_at) - 8);
    wire::store_be16(overlap.data() + off_at, off);
    send_all(lan, {frames[0], overlap, frames[1], frames[2]});
    CHECK(replies(lan).empty());
    CHECK(icmp6_messages(lan.raw.received()).empty());  // no error either
    CHECK(lan.b.counter("ipv6.reasm_overlaps") == 1);
    CHECK(lan.b.counter("ipv6.reasm_dead_dropped") == 2);
    send_all(lan, echo6_frames(ip6(3), ip6(2), 1, 2, pattern(3000, 2), 6));
    CHECK(replies(lan).size() == 1);
}

TEST_CASE("RFC 6946: an atomic fragment is processed alone, even when fragments with its identification are pending") {
    Lan6 lan;
    settle(lan);
    auto pending = echo6_frames(ip6(3), ip6(2), 1, 1, pattern(3000, 1), 99);
    send_all(lan, {pending[0]});
    const Frame echo = echo6_frames(ip6(3), ip6(2), 1, 2, pattern(56, 2))[0];
    std::vector<std::uint8_t> body = {nh::kIcmpv6, 0, 0, 0, 0, 0, 0, 99};  // offset 0, M 0, id 99
    body.insert(body.end(), echo.begin() + 54, echo.end());
    send_all(lan, {frame6(ip6(3), ip6(2), nh::kFragment, body)});
    const auto got = replies(lan);
    REQUIRE(got.size() == 1);
    CHECK(got[0].seq == 2);
    CHECK(lan.b.counter("ipv6.rx_atomic_fragments") == 1);
    CHECK(lan.b.counter("ipv6.reasm_datagrams") == 1);  // the pending packet is untouched
    send_all(lan, {pending[1], pending[2]});
    CHECK(replies(lan).size() == 2);
}

TEST_CASE("RFC 7112 5: a first fragment without the whole header chain gets Parameter Problem code 3, pointer 0") {
    Lan6 lan;
    settle(lan);
    // Destination options (8 bytes), then ICMPv6 in the next fragment.
    std::vector<std::uint8_t> first = {nh::kDestinationOptions, 0, 0, 1, 0, 0, 0, 42};  // offset 0, M 1
    const auto dst = options_header(nh::kIcmpv6, 0x1e);
    first.insert(first.end(), dst.begin(), dst.end());
    send_all(lan, {frame6(ip6(3), ip6(2), nh::kFragment, first)});
    const auto pp = problems(lan);
    REQUIRE(pp.size() == 1);
    CHECK(pp[0].code == wire::icmpv6_code::kIncompleteHeaderChain);
    CHECK(pp[0].pointer == 0);
    CHECK(lan.b.counter("ipv6.rx_incomplete_first_fragment") == 1);
    CHECK(lan.b.counter("ipv6.reasm_fragments") == 0);
}

TEST_CASE("RFC 8200 4.5: a non-last fragment not a multiple of 8 gets Parameter Problem code 0 at the payload length") {
    Lan6 lan;
    settle(lan);
    auto frames = echo6_frames(ip6(3), ip6(2), 1, 1, pattern(3000, 1), 5);
    Frame cut = frames[0];
    cut.resize(cut.size() - 3);
    wire::store_be16(cut.data() + 14 + 4, static_cast<std::uint16_t>(cut.size() - 54));
    send_all(lan, {cut});
    const auto pp = problems(lan);
    REQUIRE(pp.size() == 1);
    CHECK(pp[0].code == wire::icmpv6_code::kErroneousHeaderField);
    CHECK(pp[0].pointer == 4);
}

TEST_CASE("RFC 8200 4.5: a fragment reaching beyond 65535 gets Parameter Problem code 0 at the fragment offset") {
    Lan6 lan;
    settle(lan);
    std::vector<std::uint8_t> body = {nh::kIcmpv6, 0, 0xff, 0xf8, 0, 0, 0, 1};  // offset 65528, M 0
    body.resize(body.size() + 16, 0x55);
    send_all(lan, {frame6(ip6(3), ip6(2), nh::kFragment, body)});
    const auto pp = problems(lan);
    REQUIRE(pp.size() == 1);
    CHECK(pp[0].code == wire::icmpv6_code::kErroneousHeaderField);
    CHECK(pp[0].pointer == 42);
}

TEST_CASE("RFC 8200 4.2: unknown options by their high bits: 00 skip, 01 drop, 10 error even to multicast, 11 error unless multicast") {
    struct Case {
        std::uint8_t type;
        bool multicast;
        bool reply;
        bool problem;
    };
    for (Case c : {Case{0x1e, false, true, false}, Case{0x5e, false, false, false}, Case{0x9e, false, false, true},
                   Case{0x9e, true, false, true}, Case{0xde, false, false, true}, Case{0xde, true, false, false}}) {
        for (std::uint8_t first : {nh::kHopByHop, nh::kDestinationOptions}) {
            CAPTURE(int{c.type});
            CAPTURE(c.multicast);
            CAPTURE(int{first});
            Lan6 lan;
            settle(lan);
            const wire::Ipv6Address dst = c.multicast ? wire::Ipv6Address::all_nodes() : ip6(2);
            send_all(lan, echo6_frames(ip6(3), dst, 1, 1, pattern(56), 1, 1500, options_header(nh::kIcmpv6, c.type),
                                       first, c.multicast ? dst.multicast_mac() : mac(2)));
            CHECK(replies(lan).size() == (c.reply ? 1u : 0u));
            const auto pp = problems(lan);
            REQUIRE(pp.size() == (c.problem ? 1u : 0u));
            if (c.problem) {
                CHECK(pp[0].code == wire::icmpv6_code::kUnrecognizedOption);
                CHECK(pp[0].pointer == 42);
                CHECK(pp[0].ip.src == ip6(2));  // from a unicast address even about a multicast packet
                CHECK(pp[0].data.size() == 40 + 8 + 8 + 56);
            }
        }
    }
}

TEST_CASE("RFC 8200 4.3: hop-by-hop options after another header: Parameter Problem code 1 at the naming byte") {
    Lan6 lan;
    settle(lan);
    auto ext = options_header(nh::kHopByHop, 0x1e);
    const auto hbh = options_header(nh::kIcmpv6, 0x1e);
    ext.insert(ext.end(), hbh.begin(), hbh.end());
    send_all(lan, echo6_frames(ip6(3), ip6(2), 1, 1, pattern(56), 1, 1500, ext, nh::kDestinationOptions));
    const auto pp = problems(lan);
    REQUIRE(pp.size() == 1);
    CHECK(pp[0].code == wire::icmpv6_code::kUnrecognizedNextHeader);
    CHECK(pp[0].pointer == 40);
    CHECK(replies(lan).empty());
}

TEST_CASE("RFC 5095 3: routing type 0 with segments left is refused (code 0 at its type); with none left it is skipped") {
    for (std::uint8_t type : {std::uint8_t{0}, std::uint8_t{2}, std::uint8_t{4}}) {
        CAPTURE(int{type});
        Lan6 lan;
        settle(lan);
        std::vector<std::uint8_t> rh = {nh::kIcmpv6, 2, type, 1, 0, 0, 0, 0};
        rh.resize(24, 0);
        rh[8] = 0xfd;
        rh[23] = 9;
        send_all(lan, echo6_frames(ip6(3), ip6(2), 1, 1, pattern(56), 1, 1500, rh, nh::kRouting));
        auto pp = problems(lan);
        REQUIRE(pp.size() == 1);
        CHECK(pp[0].code == wire::icmpv6_code::kErroneousHeaderField);
        CHECK(pp[0].pointer == 42);
        CHECK(replies(lan).empty());
        rh[3] = 0;  // segments left 0
        send_all(lan, echo6_frames(ip6(3), ip6(2), 1, 2, pattern(56), 1, 1500, rh, nh::kRouting));
        CHECK(replies(lan).size() == 1);
    }
}

TEST_CASE("RFC 8200 4.1: a chain of 8 destination options headers is processed; a chain beyond the limit is dropped") {
    Lan6 lan;
    settle(lan);
    std::vector<std::uint8_t> chain;
    for (int i = 0; i < 8; ++i) {
        const auto h = options_header(i == 7 ? nh::kIcmpv6 : nh::kDestinationOptions, 0x1e);
        chain.insert(chain.end(), h.begin(), h.end());
    }
    send_all(lan, echo6_frames(ip6(3), ip6(2), 1, 1, pattern(56), 1, 1500, chain, nh::kDestinationOptions));
    CHECK(replies(lan).size() == 1);
    CHECK(lan.b.counter("ipv6.rx_option_skipped") == 8);
    chain.clear();
    for (int i = 0; i < 40; ++i) {
        const auto h = options_header(i == 39 ? nh::kIcmpv6 : nh::kDestinationOptions, 0x1e);
        chain.insert(chain.end(), h.begin(), h.end());
    }
    send_all(lan, echo6_frames(ip6(3), ip6(2), 1, 2, pattern(56), 1, 1500, chain, nh::kDestinationOptions));
    CHECK(replies(lan).size() == 1);
    CHECK(lan.b.counter("ipv6.rx_chain_too_long") == 1);
}

TEST_CASE("RFC 8200 4: an unrecognised next header (UDP: no transport is registered) gets code 1 at the naming byte") {
    Lan6 lan;
    settle(lan);
    std::vector<std::uint8_t> datagram(8, 0);
    send_all(lan, {frame6(ip6(3), ip6(2), nh::kUdp, datagram)});
    auto pp = problems(lan);
    REQUIRE(pp.size() == 1);
    CHECK(pp[0].code == wire::icmpv6_code::kUnrecognizedNextHeader);
    CHECK(pp[0].pointer == 6);
    CHECK(lan.b.counter("ipv6.rx_unknown_next_header") == 1);
    // Behind a destination options header the pointer names that header's byte.
    auto ext = options_header(nh::kUdp, 0x1e);
    ext.resize(ext.size() + 8, 0);
    send_all(lan, {frame6(ip6(3), ip6(2), nh::kDestinationOptions, ext)});
    pp = problems(lan);
    REQUIRE(pp.size() == 2);
    CHECK(pp[1].pointer == 40);
}

namespace {

struct Recorder final : iface::Ipv6Transport {
    std::vector<iface::Ipv6Delivery> got;
    std::vector<std::vector<std::uint8_t>> payloads;
    void receive(Instant, const iface::Ipv6Delivery& d) override {
        got.push_back(d);
        payloads.emplace_back(d.payload.begin(), d.payload.end());
    }
};

}  // namespace

TEST_CASE("A registered transport receives its packets (addresses, hop limit, the upper-layer bytes)") {
    Lan6 lan;
    settle(lan);
    Recorder tcp;
    lan.b.iface().set_ipv6_transport(nh::kTcp, &tcp);
    const auto seg = pattern(20, 3);
    send_all(lan, {frame6(ip6(3), ip6(2), nh::kTcp, seg, 17)});
    REQUIRE(tcp.got.size() == 1);
    CHECK(tcp.got[0].src == ip6(3));
    CHECK(tcp.got[0].dst == ip6(2));
    CHECK(tcp.got[0].hop_limit == 17);
    CHECK(tcp.payloads[0] == seg);
    CHECK(problems(lan).empty());
    // TCP to a multicast address is not delivered.
    const wire::Ipv6Address all = wire::Ipv6Address::all_nodes();
    send_all(lan, {frame6(ip6(3), all, nh::kTcp, seg, 64, all.multicast_mac())});
    CHECK(tcp.got.size() == 1);
    lan.b.iface().set_ipv6_transport(nh::kTcp, nullptr);
}

TEST_CASE("RFC 4443 2.4 (e): no error about an ICMPv6 error, none to a multicast packet, none from ::") {
    Lan6 lan;
    settle(lan);
    // An ICMPv6 destination unreachable behind an option that asks for an error unless multicast.
    wire::Icmpv6Repr du;
    du.type = icmp6::kDestUnreachable;
    const Frame inner = echo6_frames(ip6(2), ip6(3), 1, 1, pattern(8))[0];
    du.data = wire::Bytes(inner).subspan(14);
    auto body = options_header(nh::kIcmpv6, 0xde);
    const Frame m = icmpv6_message(du, ip6(3), ip6(2));
    body.insert(body.end(), m.begin(), m.end());
    send_all(lan, {frame6(ip6(3), ip6(2), nh::kDestinationOptions, body)});
    // Unknown next header to all-nodes, and from ::.
    const wire::Ipv6Address all = wire::Ipv6Address::all_nodes();
    send_all(lan, {frame6(ip6(3), all, nh::kUdp, pattern(8), 64, all.multicast_mac())});
    send_all(lan, {frame6(wire::Ipv6Address::unspecified(), ip6(2), nh::kUdp, pattern(8))});
    CHECK(problems(lan).empty());
    CHECK(lan.b.counter("icmp6.tx_error_suppressed") == 3);
}

TEST_CASE("RFC 4443 2.4 (f): errors are rate-limited by ipv6.icmp_error_rate; echo replies are not") {
    iface::InterfaceConfig c = iface_config6(2);
    c.ipv6.icmp_error_rate_per_sec = 3;
    Lan6 lan(1, iface_config6(1), c);
    lan.settle();
    lan.raw.received().clear();
    for (int i = 0; i < 10; ++i) lan.raw.send(frame6(ip6(3), ip6(2), nh::kUdp, pattern(8)));
    for (std::uint16_t i = 0; i < 10; ++i) {
        for (const Frame& f : echo6_frames(ip6(3), ip6(2), 1, i, pattern(8))) lan.raw.send(f);
    }
    lan.hub.run_for(milliseconds(50));
    CHECK(problems(lan).size() == 3);
    CHECK(replies(lan).size() == 10);
    CHECK(lan.b.counter("icmp6.tx_error_rate_limited") == 7);
    lan.hub.run_for(seconds(1));
    send_all(lan, {frame6(ip6(3), ip6(2), nh::kUdp, pattern(8))});
    CHECK(problems(lan).size() == 4);  // refilled
}

TEST_CASE("RFC 8200 4.5: an incomplete packet times out after 60 s with Time Exceeded code 1 quoting its first fragment") {
    Lan6 lan;
    settle(lan);
    const auto frames = echo6_frames(ip6(3), ip6(2), 1, 1, pattern(3000), 5);
    send_all(lan, {frames[0]});
    lan.hub.run_for(seconds(61));
    const auto te = from_b(lan, icmp6::kTimeExceeded);
    REQUIRE(te.size() == 1);
    CHECK(te[0].code == wire::icmpv6_code::kReassemblyTimeExceeded);
    CHECK(te[0].data.size() == 1232);
    CHECK(std::equal(te[0].data.begin(), te[0].data.end(), frames[0].begin() + 14));
    // Without the first fragment: silent.
    lan.raw.received().clear();
    send_all(lan, {frames[1]});
    lan.hub.run_for(seconds(61));
    CHECK(from_b(lan, icmp6::kTimeExceeded).empty());
}

TEST_CASE("RFC 8201 4: Packet Too Big lowers the path MTU (not below 1280) and later replies are fragmented to it") {
    Lan6 lan;
    settle(lan);
    send_all(lan, echo6_frames(ip6(3), ip6(2), 1, 1, pattern(1400)));
    auto got = replies(lan);
    REQUIRE(got.size() == 1);
    CHECK(got[0].fragments == 1);
    const Frame reply_frame = lan.raw.received().back();
    auto ptb_for = [&](std::uint32_t mtu, const wire::Ipv6Address& quoted_src) {
        wire::Icmpv6Repr ptb;
        ptb.type = icmp6::kPacketTooBig;
        ptb.mtu = mtu;
        Frame quoted(reply_frame.begin() + 14, reply_frame.begin() + 14 + 1000);
        std::copy(quoted_src.bytes.begin(), quoted_src.bytes.end(), quoted.begin() + 8);
        ptb.data = quoted;
        return frame6(ip6(3), ip6(2), nh::kIcmpv6, icmpv6_message(ptb, ip6(3), ip6(2)));
    };
    send_all(lan, {ptb_for(1400, ip6(9))});  // quotes a packet we did not send
    CHECK(lan.b.counter("icmp6.rx_ptb_not_ours") == 1);
    CHECK(lan.b.iface().ipv6_path_mtu(lan.hub.now(), ip6(3)) == 1500);
    send_all(lan, {ptb_for(1400, ip6(2))});
    CHECK(lan.b.iface().ipv6_path_mtu(lan.hub.now(), ip6(3)) == 1400);
    send_all(lan, {ptb_for(1450, ip6(2))});
    CHECK(lan.b.counter("icmp6.rx_ptb_not_lower") == 1);
    lan.raw.received().clear();
    send_all(lan, echo6_frames(ip6(3), ip6(2), 1, 2, pattern(1400)));
    got = replies(lan);
    REQUIRE(got.size() == 1);
    CHECK(got[0].fragments == 2);
    CHECK(got[0].largest_frame <= 14 + 1400);
    send_all(lan, {ptb_for(600, ip6(2))});
    CHECK(lan.b.counter("icmp6.rx_ptb_below_minimum") == 1);
    CHECK(lan.b.iface().ipv6_path_mtu(lan.hub.now(), ip6(3)) == 1280);
    lan.hub.run_for(seconds(601));
    CHECK(lan.b.iface().ipv6_path_mtu(lan.hub.now(), ip6(3)) == 1500);
}

TEST_CASE("RFC 4443 4.2: an echo request to all-nodes is answered from a unicast address") {
    Lan6 lan;
    settle(lan);
    const wire::Ipv6Address all = wire::Ipv6Address::all_nodes();
    send_all(lan, echo6_frames(ll6(3), all, 1, 1, pattern(56), 1, 1500, {}, nh::kIcmpv6, all.multicast_mac()));
    const auto got = replies(lan);
    // b's reply comes from its link-local address (link scope, RFC 6724 rule 2).
    REQUIRE(got.size() == 1);
    CHECK(got[0].ip.src == ll6(2));
    CHECK(of_type(icmp6_messages(lan.raw.received()), icmp6::kEchoReply).size() == 2);  // a answers too
    CHECK(lan.b.counter("icmp6.rx_echo_multicast") == 1);
}

TEST_CASE("RFC 8200 3: malformed fixed headers are counted and dropped") {
    Lan6 lan;
    settle(lan);
    const std::vector<Frame> frames = echo6_frames(ip6(3), ip6(2), 1, 1, pattern(56));
    const Frame& f = frames.at(0);
    Frame version = f;
    version[14] = 0x40;
    Frame length = f;
    wire::store_be16(length.data() + 18, 2000);
    Frame truncated(f.begin(), f.begin() + 14 + 39);
    Frame loopback_dst = frame6(ip6(3), wire::Ipv6Address::loopback(), nh::kIcmpv6, pattern(8));
    Frame multicast_src = frame6(wire::Ipv6Address::all_nodes(), ip6(2), nh::kIcmpv6, pattern(8));
    send_all(lan, {version, length, truncated, loopback_dst, multicast_src});
    CHECK(icmp6_messages(lan.raw.received()).empty());
    CHECK(lan.b.counter("ipv6.rx_bad_version") == 1);
    CHECK(lan.b.counter("ipv6.rx_bad_payload_length") == 1);
    CHECK(lan.b.counter("ipv6.rx_truncated") == 1);
    CHECK(lan.b.counter("ipv6.rx_bad_destination") == 1);
    CHECK(lan.b.counter("ipv6.rx_bad_source") == 1);
}

TEST_CASE("An Interface without IPv6 counts IPv6 frames as an unknown EtherType and sends none") {
    Lan lan;
    lan.hub.run_for(seconds(3));
    CHECK(lan.b.counter("eth.tx_frames") == 0);
    lan.raw.send(frame6(ip6(3), ip6(2), nh::kIcmpv6, pattern(8)));
    lan.hub.run_for(milliseconds(10));
    CHECK(lan.b.counter("eth.rx_unknown_ethertype") == 1);
}
