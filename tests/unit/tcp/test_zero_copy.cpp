// TcpStack's zero-copy calls (send_spans/send_commit, recv_spans/recv_consume):
// two stacks joined by an in-memory wire on a virtual clock, with small
// buffers so the runs wrap around the rings' ends. Each test checks what the
// copying calls guarantee: order, window updates, backpressure, the EOF rule.
#include <doctest/doctest.h>

#include <algorithm>
#include <deque>
#include <string>
#include <vector>

#include "stack/tcp/tcp_stack.hpp"

using namespace tapstack;
using tcp::ConnId;
using tcp::TcpStack;

namespace {

constexpr auto kAddrA = wire::Ipv4Address::from_octets(10, 0, 0, 1);
constexpr auto kAddrB = wire::Ipv4Address::from_octets(10, 0, 0, 2);

struct Packet {
    wire::IpAddress src;
    wire::IpAddress dst;
    std::vector<std::uint8_t> bytes;
};

struct QueueSink : tcp::SegmentSink {
    std::deque<Packet>* queue;
    explicit QueueSink(std::deque<Packet>* q) : queue(q) {}
    void send_segment(const wire::IpAddress& src, const wire::IpAddress& dst, std::span<const std::uint8_t> s) override {
        queue->push_back(Packet{src, dst, {s.begin(), s.end()}});
    }
};

tcp::TcpConfig config(wire::Ipv4Address addr, std::uint32_t buffers) {
    tcp::TcpConfig c;
    c.local_address = addr;
    c.send_buffer = buffers;
    c.receive_buffer = buffers;
    c.receive_buffer_max = 0;  // no auto-tuning: the ring keeps its size and wraps
    c.mtu = 540;               // MSS 500: several segments per buffer
    return c;
}

std::vector<std::uint8_t> pattern(std::size_t n, std::size_t start) {
    std::vector<std::uint8_t> v(n);
    for (std::size_t i = 0; i < n; ++i) v[i] = static_cast<std::uint8_t>((start + i) * 7 + (start + i) / 251);
    return v;
}

// A connected pair: `a` connected to `b`, which accepted it.
struct Pair {
    Instant now = instant_from_ns(1'000'000'000);
    std::deque<Packet> to_a;
    std::deque<Packet> to_b;
    QueueSink sink_a{&to_b};
    QueueSink sink_b{&to_a};
    TcpStack a;
    TcpStack b;
    ConnId ca;
    ConnId cb;

    explicit Pair(std::uint32_t buffers) : a(config(kAddrA, buffers), sink_a, 1), b(config(kAddrB, buffers), sink_b, 2) {
        tcp::ListenerId l;
        REQUIRE(b.listen(80, 0, &l) == tcp::Error::kNone);
        REQUIRE(a.connect(now, wire::IpEndpoint{kAddrB, 80}, 0, &ca) == tcp::Error::kNone);
        settle();
        cb = b.accept(l);
        REQUIRE(cb.valid());
        REQUIRE(a.info(ca).state == tcp::State::kEstablished);
    }

    // Delivers and polls until nothing moves and no timer is due within
    // `horizon` (delayed ACKs, Nagle and the SWS override all fire).
    void settle(Duration horizon = milliseconds(500)) {
        const Instant end = now + horizon;
        for (int i = 0; i < 10000; ++i) {
            a.poll(now);
            b.poll(now);
            if (!to_a.empty() || !to_b.empty()) {
                while (!to_b.empty()) {
                    Packet p = std::move(to_b.front());
                    to_b.pop_front();
                    b.receive(now, p.src, p.dst, p.bytes);
                }
                while (!to_a.empty()) {
                    Packet p = std::move(to_a.front());
                    to_a.pop_front();
                    a.receive(now, p.src, p.dst, p.bytes);
                }
                now += microseconds(100);
                continue;
            }
            const Instant next = std::min(a.poll_at(), b.poll_at());
            if (next > end) return;
            now = std::max(now + microseconds(100), next);
        }
        FAIL("the pair did not settle");
    }
};

std::size_t total(const auto& spans) { return spans[0].size() + spans[1].size(); }

// Fills the spans from `src` in order, as readv() would; returns the count.
std::size_t fill(const std::array<std::span<std::uint8_t>, 2>& spans, std::span<const std::uint8_t> src) {
    std::size_t done = 0;
    for (const auto& s : spans) {
        const std::size_t n = std::min(s.size(), src.size() - done);
        std::copy_n(src.begin() + static_cast<std::ptrdiff_t>(done), n, s.begin());
        done += n;
    }
    return done;
}

std::vector<std::uint8_t> drain_copying(TcpStack& t, Instant now, ConnId c) {
    std::vector<std::uint8_t> out;
    std::uint8_t buf[300];
    while (std::size_t n = t.recv(now, c, buf)) out.insert(out.end(), buf, buf + n);
    return out;
}

}  // namespace

TEST_CASE("send_spans/send_commit: free space wrapping the ring's end is offered whole; bytes arrive in order") {
    Pair p(2000);
    const auto data = pattern(4000, 0);

    auto spans = p.a.send_spans(p.ca);
    CHECK(total(spans) == 2000);
    CHECK(spans[1].empty());  // empty ring: one run
    CHECK(fill(spans, std::span(data).first(1300)) == 1300);
    CHECK(p.a.send_commit(p.now, p.ca, 1300) == 1300);
    CHECK(p.a.info(p.ca).send_queued == 1300);
    p.settle();
    CHECK(p.a.info(p.ca).send_queued == 0);  // acknowledged; b has not read: its window is 700

    // An emptied ring starts again at its beginning (RingBuffer::rewind()).
    spans = p.a.send_spans(p.ca);
    CHECK(spans[0].size() == 2000);
    CHECK(fill(spans, std::span(data).subspan(1300, 1600)) == 1600);
    CHECK(p.a.send_commit(p.now, p.ca, 1600) == 1600);
    p.settle();
    CHECK(p.a.info(p.ca).send_queued == 900);  // 700 acknowledged: the head is at 700

    spans = p.a.send_spans(p.ca);
    CHECK(spans[0].size() == 400);  // to the end of the ring
    CHECK(spans[1].size() == 700);  // then from its start
    CHECK(fill(spans, std::span(data).subspan(2900, 1100)) == 1100);
    CHECK(p.a.send_commit(p.now, p.ca, 1100) == 1100);
    CHECK(p.a.info(p.ca).send_free == 0);
    std::vector<std::uint8_t> got;
    for (int round = 0; round < 20 && got.size() < data.size(); ++round) {
        p.settle();
        const auto more = drain_copying(p.b, p.now, p.cb);
        got.insert(got.end(), more.begin(), more.end());
    }
    CHECK(got == data);
}

TEST_CASE("send_commit accepts no more than send() would: full buffer, shut write side, stale handle") {
    Pair p(1000);
    auto spans = p.a.send_spans(p.ca);
    CHECK(fill(spans, pattern(1000, 0)) == 1000);
    CHECK(p.a.send_commit(p.now, p.ca, 5000) == 1000);  // clamped to the free space
    CHECK(total(p.a.send_spans(p.ca)) == 0);
    CHECK(p.a.send_commit(p.now, p.ca, 1) == 0);

    p.a.shutdown_write(p.now, p.ca);
    p.settle();
    CHECK(p.a.info(p.ca).send_queued == 0);
    CHECK(drain_copying(p.b, p.now, p.cb) == pattern(1000, 0));
    CHECK(total(p.a.send_spans(p.ca)) == 0);  // FIN queued: nothing more may be sent
    CHECK(p.a.send_commit(p.now, p.ca, 10) == 0);
    CHECK(p.a.send(p.now, p.ca, pattern(10, 0)) == 0);

    p.a.abort(p.now, p.ca);
    CHECK(total(p.a.send_spans(p.ca)) == 0);
    CHECK(p.a.send_commit(p.now, p.ca, 10) == 0);
    CHECK(total(p.a.recv_spans(p.ca)) == 0);
    CHECK(p.a.recv_consume(p.now, p.ca, 10) == 0);
}

TEST_CASE("recv_spans/recv_consume: wrapped data in two runs, partial consumes keep order, EOF only after the last byte") {
    Pair p(2000);
    const auto data = pattern(3200, 11);
    std::size_t sent = p.b.send(p.now, p.cb, std::span(data).first(1500));
    CHECK(sent == 1500);
    p.settle();
    auto spans = p.a.recv_spans(p.ca);
    CHECK(total(spans) == 1500);
    CHECK(spans[1].empty());
    // One byte stays unread, so the ring is not rewound (RingBuffer::rewind()).
    std::vector<std::uint8_t> got(spans[0].begin(), spans[0].end() - 1);
    CHECK(p.a.recv_consume(p.now, p.ca, 1499) == 1499);

    // The next 1700 bytes land at ring offset 1500: 500 to the end, 1200 from the start.
    sent += p.b.send(p.now, p.cb, std::span(data).subspan(1500));
    CHECK(sent == data.size());
    p.b.shutdown_write(p.now, p.cb);
    p.settle();
    spans = p.a.recv_spans(p.ca);
    CHECK(spans[0].size() == 501);
    CHECK(spans[1].size() == 1200);
    CHECK(p.a.info(p.ca).recv_available == 1701);

    // Consume as a short writev() would: part of the first run, then across the wrap.
    got.insert(got.end(), spans[0].begin(), spans[0].begin() + 201);
    CHECK(p.a.recv_consume(p.now, p.ca, 201) == 201);
    CHECK_FALSE(p.a.info(p.ca).eof);  // FIN is in, 1500 bytes are not consumed yet
    spans = p.a.recv_spans(p.ca);
    CHECK(spans[0].size() == 300);
    CHECK(spans[1].size() == 1200);
    got.insert(got.end(), spans[0].begin(), spans[0].end());
    got.insert(got.end(), spans[1].begin(), spans[1].begin() + 1000);
    CHECK(p.a.recv_consume(p.now, p.ca, 1300) == 1300);
    CHECK_FALSE(p.a.info(p.ca).eof);
    spans = p.a.recv_spans(p.ca);
    CHECK(total(spans) == 200);
    got.insert(got.end(), spans[0].begin(), spans[0].end());
    CHECK(p.a.recv_consume(p.now, p.ca, 5000) == 200);  // clamped to what is there
    CHECK(p.a.info(p.ca).eof);
    CHECK(got == data);
    CHECK(p.a.recv_consume(p.now, p.ca, 1) == 0);
    CHECK(p.a.info(p.ca).eof);
}

TEST_CASE("RFC 9293 3.8.6.2.2: recv_consume reopens a closed window like recv() does") {
    Pair p(2000);
    const auto data = pattern(6000, 3);
    std::size_t sent = p.b.send(p.now, p.cb, data);
    p.settle();
    sent += p.b.send(p.now, p.cb, std::span(data).subspan(sent));
    p.settle();
    // Nobody read: the window closed with the receive buffer full.
    CHECK(p.a.info(p.ca).recv_available == 2000);
    CHECK(p.b.info(p.cb).send_queued == 2000);
    std::vector<std::uint8_t> got;
    for (int round = 0; round < 40 && got.size() < data.size(); ++round) {
        sent += p.b.send(p.now, p.cb, std::span(data).subspan(sent));
        p.settle();
        // Consume the first run only (at most 700 bytes): the update must
        // still come, and the peer must go on sending into the wrapped space.
        const auto spans = p.a.recv_spans(p.ca);
        const std::size_t n = std::min<std::size_t>(spans[0].size(), 700);
        got.insert(got.end(), spans[0].begin(), spans[0].begin() + static_cast<std::ptrdiff_t>(n));
        CHECK(p.a.recv_consume(p.now, p.ca, n) == n);
    }
    CHECK(got == data);
}
