// A scripted peer: drives one TcpStack segment by segment and checks the
// exact segments it answers with.
//
// Theory of operation
// -------------------
// The stack under test ("us") is 10.0.0.1; the scripted peer is 10.0.0.2.
// `inject()` builds a segment with wire::TcpRepr (so checksums are right
// unless a test breaks them on purpose), hands it to receive() and polls;
// `take()` returns everything the stack emitted since the last call, parsed
// back with TcpRepr. Time is virtual: `advance()` moves it and polls.
// Helpers bring a connection into a given state through real handshakes,
// so each fixture starts from a state reached the way a peer would reach it.
#pragma once

#include <doctest/doctest.h>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "stack/tcp/tcp_stack.hpp"
#include "stack/wire/checksum.hpp"
#include "stack/wire/tcp_header.hpp"

namespace tapstack::sim {

namespace flag = wire::tcp_flag;

struct Seg {
    std::uint32_t seq = 0;
    std::uint32_t ack = 0;
    std::uint8_t flags = 0;
    std::uint16_t window = 65535;
    std::vector<std::uint8_t> payload;
    wire::TcpOptions options;
    std::uint16_t sport = 40000;
    std::uint16_t dport = 80;
};

struct Out {
    wire::TcpRepr h;  // payload span not valid; use `payload`
    std::vector<std::uint8_t> payload;
    bool has(std::uint8_t f) const { return (h.flags & f) != 0; }
    bool only(std::uint8_t f) const { return h.flags == f; }
};

class ScriptedPeer : public tcp::SegmentSink {
public:
    static constexpr wire::Ipv4Address kUs = wire::Ipv4Address::from_octets(10, 0, 0, 1);
    static constexpr wire::Ipv4Address kPeer = wire::Ipv4Address::from_octets(10, 0, 0, 2);

    static tcp::TcpConfig default_config() {
        tcp::TcpConfig c;
        c.local_address = kUs;
        c.msl = seconds(5);
        c.receive_buffer = 65535;  // no window scaling needed unless a test wants it
        c.send_buffer = 65536;
        // Exact windows are asserted here: auto-tuning only where a test
        // turns it on.
        c.receive_buffer_max = 0;
        return c;
    }

    explicit ScriptedPeer(const tcp::TcpConfig& config = default_config(), std::uint64_t secret = 42)
        : stack(config, *this, secret) {}

    void send_segment(const wire::IpAddress& src, const wire::IpAddress& dst,
                      std::span<const std::uint8_t> seg) override {
        Out o;
        REQUIRE(src == wire::IpAddress(kUs));
        REQUIRE(dst == wire::IpAddress(kPeer));
        wire::TcpRepr r;
        REQUIRE_FALSE(wire::TcpRepr::parse(seg, src, dst, r).has_value());
        o.h = r;
        o.payload.assign(r.payload.begin(), r.payload.end());
        o.h.payload = {};
        outputs.push_back(std::move(o));
    }

    std::vector<std::uint8_t> build(const Seg& s) const {
        wire::TcpRepr r;
        r.src_port = s.sport;
        r.dst_port = s.dport;
        r.seq = s.seq;
        r.ack = s.ack;
        r.flags = s.flags;
        r.window = s.window;
        r.options = s.options;
        r.payload = s.payload;
        std::vector<std::uint8_t> bytes(r.buffer_len());
        r.emit(bytes, kPeer, kUs);
        return bytes;
    }

    void inject_raw(std::span<const std::uint8_t> bytes) {
        stack.receive(now, kPeer, kUs, bytes);
        stack.poll(now);
    }
    void inject(const Seg& s) { inject_raw(build(s)); }

    void advance(Duration d) {
        const Instant end = now + d;
        while (stack.poll_at() <= end) {
            now = std::max(now, stack.poll_at());
            stack.poll(now);
        }
        now = end;
        stack.poll(now);
    }
    // Moves time to the stack's next deadline (if any within `limit`).
    bool advance_to_next(Duration limit = seconds(1000)) {
        const Instant t = stack.poll_at();
        if (t > now + limit) return false;
        now = std::max(now, t);
        stack.poll(now);
        return true;
    }

    std::vector<Out> take() {
        std::vector<Out> v;
        v.swap(outputs);
        return v;
    }
    Out expect_one() {
        auto v = take();
        REQUIRE(v.size() == 1);
        return v.front();
    }
    void expect_none() {
        auto v = take();
        CHECK(v.size() == 0);
    }

    std::vector<tcp::Event> events() {
        std::vector<tcp::Event> e;
        stack.drain_events(e);
        return e;
    }

    std::uint64_t counter(std::string_view name) const {
        std::uint64_t v = 0;
        stack.visit_counters([&](std::string_view n, std::uint64_t value) {
            if (n == name) v = value;
        });
        return v;
    }

    // Reads everything readable now.
    std::vector<std::uint8_t> read_all(tcp::ConnId c) {
        std::vector<std::uint8_t> out, buf(65536);
        for (;;) {
            const std::size_t n = stack.recv(now, c, buf);
            if (n == 0) break;
            out.insert(out.end(), buf.begin(), buf.begin() + static_cast<std::ptrdiff_t>(n));
        }
        stack.poll(now);
        return out;
    }

