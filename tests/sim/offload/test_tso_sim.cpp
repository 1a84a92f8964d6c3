// TSO and GSO receive end to end on a virtual clock: two
// Interfaces with TcpConfig::tso joined by a link that plays the Linux
// kernel behind a TAP with offloads.
//
// Theory of operation
// -------------------
// Frames A sends with a TxOffload are checked against what the kernel's
// virtio_net_hdr_to_skb() needs (TCPV4, NEEDS_CSUM at the TCP checksum,
// hdr_len = all headers, the pseudo-header sum in the field) and then cut
// in software the way tcp_gso_segment() does (consecutive IP IDs, sequence
// numbers per gso_size, FIN/PSH only on the last piece, full checksums);
// each piece may be lost (seeded), so loss recovery runs over TSO. Frames B
// sends with a TxOffload reach A whole, with an RxOffload saying "partial
// checksum, GSO" as a TAP with TUN_F_TSO4 hands them over; A must take a
// super-frame as one large segment without verifying the checksum field,
// which holds only the pseudo-header sum. Both directions carry a seeded
// byte stream that must arrive exactly, followed by EOF.
#include <doctest/doctest.h>

#include <algorithm>
#include <array>
#include <functional>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "stack/iface/frame_sink.hpp"
#include "stack/iface/interface.hpp"
#include "stack/wire/byte_order.hpp"
#include "stack/wire/checksum.hpp"
#include "stack/wire/ethernet.hpp"
#include "stack/wire/ipv4.hpp"
#include "stack/wire/offload.hpp"

using namespace tapstack;
using Frame = std::vector<std::uint8_t>;

namespace {

constexpr std::size_t kEth = 14;

struct Stats {
    std::uint64_t tso_frames = 0;     // super-frames sent with a TxOffload
    std::uint64_t csum_frames = 0;    // single segments sent with checksum offload only
    std::uint64_t pieces = 0;         // segments cut from them
    std::uint64_t dropped = 0;
    std::uint64_t bad_offload = 0;    // TxOffload fields the kernel would refuse
};

struct Event {
    Instant at;
    std::uint64_t order;
    int to;
    Frame frame;
    wire::RxOffload offload;
};

class Link;

class Endpoint final : public iface::FrameSink {
public:
    Endpoint(Link& link, int id) : link_(link), id_(id) {}
    bool transmit(std::span<const std::uint8_t> frame) override;
    bool transmit_offload(std::span<std::uint8_t> frame, const wire::TxOffload& offload) override;
    std::unique_ptr<iface::Interface> ifc;

private:
    Link& link_;
    int id_;
};

// Cuts a TSO super-frame like Linux's tcp_gso_segment() (+ inet_gso_segment).
std::vector<Frame> segment(const Frame& f, const wire::TxOffload& o) {
    const std::size_t ihl = std::size_t{f[kEth] & 0x0fu} * 4;
    const std::size_t thl = static_cast<std::size_t>(f[kEth + ihl + 12] >> 4) * 4;
    const std::size_t hdr = kEth + ihl + thl;
    const std::uint16_t id = wire::load_be16(f.data() + kEth + 4);
    const std::uint32_t seq = wire::load_be32(f.data() + kEth + ihl + 4);
    const wire::Ipv4Address src{wire::load_be32(f.data() + kEth + 12)};
    const wire::Ipv4Address dst{wire::load_be32(f.data() + kEth + 16)};
    std::vector<Frame> out;
    for (std::size_t off = hdr, i = 0; off < f.size(); off += o.gso_size, ++i) {
        const std::size_t n = std::min<std::size_t>(o.gso_size, f.size() - off);
        Frame p(f.begin(), f.begin() + static_cast<std::ptrdiff_t>(hdr));
        p.insert(p.end(), f.begin() + static_cast<std::ptrdiff_t>(off),
                 f.begin() + static_cast<std::ptrdiff_t>(off + n));
        std::uint8_t* ip = p.data() + kEth;
        wire::store_be16(ip + 2, static_cast<std::uint16_t>(ihl + thl + n));
        wire::store_be16(ip + 4, static_cast<std::uint16_t>(id + i));
        wire::store_be16(ip + 10, 0);
        wire::store_be16(ip + 10, wire::internet_checksum(std::span<const std::uint8_t>(ip, ihl)));
        std::uint8_t* tcp = ip + ihl;
        wire::store_be32(tcp + 4, seq + static_cast<std::uint32_t>(off - hdr));
        if (off + n < f.size()) tcp[13] = static_cast<std::uint8_t>(tcp[13] & ~0x09u);  // FIN, PSH: last only
        wire::store_be16(tcp + 16, 0);
        wire::ChecksumAccumulator acc;
        wire::add_ipv4_pseudo_header(acc, src, dst, wire::ip_protocol::kTcp, static_cast<std::uint16_t>(thl + n));
        acc.add(std::span<const std::uint8_t>(tcp, thl + n));
        wire::store_be16(tcp + 16, acc.checksum());
        out.push_back(std::move(p));
    }
    return out;
}

class Link {
public:
    Link(std::uint64_t seed, double loss) : rng_(seed), loss_(loss) {}

