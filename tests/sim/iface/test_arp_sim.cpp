// ARP between interfaces and a hand-driven host on a simulated LAN
// (RFC 826, RFC 1122 2.3.2, RFC 5227 announcements).
#include <doctest/doctest.h>

#include "tests/sim/iface/lan.hpp"

using namespace sim;

namespace {

std::vector<wire::ArpRepr> arps(const std::vector<Frame>& frames) {
    std::vector<wire::ArpRepr> out;
    for (const Frame& f : frames) {
        auto eth = wire::EthernetView::check(f);
        if (!eth || eth->ethertype() != wire::ethertype::kArp) continue;
        auto v = wire::ArpView::check(eth->payload());
        if (!v) continue;
        if (auto a = wire::ArpRepr::parse(*v)) out.push_back(*a);
    }
    return out;
}

void ping(Lan& lan, std::uint8_t target, std::uint16_t seq, std::size_t size = 56) {
    const auto data = pattern(size);
    const wire::MacAddress dst = target == 1 ? mac(1) : mac(2);
    for (const Frame& f : echo_request_frames(dst, lan.raw.mac(), lan.raw.ip(), ip(target), 7, seq, data, seq)) {
        lan.raw.send(f);
    }
}

}  // namespace

TEST_CASE("RFC 826: a request for our address gets exactly one correct reply, unicast to the asker") {
    Lan lan;
    lan.raw.send(arp_frame(wire::MacAddress::broadcast(),
                           wire::ArpRepr{wire::ArpOperation::kRequest, mac(3), ip(3), {}, ip(2)}));
    lan.hub.run_for(seconds(1));
    const auto got = arps(lan.raw.arp_received());
    REQUIRE(got.size() == 1);
    CHECK(got[0].operation == wire::ArpOperation::kReply);
    CHECK(got[0].sender_mac == mac(2));
    CHECK(got[0].sender_ip == ip(2));
    CHECK(got[0].target_mac == mac(3));
    CHECK(got[0].target_ip == ip(3));
    auto eth = wire::EthernetView::check(lan.raw.arp_received()[0]);
    CHECK(eth->dst() == mac(3));
    CHECK(lan.b.counter("arp.tx_replies") == 1);
    CHECK(lan.a.counter("arp.tx_replies") == 0);
    CHECK(lan.a.counter("arp.rx_not_for_us") == 1);
}

TEST_CASE("RFC 826: a request for another address gets no reply and creates no entry") {
    Lan lan;
    lan.raw.send(arp_frame(wire::MacAddress::broadcast(),
                           wire::ArpRepr{wire::ArpOperation::kRequest, mac(3), ip(3), {}, ip(77)}));
    lan.hub.run_for(seconds(1));
    CHECK(lan.raw.arp_received().empty());
    CHECK(lan.b.counter("arp.cache_entries") == 0);
    CHECK(lan.b.counter("arp.rx_not_for_us") == 1);
}

TEST_CASE("RFC 826 merge: a request for us caches the asker, so the answer to its ping needs no ARP") {
    Lan lan;
    lan.raw.send(arp_frame(wire::MacAddress::broadcast(),
                           wire::ArpRepr{wire::ArpOperation::kRequest, mac(3), ip(3), {}, ip(2)}));
    lan.hub.run_for(milliseconds(10));
    ping(lan, 2, 1);
    lan.hub.run_for(milliseconds(10));
    CHECK(icmp_messages(lan.raw.received()).size() == 1);
    CHECK(lan.b.counter("arp.tx_requests") == 0);
}

TEST_CASE("RFC 1122 2.3.2.1: an unanswered request is retried at the interval and the queued reply then goes out") {
    Lan lan;
    lan.raw.answer_arp = false;
    ping(lan, 2, 1);
    lan.hub.run_for(milliseconds(2500));  // requests at 0, 1 s, 2 s
    CHECK(lan.b.counter("arp.tx_requests") == 3);
    CHECK(lan.b.counter("arp.request_retries") == 2);
    CHECK(icmp_messages(lan.raw.received()).empty());
    lan.raw.answer_arp = true;
    lan.hub.run_for(seconds(1));  // the retry at 3 s is answered
    const auto replies = icmp_messages(lan.raw.received());
    REQUIRE(replies.size() == 1);
    CHECK(replies[0].seq == 1);
    CHECK(lan.b.counter("arp.resolve_failed") == 0);
}

