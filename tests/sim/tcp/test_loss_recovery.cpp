// Loss recovery between two TcpStacks on the simulated link: every single
// segment position of a 100-segment transfer lost in turn, bursts,
// reordering depth 1 to 10, duplication and corruption, with and without
// SACK, with each congestion controller. Each transfer must deliver every
// byte exactly once, and the counters show HOW it recovered: fast
// retransmit / SACK recovery where RFC 5681 / RFC 6675 say it must happen,
// the RTO only where no duplicate ACKs can arrive.
#include <doctest/doctest.h>

#include <functional>
#include <optional>
#include <set>
#include <string>

#include "stack/wire/tcp_header.hpp"
#include "tests/sim/tcp/sim_net.hpp"

using namespace tapstack;
using namespace tapstack::sim;

namespace {

struct Options {
    bool sack = true;
    bool timestamps = true;
    std::string cc = "cubic";
};

struct Result {
    bool finished = false;
    bool exact = false;
    std::uint64_t rto_expiries = 0;
    std::uint64_t fast_retransmits = 0;
    std::uint64_t sack_recoveries = 0;
    std::uint64_t retransmissions = 0;
    std::uint64_t rescues = 0;
    std::uint64_t lost_retransmits = 0;
    std::uint64_t tlp_probes = 0;
    std::uint64_t reorder_timeouts = 0;
    tcp::ConnStats sender_stats;
    tcp::ConnStats receiver_stats;
};

// B (client) sends `size` bytes to A (server) and shuts down; `drop` sees
// every segment B puts on the wire (data segments numbered from 0 in order
// of first transmission) and decides whether the link loses it.
Result one_way(std::uint64_t seed, std::size_t size, const Options& o, LinkFaults faults,
               const std::function<bool(std::size_t data_index, bool first_time, const wire::TcpRepr&)>& drop) {
    auto ca = SimNet::default_config(SimNet::kAddrA);
    auto cb = SimNet::default_config(SimNet::kAddrB);
    for (auto* c : {&ca, &cb}) {
        c->sack = o.sack;
        c->timestamps = o.timestamps;
        c->congestion_control = o.cc;
    }
    SimNet net(seed, ca, cb, LinkFaults{}, faults);  // faults on the data direction (B to A)
    std::set<std::uint32_t> seen;
    std::size_t data_index = 0;
    net.filter = [&](const SimNet::Packet& p) {
        if (p.src != SimNet::kAddrB) return true;
        wire::TcpRepr r;
        if (wire::TcpRepr::parse(p.bytes, p.src, p.dst, r)) return true;
        if (r.payload.empty()) return !drop(static_cast<std::size_t>(-1), false, r);
        const bool first = seen.insert(r.seq).second;
        const std::size_t idx = first ? data_index++ : static_cast<std::size_t>(-1);
        return !drop(idx, first, r);
    };
    tcp::ListenerId l;
    REQUIRE(net.a().listen(80, 0, &l) == tcp::Error::kNone);
    tcp::ConnId client;
    REQUIRE(net.b().connect(net.now(), {SimNet::kAddrA, 80}, 0, &client) == tcp::Error::kNone);
    tcp::ConnId server;
    REQUIRE(net.run_until([&] { return (server = net.a().accept(l)).valid(); }, seconds(30)));
    const auto data = pattern(size, seed);
    StreamSender tx(net.b(), data, false);
    StreamReceiver rx(net.a(), 65536, Duration::zero());
    rx.close_on_eof = false;
    tx.attach(client);
    rx.attach(server);
    net.add_app(&tx);
    net.add_app(&rx);
    Result res;
    res.finished = net.run_until([&] { return rx.eof(); }, seconds(300));
    res.exact = rx.received() == data;
    res.rto_expiries = net.counter(false, "tcp.rto_expiries");
    res.fast_retransmits = net.counter(false, "tcp.fast_retransmits");
    res.sack_recoveries = net.counter(false, "tcp.sack_recoveries");
    res.retransmissions = net.counter(false, "tcp.retransmissions");
    res.rescues = net.counter(false, "tcp.sack_rescue_retransmits");
    res.lost_retransmits = net.counter(false, "tcp.lost_retransmits");
    res.tlp_probes = net.counter(false, "tcp.tlp_probes");
    res.reorder_timeouts = net.counter(false, "tcp.rack_reorder_timeouts");
    res.sender_stats = net.b().stats(client);
    res.receiver_stats = net.a().stats(server);
    return res;
}

constexpr std::size_t kSegments = 100;
constexpr std::size_t kFullPayload = 1460 - 12;  // MSS less the timestamp option

}  // namespace