    Endpoint a{*this, 0};
    Endpoint b{*this, 1};
    Stats stats;
    Instant now{};

    void send(int from, std::span<const std::uint8_t> bytes, const wire::TxOffload* offload) {
        Frame f(bytes.begin(), bytes.end());
        const int to = 1 - from;
        if (offload == nullptr || offload->none()) return queue(to, std::move(f), {}, true);
        if (offload->gso == wire::GsoType::kNone) {
            // Checksum offload alone (NEEDS_CSUM, one segment): the kernel
            // completes the checksum (A -> B) or hands the frame on with it
            // partial (B -> A).
            ++stats.csum_frames;
            if (!partial_checksum_ok(f, *offload)) {
                ++stats.bad_offload;
                return;
            }
            if (from == 0) {
                wire::complete_partial_checksum(f, *offload);
                return queue(to, std::move(f), {}, true);
            }
            wire::RxOffload rx;
            rx.csum_partial = true;
            rx.csum_start = offload->csum_start;
            rx.csum_offset = offload->csum_offset;
            return queue(to, std::move(f), rx, true);
        }
        ++stats.tso_frames;
        if (!kernel_accepts(f, *offload)) {
            ++stats.bad_offload;
            return;
        }
        if (from == 0) {  // A -> B: cut into segments, each may be lost
            for (Frame& p : segment(f, *offload)) {
                ++stats.pieces;
                queue(to, std::move(p), {}, true);
            }
            return;
        }
        // B -> A: whole, partial checksum, as a TAP with TUN_F_TSO4 delivers it.
        wire::RxOffload rx;
        rx.csum_partial = true;
        rx.csum_start = offload->csum_start;
        rx.csum_offset = offload->csum_offset;
        rx.gso = offload->gso;
        rx.gso_size = offload->gso_size;
        queue(to, std::move(f), rx, false);
    }