TEST_CASE("RFC 1122 2.3.2.2: after max retries the queued packets are dropped, counted, and the entry freed") {
    Lan lan;
    lan.raw.answer_arp = false;
    ping(lan, 2, 1);
    ping(lan, 2, 2);
    lan.hub.run_for(seconds(10));
    CHECK(lan.b.counter("arp.tx_requests") == 4);  // first + 3 retries
    CHECK(lan.b.counter("arp.resolve_failed") == 1);
    CHECK(lan.b.counter("arp.unresolved_dropped") == 2);
    CHECK(lan.b.counter("arp.cache_entries") == 0);
    CHECK(icmp_messages(lan.raw.received()).empty());
    CHECK(lan.b.iface().poll_at() == kNever);
}

TEST_CASE("RFC 1122 2.3.2.2: giving up on a next hop fails TCP connections toward it with host unreachable") {
    Lan lan;
    tcp::ConnId conn;
    REQUIRE(lan.a.iface().tcp().connect(lan.hub.now(), wire::IpEndpoint{ip(99), 80}, 0, &conn) == tcp::Error::kNone);
    lan.hub.run_for(seconds(10));
    CHECK(lan.a.counter("arp.resolve_failed") == 1);
    const tcp::ConnInfo info = lan.a.iface().tcp().info(conn);
    CHECK(info.state == tcp::State::kClosed);
    CHECK(info.error == tcp::Error::kHostUnreachable);
}

TEST_CASE("RFC 826 / RFC 1122 2.3.2: two interfaces resolve each other under 30% loss (several seeds)") {
    for (std::uint64_t seed = 1; seed <= 8; ++seed) {
        CAPTURE(seed);
        LinkParams lossy;
        lossy.drop_rate = 0.3;
        iface::InterfaceConfig ac = iface_config(1, mac(1));
        ac.arp_max_retries = 10;
        ac.tcp.max_syn_retransmits = 10;
        Lan lan(seed, lossy, ac);
        tcp::ConnId conn;
        REQUIRE(lan.a.iface().tcp().connect(lan.hub.now(), wire::IpEndpoint{ip(2), 80}, 0, &conn) ==
                tcp::Error::kNone);
        // Nobody listens on b:80, so success is the RST coming back: the
        // connection is refused, not unreachable.
        lan.hub.run_for(seconds(300), [&] { return lan.a.iface().tcp().info(conn).state == tcp::State::kClosed; });
        CHECK(lan.b.counter("ipv4.rx_delivered") >= 1);
        CHECK(lan.a.counter("arp.resolve_failed") == 0);
        INFO("state " << tcp::to_string(lan.a.iface().tcp().info(conn).state) << " at "
                      << to_ns(lan.hub.now()) / 1000000 << " ms; a arp.tx_requests " << lan.a.counter("arp.tx_requests")
                      << ", b arp.tx_replies " << lan.b.counter("arp.tx_replies") << ", dropped "
                      << lan.hub.frames_dropped() << "\n a: " << lan.a.nonzero_counters()
                      << "\n b: " << lan.b.nonzero_counters());
        CHECK(lan.a.iface().tcp().info(conn).error == tcp::Error::kRefused);
    }
}

TEST_CASE("RFC 826 merge: a gratuitous ARP moves an existing entry to the new MAC without a new request") {
    Lan lan;
    ping(lan, 2, 1);
    lan.hub.run_for(milliseconds(50));
    REQUIRE(icmp_messages(lan.raw.received()).size() == 1);
    const std::uint64_t requests = lan.b.counter("arp.tx_requests");
    const wire::MacAddress moved = mac(0x33);
    lan.raw.send(
        arp_frame(wire::MacAddress::broadcast(), wire::ArpRepr{wire::ArpOperation::kRequest, moved, ip(3), {}, ip(3)}));
    lan.hub.run_for(milliseconds(10));
    lan.raw.sniffed().clear();
    ping(lan, 2, 2);
    lan.hub.run_for(milliseconds(10));
    CHECK(lan.b.counter("arp.tx_requests") == requests);
    bool to_moved = false;
    for (const Frame& f : lan.raw.sniffed()) {
        auto eth = wire::EthernetView::check(f);
        if (eth && eth->src() == mac(2) && eth->ethertype() == wire::ethertype::kIpv4) to_moved = eth->dst() == moved;
    }
    CHECK(to_moved);
}

