// ICMPv6 (RFC 4443): golden echo, packet too big and parameter problem
// messages from scapy, the pseudo-header checksum, round trip of every
// Repr, and what parse() refuses.
#include <doctest/doctest.h>

#include <vector>

#include "stack/wire/icmpv6.hpp"
#include "stack/wire/ipv6.hpp"

using namespace tapstack::wire;

namespace {

Ipv6Address a6(const char* text) { return *Ipv6Address::parse(text); }

// scapy: IPv6(src="fe80::1", dst="fd00::2")/ICMPv6EchoRequest(id=0x1234, seq=7, data=b"abcdefgh"), ICMPv6 part.
const std::vector<std::uint8_t> kEcho = {0x80, 0x00, 0xe0, 0x5f, 0x12, 0x34, 0x00, 0x07,
                                         0x61, 0x62, 0x63, 0x64, 0x65, 0x66, 0x67, 0x68};

// The quoted packet of both errors: IPv6(src="fd00::2", dst="fd00::9", hlim=63)/
// ICMPv6EchoReply(id=1, seq=2, data=b"x"*8).
const std::vector<std::uint8_t> kInner = {
    0x60, 0x00, 0x00, 0x00, 0x00, 0x10, 0x3a, 0x3f, 0xfd, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x02, 0xfd, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x09, 0x81, 0x00, 0xa2, 0xc3, 0x00, 0x01, 0x00, 0x02,
    0x78, 0x78, 0x78, 0x78, 0x78, 0x78, 0x78, 0x78};

// scapy: IPv6(src="fd00::fe", dst="fd00::2")/ICMPv6PacketTooBig(mtu=1400)/inner: header of the ICMPv6 part.
const std::vector<std::uint8_t> kPtbHeader = {0x02, 0x00, 0x63, 0x06, 0x00, 0x00, 0x05, 0x78};
// scapy: IPv6(src="fd00::2", dst="fd00::1")/ICMPv6ParamProblem(code=2, ptr=42)/inner.
const std::vector<std::uint8_t> kParamHeader = {0x04, 0x02, 0x67, 0x4f, 0x00, 0x00, 0x00, 0x2a};

std::vector<std::uint8_t> join(const std::vector<std::uint8_t>& a, const std::vector<std::uint8_t>& b) {
    std::vector<std::uint8_t> out = a;
    out.insert(out.end(), b.begin(), b.end());
    return out;
}

}  // namespace

TEST_CASE("RFC 4443 4.1: golden echo request parses, and emits the same bytes with its checksum") {
    auto v = Icmpv6View::check(kEcho);
    REQUIRE(v);
    CHECK(v->checksum_valid(a6("fe80::1"), a6("fd00::2")));
    CHECK_FALSE(v->checksum_valid(a6("fe80::1"), a6("fd00::3")));  // the pseudo-header counts
    auto r = Icmpv6Repr::parse(*v, a6("fe80::1"), a6("fd00::2"));
    REQUIRE(r);
    CHECK(r->type == icmpv6_type::kEchoRequest);
    CHECK(r->ident == 0x1234);
    CHECK(r->seq == 7);
    CHECK(r->data.size() == 8);
    std::vector<std::uint8_t> out(r->buffer_len());
    r->emit(out, a6("fe80::1"), a6("fd00::2"));
    CHECK(out == kEcho);
}

TEST_CASE("RFC 4443 3.2: golden packet too big: MTU and the quoted packet; round trip") {
    const auto msg = join(kPtbHeader, kInner);
    auto v = Icmpv6View::check(msg);
    REQUIRE(v);
    auto r = Icmpv6Repr::parse(*v, a6("fd00::fe"), a6("fd00::2"));
    REQUIRE(r);
    CHECK(r->type == icmpv6_type::kPacketTooBig);
    CHECK(r->mtu == 1400);
    CHECK(std::equal(r->data.begin(), r->data.end(), kInner.begin(), kInner.end()));
    std::vector<std::uint8_t> out(r->buffer_len());
    r->emit(out, a6("fd00::fe"), a6("fd00::2"));
    CHECK(out == msg);
}

TEST_CASE("RFC 4443 3.4: golden parameter problem: code and pointer; round trip") {
    const auto msg = join(kParamHeader, kInner);
    auto v = Icmpv6View::check(msg);
    REQUIRE(v);
    auto r = Icmpv6Repr::parse(*v, a6("fd00::2"), a6("fd00::1"));
    REQUIRE(r);
    CHECK(r->type == icmpv6_type::kParameterProblem);
    CHECK(r->code == icmpv6_code::kUnrecognizedOption);
    CHECK(r->pointer == 42);
    std::vector<std::uint8_t> out(r->buffer_len());
    r->emit(out, a6("fd00::2"), a6("fd00::1"));
    CHECK(out == msg);
    auto again = Icmpv6View::check(out);
    CHECK(*Icmpv6Repr::parse(*again, a6("fd00::2"), a6("fd00::1")) == *r);
}

TEST_CASE("RFC 4443 2.3: a wrong checksum, a short message or an error without an IPv6 header is refused") {
    Icmpv6Error e{};
    auto bad = kEcho;
    bad[8] ^= 1;
    CHECK_FALSE(Icmpv6Repr::parse(*Icmpv6View::check(bad), a6("fe80::1"), a6("fd00::2"), &e));
    CHECK(e == Icmpv6Error::kBadChecksum);
    CHECK_FALSE(Icmpv6View::check(std::span(kEcho).first(3), &e));
    CHECK(e == Icmpv6Error::kTruncated);
    // A valid checksum over an error quoting only 39 bytes.
    Icmpv6Repr shortq;
    shortq.type = icmpv6_type::kDestUnreachable;
    shortq.data = std::span(kInner).first(39);
    std::vector<std::uint8_t> out(shortq.buffer_len());
    shortq.emit(out, a6("fd00::1"), a6("fd00::2"));
    CHECK_FALSE(Icmpv6Repr::parse(*Icmpv6View::check(out), a6("fd00::1"), a6("fd00::2"), &e));
    CHECK(e == Icmpv6Error::kTruncated);
    // An unknown type with a valid checksum.
    Icmpv6Repr other;
    other.type = 200;
    std::vector<std::uint8_t> o(other.buffer_len());
    other.emit(o, a6("fd00::1"), a6("fd00::2"));
    CHECK_FALSE(Icmpv6Repr::parse(*Icmpv6View::check(o), a6("fd00::1"), a6("fd00::2"), &e));
    CHECK(e == Icmpv6Error::kUnsupportedType);
    CHECK(icmpv6_is_error(icmpv6_type::kParameterProblem));
    CHECK_FALSE(icmpv6_is_error(icmpv6_type::kEchoRequest));
}

TEST_CASE("Every ICMPv6 Repr round-trips: echo reply, destination unreachable, time exceeded") {
    for (std::uint8_t type : {icmpv6_type::kEchoReply, icmpv6_type::kDestUnreachable, icmpv6_type::kTimeExceeded}) {
        CAPTURE(int{type});
        Icmpv6Repr r;
        r.type = type;
        r.code = type == icmpv6_type::kEchoReply ? 0 : 1;
        if (type == icmpv6_type::kEchoReply) {
            r.ident = 9;
            r.seq = 65535;
        }
        r.data = kInner;
        std::vector<std::uint8_t> out(r.buffer_len());
        r.emit(out, a6("fd00::1"), a6("ff02::1"));
        auto back = Icmpv6Repr::parse(*Icmpv6View::check(out), a6("fd00::1"), a6("ff02::1"));
        REQUIRE(back);
        CHECK(*back == r);
    }
}
