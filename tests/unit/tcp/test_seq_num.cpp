// SeqNum: modular sequence arithmetic (RFC 9293 3.4).
#include <doctest/doctest.h>

#include <initializer_list>

#include "stack/tcp/seq_num.hpp"

using tapstack::tcp::SeqNum;
using tapstack::tcp::seq_in_range;
using tapstack::tcp::seq_max;
using tapstack::tcp::seq_min;

TEST_CASE("3.4: comparisons hold across the 2^32 wrap") {
    const SeqNum near_top(0xfffffff0u);
    const SeqNum wrapped = near_top + 0x20;
    CHECK(wrapped.raw() == 0x10u);
    CHECK(near_top < wrapped);
    CHECK(wrapped > near_top);
    CHECK(near_top <= wrapped);
    CHECK_FALSE(wrapped < near_top);
    CHECK(wrapped - near_top == 0x20);
    CHECK(near_top - wrapped == -0x20);
    CHECK(SeqNum::distance(wrapped, near_top) == 0x20u);
    CHECK(seq_max(near_top, wrapped) == wrapped);
    CHECK(seq_min(near_top, wrapped) == near_top);
}

TEST_CASE("3.4: a window straddling zero contains its members") {
    const SeqNum lo(0xffffff00u);
    const SeqNum hi = lo + 0x200;
    CHECK(seq_in_range(lo, lo, hi));
    CHECK(seq_in_range(lo, SeqNum(0), hi));
    CHECK(seq_in_range(lo, SeqNum(0xff), hi));
    CHECK_FALSE(seq_in_range(lo, hi, hi));
    CHECK_FALSE(seq_in_range(lo, lo - 1, hi));
}

TEST_CASE("3.4: numbers less than 2^31 apart compare by distance, whatever their raw values") {
    for (std::uint32_t base : {0u, 1u, 0x7fffffffu, 0x80000000u, 0xfffffffeu}) {
        const SeqNum a(base);
        CHECK(a < a + 1);
        CHECK(a < a + 0x7fffffffu);
        CHECK(a > a - 1);
        CHECK(a == a + 0);
        CHECK_FALSE(a < a);
        CHECK(a + 5 - 5 == a);
    }
}