    // Runs until `done()` or `end`; false on the step cap (a livelock).
    bool run(Instant end, const std::function<bool()>& done) {
        for (std::size_t steps = 0; steps < 2'000'000; ++steps) {
            if (done()) return true;
            Instant next = std::min(a.ifc->poll_at(), b.ifc->poll_at());
            for (const Event& e : events_) next = std::min(next, e.at);
            if (next > end) return false;
            now = std::max(now, next);
            std::stable_sort(events_.begin(), events_.end(),
                             [](const Event& x, const Event& y) { return x.at < y.at || (x.at == y.at && x.order < y.order); });
            std::vector<Event> due;
            while (!events_.empty() && events_.front().at <= now) {
                due.push_back(std::move(events_.front()));
                events_.erase(events_.begin());
            }
            for (const Event& e : due) {
                Endpoint& dst = e.to == 0 ? a : b;
                dst.ifc->receive_frame(now, e.frame, e.offload);
            }
            a.ifc->poll(now);
            b.ifc->poll(now);
            if (on_step) on_step(now);
        }
        return false;
    }
    std::function<void(Instant)> on_step;

private:
    // What virtio_net_hdr_to_skb() and tcp_gso_segment() rely on.
    bool kernel_accepts(const Frame& f, const wire::TxOffload& o) const {
        if (o.gso != wire::GsoType::kTcpv4 || o.gso_size == 0) return false;
        if (f.size() < kEth + 40) return false;
        const std::size_t ihl = std::size_t{f[kEth] & 0x0fu} * 4;
        const std::size_t thl = static_cast<std::size_t>(f[kEth + ihl + 12] >> 4) * 4;
        if (o.hdr_len != kEth + ihl + thl) return false;
        return partial_checksum_ok(f, o);
    }

    // NEEDS_CSUM at the TCP checksum field, holding the pseudo-header sum.
    bool partial_checksum_ok(const Frame& f, const wire::TxOffload& o) const {
        if (!o.partial_csum || f.size() < kEth + 40) return false;
        const std::size_t ihl = std::size_t{f[kEth] & 0x0fu} * 4;
        if (o.csum_start != kEth + ihl || o.csum_offset != 16) return false;
        if (wire::load_be16(f.data() + kEth + 2) != f.size() - kEth) return false;
        if (wire::internet_checksum(std::span<const std::uint8_t>(f.data() + kEth, ihl)) != 0) return false;
        // The field holds the pseudo-header sum (not complemented).
        wire::ChecksumAccumulator acc;
        wire::add_ipv4_pseudo_header(acc, wire::Ipv4Address{wire::load_be32(f.data() + kEth + 12)},
                                     wire::Ipv4Address{wire::load_be32(f.data() + kEth + 16)}, wire::ip_protocol::kTcp,
                                     static_cast<std::uint16_t>(f.size() - kEth - ihl));
        return wire::load_be16(f.data() + o.csum_start + o.csum_offset) == acc.folded_sum();
    }

    void queue(int to, Frame f, const wire::RxOffload& rx, bool may_lose) {
        const bool ipv4 = f.size() > kEth && wire::load_be16(f.data() + 12) == wire::ethertype::kIpv4;
        if (may_lose && ipv4 && std::uniform_real_distribution<double>(0, 1)(rng_) < loss_) {
            ++stats.dropped;
            return;
        }
        events_.push_back(Event{now + microseconds(100), order_++, to, std::move(f), rx});
    }

    std::mt19937_64 rng_;
    double loss_;
    std::vector<Event> events_;
    std::uint64_t order_ = 0;
};

bool Endpoint::transmit(std::span<const std::uint8_t> frame) {
    link_.send(id_, frame, nullptr);
    return true;
}

bool Endpoint::transmit_offload(std::span<std::uint8_t> frame, const wire::TxOffload& offload) {
    link_.send(id_, frame, &offload);
    return true;
}

iface::InterfaceConfig config_for(std::uint8_t host) {
    iface::InterfaceConfig c;
    c.mac = wire::MacAddress{{0x02, 0x00, 0x00, 0x00, 0x00, host}};
    c.address = wire::Ipv4Cidr{wire::Ipv4Address::from_octets(10, 0, 0, host), 24};
    c.tcp.tso = true;
    c.tcp.send_buffer = 1024 * 1024;
    return c;
}

Frame pattern(std::size_t n, std::uint64_t seed) {
    std::mt19937_64 g(seed);
    Frame d(n);
    for (auto& b : d) b = static_cast<std::uint8_t>(g());
    return d;
}

// One side of the transfer: sends `out` then closes its half, reads into `in`.
struct App {
    iface::Interface* ifc = nullptr;
    tcp::ConnId conn;
    const Frame* out = nullptr;
    std::size_t sent = 0;
    Frame in;
    bool shut = false;

