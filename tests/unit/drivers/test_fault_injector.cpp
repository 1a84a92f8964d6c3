// The fault-injection stage: FaultInjector on its own (rates, reordering,
// duplication, corruption, delay, bounds, determinism, back-pressure) and
// inside TapPort over a SOCK_SEQPACKET socketpair that plays the TAP.
//
// Frames carry their number in the Ethernet source MAC, which the stage
// never corrupts, so a test can tell which frame arrived, how often, in
// which order and whether its bytes changed. Rates are checked against the
// configured percentages within five binomial standard deviations: with a
// fixed seed the outcome is fixed, and the bound says it is a plausible draw
// from the configured distribution, not a number copied from a run.
#include <doctest/doctest.h>
#include <fcntl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <csignal>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "drivers/fault_injector.hpp"
#include "drivers/tap_port.hpp"
#include "drivers/virtio_net_hdr.hpp"
#include "stack/wire/byte_order.hpp"
#include "stack/wire/checksum.hpp"

using namespace tapstack;
using namespace tapstack::drivers;
using Frame = std::vector<std::uint8_t>;

namespace {

constexpr std::size_t kMaxFrame = 1514;

// An Ethernet frame of `len` bytes numbered `id` (in the source MAC).
Frame numbered_frame(std::size_t len, std::uint32_t id) {
    Frame f(len);
    for (std::size_t i = 0; i < 6; ++i) f[i] = 0xff;
    f[6] = 0x02;
    f[7] = 0x00;
    wire::store_be32(f.data() + 8, id);
    f[12] = 0x88;  // a local experimental EtherType
    f[13] = 0xb5;
    for (std::size_t i = 14; i < len; ++i) f[i] = static_cast<std::uint8_t>(i * 13 + id);
    return f;
}
std::uint32_t id_of(std::span<const std::uint8_t> f) { return wire::load_be32(f.data() + 8); }

Instant at_us(std::int64_t us) { return instant_from_ns(us * 1000); }

// Bits that differ between two frames of the same length.
std::vector<std::size_t> differing_bits(std::span<const std::uint8_t> a, std::span<const std::uint8_t> b) {
    std::vector<std::size_t> bits;
    for (std::size_t i = 0; i < a.size(); ++i) {
        const auto x = static_cast<std::uint8_t>(a[i] ^ b[i]);
        for (unsigned k = 0; k < 8; ++k) {
            if ((x & (0x80u >> k)) != 0) bits.push_back(i * 8 + k);
        }
    }
    return bits;
}

// Collects what an injector delivers.
struct Sink {
    std::vector<Frame> frames;
    bool accept = true;
    FaultInjector::Deliver fn() {
        return [this](std::span<const std::uint8_t> b) {
            if (!accept) return false;
            frames.emplace_back(b.begin(), b.end());
            return true;
        };
    }
};

struct Injector {
    FaultInjector inj;
    Sink sink;
    std::vector<FaultEvent> events;
    std::vector<Frame> event_frames;

    explicit Injector(const FaultDirectionConfig& c, std::uint64_t seed = 1, std::uint32_t max_frames = 1024,
                      std::uint64_t max_bytes = 1u << 22, std::size_t prefix = 0)
        : inj(FaultDirection::kRx, c, seed, max_frames, max_bytes, kMaxFrame + prefix, prefix) {
        inj.set_observer([this](const FaultEvent& e) {
            events.push_back(e);
            event_frames.emplace_back(e.frame.begin(), e.frame.end());
            events.back().frame = {};
        });
    }
    void offer(Instant now, Frame f) { inj.offer(now, f, sink.fn()); }
    std::size_t release(Instant now) { return inj.release(now, sink.fn()); }
    std::size_t count(FaultAction a) const {
        return static_cast<std::size_t>(
            std::count_if(events.begin(), events.end(), [a](const FaultEvent& e) { return e.action == a; }));
    }
};

// Within five standard deviations of a binomial(n, p) proportion.
void check_rate(const char* what, std::size_t hits, std::size_t n, double pct) {
    const double p = pct / 100.0;
    const double observed = double(hits) / double(n);
    const double sigma = std::sqrt(p * (1 - p) / double(n));
    const std::string name = what;
    INFO(name << ": observed " << observed * 100 << "% of " << n << ", configured " << pct << "%");
    CHECK(std::abs(observed - p) <= 5 * sigma);
    CHECK(hits > 0);
}

}  // namespace

// ---------------------------------------------------------------- FaultInjector alone

TEST_CASE("fault stage: with every percentage 0 it is a pass-through, frame for frame, in order") {
    Injector s(FaultDirectionConfig{});
    for (std::uint32_t i = 0; i < 1000; ++i) s.offer(at_us(i), numbered_frame(60 + i % 1000, i));
    REQUIRE(s.sink.frames.size() == 1000);
    for (std::uint32_t i = 0; i < 1000; ++i) CHECK(s.sink.frames[i] == numbered_frame(60 + i % 1000, i));
    CHECK(s.events.empty());
    CHECK(s.inj.poll_at() == kNever);
    CHECK(s.inj.held_frames() == 0);
    CHECK(s.inj.counters().frames == 1000);
}

