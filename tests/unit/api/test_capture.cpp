// Packet capture without a daemon: the pcapng blocks (daemon/capture/
// pcapng.hpp) byte by byte against the format's layout, the streaming
// reader on arbitrary splits, and the CaptureHub's bounded buffers: a
// reader that does not keep up loses frames, counted, and never more than
// its buffer is held.
#include <doctest/doctest.h>

#include <cstring>
#include <string>
#include <vector>

#include "daemon/capture/capture_hub.hpp"
#include "daemon/capture/pcapng.hpp"

using namespace tapstack;
using capture::pcapng::Bytes;

namespace {

std::uint32_t le32(const Bytes& b, std::size_t at) {
    return static_cast<std::uint32_t>(b[at] | (b[at + 1] << 8) | (b[at + 2] << 16) | (b[at + 3] << 24));
}

std::vector<std::uint8_t> frame_of(std::size_t n, std::uint8_t seed) {
    std::vector<std::uint8_t> f(n);
    for (std::size_t i = 0; i < n; ++i) f[i] = static_cast<std::uint8_t>(seed + i * 7);
    return f;
}

void offer(capture::CaptureHub& hub, drivers::FrameDirection dir, const std::vector<std::uint8_t>& f) {
    std::span<const std::uint8_t> whole(f);
    hub.frame(dir, std::span<const std::span<const std::uint8_t>>(&whole, 1));
}

}  // namespace

TEST_CASE("pcapng: section header, interface (Ethernet, snaplen, nanoseconds) and a packet with its direction") {
    Bytes b;
    capture::pcapng::append_header(b, "tapstackd test", "tap0", 96);
    REQUIRE(b.size() % 4 == 0);
    CHECK(le32(b, 0) == 0x0A0D0D0A);
    const std::uint32_t shb_len = le32(b, 4);
    CHECK(le32(b, 8) == 0x1A2B3C4D);
    CHECK(le32(b, shb_len - 4) == shb_len);
    const std::size_t idb = shb_len;
    CHECK(le32(b, idb) == 1);
    CHECK((b[idb + 8] | (b[idb + 9] << 8)) == 1);  // LINKTYPE_ETHERNET
    CHECK(le32(b, idb + 12) == 96);                 // snaplen
    const std::string idb_text(b.begin() + static_cast<std::ptrdiff_t>(idb), b.end());
    CHECK(idb_text.find("tap0") != std::string::npos);
    const std::size_t epb = b.size();
    const auto f = frame_of(100, 1);
    const std::span<const std::uint8_t> head(f.data(), 60), tail(f.data() + 60, 40);
    const std::span<const std::uint8_t> parts[] = {head, tail};
    capture::pcapng::append_packet(b, 0x0000000123456789ull, capture::pcapng::Direction::kOutbound, parts, 96);
    CHECK(b.size() - epb == capture::pcapng::packet_block_size(100, 96));
    CHECK(le32(b, epb) == 6);
    CHECK(le32(b, epb + 12) == 0x1);         // timestamp, high word first
    CHECK(le32(b, epb + 16) == 0x23456789);
    CHECK(le32(b, epb + 20) == 96);          // captured: the snap length
    CHECK(le32(b, epb + 24) == 100);         // original length
    CHECK(std::memcmp(b.data() + epb + 28, f.data(), 96) == 0);
    const std::size_t opt = epb + 28 + 96;
    CHECK((b[opt] | (b[opt + 1] << 8)) == 2);  // epb_flags
    CHECK(le32(b, opt + 4) == 2);              // outbound
    CHECK(le32(b, b.size() - 4) == b.size() - epb);
}

TEST_CASE("pcapng reader: packets per direction and the statistics block, fed in any pieces") {
    Bytes b;
    capture::pcapng::append_header(b, "t", "tap0", 262144);
    const auto f = frame_of(1514, 3);
    const std::span<const std::uint8_t> whole(f);
    for (int i = 0; i < 5; ++i) {
        capture::pcapng::append_packet(b, 1, i % 2 ? capture::pcapng::Direction::kOutbound
                                                   : capture::pcapng::Direction::kInbound,
                                       std::span<const std::span<const std::uint8_t>>(&whole, 1), 262144);
    }
    capture::pcapng::append_statistics(b, {10, 20, 9, 4, 5});
    for (std::size_t piece : {std::size_t{1}, std::size_t{7}, std::size_t{1000}, b.size()}) {
        capture::pcapng::Reader r;
        for (std::size_t at = 0; at < b.size(); at += piece) {
            REQUIRE(r.feed(std::span<const std::uint8_t>(b.data() + at, std::min(piece, b.size() - at))));
        }
        CHECK(r.inbound() == 3);
        CHECK(r.outbound() == 2);
        REQUIRE(r.statistics());
        CHECK(r.statistics()->received == 9);
        CHECK(r.statistics()->dropped == 4);
        CHECK(r.statistics()->delivered == 5);
        CHECK(r.statistics()->start_ns == 10);
        CHECK(r.statistics()->end_ns == 20);
        CHECK(r.at_block_boundary());
    }
    capture::pcapng::Reader bad;
    const std::uint8_t junk[16] = {1, 2, 3, 4, 16, 0, 0, 0};
    CHECK_FALSE(bad.feed(junk));
    CHECK_FALSE(bad.error().empty());
}