TEST_CASE("RFC 826 merge: a gratuitous ARP from an unknown host creates no entry") {
    Lan lan;
    lan.raw.send(arp_frame(wire::MacAddress::broadcast(),
                           wire::ArpRepr{wire::ArpOperation::kRequest, mac(0x50), ip(50), {}, ip(50)}));
    lan.raw.send(arp_frame(wire::MacAddress::broadcast(),
                           wire::ArpRepr{wire::ArpOperation::kReply, mac(0x51), ip(51), {}, ip(51)}));
    lan.hub.run_for(milliseconds(10));
    CHECK(lan.b.counter("arp.cache_entries") == 0);
    CHECK(lan.a.counter("arp.cache_entries") == 0);
    CHECK(lan.raw.arp_received().size() == 0);
}

TEST_CASE("RFC 5227 2.3: announce() broadcasts a request with sender and target both our address") {
    Lan lan;
    lan.a.iface().announce(lan.hub.now());
    lan.hub.run_for(milliseconds(10));
    const auto got = arps(lan.raw.arp_received());
    REQUIRE(got.size() == 1);
    CHECK(got[0].operation == wire::ArpOperation::kRequest);
    CHECK(got[0].sender_mac == mac(1));
    CHECK(got[0].sender_ip == ip(1));
    CHECK(got[0].target_ip == ip(1));
    CHECK(lan.a.counter("arp.tx_announcements") == 1);
    CHECK(lan.b.counter("arp.cache_entries") == 0);  // b had no entry for a
}

TEST_CASE("RFC 5227 2.4: ARP from another MAC claiming our address is counted, never cached") {
    Lan lan;
    lan.raw.send(arp_frame(wire::MacAddress::broadcast(),
                           wire::ArpRepr{wire::ArpOperation::kRequest, mac(3), ip(2), {}, ip(2)}));
    lan.hub.run_for(milliseconds(10));
    CHECK(lan.b.counter("arp.rx_address_conflict") == 1);
    CHECK(lan.b.counter("arp.cache_entries") == 0);
}

TEST_CASE("RFC 1122 2.3.2.1: a resolved entry expires after its lifetime and is resolved again on use") {
    iface::InterfaceConfig bc = iface_config(2, mac(2));
    bc.arp_entry_lifetime = seconds(5);
    Lan lan(1, {}, iface_config(1, mac(1)), bc);
    ping(lan, 2, 1);
    lan.hub.run_for(seconds(1));
    CHECK(lan.b.counter("arp.tx_requests") == 1);
    lan.hub.run_for(seconds(5));
    CHECK(lan.b.counter("arp.cache_expired") == 1);
    ping(lan, 2, 2);
    lan.hub.run_for(seconds(1));
    CHECK(lan.b.counter("arp.tx_requests") == 2);
    CHECK(icmp_messages(lan.raw.received()).size() == 2);
}

TEST_CASE("RFC 1122 2.3.2.1: an entry in use is re-confirmed by unicast requests, so traffic never waits on ARP") {
    iface::InterfaceConfig bc = iface_config(2, mac(2));
    bc.arp_entry_lifetime = seconds(5);
    Lan lan(1, {}, iface_config(1, mac(1)), bc);
    for (std::uint16_t seq = 1; seq <= 30; ++seq) {
        ping(lan, 2, seq);
        lan.hub.run_for(seconds(1));
    }
    CHECK(icmp_messages(lan.raw.received()).size() == 30);
    CHECK(lan.b.counter("ipv4.tx_arp_queued") == 1);  // only the very first reply waited
    CHECK(lan.b.counter("arp.refresh_requests") >= 5);
    CHECK(lan.b.counter("arp.refresh_failed") == 0);
    // Every request reached the station, and only the first was broadcast.
    std::size_t requests_seen = 0;
    for (const wire::ArpRepr& a : arps(lan.raw.arp_received())) {
        if (a.operation == wire::ArpOperation::kRequest && a.sender_ip == ip(2)) ++requests_seen;
    }
    std::size_t broadcast_requests = 0;
    for (const Frame& f : lan.raw.arp_received()) {
        auto eth = wire::EthernetView::check(f);
        if (eth && eth->dst().is_broadcast() && eth->src() == mac(2)) ++broadcast_requests;
    }
    CHECK(broadcast_requests == 1);
    CHECK(requests_seen == lan.b.counter("arp.tx_requests"));
}
