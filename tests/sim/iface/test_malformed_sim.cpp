// Malformed frames (CONFORMANCE.md "Link, IP, ICMP"): every one is dropped
// silently with its own counter, nothing is sent back, and the interface
// still answers a ping afterwards.
#include <doctest/doctest.h>

#include <functional>
#include <random>

#include "stack/wire/checksum.hpp"
#include "tests/sim/iface/lan.hpp"

using namespace sim;

namespace {

Frame valid_echo_frame(std::size_t size = 56) {
    return echo_request_frames(mac(2), mac(3), ip(3), ip(2), 1, 1, pattern(size), 42)[0];
}

// Recomputes the IPv4 header checksum after a test tampered with the header.
void fix_ip_checksum(Frame& f) {
    const std::size_t hlen = std::min<std::size_t>(std::size_t{f[14] & 0x0fu} * 4, f.size() - 14);
    f[24] = f[25] = 0;
    const std::uint16_t c = wire::internet_checksum(std::span(f).subspan(14, hlen));
    f[24] = static_cast<std::uint8_t>(c >> 8);
    f[25] = static_cast<std::uint8_t>(c);
}

Frame valid_arp_request() {
    return arp_frame(wire::MacAddress::broadcast(),
                     wire::ArpRepr{wire::ArpOperation::kRequest, mac(3), ip(3), {}, ip(2)});
}

struct Case {
    const char* what;
    std::function<Frame()> make;
    const char* counter;
};

}  // namespace

TEST_CASE("RFC 791 / RFC 1122 3.2.1 / RFC 826: malformed frames are dropped with the right counter and no reply") {
    const std::vector<Case> cases = {
        {"IPv4 bad header checksum",
         [] {
             Frame f = valid_echo_frame();
             f[24] ^= 0x55;
             return f;
         },
         "ipv4.rx_bad_checksum"},
        {"IPv4 version 6 under EtherType 0x0800",
         [] {
             Frame f = valid_echo_frame();
             f[14] = 0x65;
             fix_ip_checksum(f);
             return f;
         },
         "ipv4.rx_bad_version"},
        {"IPv4 IHL 4",
         [] {
             Frame f = valid_echo_frame();
             f[14] = 0x44;
             return f;
         },
         "ipv4.rx_bad_header_length"},
        {"IPv4 IHL 0",
         [] {
             Frame f = valid_echo_frame();
             f[14] = 0x40;
             return f;
         },
         "ipv4.rx_bad_header_length"},
        {"IPv4 IHL*4 larger than total length",
         [] {
             Frame f = valid_echo_frame(0);
             f[14] = 0x4f;
             return f;
         },  // 60-byte header in a 28-byte datagram
         "ipv4.rx_bad_header_length"},
        {"IPv4 total length larger than the frame",
         [] {
             Frame f = valid_echo_frame();
             f[16] = 0x05;
             fix_ip_checksum(f);
             return f;
         },
         "ipv4.rx_bad_total_length"},
        {"IPv4 header truncated",
         [] {
             Frame f = valid_echo_frame();
             f.resize(14 + 12);
             return f;
         },
         "ipv4.rx_truncated"},
        {"IPv4 empty payload",
         [] {
             Frame f = valid_echo_frame();
             f.resize(14);
             return f;
         },
         "ipv4.rx_truncated"},
        {"ICMP bad checksum",
         [] {
             Frame f = valid_echo_frame();
             f.back() ^= 0x01;
             return f;
         },
         "icmp.rx_bad_checksum"},
        {"ICMP truncated below 8 bytes",
         [] {
             Frame f = valid_echo_frame(0);
             f.resize(14 + 20 + 4);
             f[17] = 24;
             fix_ip_checksum(f);
             return f;
         },
         "icmp.rx_truncated"},
        {"IPv4 broadcast source",
         [] {
             Frame f = valid_echo_frame();
             f[26] = f[27] = f[28] = f[29] = 0xff;
             fix_ip_checksum(f);
             return f;
         },
         "ipv4.rx_bad_source"},
        {"IPv4 multicast source",
         [] {
             Frame f = valid_echo_frame();
             f[26] = 224;
             fix_ip_checksum(f);
             return f;
         },
         "ipv4.rx_bad_source"},
        {"IPv4 zero source",
         [] {
             Frame f = valid_echo_frame();
             std::fill(f.begin() + 26, f.begin() + 30, 0);
             fix_ip_checksum(f);
             return f;
         },
         "ipv4.rx_bad_source"},
        {"IPv4 loopback source",
         [] {
             Frame f = valid_echo_frame();
             f[26] = 127;
             fix_ip_checksum(f);
             return f;
         },
         "ipv4.rx_bad_source"},
        {"IPv4 for another host",
         [] {
             Frame f = valid_echo_frame();
             f[33] = 9;
             fix_ip_checksum(f);
             return f;
         },
         "ipv4.rx_not_for_us"},
        {"IPv4 unicast to us inside a link-layer broadcast",
         [] {
             Frame f = valid_echo_frame();
             std::fill(f.begin(), f.begin() + 6, 0xff);
             return f;
         },
         "ipv4.rx_unicast_in_link_broadcast"},
        {"ARP hardware type 6",
         [] {
             Frame f = valid_arp_request();
             f[15] = 6;
             return f;
         },
         "arp.rx_bad_hardware_type"},
        {"ARP protocol type 0x86dd",
         [] {
             Frame f = valid_arp_request();
             f[16] = 0x86;
             f[17] = 0xdd;
             return f;
         },
         "arp.rx_bad_protocol_type"},
        {"ARP hardware length 5",
         [] {
             Frame f = valid_arp_request();
             f[18] = 5;
             return f;
         },
         "arp.rx_bad_address_length"},
        {"ARP protocol length 16",
         [] {
             Frame f = valid_arp_request();
             f[19] = 16;
             return f;
         },
         "arp.rx_truncated"},
        {"ARP protocol length 2",
         [] {
             Frame f = valid_arp_request();
             f[19] = 2;
             return f;
         },
         "arp.rx_bad_address_length"},
        {"ARP operation 3",
         [] {
             Frame f = valid_arp_request();
             f[21] = 3;
             return f;
         },
         "arp.rx_bad_operation"},
        {"ARP truncated",
         [] {
             Frame f = valid_arp_request();
             f.resize(14 + 27);
             return f;
         },
         "arp.rx_truncated"},
        {"ARP multicast sender",
         [] {
             Frame f = valid_arp_request();
             f[22] = 0x01;
             f[6] = 0x02;
             return f;
         },
         "arp.rx_bad_sender"},
        {"runt frame", [] { return Frame(13, 0xff); }, "eth.rx_truncated"},
        {"junk EtherType",
         [] {
             Frame f = valid_echo_frame();
             f[12] = 0x12;
             f[13] = 0x34;
             return f;
         },
         "eth.rx_unknown_ethertype"},
        {"IPv6 EtherType",
         [] {
             Frame f = valid_echo_frame();
             f[12] = 0x86;
             f[13] = 0xdd;
             return f;
         },
         "eth.rx_unknown_ethertype"},
        {"802.1Q tagged",
         [] {
             Frame f = valid_echo_frame();
             f[12] = 0x81;
             f[13] = 0x00;
             return f;
         },
         "eth.rx_vlan_dropped"},
        {"multicast destination MAC",
         [] {
             Frame f = valid_echo_frame();
             f[0] = 0x01;
             f[1] = 0x00;
             f[2] = 0x5e;
             return f;
         },
         "eth.rx_multicast_dropped"},
        {"another host's MAC",
         [] {
             Frame f = valid_echo_frame();
             f[5] = 0x44;
             return f;
         },
         "eth.rx_not_for_us"},
        {"multicast source MAC",
         [] {
             Frame f = valid_echo_frame();
             f[6] = 0x01;
             return f;
         },
         "eth.rx_bad_source"},
    };
    Lan lan;
    for (const Case& c : cases) {
        CAPTURE(c.what);
        const std::uint64_t before = lan.b.counter(c.counter);
        const std::uint64_t tx_before = lan.b.counter("eth.tx_frames");
        lan.raw.send(c.make());
        lan.hub.run_for(milliseconds(10));
        CHECK(lan.b.counter(c.counter) == before + 1);
        CHECK(lan.b.counter("eth.tx_frames") == tx_before);
        CHECK(lan.raw.received().empty());
        CHECK(lan.raw.arp_received().empty());
    }
    // Still alive and answering.
    lan.raw.send(valid_echo_frame());
    lan.hub.run_for(milliseconds(10));
    CHECK(icmp_messages(lan.raw.received()).size() == 1);
}