TEST_CASE("capture hub: attached only while a capture runs; every frame reaches every capture with its direction") {
    drivers::FrameTap* attached = nullptr;
    int notified = 0;
    capture::CaptureHub hub("tap9", [&](drivers::FrameTap* t) { attached = t; },
                            [&](capture::Session&) { ++notified; });
    CHECK(attached == nullptr);
    capture::Session* a = hub.open({}, 1);
    capture::Session* b = hub.open({0, 64, 0}, 2);
    REQUIRE(a != nullptr);
    REQUIRE(b != nullptr);
    CHECK(attached == &hub);
    CHECK(b->options().snaplen == 64);
    CHECK(a->options().snaplen == capture::kMaxSnaplen);
    offer(hub, drivers::FrameDirection::kIn, frame_of(200, 1));
    offer(hub, drivers::FrameDirection::kOut, frame_of(300, 2));
    CHECK(notified == 0);  // the header was already pending: the owner knows there is something to write
    capture::pcapng::Reader ra;
    REQUIRE(ra.feed(a->pending()));
    a->consume(a->pending().size());
    CHECK(a->pending().empty());
    offer(hub, drivers::FrameDirection::kIn, frame_of(60, 3));
    CHECK(notified == 1);  // a went from empty to non-empty; b was never drained
    REQUIRE(ra.feed(a->pending()));
    CHECK(ra.inbound() == 2);
    CHECK(ra.outbound() == 1);
    hub.close(a);
    CHECK(attached == &hub);
    hub.close(b);
    CHECK(attached == nullptr);
}

TEST_CASE("capture hub: a reader that does not read loses frames beyond its buffer, counted, and stops at its count") {
    capture::CaptureHub hub("tap0", [](drivers::FrameTap*) {}, [](capture::Session&) {});
    capture::Session* slow = hub.open({0, 0, capture::kMinBuffer}, 1);
    capture::Session* counted = hub.open({3, 0, 0}, 2);
    REQUIRE(slow != nullptr);
    REQUIRE(counted != nullptr);
    const auto f = frame_of(1514, 9);
    for (int i = 0; i < 100; ++i) offer(hub, drivers::FrameDirection::kIn, f);
    CHECK(slow->seen() == 100);
    CHECK(slow->captured() + slow->dropped() == 100);
    CHECK(slow->dropped() > 0);
    CHECK(slow->pending().size() <= capture::kMinBuffer);
    CHECK(counted->captured() == 3);
    CHECK(counted->done());
    CHECK(counted->dropped() == 0);
    std::uint64_t frames = 0, dropped = 0, sessions = 0;
    hub.visit_metrics([&](const MetricInfo& m, std::uint64_t v) {
        if (m.name == "capture.frames") frames = v;
        if (m.name == "capture.dropped") dropped = v;
        if (m.name == "capture.sessions") sessions = v;
    });
    CHECK(frames == slow->captured() + 3);
    CHECK(dropped == slow->dropped());
    CHECK(sessions == 2);
    // The reader catches up: frames are taken again, and the end carries the counts.
    slow->consume(slow->pending().size());
    offer(hub, drivers::FrameDirection::kOut, f);
    CHECK(slow->captured() + slow->dropped() == 101);
    slow->finish(capture::CaptureHub::wall_clock_ns());
    capture::pcapng::Bytes rest(slow->pending().begin(), slow->pending().end());
    capture::pcapng::Bytes header;
    capture::pcapng::append_header(header, "x", "tap0", 1);
    capture::pcapng::Reader r;
    REQUIRE(r.feed(header));
    REQUIRE(r.feed(rest));
    REQUIRE(r.statistics());
    CHECK(r.statistics()->received == 101);
    CHECK(r.statistics()->dropped == slow->dropped());
    CHECK(r.statistics()->delivered == slow->captured());
    CHECK(r.outbound() == 1);
}

TEST_CASE("capture hub: at most kMaxSessions captures at once") {
    capture::CaptureHub hub("tap0", [](drivers::FrameTap*) {}, [](capture::Session&) {});
    std::vector<capture::Session*> open;
    for (std::size_t i = 0; i < capture::kMaxSessions; ++i) open.push_back(hub.open({}, i));
    CHECK(hub.open({}, 99) == nullptr);
    hub.close(open.back());
    CHECK(hub.open({}, 99) != nullptr);
}