TEST_CASE("fault stage: over 100,000 frames the observed drop, duplicate, corrupt and delay/reorder rates match") {
    FaultDirectionConfig c;
    c.drop_pct = 5;
    c.duplicate_pct = 3;
    c.corrupt_pct = 2;
    c.delay_pct = 4;
    c.delay_min = c.delay_max = milliseconds(1);
    c.reorder_pct = 6;
    c.reorder_depth = 3;
    c.reorder_max_hold = milliseconds(100);
    Injector s(c, 20261126);
    constexpr std::uint32_t n = 100000;
    std::vector<std::size_t> delivered_before(n);
    for (std::uint32_t i = 0; i < n; ++i) {
        delivered_before[i] = s.sink.frames.size();
        s.offer(at_us(10 * i), numbered_frame(64 + i % 64, i));
    }
    s.release(at_us(10 * n + 1'000'000));  // everything still held is due by now
    CHECK(s.inj.held_frames() == 0);
    CHECK(s.inj.counters().overflow == 0);

    std::map<std::uint32_t, int> copies;
    std::set<std::uint32_t> corrupted, late;
    for (std::size_t pos = 0; pos < s.sink.frames.size(); ++pos) {
        const Frame& f = s.sink.frames[pos];
        const std::uint32_t id = id_of(f);
        if (++copies[id] > 1) continue;
        if (f != numbered_frame(f.size(), id)) corrupted.insert(id);
        if (pos != delivered_before[id]) late.insert(id);  // not delivered the moment it was offered
    }
    const std::size_t survivors = copies.size();
    const auto duplicated = static_cast<std::size_t>(
        std::count_if(copies.begin(), copies.end(), [](const auto& kv) { return kv.second == 2; }));
    CHECK(std::all_of(copies.begin(), copies.end(), [](const auto& kv) { return kv.second <= 2; }));
    check_rate("dropped", n - survivors, n, c.drop_pct);
    check_rate("duplicated", duplicated, survivors, c.duplicate_pct);
    check_rate("corrupted", corrupted.size(), survivors, c.corrupt_pct);
    // Held frames (delayed, else reordered) are overtaken; others never are.
    check_rate("delayed or reordered", late.size(), survivors,
               c.delay_pct + (100 - c.delay_pct) * c.reorder_pct / 100);
    // The counters say exactly what the sink saw.
    const FaultCounters& k = s.inj.counters();
    CHECK(k.frames == n);
    CHECK(k.dropped == n - survivors);
    CHECK(k.duplicated == duplicated);
    CHECK(k.corrupted == corrupted.size());
    CHECK(k.delayed + k.reordered == late.size());
    CHECK(k.released == late.size());
    check_rate("delayed", k.delayed, survivors, c.delay_pct);
}

TEST_CASE("fault stage: a reordered frame is overtaken by exactly reorder_depth deliveries (or a few more in a run)") {
    FaultDirectionConfig c;
    c.reorder_pct = 10;
    c.reorder_depth = 3;
    c.reorder_max_hold = seconds(10);  // no timeouts here: only the quota releases
    Injector s(c, 7);
    std::vector<std::size_t> delivered_before(2000);
    for (std::uint32_t i = 0; i < 2000; ++i) {
        delivered_before[i] = s.sink.frames.size();
        s.offer(at_us(i), numbered_frame(60, i));
    }
    s.release(at_us(20'000'000));
    REQUIRE(s.sink.frames.size() == 2000);  // nothing lost
    std::map<std::uint32_t, std::size_t> position;
    for (std::size_t p = 0; p < s.sink.frames.size(); ++p) position[id_of(s.sink.frames[p])] = p;
    CHECK(position.size() == 2000);
    std::set<std::uint64_t> reordered;
    for (const auto& e : s.events) {
        if (e.action == FaultAction::kReorder) reordered.insert(e.frame_index);
    }
    CHECK(reordered.size() > 100);
    std::size_t exact = 0;
    for (const std::uint64_t i : reordered) {
        const std::size_t overtaken_by = position[static_cast<std::uint32_t>(i)] - delivered_before[i];
        CHECK(overtaken_by >= 3);
        CHECK(overtaken_by <= 3 + 4);  // a run of held frames adds a few
        if (overtaken_by == 3) ++exact;
    }
    CHECK(exact > reordered.size() * 3 / 4);
    // Frames not held keep their relative order.
    std::uint32_t last = 0;
    for (const auto& f : s.sink.frames) {
        const std::uint32_t id = id_of(f);
        if (reordered.count(id) != 0) continue;
        CHECK(id >= last);
        last = id;
    }
}