TEST_CASE("loss of each single segment position of a 100-segment transfer: exact, and fast recovery unless in the last 3") {
    const Options variants[] = {
        {true, true, "cubic"}, {true, true, "newreno"}, {false, true, "newreno"}, {false, false, "cubic"}};
    for (const Options& o : variants) {
        const std::size_t payload = o.timestamps ? kFullPayload : 1460;
        for (std::size_t k = 0; k < kSegments; ++k) {
            INFO("sack=" << o.sack << " ts=" << o.timestamps << " cc=" << o.cc << " lost segment " << k);
            bool dropped = false;
            const Result r = one_way(900 + k, kSegments * payload, o, LinkFaults{},
                                     [&](std::size_t idx, bool first, const wire::TcpRepr&) {
                                         if (first && idx == k && !dropped) return dropped = true;
                                         return false;
                                     });
            REQUIRE(dropped);
            CHECK(r.finished);
            CHECK(r.exact);
            CHECK(r.sender_stats.sack == o.sack);
            CHECK(r.sender_stats.timestamps == o.timestamps);
            if (k + 3 < kSegments) {
                // At least three later segments arrive: three duplicate ACKs
                // (RFC 5681 3.2) or the SACK equivalent (RFC 6675 5) start
                // recovery, the timer never fires, one segment is resent.
                CHECK(r.rto_expiries == 0);
                CHECK(r.fast_retransmits == 1);
                CHECK(r.sack_recoveries == (o.sack ? 1u : 0u));
                // RFC 6675 NextSeg rule 4 may add one rescue retransmission
                // of the tail once no new data is left.
                CHECK(r.rescues <= 1);
                CHECK(r.retransmissions == 1 + r.rescues);
            } else {
                CHECK(r.retransmissions >= 1);
            }
        }
    }
}

TEST_CASE("RFC 8985 7 / RFC 5827: the last two segments lost are repaired by a tail loss probe and early retransmit, no RTO") {
    // Two segments outstanding, both lost: no ACK comes back at all. The
    // probe (PTO = 2*SRTT, far below the RTO) resends the last one; its
    // SACK is the oseg - 1 = 1 SACKed segment early retransmit needs, and
    // recovery resends the first.
    for (const Options& o : {Options{true, true, "cubic"}, Options{true, false, "newreno"}}) {
        INFO("ts=" << o.timestamps << " cc=" << o.cc);
        const std::size_t payload = o.timestamps ? kFullPayload : 1460;
        const Result r = one_way(62, kSegments * payload, o, LinkFaults{},
                                 [&](std::size_t idx, bool first, const wire::TcpRepr&) {
                                     return first && idx >= kSegments - 2 && idx < kSegments;
                                 });
        CHECK(r.finished);
        CHECK(r.exact);
        CHECK(r.rto_expiries == 0);
        CHECK(r.tlp_probes == 1);
        CHECK(r.sack_recoveries == 1);
        CHECK(r.retransmissions == 2);
    }
}

TEST_CASE("without SACK no loss probe is sent: the tail loss waits for the RTO") {
    Options o;
    o.sack = false;
    const Result r = one_way(64, kSegments * kFullPayload, o, LinkFaults{},
                             [&](std::size_t idx, bool first, const wire::TcpRepr&) {
                                 return first && idx >= kSegments - 2 && idx < kSegments;
                             });
    CHECK(r.finished);
    CHECK(r.exact);
    CHECK(r.tlp_probes == 0);
    CHECK(r.rto_expiries >= 1);
}

TEST_CASE("a burst of 2 to 12 consecutive lost segments in one window is repaired by one SACK recovery, no RTO") {
    for (std::size_t burst = 2; burst <= 12; ++burst) {
        INFO("burst " << burst);
        const Result r = one_way(50 + burst, 200 * kFullPayload, Options{}, LinkFaults{},
                                 [&](std::size_t idx, bool first, const wire::TcpRepr&) {
                                     return first && idx >= 40 && idx < 40 + burst;
                                 });
        CHECK(r.finished);
        CHECK(r.exact);
        CHECK(r.rto_expiries == 0);
        CHECK(r.sack_recoveries == 1);
        CHECK(r.retransmissions == burst + r.rescues);
    }
}

