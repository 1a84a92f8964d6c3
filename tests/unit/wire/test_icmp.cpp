// ICMP (RFC 792): golden echo, round trips of every supported type,
// checksum over the whole message, truncation.
#include <doctest/doctest.h>

#include <vector>

#include "stack/wire/icmp.hpp"

using namespace tapstack::wire;

namespace {

// scapy: ICMP(type=8, id=0x4d2, seq=7)/"abcdefgh"
const std::vector<std::uint8_t> kEchoRequest = {0x08, 0x00, 0x61, 0x91, 0x04, 0xd2, 0x00, 0x07,
                                                0x61, 0x62, 0x63, 0x64, 0x65, 0x66, 0x67, 0x68};

std::optional<IcmpRepr> parse(const std::vector<std::uint8_t>& b, IcmpError* e) {
    auto v = IcmpView::check(b, e);
    if (!v) return std::nullopt;
    return IcmpRepr::parse(*v, e);
}

}  // namespace

TEST_CASE("RFC 792 echo: golden request parses and re-emits identically") {
    IcmpError e{};
    auto r = parse(kEchoRequest, &e);
    REQUIRE(r);
    CHECK(r->type == icmp_type::kEchoRequest);
    CHECK(r->ident == 0x04d2);
    CHECK(r->seq == 7);
    CHECK(r->data.size() == 8);
    std::vector<std::uint8_t> out(r->buffer_len());
    r->emit(out);
    CHECK(out == kEchoRequest);
}

TEST_CASE("RFC 792: the checksum covers the data, odd lengths included") {
    std::vector<std::uint8_t> data(1473);
    for (std::size_t i = 0; i < data.size(); ++i) data[i] = static_cast<std::uint8_t>(i);
    IcmpRepr r;
    r.type = icmp_type::kEchoReply;
    r.ident = 1;
    r.seq = 65535;
    r.data = data;
    std::vector<std::uint8_t> out(r.buffer_len());
    r.emit(out);
    IcmpError e{};
    auto back = parse(out, &e);
    REQUIRE(back);
    CHECK(*back == r);
    out.back() ^= 0x80;  // a flipped data bit breaks it
    CHECK_FALSE(parse(out, &e));
    CHECK(e == IcmpError::kBadChecksum);
}

TEST_CASE("RFC 792: destination unreachable and time exceeded round-trip with the quoted header") {
    std::vector<std::uint8_t> quote(28, 0);
    quote[0] = 0x45;
    for (std::uint8_t type : {icmp_type::kDestUnreachable, icmp_type::kTimeExceeded}) {
        IcmpRepr r;
        r.type = type;
        r.code =
            type == icmp_type::kDestUnreachable ? icmp_code::kFragmentationNeeded : icmp_code::kReassemblyTimeExceeded;
        r.next_hop_mtu = type == icmp_type::kDestUnreachable ? 1400 : 0;
        r.data = quote;
        std::vector<std::uint8_t> out(r.buffer_len());
        r.emit(out);
        IcmpError e{};
        auto back = parse(out, &e);
        REQUIRE(back);
        CHECK(*back == r);
    }
}

TEST_CASE("RFC 1122 3.2.2: an error message without a whole IPv4 header inside is truncated") {
    std::vector<std::uint8_t> quote(19, 0);
    IcmpRepr r;
    r.type = icmp_type::kDestUnreachable;
    r.code = icmp_code::kPortUnreachable;
    r.data = quote;
    std::vector<std::uint8_t> out(r.buffer_len());
    r.emit(out);
    IcmpError e{};
    CHECK_FALSE(parse(out, &e));
    CHECK(e == IcmpError::kTruncated);
}

TEST_CASE("RFC 792: messages shorter than 8 bytes are rejected; unknown types are reported") {
    for (std::size_t n = 0; n < 8; ++n) {
        std::vector<std::uint8_t> b(kEchoRequest.begin(), kEchoRequest.begin() + static_cast<std::ptrdiff_t>(n));
        IcmpError e{};
        CHECK_FALSE(parse(b, &e));
        CHECK(e == IcmpError::kTruncated);
    }
    IcmpRepr r;
    r.type = icmp_type::kTimestamp;
    std::vector<std::uint8_t> out(r.buffer_len());
    r.emit(out);
    IcmpError e{};
    CHECK_FALSE(parse(out, &e));
    CHECK(e == IcmpError::kUnsupportedType);
    CHECK(icmp_is_query(icmp_type::kTimestamp));
    CHECK_FALSE(icmp_is_query(icmp_type::kRedirect));
}