TEST_CASE("fault stage: a reordered frame with no traffic behind it leaves after reorder_max_hold") {
    FaultDirectionConfig c;
    c.reorder_pct = 100;
    c.reorder_depth = 2;
    c.reorder_max_hold = milliseconds(10);
    Injector s(c);
    s.offer(at_us(0), numbered_frame(60, 0));
    s.offer(at_us(1000), numbered_frame(60, 1));
    CHECK(s.sink.frames.empty());
    CHECK(s.inj.poll_at() == at_us(10'000));
    CHECK(s.release(at_us(9'999)) == 0);
    CHECK(s.release(at_us(10'000)) == 1);
    CHECK(id_of(s.sink.frames.at(0)) == 0);
    CHECK(s.inj.poll_at() == at_us(11'000));
    CHECK(s.release(at_us(11'000)) == 1);
    CHECK(s.inj.poll_at() == kNever);
    CHECK(s.count(FaultAction::kRelease) == 2);
}

TEST_CASE("fault stage: duplicate delivers the frame twice, back to back and byte for byte") {
    FaultDirectionConfig c;
    c.duplicate_pct = 100;
    Injector s(c);
    for (std::uint32_t i = 0; i < 50; ++i) s.offer(at_us(i), numbered_frame(100 + i, i));
    REQUIRE(s.sink.frames.size() == 100);
    for (std::uint32_t i = 0; i < 50; ++i) {
        CHECK(s.sink.frames[2 * i] == numbered_frame(100 + i, i));
        CHECK(s.sink.frames[2 * i + 1] == numbered_frame(100 + i, i));
    }
    CHECK(s.inj.counters().duplicated == 50);
    CHECK(s.count(FaultAction::kDuplicate) == 50);
}

TEST_CASE("fault stage: corrupt flips exactly one bit, never in the Ethernet header, and reports which") {
    FaultDirectionConfig c;
    c.corrupt_pct = 100;
    Injector s(c, 99);
    std::set<std::size_t> byte_offsets;
    for (std::uint32_t i = 0; i < 2000; ++i) s.offer(at_us(i), numbered_frame(15 + i % 200, i));
    REQUIRE(s.sink.frames.size() == 2000);
    REQUIRE(s.events.size() == 2000);
    for (std::uint32_t i = 0; i < 2000; ++i) {
        const Frame& got = s.sink.frames[i];
        const Frame want = numbered_frame(15 + i % 200, i);
        REQUIRE(got.size() == want.size());
        const auto bits = differing_bits(got, want);
        REQUIRE(bits.size() == 1);
        CHECK(bits[0] >= 14 * 8);
        CHECK(s.events[i].action == FaultAction::kCorrupt);
        CHECK(s.events[i].bit == bits[0]);
        byte_offsets.insert(bits[0] / 8);
    }
    CHECK(byte_offsets.count(14) == 1);   // the first byte after the header can be hit
    CHECK(byte_offsets.size() > 150);     // spread over the frame
    // A frame that is only a header has nothing to corrupt.
    s.offer(at_us(5000), numbered_frame(14, 7));
    CHECK(s.sink.frames.back() == numbered_frame(14, 7));
    CHECK(s.inj.counters().corrupted == 2000);
}

TEST_CASE("fault stage: a corrupted IPv4/TCP frame always fails the IPv4 or the TCP checksum") {
    // 14 + 20 + 20 + 100 bytes, valid checksums.
    Frame f(154, 0);
    f[12] = 0x08;
    std::uint8_t* ip = f.data() + 14;
    ip[0] = 0x45;
    wire::store_be16(ip + 2, 140);
    ip[8] = 64;
    ip[9] = 6;
    const auto src = wire::Ipv4Address::from_octets(10, 0, 0, 1);
    const auto dst = wire::Ipv4Address::from_octets(10, 0, 0, 2);
    wire::store_be32(ip + 12, 0x0a000001);
    wire::store_be32(ip + 16, 0x0a000002);
    wire::store_be16(ip + 10, wire::internet_checksum(std::span<const std::uint8_t>(ip, 20)));
    std::uint8_t* tcp = ip + 20;
    wire::store_be16(tcp, 80);
    wire::store_be16(tcp + 2, 40000);
    tcp[12] = 0x50;
    tcp[13] = 0x18;
    for (int i = 0; i < 100; ++i) tcp[20 + i] = static_cast<std::uint8_t>(i);
    auto tcp_ok = [&](const Frame& g) {
        wire::ChecksumAccumulator acc;
        wire::add_ipv4_pseudo_header(acc, src, dst, 6, 120);
        acc.add(std::span<const std::uint8_t>(g.data() + 34, 120));
        return acc.folded_sum() == 0xffff;
    };
    auto ip_ok = [](const Frame& g) { return wire::internet_checksum(std::span<const std::uint8_t>(g.data() + 14, 20)) == 0; };
    {
        wire::ChecksumAccumulator acc;
        wire::add_ipv4_pseudo_header(acc, src, dst, 6, 120);
        acc.add(std::span<const std::uint8_t>(tcp, 120));
        wire::store_be16(tcp + 16, acc.checksum());
    }
    REQUIRE(ip_ok(f));
    REQUIRE(tcp_ok(f));
    FaultDirectionConfig c;
    c.corrupt_pct = 100;
    Injector s(c, 3);
    for (std::uint32_t i = 0; i < 3000; ++i) s.offer(at_us(i), f);
    REQUIRE(s.sink.frames.size() == 3000);
    for (const auto& g : s.sink.frames) CHECK_FALSE((ip_ok(g) && tcp_ok(g)));
}

TEST_CASE("fault stage: delay holds a frame until its time, and poll_at() says when") {
    FaultDirectionConfig c;
    c.delay_pct = 100;
    c.delay_min = c.delay_max = milliseconds(5);
    Injector s(c);
    s.offer(at_us(100), numbered_frame(60, 1));
    CHECK(s.sink.frames.empty());
    CHECK(s.inj.poll_at() == at_us(5100));
    CHECK(s.inj.held_frames() == 1);
    CHECK(s.inj.held_bytes() == 60);
    CHECK(s.release(at_us(5099)) == 0);
    CHECK(s.release(at_us(5100)) == 1);
    CHECK(s.sink.frames.at(0) == numbered_frame(60, 1));
    CHECK(s.inj.poll_at() == kNever);
    CHECK(s.inj.held_frames() == 0);
    CHECK(s.inj.held_bytes() == 0);
    REQUIRE(s.count(FaultAction::kRelease) == 1);
    CHECK(s.events.back().delay == milliseconds(5));
}

TEST_CASE("fault stage: random delays stay within [delay_min, delay_max] and frames leave exactly when due") {
    FaultDirectionConfig c;
    c.delay_pct = 100;
    c.delay_min = milliseconds(2);
    c.delay_max = milliseconds(8);
    Injector s(c, 5);
    std::map<std::uint32_t, Instant> due;
    Duration shortest = seconds(1), longest{0};
    for (std::uint32_t i = 0; i < 500; ++i) {  // all offered within 1 ms: none due yet
        s.offer(at_us(i * 2), numbered_frame(60, i));
        const FaultEvent& e = s.events.back();
        REQUIRE(e.action == FaultAction::kDelay);
        CHECK(e.delay >= milliseconds(2));
        CHECK(e.delay <= milliseconds(8));
        shortest = std::min(shortest, e.delay);
        longest = std::max(longest, e.delay);
        due[i] = at_us(i * 2) + e.delay;
    }
    CHECK(shortest < microseconds(2100));  // the whole range is used
    CHECK(longest > microseconds(7900));
    CHECK(s.sink.frames.empty());
    // Step the clock to each poll_at(): exactly the frames due then come out.
    std::size_t steps = 0;
    while (s.inj.poll_at() != kNever) {
        const Instant t = s.inj.poll_at();
        const std::size_t before = s.sink.frames.size();
        s.release(t);
        REQUIRE(s.sink.frames.size() > before);
        for (std::size_t k = before; k < s.sink.frames.size(); ++k) CHECK(due[id_of(s.sink.frames[k])] == t);
        ++steps;
    }
    CHECK(s.sink.frames.size() == 500);
    CHECK(steps > 100);
}

TEST_CASE("fault stage: the hold queue is bounded in frames and bytes; overflow is dropped and counted") {
    FaultDirectionConfig c;
    c.delay_pct = 100;
    c.delay_min = c.delay_max = milliseconds(1);
    {
        Injector s(c, 1, 4);
        for (std::uint32_t i = 0; i < 10; ++i) s.offer(at_us(0), numbered_frame(100, i));
        CHECK(s.inj.held_frames() == 4);
        CHECK(s.inj.counters().overflow == 6);
        CHECK(s.count(FaultAction::kOverflow) == 6);
        s.release(at_us(1000));
        REQUIRE(s.sink.frames.size() == 4);
        for (std::uint32_t i = 0; i < 4; ++i) CHECK(id_of(s.sink.frames[i]) == i);
    }
    {
        Injector s(c, 1, 100, 350);
        for (std::uint32_t i = 0; i < 10; ++i) s.offer(at_us(0), numbered_frame(100, i));
        CHECK(s.inj.held_frames() == 3);
        CHECK(s.inj.held_bytes() == 300);
        CHECK(s.inj.counters().overflow == 7);
    }
}

TEST_CASE("fault stage: the same seed gives the same faults; another seed gives others") {
    FaultDirectionConfig c;
    c.drop_pct = 10;
    c.duplicate_pct = 10;
    c.corrupt_pct = 10;
    c.delay_pct = 10;
    c.delay_min = microseconds(10);
    c.delay_max = milliseconds(3);
    c.reorder_pct = 10;
    auto run = [&c](std::uint64_t seed) {
        Injector s(c, seed);
        for (std::uint32_t i = 0; i < 3000; ++i) s.offer(at_us(i * 7), numbered_frame(80, i));
        s.release(at_us(100'000));
        return s.sink.frames;
    };
    const auto a = run(42);
    CHECK(a == run(42));
    CHECK(a != run(43));
}

TEST_CASE("fault stage: a sink that refuses keeps every frame, in order, until it accepts again") {
    FaultDirectionConfig c;
    c.duplicate_pct = 20;
    c.reorder_pct = 20;
    c.reorder_max_hold = milliseconds(1);
    Injector ref(c, 11);
    Injector s(c, 11);
    bool blocked_seen = false;
    for (std::uint32_t i = 0; i < 300; ++i) {
        ref.offer(at_us(i), numbered_frame(60, i));
        s.sink.accept = (i / 25) % 2 == 0;  // refuse in stretches of 25 frames
        if (s.sink.accept) s.release(at_us(i));
        s.offer(at_us(i), numbered_frame(60, i));
        if (!s.sink.accept && s.inj.blocked()) {
            blocked_seen = true;
            CHECK(s.inj.poll_at() == kNever);  // waiting for the sink, not for a timer
        }
    }
    CHECK(blocked_seen);
    ref.release(at_us(10'000));
    s.sink.accept = true;
    s.release(at_us(10'000));
    CHECK_FALSE(s.inj.blocked());
    CHECK(s.inj.counters().overflow == 0);
    // The same frames and copies arrive; only their timing moved.
    CHECK(s.sink.frames.size() == ref.sink.frames.size());
    auto sorted = [](std::vector<Frame> v) {
        std::sort(v.begin(), v.end());
        return v;
    };
    CHECK(sorted(s.sink.frames) == sorted(ref.sink.frames));
    // Frames passed through while refused are not reordered among themselves.
    std::uint32_t last = 0;
    std::set<std::uint64_t> reordered;
    for (const auto& e : s.events) {
        if (e.action == FaultAction::kReorder) reordered.insert(e.frame_index);
    }
    for (const auto& f : s.sink.frames) {
        if (reordered.count(id_of(f)) != 0) continue;
        CHECK(id_of(f) >= last);
        last = id_of(f);
    }
}

TEST_CASE("fault stage: validate() names every bad field") {
    FaultConfig c;
    CHECK(validate(c).empty());
    c.rx.drop_pct = 120;
    c.tx.corrupt_pct = -1;
    c.tx.delay_pct = std::nan("");
    c.rx.delay_min = milliseconds(5);
    c.rx.delay_max = milliseconds(2);
    c.tx.reorder_depth = 0;
    c.max_held_frames = 0;
    const auto errors = validate(c);
    CHECK(errors.size() == 6);
    auto mentions = [&errors](const std::string& s) {
        return std::any_of(errors.begin(), errors.end(), [&s](const std::string& e) { return e.find(s) != std::string::npos; });
    };
    CHECK(mentions("fault_injection.rx.drop: 120"));
    CHECK(mentions("fault_injection.tx.corrupt"));
    CHECK(mentions("fault_injection.tx.delay:"));
    CHECK(mentions("fault_injection.rx.delay_ms"));
    CHECK(mentions("fault_injection.tx.reorder_depth"));
    CHECK(mentions("fault_injection.max_held_frames"));
}

TEST_CASE("fault stage: describe() gives direction, frame number, action and a TCP summary") {
    Frame f(14 + 20 + 20 + 10, 0);
    f[12] = 0x08;
    std::uint8_t* ip = f.data() + 14;
    ip[0] = 0x45;
    wire::store_be16(ip + 2, 50);
    ip[9] = 6;
    wire::store_be32(ip + 12, 0x0a000002);
    wire::store_be32(ip + 16, 0x0a000001);
    std::uint8_t* tcp = ip + 20;
    wire::store_be16(tcp, 80);
    wire::store_be16(tcp + 2, 40000);
    wire::store_be32(tcp + 4, 1000);
    wire::store_be32(tcp + 8, 2000);
    tcp[12] = 0x50;
    tcp[13] = 0x11;  // FIN|ACK
    FaultEvent e;
    e.direction = FaultDirection::kTx;
    e.action = FaultAction::kDrop;
    e.frame_index = 812;
    e.frame = f;
    CHECK(describe(e) == "tx #812 drop: 64 bytes IPv4 10.0.0.2 > 10.0.0.1 TCP 80 > 40000 [F.] seq 1000 ack 2000 len 10");
    e.action = FaultAction::kDelay;
    e.delay = microseconds(2500);
    const Frame arp = [] {
        Frame a(42, 0);
        a[12] = 0x08;
        a[13] = 0x06;
        return a;
    }();
    e.frame = arp;
    CHECK(describe(e) == "tx #812 delay 2.5 ms: 42 bytes ARP");
    const Frame runt(5, 0);
    e.frame = runt;  // never read past the end
    CHECK(describe(e) == "tx #812 delay 2.5 ms: 5 bytes");
}

TEST_CASE("fault stage: describe(FaultConfig) states what the stage will do") {
    FaultConfig c;
    CHECK(describe(c) == "fault injection off");
    c.enabled = true;
    c.seed = 7;
    c.rx.drop_pct = 1.5;
    c.tx.delay_pct = 2;
    c.tx.delay_min = milliseconds(1);
    c.tx.delay_max = microseconds(4500);
    CHECK(describe(c) ==
          "fault injection on (seed 7, at most 1024 frames / 4194304 bytes held per direction): "
          "rx drop 1.5% duplicate 0% corrupt 0% delay 0% [0.0 ms, 0.0 ms] reorder 0% (depth 3, at most 10.0 ms); "
          "tx drop 0% duplicate 0% corrupt 0% delay 2% [1.0 ms, 4.5 ms] reorder 0% (depth 3, at most 10.0 ms)");
}

// ---------------------------------------------------------------- inside TapPort

namespace {

struct PortHarness {
    int peer = -1;  // the "kernel" end
    std::unique_ptr<TapPort> port;
    std::vector<Frame> received;
    std::vector<std::string> log;

    PortHarness() {
        int sv[2];
        REQUIRE(::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv) == 0);
        peer = sv[1];
        TapPortConfig c;
        c.name = "pair0";
        c.queue_size = 16;
        c.rx_budget = 64;
        std::string error;
        port = TapPort::adopt(sv[0], "pair0", c, &error);
        REQUIRE_MESSAGE(port, error);
        port->set_fault_observer([this](const FaultEvent& e) { log.push_back(describe(e)); });
    }
    ~PortHarness() { ::close(peer); }
    PortHarness(const PortHarness&) = delete;
    PortHarness& operator=(const PortHarness&) = delete;

    void enable(const FaultConfig& c) {
        std::string error;
        REQUIRE_MESSAGE(port->set_fault_injection(c, &error), error);
    }
    void inject(const Frame& frame) {
        Frame bytes(VirtioNetHdr::kSize + frame.size());
        VirtioNetHdr{}.emit(bytes);
        std::copy(frame.begin(), frame.end(), bytes.begin() + VirtioNetHdr::kSize);
        REQUIRE(::write(peer, bytes.data(), bytes.size()) == static_cast<ssize_t>(bytes.size()));
    }
    std::size_t poll(Instant now) {
        return port->poll_rx(now, [this](std::span<const std::uint8_t> f) { received.emplace_back(f.begin(), f.end()); });
    }
    // Everything the port wrote, each with its 12-byte header.
    std::vector<Frame> drain_peer() {
        std::vector<Frame> out;
        std::array<std::uint8_t, 70000> buf;
        for (;;) {
            const ssize_t n = ::read(peer, buf.data(), buf.size());
            if (n <= 0) break;
            out.emplace_back(buf.begin(), buf.begin() + n);
        }
        return out;
    }
    std::optional<std::uint64_t> counter(const std::string& name) const {
        std::optional<std::uint64_t> v;
        port->visit_counters([&](std::string_view n, std::uint64_t value) {
            if (n == name) v = value;
        });
        return v;
    }
};

Frame strip_header(const Frame& bytes) { return Frame(bytes.begin() + VirtioNetHdr::kSize, bytes.end()); }

}  // namespace

TEST_CASE("TapPort fault stage: off by default and when disabled, a pass-through without fault counters") {
    PortHarness h;
    CHECK_FALSE(h.port->fault_injection_enabled());
    FaultConfig off;
    off.rx.drop_pct = 100;  // ignored while disabled
    h.enable(off);
    CHECK_FALSE(h.port->fault_injection_enabled());
    for (std::uint32_t i = 0; i < 5; ++i) h.inject(numbered_frame(60, i));
    CHECK(h.poll(at_us(0)) == 5);
    for (std::uint32_t i = 0; i < 5; ++i) CHECK(h.port->transmit(numbered_frame(70, i)));
    CHECK(h.port->flush_tx(at_us(0)) == 5);
    const auto out = h.drain_peer();
    REQUIRE(out.size() == 5);
    for (std::uint32_t i = 0; i < 5; ++i) {
        CHECK(h.received[i] == numbered_frame(60, i));
        CHECK(strip_header(out[i]) == numbered_frame(70, i));
    }
    CHECK(h.port->poll_at() == kNever);
    CHECK_FALSE(h.counter("fault.rx_dropped").has_value());
    CHECK(h.log.empty());
}

TEST_CASE("TapPort fault stage: RX drops are counted as fault.rx_dropped and logged, after tap.rx_frames") {
    PortHarness h;
    FaultConfig c;
    c.enabled = true;
    c.rx.drop_pct = 100;
    h.enable(c);
    for (std::uint32_t i = 0; i < 4; ++i) h.inject(numbered_frame(60, i));
    CHECK(h.poll(at_us(0)) == 0);
    CHECK(h.received.empty());
    CHECK(h.counter("tap.rx_frames") == 4u);
    CHECK(h.counter("fault.rx_frames") == 4u);
    CHECK(h.counter("fault.rx_dropped") == 4u);
    CHECK(h.counter("fault.tx_dropped") == 0u);
    REQUIRE(h.log.size() == 4);
    CHECK(h.log[0] == "rx #0 drop: 60 bytes ethertype 0x88b5");
}

TEST_CASE("TapPort fault stage: TX duplicate writes each frame twice to the TAP") {
    PortHarness h;
    FaultConfig c;
    c.enabled = true;
    c.tx.duplicate_pct = 100;
    h.enable(c);
    for (std::uint32_t i = 0; i < 3; ++i) CHECK(h.port->transmit(numbered_frame(80, i)));
    CHECK(h.port->flush_tx(at_us(0)) == 6);
    const auto out = h.drain_peer();
    REQUIRE(out.size() == 6);
    for (std::uint32_t i = 0; i < 6; ++i) CHECK(strip_header(out[i]) == numbered_frame(80, i / 2));
    CHECK(h.counter("fault.tx_duplicated") == 3u);
    CHECK(h.counter("tap.tx_frames") == 6u);
    CHECK_FALSE(h.port->tx_pending());
}

TEST_CASE("TapPort fault stage: TX corruption flips one frame bit and leaves the virtio-net header alone") {
    PortHarness h;
    FaultConfig c;
    c.enabled = true;
    c.tx.corrupt_pct = 100;
    h.enable(c);
    for (std::uint32_t i = 0; i < 40; ++i) CHECK(h.port->transmit(numbered_frame(20 + i, i)));
    h.port->flush_tx(at_us(0));
    const auto out = h.drain_peer();
    REQUIRE(out.size() == 40);
    for (std::uint32_t i = 0; i < 40; ++i) {
        CHECK(std::all_of(out[i].begin(), out[i].begin() + VirtioNetHdr::kSize, [](std::uint8_t b) { return b == 0; }));
        const auto bits = differing_bits(strip_header(out[i]), numbered_frame(20 + i, i));
        REQUIRE(bits.size() == 1);
        CHECK(bits[0] >= 14 * 8);
    }
}

TEST_CASE("TapPort fault stage: delayed RX frames arrive when poll_rx(now) reaches poll_at(), with nothing to read") {
    PortHarness h;
    FaultConfig c;
    c.enabled = true;
    c.rx.delay_pct = 100;
    c.rx.delay_min = c.rx.delay_max = milliseconds(20);
    h.enable(c);
    h.inject(numbered_frame(60, 1));
    CHECK(h.poll(at_us(1000)) == 0);
    CHECK(h.port->poll_at() == at_us(21000));
    CHECK(h.counter("fault.rx_held") == 1u);
    CHECK(h.poll(at_us(20999)) == 0);
    CHECK(h.poll(at_us(21000)) == 1);
    CHECK(h.received.at(0) == numbered_frame(60, 1));
    CHECK(h.port->poll_at() == kNever);
    CHECK(h.counter("fault.rx_released") == 1u);
    CHECK(h.log.back() == "rx #0 release after 20.0 ms: 60 bytes ethertype 0x88b5");
}

TEST_CASE("TapPort fault stage: delayed TX frames are written by flush_tx(now) once due") {
    PortHarness h;
    FaultConfig c;
    c.enabled = true;
    c.tx.delay_pct = 100;
    c.tx.delay_min = c.tx.delay_max = milliseconds(3);
    h.enable(c);
    CHECK(h.port->transmit(numbered_frame(90, 1)));
    CHECK(h.port->flush_tx(at_us(0)) == 0);
    CHECK_FALSE(h.port->tx_pending());  // off the ring; held by time, not by the TAP
    CHECK(h.drain_peer().empty());
    CHECK(h.port->poll_at() == at_us(3000));
    CHECK(h.port->flush_tx(at_us(2999)) == 0);
    CHECK(h.port->flush_tx(at_us(3000)) == 1);
    const auto out = h.drain_peer();
    REQUIRE(out.size() == 1);
    CHECK(strip_header(out[0]) == numbered_frame(90, 1));
}

TEST_CASE("TapPort fault stage: when the TAP pushes back, the stage keeps TX frames in order and loses none") {
    PortHarness h;
    FaultConfig c;
    c.enabled = true;
    c.tx.duplicate_pct = 10;  // enabled, mostly pass-through
    h.enable(c);
    std::uint32_t accepted = 0;
    std::vector<Frame> written;
    bool blocked_seen = false;
    for (int turn = 0; turn < 400 && accepted < 3000; ++turn) {
        // Produce until the ring refuses, then let the "kernel" read only now and then.
        while (h.port->transmit(numbered_frame(1000, accepted))) ++accepted;
        h.port->flush_tx(at_us(turn));
        blocked_seen = blocked_seen || h.port->tx_blocked();
        if (turn % 3 == 0) {
            for (auto& f : h.drain_peer()) written.push_back(strip_header(f));
        }
    }
    for (int i = 0; i < 100 && h.port->tx_pending(); ++i) {
        for (auto& f : h.drain_peer()) written.push_back(strip_header(f));
        h.port->flush_tx(at_us(1000));
    }
    for (auto& f : h.drain_peer()) written.push_back(strip_header(f));
    CHECK(blocked_seen);
    CHECK(h.counter("fault.tx_overflow") == 0u);
    // Every accepted frame arrived, in order, duplicates right after their original.
    std::uint32_t next = 0;
    for (const auto& f : written) {
        const std::uint32_t id = id_of(f);
        if (next > 0 && id == next - 1) continue;  // a duplicate
        CHECK(id == next);
        CHECK(f == numbered_frame(1000, id));
        next = id + 1;
    }
    CHECK(next == accepted);
    CHECK(written.size() == accepted + *h.counter("fault.tx_duplicated"));
}

TEST_CASE("TapPort fault stage: a bad config is refused with every reason and leaves the stage as it was") {
    PortHarness h;
    FaultConfig c;
    c.enabled = true;
    c.rx.drop_pct = 100;
    h.enable(c);
    FaultConfig bad = c;
    bad.rx.drop_pct = 0;
    bad.tx.duplicate_pct = 101;
    bad.rx.reorder_depth = 5000;
    std::string error;
    CHECK_FALSE(h.port->set_fault_injection(bad, &error));
    CHECK(error.find("pair0: ") == 0);
    CHECK(error.find("fault_injection.tx.duplicate: 101") != std::string::npos);
    CHECK(error.find("fault_injection.rx.reorder_depth: 5000") != std::string::npos);
    h.inject(numbered_frame(60, 0));
    CHECK(h.poll(at_us(0)) == 0);  // still dropping
    CHECK(h.counter("fault.rx_dropped") == 1u);
}

TEST_CASE("TapPort fault stage: re-configuring keeps the counters; held frames are discarded as overflow") {
    PortHarness h;
    FaultConfig c;
    c.enabled = true;
    c.rx.delay_pct = 100;
    c.rx.delay_min = c.rx.delay_max = seconds(1);
    h.enable(c);
    h.inject(numbered_frame(60, 0));
    h.inject(numbered_frame(60, 1));
    CHECK(h.poll(at_us(0)) == 0);
    CHECK(h.counter("fault.rx_held") == 2u);
    FaultConfig off;
    h.enable(off);
    CHECK(h.counter("fault.rx_frames") == 2u);
    CHECK(h.counter("fault.rx_delayed") == 2u);
    CHECK(h.counter("fault.rx_overflow") == 2u);
    CHECK(h.counter("fault.rx_held") == 0u);
    CHECK(h.port->poll_at() == kNever);
    h.inject(numbered_frame(60, 2));
    CHECK(h.poll(at_us(0)) == 1);
}

TEST_CASE("TapPort fault stage: the overloads without an Instant use the latest Instant the port was given") {
    PortHarness h;
    FaultConfig c;
    c.enabled = true;
    c.rx.delay_pct = 100;
    c.rx.delay_min = c.rx.delay_max = milliseconds(1);
    h.enable(c);
    h.inject(numbered_frame(60, 0));
    CHECK(h.poll(at_us(0)) == 0);
    h.port->flush_tx(at_us(1000));  // the clock moves on through the TX side
    CHECK(h.port->poll_rx([&h](std::span<const std::uint8_t> f) { h.received.emplace_back(f.begin(), f.end()); }) == 1);
    CHECK(h.poll(at_us(500)) == 0);  // an older Instant does not move the clock back
    CHECK(h.received.size() == 1);
}

TEST_CASE("TapPort fault stage: a dead TAP stops the stage's writes and reports the failure, holding the frame") {
    std::signal(SIGPIPE, SIG_IGN);
    PortHarness h;
    FaultConfig c;
    c.enabled = true;
    c.tx.duplicate_pct = 100;
    h.enable(c);
    ::close(h.peer);
    h.peer = ::open("/dev/null", O_RDONLY | O_CLOEXEC);  // the destructor closes something harmless
    CHECK(h.port->transmit(numbered_frame(60, 0)));
    CHECK(h.port->flush_tx(at_us(0)) == 0);
    CHECK(h.port->failure().find("pair0: write: ") == 0);
    CHECK(h.port->tx_pending());  // kept, not silently lost
    CHECK(h.port->flush_tx(at_us(1)) == 0);  // no more I/O, no hang
    CHECK(h.counter("tap.tx_errors") == 1u);
}