TEST_CASE("without SACK a burst is repaired by NewReno partial ACKs (RFC 6582), one hole per RTT, no RTO") {
    for (std::size_t burst = 2; burst <= 5; ++burst) {
        INFO("burst " << burst);
        Options o;
        o.sack = false;
        o.cc = "newreno";
        const Result r = one_way(70 + burst, 200 * kFullPayload, o, LinkFaults{},
                                 [&](std::size_t idx, bool first, const wire::TcpRepr&) {
                                     return first && idx >= 40 && idx < 40 + burst;
                                 });
        CHECK(r.finished);
        CHECK(r.exact);
        CHECK(r.rto_expiries == 0);
        CHECK(r.fast_retransmits == 1);
        CHECK(r.retransmissions == burst);
    }
}

TEST_CASE("several separate losses in one window: SACK recovery resends exactly the lost segments") {
    const std::set<std::size_t> lost = {30, 33, 34, 40, 47};
    const Result r = one_way(7, 200 * kFullPayload, Options{}, LinkFaults{},
                             [&](std::size_t idx, bool first, const wire::TcpRepr&) {
                                 return first && lost.contains(idx);
                             });
    CHECK(r.finished);
    CHECK(r.exact);
    CHECK(r.rto_expiries == 0);
    CHECK(r.sack_recoveries == 1);
    CHECK(r.retransmissions == lost.size() + r.rescues);
}

TEST_CASE("a lost retransmission: SACKs of later data reveal it and it goes again at once; without SACK the RTO repairs it") {
    for (bool sack : {true, false}) {
        INFO("sack " << sack);
        Options o;
        o.sack = sack;
        const Result r = one_way(8, 100 * kFullPayload, o, LinkFaults{},
                                 [n = 0](std::size_t idx, bool first, const wire::TcpRepr& seg) mutable {
                                     if (first && idx == 20) return true;  // the original
                                     if (!first && !seg.payload.empty() && n++ == 0)
                                         return true;  // and its first retransmission
                                     return false;
                                 });
        CHECK(r.finished);
        CHECK(r.exact);
        if (sack) {
            CHECK(r.lost_retransmits == 1);
            CHECK(r.rto_expiries == 0);
        } else {
            CHECK(r.rto_expiries >= 1);
        }
    }
}

TEST_CASE("RFC 8985 6.2: a lost retransmission of a hole above SND.UNA is found by later deliveries and goes again without an RTO") {
    std::uint32_t second_hole = 0;
    const Result r = one_way(9, 100 * kFullPayload, Options{}, LinkFaults{},
                             [&, n = 0](std::size_t idx, bool first, const wire::TcpRepr& seg) mutable {
                                 if (first && idx == 20) return true;
                                 if (first && idx == 25) {
                                     second_hole = seg.seq;
                                     return true;
                                 }
                                 // The first retransmission of the second hole.
                                 return !first && seg.seq == second_hole && n++ == 0;
                             });
    CHECK(r.finished);
    CHECK(r.exact);
    CHECK(r.lost_retransmits == 1);
    CHECK(r.rto_expiries == 0);
}

TEST_CASE("RFC 8985 6.3: holes with too few SACKs above them for DupThresh or early retransmit are repaired after the reordering window") {
    // 5 segments, 0, 2 and 3 lost: only 1 and 4 are SACKed (2 ranges, 2
    // segments), so RFC 6675 IsLost and RFC 5827 (fewer than 4 outstanding)
    // both say wait; the tail loss probe would come after 10 ms at least,
    // the RTO after 200 ms. The reordering timer starts recovery first.
    const Result r = one_way(10, 5 * kFullPayload, Options{}, LinkFaults{},
                             [](std::size_t idx, bool first, const wire::TcpRepr&) {
                                 return first && (idx == 0 || idx == 2 || idx == 3);
                             });
    CHECK(r.finished);
    CHECK(r.exact);
    CHECK(r.reorder_timeouts == 1);
    CHECK(r.sack_recoveries == 1);
    CHECK(r.tlp_probes == 0);
    CHECK(r.rto_expiries == 0);
    CHECK(r.retransmissions == 3);
}

