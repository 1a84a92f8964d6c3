// RFC 1071 Internet checksum: the worked example, odd lengths, and
// incremental accumulation over spans split at any point.
#include <doctest/doctest.h>

#include <cstdint>
#include <vector>

#include "stack/wire/checksum.hpp"

using namespace tapstack::wire;

TEST_CASE("RFC 1071 1.2 example: 00 01 f2 03 f4 f5 f6 f7 sums to ddf2") {
    const std::vector<std::uint8_t> data = {0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7};
    ChecksumAccumulator acc;
    acc.add(data);
    CHECK(acc.folded_sum() == 0xddf2);
    CHECK(internet_checksum(data) == static_cast<std::uint16_t>(~0xddf2));
}

TEST_CASE("RFC 1071: an odd trailing byte is padded with zero on the right") {
    const std::vector<std::uint8_t> odd = {0x12, 0x34, 0x56};
    const std::vector<std::uint8_t> padded = {0x12, 0x34, 0x56, 0x00};
    CHECK(internet_checksum(odd) == internet_checksum(padded));
    CHECK(internet_checksum(odd) == static_cast<std::uint16_t>(~(0x1234 + 0x5600)));
}

TEST_CASE("RFC 1071: accumulating split spans equals one pass, at every split point") {
    std::vector<std::uint8_t> data(77);
    for (std::size_t i = 0; i < data.size(); ++i) data[i] = static_cast<std::uint8_t>(i * 37 + 11);
    const std::uint16_t whole = internet_checksum(data);
    for (std::size_t a = 0; a <= data.size(); ++a) {
        for (std::size_t b = a; b <= data.size(); b += 7) {
            ChecksumAccumulator acc;
            acc.add(std::span(data).subspan(0, a));
            acc.add(std::span(data).subspan(a, b - a));
            acc.add(std::span(data).subspan(b));
            REQUIRE(acc.checksum() == whole);
        }
    }
}

TEST_CASE("RFC 1071: a buffer holding its own correct checksum verifies to zero") {
    std::vector<std::uint8_t> data = {0x45, 0x00, 0x00, 0x1c, 0xab, 0xcd, 0x00, 0x00, 0x40, 0x01,
                                      0x00, 0x00, 0x0a, 0x00, 0x00, 0x01, 0x0a, 0x00, 0x00, 0x02};
    const std::uint16_t c = internet_checksum(data);
    data[10] = static_cast<std::uint8_t>(c >> 8);
    data[11] = static_cast<std::uint8_t>(c);
    CHECK(internet_checksum(data) == 0);
    data[15] ^= 0x01;
    CHECK(internet_checksum(data) != 0);
}

TEST_CASE("RFC 1071: the carry folds back (all-ones words)") {
    const std::vector<std::uint8_t> data(4096, 0xff);
    ChecksumAccumulator acc;
    acc.add(data);
    CHECK(acc.folded_sum() == 0xffff);
}

TEST_CASE("RFC 9293 3.1: pseudo-header equals summing its 12 bytes in wire order") {
    ChecksumAccumulator a;
    add_ipv4_pseudo_header(a, Ipv4Address::from_octets(10, 0, 0, 1), Ipv4Address::from_octets(10, 0, 0, 2), 6, 20);
    const std::vector<std::uint8_t> same = {10, 0, 0, 1, 10, 0, 0, 2, 0, 6, 0, 20};
    ChecksumAccumulator b;
    b.add(same);
    CHECK(a.folded_sum() == b.folded_sum());
}
