// Output fragmentation (RFC 791 3.2 "Fragmentation").
#include <doctest/doctest.h>

#include <vector>

#include "stack/iface/ipv4_fragmenter.hpp"
#include "stack/iface/reassembler.hpp"

using namespace tapstack;
using namespace tapstack::iface;

TEST_CASE("RFC 791 3.2: an 8008-byte payload at MTU 1500 makes 6 fragments of 1480*5 + 608 that reassemble") {
    std::vector<std::uint8_t> payload(8008);
    for (std::size_t i = 0; i < payload.size(); ++i) payload[i] = static_cast<std::uint8_t>(i ^ (i >> 8));
    wire::Ipv4Repr h;
    h.src = wire::Ipv4Address::from_octets(10, 0, 0, 2);
    h.dst = wire::Ipv4Address::from_octets(10, 0, 0, 1);
    h.protocol = wire::ip_protocol::kIcmp;
    h.identification = 99;
    std::vector<std::vector<std::uint8_t>> frags;
    const std::size_t n = fragment_ipv4(h, payload, 1500, [&](const wire::Ipv4Repr& f, wire::Bytes chunk) {
        std::vector<std::uint8_t> bytes(f.buffer_len());
        f.emit(bytes);
        std::copy(chunk.begin(), chunk.end(), bytes.begin() + 20);
        CHECK(bytes.size() <= 1500);
        CHECK(f.fragment_offset % 8 == 0);
        frags.push_back(std::move(bytes));
    });
    REQUIRE(n == 6);
    CHECK(frags[0].size() == 1500);
    CHECK(frags[5].size() == 20 + 8008 - 5 * 1480);
    Reassembler r(ReassemblyConfig{});
    std::optional<Reassembled> done;
    for (auto it = frags.rbegin(); it != frags.rend(); ++it) done = r.add(Instant{}, *wire::Ipv4View::check(*it));
    REQUIRE(done);
    CHECK(done->payload == payload);
    CHECK(done->header.identification == 99);
}

TEST_CASE("RFC 791 3.2: a datagram that fits is sent whole; an MTU below header + 8 cannot fragment") {
    std::vector<std::uint8_t> payload(1480);
    wire::Ipv4Repr h;
    int calls = 0;
    CHECK(fragment_ipv4(h, payload, 1500, [&](const wire::Ipv4Repr& f, wire::Bytes) {
              ++calls;
              CHECK_FALSE(f.more_fragments);
              CHECK(f.payload_len == 1480);
          }) == 1);
    CHECK(calls == 1);
    CHECK(fragment_ipv4(h, payload, 27, [&](const wire::Ipv4Repr&, wire::Bytes) { ++calls; }) == 0);
    CHECK(calls == 1);
}