    // --- reaching states ---

    // Passive open: listen on 80, peer SYN (ISS 1000) / our SYN-ACK / peer
    // ACK, accept(). Afterwards peer_nxt = 1001 and our_nxt = our ISS + 1.
    tcp::ConnId establish_passive(wire::TcpOptions syn_options = mss_option(1460), std::uint16_t window = 65535) {
        REQUIRE(stack.listen(80, 0, &listener) == tcp::Error::kNone);
        inject(Seg{.seq = 1000, .flags = flag::kSyn, .window = window, .options = syn_options});
        Out synack = expect_one();
        REQUIRE(synack.only(flag::kSyn | flag::kAck));
        REQUIRE(synack.h.ack == 1001);
        our_iss = synack.h.seq;
        our_nxt = our_iss + 1;
        peer_nxt = 1001;
        inject(Seg{.seq = peer_nxt, .ack = our_nxt, .flags = flag::kAck, .window = window});
        expect_none();
        tcp::ConnId c = stack.accept(listener);
        REQUIRE(c.valid());
        REQUIRE(stack.info(c).state == tcp::State::kEstablished);
        return c;
    }

    // One of many passive connections, from the peer's port `sport` (the
    // listener must exist): SYN (ISS 1000), our SYN-ACK, ACK, accept().
    struct PeerConn {
        std::uint16_t port = 0;
        std::uint32_t peer_nxt = 0;  // next sequence number the peer sends
        std::uint32_t our_nxt = 0;   // next sequence number we send
        tcp::ConnId conn;
    };
    PeerConn open_from(std::uint16_t sport, wire::TcpOptions syn_options = mss_option(1460),
                       std::uint16_t window = 65535) {
        PeerConn c;
        c.port = sport;
        // Earlier output for other connections stays for the caller.
        std::vector<Out> others = take();
        inject(Seg{.seq = 1000, .flags = flag::kSyn, .window = window, .options = syn_options, .sport = sport});
        auto out = take();
        std::erase_if(out, [&](const Out& o) {
            if (o.h.dst_port == sport) return false;
            others.push_back(o);
            return true;
        });
        REQUIRE(out.size() == 1);
        REQUIRE(out[0].only(flag::kSyn | flag::kAck));
        c.peer_nxt = 1001;
        c.our_nxt = out[0].h.seq + 1;
        wire::TcpOptions ack_options;
        if (out[0].h.options.timestamps) ack_options.timestamps = wire::TcpTimestamps{1, out[0].h.options.timestamps->tsval};
        inject(Seg{.seq = c.peer_nxt, .ack = c.our_nxt, .flags = flag::kAck, .window = window,
                   .options = ack_options, .sport = sport});
        for (Out& o : take())
            if (o.h.dst_port != sport) others.push_back(std::move(o));
        outputs = std::move(others);
        c.conn = stack.accept(listener);
        REQUIRE(c.conn.valid());
        return c;
    }

    // Active open toward the peer's port 40000 from our port `local_port`.
    tcp::ConnId establish_active(wire::TcpOptions synack_options = mss_option(1460), std::uint16_t window = 65535) {
        tcp::ConnId c;
        REQUIRE(stack.connect(now, {kPeer, 40000}, 80, &c) == tcp::Error::kNone);
        stack.poll(now);
        Out syn = expect_one();
        REQUIRE(syn.only(flag::kSyn));
        our_iss = syn.h.seq;
        our_nxt = our_iss + 1;
        inject(Seg{.seq = 5000, .ack = our_nxt, .flags = flag::kSyn | flag::kAck, .window = window,
                   .options = synack_options});
        Out ack = expect_one();
        REQUIRE(ack.only(flag::kAck));
        REQUIRE(ack.h.ack == 5001);
        peer_nxt = 5001;
        REQUIRE(stack.info(c).state == tcp::State::kEstablished);
        return c;
    }

    // Peer sends data at peer_nxt (advancing it).
    void peer_data(const std::vector<std::uint8_t>& data, std::uint8_t extra_flags = 0, std::uint16_t window = 65535) {
        inject(Seg{.seq = peer_nxt, .ack = our_nxt, .flags = static_cast<std::uint8_t>(flag::kAck | extra_flags),
                   .window = window, .payload = data});
        peer_nxt += static_cast<std::uint32_t>(data.size()) + ((extra_flags & flag::kFin) ? 1u : 0u);
    }

    static wire::TcpOptions mss_option(std::uint16_t mss) {
        wire::TcpOptions o;
        o.mss = mss;
        return o;
    }

    Instant now = instant_from_ns(10'000'000'000);
    tcp::TcpStack stack;
    tcp::ListenerId listener;
    std::uint32_t our_iss = 0;
    std::uint32_t our_nxt = 0;
    std::uint32_t peer_nxt = 0;
    std::vector<Out> outputs;
};

inline std::vector<std::uint8_t> bytes_of(std::size_t n, std::uint8_t base = 0) {
    std::vector<std::uint8_t> v(n);
    for (std::size_t i = 0; i < n; ++i) v[i] = static_cast<std::uint8_t>(base + i * 7 + (i >> 8));
    return v;
}

}  // namespace tapstack::sim