    void step(Instant now) {
        if (!conn.valid()) return;
        tcp::TcpStack& t = ifc->tcp();
        if (!t.info(conn).established) return;
        if (sent < out->size()) sent += t.send(now, conn, std::span<const std::uint8_t>(*out).subspan(sent));
        if (sent == out->size() && !shut) {
            t.shutdown_write(now, conn);
            shut = true;
        }
        std::array<std::uint8_t, 65536> buf{};
        for (std::size_t n; (n = t.recv(now, conn, buf)) > 0;) in.insert(in.end(), buf.begin(), buf.begin() + static_cast<std::ptrdiff_t>(n));
    }
    bool done() const { return shut && ifc->tcp().info(conn).eof; }
};

void transfer(std::uint64_t seed, double loss, std::size_t size) {
    CAPTURE(seed);
    CAPTURE(loss);
    Link link(seed, loss);
    link.a.ifc = std::make_unique<iface::Interface>(config_for(1), link.a, seed);
    link.b.ifc = std::make_unique<iface::Interface>(config_for(2), link.b, seed + 1);
    const Frame a_to_b = pattern(size, seed * 2);
    const Frame b_to_a = pattern(size + 7, seed * 2 + 1);
    tcp::ListenerId lid;
    REQUIRE(link.b.ifc->tcp().listen(5001, 0, &lid) == tcp::Error::kNone);
    App a{link.a.ifc.get(), {}, &a_to_b};
    App b{link.b.ifc.get(), {}, &b_to_a};
    REQUIRE(link.a.ifc->tcp().connect(link.now, {wire::Ipv4Address::from_octets(10, 0, 0, 2), 5001}, 0, &a.conn) ==
            tcp::Error::kNone);
    link.on_step = [&](Instant now) {
        if (!b.conn.valid()) b.conn = link.b.ifc->tcp().accept(lid);
        a.step(now);
        b.step(now);
    };
    const bool finished = link.run(Instant{} + seconds(600), [&] { return a.done() && b.done(); });
    CAPTURE(link.stats.tso_frames);
    CAPTURE(link.stats.pieces);
    CAPTURE(link.stats.dropped);
    REQUIRE(finished);
    MESSAGE("seed " << seed << ": " << link.stats.tso_frames << " TSO frames cut into " << link.stats.pieces
                    << " segments, " << link.stats.dropped << " frames lost, done at " << to_ns(link.now) / 1000000
                    << " ms");
    CHECK(link.stats.bad_offload == 0);
    CHECK(b.in == a_to_b);
    CHECK(a.in == b_to_a);
    // Offloads were really used in both directions.
    CHECK(link.stats.pieces > link.stats.tso_frames);
    // Single segments (the last of a burst, retransmissions) leave with
    // checksum offload alone: the device, not the stack, sums the payload.
    CHECK(link.stats.csum_frames > 0);
    std::uint64_t gso_rx = 0, offloaded = 0, bad_csum = 1;
    link.a.ifc->visit_counters([&](std::string_view n, std::uint64_t v) {
        if (n == "ipv4.rx_gso_frames") gso_rx = v;
        if (n == "ipv4.rx_csum_offloaded") offloaded = v;
        if (n == "tcp.rx_bad_checksum") bad_csum = v;
    });
    CHECK(gso_rx > 0);
    CHECK(offloaded >= gso_rx);
    CHECK(bad_csum == 0);
}

}  // namespace

TEST_CASE("TSO: 1 MiB each way; super-segments cut by a kernel-like GSO one way, taken whole with partial checksums the other") {
    transfer(1, 0.0, 1 << 20);
}

TEST_CASE("TSO with loss: RFC 6675/5681 recovery and RTO stay correct when the device cuts the segments") {
    for (std::uint64_t seed : {2, 3, 4}) transfer(seed, 0.02, 512 * 1024);
}