TEST_CASE("Random garbage after a valid Ethernet header: every frame is counted once, no echo reply, still alive") {
    Lan lan;
    std::mt19937 rng(99);
    for (int i = 0; i < 2000; ++i) {
        Frame f = valid_echo_frame();
        const std::size_t len = 14 + rng() % 120;
        f.resize(len);
        for (std::size_t j = 14 + rng() % 20; j < len; ++j) f[j] = static_cast<std::uint8_t>(rng());
        if (i % 2 == 0) {
            f[12] = 0x08;
            f[13] = 0x06;
        }
        lan.raw.send(f);
    }
    lan.hub.run_for(milliseconds(100));
    CHECK(lan.b.counter("eth.rx_frames") == 2000);
    CHECK(lan.b.counter("arp.rx_packets") == 1000);
    CHECK(lan.b.counter("ipv4.rx_packets") == 1000);
    std::uint64_t arp_outcomes = 0;
    for (const char* name :
         {"arp.rx_truncated", "arp.rx_bad_hardware_type", "arp.rx_bad_protocol_type", "arp.rx_bad_address_length",
          "arp.rx_bad_operation", "arp.rx_requests", "arp.rx_replies"}) {
        arp_outcomes += lan.b.counter(name);
    }
    CHECK(arp_outcomes == 1000);
    for (const IcmpSeen& m : icmp_messages(lan.raw.received())) CHECK(m.type != wire::icmp_type::kEchoReply);
    lan.raw.received().clear();
    lan.raw.send(valid_echo_frame());
    lan.hub.run_for(milliseconds(10));
    CHECK(icmp_messages(lan.raw.received()).size() == 1);
}