TEST_CASE("reordering depth 1 to 10: delivered exactly; depth below DupThresh causes no retransmission") {
    for (std::size_t depth = 1; depth <= 10; ++depth) {
        INFO("depth " << depth);
        // Segment 30 is held back and put on the link right behind the
        // depth-th segment sent after it.
        auto ca = SimNet::default_config(SimNet::kAddrA);
        auto cb = SimNet::default_config(SimNet::kAddrB);
        SimNet net(300 + depth, ca, cb);
        std::optional<SimNet::Packet> held;
        std::size_t data_index = 0;
        std::size_t after = 0;
        std::set<std::uint32_t> seen;
        net.filter = [&](const SimNet::Packet& p) {
            if (p.src != SimNet::kAddrB) return true;
            wire::TcpRepr r;
            if (wire::TcpRepr::parse(p.bytes, p.src, p.dst, r) || r.payload.empty()) return true;
            if (!seen.insert(r.seq).second) return true;
            const std::size_t idx = data_index++;
            if (idx == 30) {
                held = p;
                return false;
            }
            if (held && ++after == depth) {
                // The held segment arrives right behind this one.
                net.deliver_later(false, *held, milliseconds(5));  // toward A
                held.reset();
            }
            return true;
        };
        tcp::ListenerId l;
        REQUIRE(net.a().listen(80, 0, &l) == tcp::Error::kNone);
        tcp::ConnId client;
        REQUIRE(net.b().connect(net.now(), {SimNet::kAddrA, 80}, 0, &client) == tcp::Error::kNone);
        tcp::ConnId server;
        REQUIRE(net.run_until([&] { return (server = net.a().accept(l)).valid(); }, seconds(30)));
        const auto data = pattern(100 * kFullPayload, depth);
        StreamSender tx(net.b(), data, false);
        StreamReceiver rx(net.a(), 65536, Duration::zero());
        rx.close_on_eof = false;
        tx.attach(client);
        rx.attach(server);
        net.add_app(&tx);
        net.add_app(&rx);
        CHECK(net.run_until([&] { return rx.eof(); }, seconds(120)));
        CHECK(rx.received() == data);
        CHECK(net.a().stats(server).ooo_segments_received >= depth);
        if (depth < 3) {
            CHECK(net.counter(false, "tcp.retransmissions") == 0);
        }
        CHECK(net.counter(false, "tcp.rto_expiries") == 0);
    }
}

TEST_CASE("random loss, duplication, corruption and reordering in both directions, each controller, SACK on and off") {
    std::uint64_t seed = 4000;
    for (const Options& o : {Options{true, true, "cubic"}, Options{false, false, "newreno"},
                             Options{true, false, "newreno"}, Options{false, true, "cubic"}}) {
        for (double loss : {0.01, 0.05}) {
            LinkFaults f;
            f.drop = loss;
            f.duplicate = 0.02;
            f.corrupt = 0.02;
            f.reorder = 0.05;
            INFO("sack=" << o.sack << " ts=" << o.timestamps << " cc=" << o.cc << " loss=" << loss << " seed="
                         << seed + 1);
            const Result r = one_way(++seed, 300000, o, f, [](std::size_t, bool, const wire::TcpRepr&) { return false; });
            CHECK(r.finished);
            CHECK(r.exact);
        }
    }
}

TEST_CASE("duplication only: every segment twice, nothing delivered twice, duplicates counted") {
    LinkFaults f;
    f.duplicate = 1.0;
    const Result r = one_way(11, 100 * kFullPayload, Options{}, f, [](std::size_t, bool, const wire::TcpRepr&) { return false; });
    CHECK(r.finished);
    CHECK(r.exact);
    CHECK(r.receiver_stats.dup_segments_received >= 50);
    CHECK(r.rto_expiries == 0);
}

TEST_CASE("corruption only: damaged segments fail the checksum, are counted and dropped, and are repaired like losses") {
    LinkFaults f;
    f.corrupt = 0.05;
    auto ca = SimNet::default_config(SimNet::kAddrA);
    auto cb = SimNet::default_config(SimNet::kAddrB);
    SimNet net(12, ca, cb, f, f);
    tcp::ListenerId l;
    REQUIRE(net.a().listen(80, 0, &l) == tcp::Error::kNone);
    tcp::ConnId client;
    REQUIRE(net.b().connect(net.now(), {SimNet::kAddrA, 80}, 0, &client) == tcp::Error::kNone);
    tcp::ConnId server;
    REQUIRE(net.run_until([&] { return (server = net.a().accept(l)).valid(); }, seconds(60)));
    const auto data = pattern(500000, 12);
    StreamSender tx(net.b(), data, false);
    StreamReceiver rx(net.a(), 65536, Duration::zero());
    rx.close_on_eof = false;
    tx.attach(client);
    rx.attach(server);
    net.add_app(&tx);
    net.add_app(&rx);
    CHECK(net.run_until([&] { return rx.eof(); }, seconds(300)));
    CHECK(rx.received() == data);
    // A flipped bit anywhere in a segment is caught by the TCP checksum.
    CHECK(net.counter(true, "tcp.rx_bad_checksum") + net.counter(true, "tcp.rx_malformed_options") +
              net.counter(true, "tcp.rx_bad_offset") > 0);
    CHECK(net.counter(false, "tcp.retransmissions") > 0);
}
