// Split virtqueue (virtio 1.x 2.7): both roles over one ring in an
// in-process guest memory; wrap, exhaustion, chains, notification
// suppression, and a hostile driver or device on the other side.
#include <doctest/doctest.h>

#include <cstring>
#include <limits>
#include <vector>

#include "drivers/guest_memory.hpp"
#include "drivers/virtqueue.hpp"
#include "linux_virtio_reference.hpp"

using namespace tapstack::drivers;

namespace {

constexpr GuestAddr kBase = 0x40000;  // not the host address: catches guest/host confusion
constexpr GuestAddr kBuffers = kBase + 0x2000;
constexpr std::uint32_t kBufLen = 256;

struct Queue {
    std::vector<std::uint8_t> backing;
    GuestMemory memory;
    std::optional<Virtqueue> q;
    DescChain chain;

    explicit Queue(std::uint16_t size, VirtqueueOptions options = {})
        : backing(0x2000 + std::size_t{size} * 2 * kBufLen), chain(size) {
        REQUIRE(VringLayout::contiguous_bytes(size) <= 0x2000);
        REQUIRE(memory.add_region(kBase, backing));
        std::string error;
        q = Virtqueue::create(memory, VringLayout::contiguous(kBase, size), options, &error);
        REQUIRE_MESSAGE(q, error);
    }
    VirtqueueDriver& driver() { return q->driver(); }
    VirtqueueDevice& device() { return q->device(); }
    Vring& ring() { return q->ring(); }
    GuestBuffer buf(std::uint32_t i, std::uint32_t len = kBufLen) const { return {kBuffers + i * kBufLen, len}; }
    std::uint8_t* host(GuestAddr a) { return backing.data() + (a - kBase); }

    std::uint16_t add_one(std::uint32_t i, bool writable = false) {
        const GuestBuffer b = buf(i);
        auto head = writable ? driver().add({}, std::span(&b, 1), i) : driver().add(std::span(&b, 1), {}, i);
        REQUIRE(head);
        return *head;
    }
    // The device pops and expects a rejection for `why`; the driver gets the chain back with len 0.
    void expect_rejected(ChainError why, std::uint16_t head) {
        CHECK(device().pop(chain) == PopResult::kRejected);
        CHECK(chain.error == why);
        CHECK(chain.readable.empty());
        CHECK(chain.writable.empty());
        CHECK(device().stats().rejected_by_reason[static_cast<std::size_t>(why)] == 1);
        auto used = driver().get_used();
        REQUIRE(used);
        CHECK(used->head == head);
        CHECK(used->len == 0);
        CHECK(driver().num_free() == driver().size());  // nothing leaked
        CHECK(driver().in_flight() == 0);
        CHECK(device().pop(chain) == PopResult::kEmpty);  // nothing hangs or repeats
    }
};

}  // namespace

TEST_CASE("GuestMemory: translate accepts only ranges wholly inside one region, without u64 wrap") {
    std::vector<std::uint8_t> a(100), top(0x100);
    GuestMemory m;
    REQUIRE(m.add_region(1000, a));
    const GuestAddr top_base = std::numeric_limits<GuestAddr>::max() - 0xff;  // ends exactly at 2^64 - 1
    REQUIRE(m.add_region(top_base, top));
    CHECK(m.translate(1000, 100)->data() == a.data());
    CHECK(m.translate(1099, 1)->data() == a.data() + 99);
    CHECK(m.translate(1100, 0));  // empty range at the end
    CHECK_FALSE(m.translate(1099, 2));
    CHECK_FALSE(m.translate(999, 1));
    CHECK_FALSE(m.translate(1100, 1));
    CHECK(m.translate(top_base + 0xf0, 0x10));
    CHECK_FALSE(m.translate(top_base + 0xf0, 0x11));
    CHECK_FALSE(m.translate(top_base + 0x80, std::numeric_limits<std::uint64_t>::max()));  // addr + len wraps to low memory
    CHECK_FALSE(m.translate(1000, std::numeric_limits<std::uint64_t>::max()));

    std::string why;
    CHECK_FALSE(m.add_region(1050, a, &why));
    CHECK(why == "guest memory regions overlap");
    CHECK_FALSE(m.add_region(top_base - 0x10, top, &why));  // overlaps the top region
    CHECK_FALSE(m.add_region(std::numeric_limits<GuestAddr>::max(), a, &why));
    CHECK(why == "guest memory region wraps past 2^64");
    CHECK_FALSE(m.add_region(5000, std::span<std::uint8_t>(), &why));
    CHECK(m.region_count() == 2);
}

TEST_CASE("virtio 2.7: Vring::map rejects bad queue sizes, misaligned areas and rings outside memory") {
    std::vector<std::uint8_t> mem(1 << 20);
    GuestMemory m;
    REQUIRE(m.add_region(kBase, mem));
    std::string why;
    for (const std::uint16_t size : {std::uint16_t{0}, std::uint16_t{3}, std::uint16_t{6}, std::uint16_t{100}, std::uint16_t{32767}}) {
        CHECK_FALSE(Vring::map(m, VringLayout::contiguous(kBase, size), &why));
        CHECK(why == "queue size is not a power of two in 1..32768");
    }
    CHECK(Vring::map(m, VringLayout::contiguous(kBase, 1)));
    CHECK(Vring::map(m, VringLayout::contiguous(kBase, 32768)));
    VringLayout l = VringLayout::contiguous(kBase, 8);
    l.desc += 8;
    CHECK_FALSE(Vring::map(m, l, &why));
    l = VringLayout::contiguous(kBase, 8);
    l.used += 2;
    CHECK_FALSE(Vring::map(m, l, &why));
    CHECK_FALSE(Vring::map(m, VringLayout::contiguous(kBase + mem.size() - 64, 8), &why));
    CHECK(why == "virtqueue area outside guest memory");
}

TEST_CASE("virtio 2.7.13/2.7.8: a chain of readable then writable buffers goes driver -> device -> driver") {
    Queue t(8);
    // Two readable buffers with data, one writable buffer for the reply.
    std::memcpy(t.host(t.buf(0).addr), "head", 4);
    std::memcpy(t.host(t.buf(1).addr), "body", 4);
    const GuestBuffer readable[] = {t.buf(0, 4), t.buf(1, 4)};
    const GuestBuffer writable[] = {t.buf(2, 100)};
    auto head = t.driver().add(readable, writable, 77);
    REQUIRE(head);
    CHECK(t.driver().num_free() == 5);
    CHECK(t.driver().in_flight() == 1);
    CHECK(t.device().has_available());

    REQUIRE(t.device().pop(t.chain) == PopResult::kChain);
    CHECK(t.chain.head == *head);
    REQUIRE(t.chain.readable.size() == 2);
    REQUIRE(t.chain.writable.size() == 1);
    CHECK(std::memcmp(t.chain.readable[0].data(), "head", 4) == 0);
    CHECK(std::memcmp(t.chain.readable[1].data(), "body", 4) == 0);
    CHECK(t.chain.readable_len == 8);
    CHECK(t.chain.writable_len == 100);
    CHECK(t.chain.writable[0].data() == t.host(t.buf(2).addr));
    std::memcpy(t.chain.writable[0].data(), "reply", 5);
    CHECK_FALSE(t.driver().has_used());
    t.device().push(t.chain.head, 5);

    CHECK(t.driver().has_used());
    auto used = t.driver().get_used();
    REQUIRE(used);
    CHECK(used->head == *head);
    CHECK(used->len == 5);
    CHECK(used->token == 77);
    CHECK(std::memcmp(t.host(t.buf(2).addr), "reply", 5) == 0);
    CHECK(t.driver().num_free() == 8);
    CHECK(t.driver().in_flight() == 0);
    CHECK_FALSE(t.driver().get_used());
    CHECK(t.device().pop(t.chain) == PopResult::kEmpty);
}

TEST_CASE("virtio 2.7: a chain as long as the queue is accepted; chains complete out of order") {
    Queue t(4);
    const GuestBuffer four[] = {t.buf(0), t.buf(1), t.buf(2), t.buf(3)};
    REQUIRE(t.driver().add(four, {}, 1));
    REQUIRE(t.device().pop(t.chain) == PopResult::kChain);
    CHECK(t.chain.readable.size() == 4);
    t.device().push(t.chain.head, 0);
    REQUIRE(t.driver().get_used());

    // Three chains, completed in reverse: the free list must stay coherent.
    const std::uint16_t h0 = t.add_one(0), h1 = t.add_one(1), h2 = t.add_one(2);
    std::vector<std::uint16_t> heads;
    for (int i = 0; i < 3; ++i) {
        REQUIRE(t.device().pop(t.chain) == PopResult::kChain);
        heads.push_back(t.chain.head);
    }
    CHECK(heads == std::vector<std::uint16_t>{h0, h1, h2});
    for (auto it = heads.rbegin(); it != heads.rend(); ++it) t.device().push(*it, 0);
    CHECK(t.driver().get_used()->token == 2);
    CHECK(t.driver().get_used()->token == 1);
    CHECK(t.driver().get_used()->token == 0);
    CHECK(t.driver().num_free() == 4);
    REQUIRE(t.driver().add(four, {}, 9));  // every descriptor reusable again
}

TEST_CASE("virtio 2.7: free-running indices wrap from 65535 to 0 without losing or repeating a chain") {
    VirtqueueOptions options;
    options.start_idx = 65530;
    Queue t(8, options);
    CHECK(t.ring().avail_idx() == 65530);
    CHECK(t.ring().used_idx() == 65530);
    std::uint32_t next_token = 0, expect_token = 0;
    // Keep up to 5 chains in flight while the indices cross 65535 -> 0.
    for (int round = 0; round < 40; ++round) {
        while (t.driver().in_flight() < 5) t.add_one(next_token++ % 16);
        for (int k = 0; k < 3; ++k) {
            REQUIRE(t.device().pop(t.chain) == PopResult::kChain);
            CHECK(t.chain.readable[0].data() == t.host(t.buf(expect_token % 16).addr));
            t.device().push(t.chain.head, 0);
            auto used = t.driver().get_used();
            REQUIRE(used);
            CHECK(used->token == expect_token % 16);
            ++expect_token;
        }
    }
    const auto expect_avail = static_cast<std::uint16_t>(65530 + next_token);
    const auto expect_used = static_cast<std::uint16_t>(65530 + expect_token);
    CHECK(expect_used < 200);  // really wrapped
    CHECK(t.driver().avail_idx() == expect_avail);
    CHECK(t.ring().avail_idx() == expect_avail);
    CHECK(t.device().last_avail_idx() == expect_used);
    CHECK(t.ring().used_idx() == expect_used);
    CHECK(t.driver().last_used_idx() == expect_used);
    CHECK(t.device().stats().rejected == 0);
    CHECK(t.driver().stats().bad_used_id == 0);
}

TEST_CASE("virtio 2.7: exhaustion: add fails cleanly when descriptors run out and recovers after reaping") {
    Queue t(4);
    for (std::uint32_t i = 0; i < 4; ++i) t.add_one(i);
    CHECK(t.driver().num_free() == 0);
    const GuestBuffer b = t.buf(5);
    CHECK_FALSE(t.driver().add(std::span(&b, 1), {}, 5));
    const std::uint16_t avail_before = t.ring().avail_idx();

    REQUIRE(t.device().pop(t.chain) == PopResult::kChain);
    t.device().push(t.chain.head, 0);
    REQUIRE(t.driver().get_used());
    CHECK(t.driver().num_free() == 1);
    const GuestBuffer two[] = {t.buf(5), t.buf(6)};
    CHECK_FALSE(t.driver().add(two, {}, 6));  // needs two, one free: nothing changes
    CHECK(t.driver().num_free() == 1);
    CHECK(t.ring().avail_idx() == avail_before);
    CHECK_FALSE(t.driver().add({}, {}, 7));  // an empty chain is refused
    CHECK(t.driver().add(std::span(&b, 1), {}, 5));
    CHECK(t.driver().num_free() == 0);

    // Drain everything: all four come back, the last one added included.
    std::vector<std::uint64_t> tokens;
    while (t.device().pop(t.chain) == PopResult::kChain) t.device().push(t.chain.head, 0);
    while (auto u = t.driver().get_used()) tokens.push_back(u->token);
    CHECK(tokens == std::vector<std::uint64_t>{1, 2, 3, 5});
    CHECK(t.driver().num_free() == 4);
}

TEST_CASE("virtio 2.7.5: hostile next index out of range is rejected and the chain returned") {
    Queue t(8);
    const std::uint16_t head = t.add_one(0);
    VringDesc d = t.ring().read_desc(head);
    d.flags |= VRING_DESC_F_NEXT;
    d.next = 8;
    t.ring().write_desc(head, d);
    t.expect_rejected(ChainError::kNextOutOfRange, head);
}

TEST_CASE("virtio 2.7.5: hostile descriptor loop (and self-loop) is rejected as too long") {
    SUBCASE("two descriptors pointing at each other") {
        Queue t(8);
        const GuestBuffer two[] = {t.buf(0), t.buf(1)};
        auto head = t.driver().add(two, {}, 0);
        REQUIRE(head);
        VringDesc second = t.ring().read_desc(t.ring().read_desc(*head).next);
        second.flags |= VRING_DESC_F_NEXT;
        second.next = *head;
        t.ring().write_desc(t.ring().read_desc(*head).next, second);
        t.expect_rejected(ChainError::kChainTooLong, *head);
    }
    SUBCASE("a descriptor pointing at itself") {
        Queue t(8);
        const std::uint16_t head = t.add_one(0);
        VringDesc d = t.ring().read_desc(head);
        d.flags |= VRING_DESC_F_NEXT;
        d.next = head;
        t.ring().write_desc(head, d);
        t.expect_rejected(ChainError::kChainTooLong, head);
    }
}

TEST_CASE("virtio 2.7.5: hostile buffers outside guest memory are rejected, including addr + len wrapping") {
    Queue t(8);
    const std::uint16_t head = t.add_one(0);
    VringDesc d = t.ring().read_desc(head);
    SUBCASE("below the region") { d.addr = kBase - 16; }
    SUBCASE("starts inside, ends past the end") { d.addr = kBase + t.backing.size() - 8; }
    SUBCASE("address far away") { d.addr = 0xdead0000beef; }
    SUBCASE("len overflow: addr + len wraps past 2^64 back into the region") {
        // A naive "addr >= base && addr + len <= end" would accept this:
        // addr + len wraps to kBase + 16, inside the region.
        d.addr = std::numeric_limits<GuestAddr>::max() - 0xff;
        d.len = static_cast<std::uint32_t>(0x100 + kBase + 16);
    }
    t.ring().write_desc(head, d);
    t.expect_rejected(ChainError::kOutsideMemory, head);
}

TEST_CASE("virtio 2.7.4.2: a readable descriptor after a writable one is rejected") {
    Queue t(8);
    const GuestBuffer r = t.buf(0), w = t.buf(1);
    auto head = t.driver().add(std::span(&r, 1), std::span(&w, 1), 0);
    REQUIRE(head);
    // Swap the directions: writable first, then readable.
    VringDesc first = t.ring().read_desc(*head);
    VringDesc second = t.ring().read_desc(first.next);
    first.flags |= VRING_DESC_F_WRITE;
    second.flags = static_cast<std::uint16_t>(second.flags & ~VRING_DESC_F_WRITE);
    t.ring().write_desc(*head, first);
    t.ring().write_desc(first.next, second);
    t.expect_rejected(ChainError::kReadableAfterWritable, *head);
}

TEST_CASE("virtio 2.7.5.3: INDIRECT and undefined descriptor flags are rejected") {
    Queue t(8);
    const std::uint16_t head = t.add_one(0);
    VringDesc d = t.ring().read_desc(head);
    ChainError expect{};
    SUBCASE("INDIRECT (not negotiated)") {
        d.flags = VRING_DESC_F_INDIRECT;
        expect = ChainError::kIndirect;
    }
    SUBCASE("undefined flag bit") {
        d.flags = 0x8;
        expect = ChainError::kUnknownFlags;
    }
    t.ring().write_desc(head, d);
    t.expect_rejected(expect, head);
}

TEST_CASE("virtio 2.7: a chain longer than max_chain_bytes is rejected") {
    VirtqueueOptions options;
    options.max_chain_bytes = 300;
    Queue t(8, options);
    const GuestBuffer ok[] = {t.buf(0, 150), t.buf(1, 150)};
    REQUIRE(t.driver().add(ok, {}, 0));
    REQUIRE(t.device().pop(t.chain) == PopResult::kChain);
    t.device().push(t.chain.head, 0);
    REQUIRE(t.driver().get_used());
    const GuestBuffer big[] = {t.buf(0, 150), t.buf(1, 151)};
    auto head = t.driver().add(big, {}, 0);
    REQUIRE(head);
    t.expect_rejected(ChainError::kTooManyBytes, *head);
}

TEST_CASE("virtio 2.7: hostile head index is rejected, returned as-is, and the driver counts the bogus id") {
    Queue t(8);
    const std::uint16_t head = t.add_one(0);
    t.ring().set_avail_ring(static_cast<std::uint16_t>(t.ring().avail_idx() - 1), 1000);
    CHECK(t.device().pop(t.chain) == PopResult::kRejected);
    CHECK(t.chain.error == ChainError::kHeadOutOfRange);
    CHECK(t.ring().used_ring(static_cast<std::uint16_t>(t.ring().used_idx() - 1)) == VringUsedElem{1000, 0});
    CHECK_FALSE(t.driver().get_used());
    CHECK(t.driver().stats().bad_used_id == 1);
    CHECK(t.driver().in_flight() == 1);  // the overwritten chain is lost to the driver that lost it
    (void)head;
}

TEST_CASE("virtio 2.7: an available index moved past the queue size stops the device") {
    Queue t(8);
    t.add_one(0);
    t.ring().set_avail_idx(static_cast<std::uint16_t>(t.device().last_avail_idx() + 9));
    CHECK(t.device().pop(t.chain) == PopResult::kBroken);
    CHECK(t.device().broken());
    CHECK(t.device().stats().avail_idx_jump == 1);
    CHECK(t.device().pop(t.chain) == PopResult::kBroken);
    CHECK_FALSE(t.device().has_available());
}

TEST_CASE("virtio 2.7.8: the driver rejects used entries for heads it did not add and oversized lengths") {
    Queue t(8);
    const GuestBuffer w = t.buf(0, 100);
    auto head = t.driver().add({}, std::span(&w, 1), 42);
    REQUIRE(head);
    t.device().push(static_cast<std::uint16_t>((*head + 1) % 8), 10);  // not an outstanding head
    t.device().push(999, 10);                                           // out of range
    t.device().push(*head, 101);                                        // more than the chain can hold
    auto used = t.driver().get_used();
    REQUIRE(used);
    CHECK(used->token == 42);
    CHECK(used->len == 0);
    CHECK(t.driver().stats().bad_used_id == 2);
    CHECK(t.driver().stats().bad_used_len == 1);
    CHECK(t.driver().num_free() == 8);
    t.device().push(*head, 5);  // a second completion of the same head
    CHECK_FALSE(t.driver().get_used());
    CHECK(t.driver().stats().bad_used_id == 3);
}

TEST_CASE("virtio 2.7: a used index moved past the queue size stops the driver") {
    Queue t(8);
    t.add_one(0);
    t.ring().set_used_idx(static_cast<std::uint16_t>(t.driver().last_used_idx() + 9));
    CHECK_FALSE(t.driver().get_used());
    CHECK(t.driver().broken());
    CHECK(t.driver().stats().used_idx_jump == 1);
}

TEST_CASE("virtio 2.7: unpop returns the chain so the next pop sees it again") {
    Queue t(8);
    const std::uint16_t head = t.add_one(3);
    REQUIRE(t.device().pop(t.chain) == PopResult::kChain);
    t.device().unpop();
    CHECK(t.device().has_available());
    REQUIRE(t.device().pop(t.chain) == PopResult::kChain);
    CHECK(t.chain.head == head);
    CHECK(t.device().stats().popped == 1);
}

TEST_CASE("virtio 2.7.10: need_event() is true exactly when the event index was crossed (mod 2^16)") {
    CHECK(need_event(0, 1, 0));        // the first new entry is the event
    CHECK_FALSE(need_event(1, 1, 0));  // event is the next one, not yet reached
    CHECK(need_event(1, 2, 0));
    CHECK(need_event(4, 5, 0));
    CHECK_FALSE(need_event(5, 5, 0));
    CHECK_FALSE(need_event(0, 5, 5));  // nothing new
    CHECK_FALSE(need_event(3, 5, 4));  // crossed earlier, already notified
    // Across the wrap.
    CHECK(need_event(65535, 1, 65534));
    CHECK(need_event(0, 1, 65535));
    CHECK(need_event(65535, 0, 65535));
    CHECK_FALSE(need_event(1, 1, 65535));
    CHECK_FALSE(need_event(65533, 1, 65535));
}

TEST_CASE("virtio 2.7: ring layout and flags match <linux/virtio_ring.h>; need_event() agrees with vring_need_event()") {
    CHECK(VringDesc::kSize == linux_ref_vring_desc_size);
    CHECK(VringUsedElem::kSize == linux_ref_vring_used_elem_size);
    CHECK(VRING_DESC_F_NEXT == linux_ref_desc_next);
    CHECK(VRING_DESC_F_WRITE == linux_ref_desc_write);
    CHECK(VRING_DESC_F_INDIRECT == linux_ref_desc_indirect);
    CHECK(VRING_AVAIL_F_NO_INTERRUPT == linux_ref_avail_no_interrupt);
    CHECK(VRING_USED_F_NO_NOTIFY == linux_ref_used_no_notify);
    for (std::uint32_t size : {1u, 2u, 256u, 32768u}) {
        // The legacy layout with used-ring alignment 4 is exactly our contiguous() layout.
        CHECK(VringLayout::contiguous_bytes(size) == linux_ref_vring_size(size));
    }
    for (std::uint32_t e : {0u, 1u, 7u, 65530u, 65535u}) {
        for (std::uint32_t n : {0u, 1u, 2u, 8u, 65534u, 65535u}) {
            for (std::uint32_t d : {0u, 1u, 2u, 5u, 300u}) {
                const auto ev = static_cast<std::uint16_t>(e), nw = static_cast<std::uint16_t>(n);
                const auto old = static_cast<std::uint16_t>(n - d);
                CHECK(need_event(ev, nw, old) == linux_ref_vring_need_event(ev, nw, old));
            }
        }
    }
}

TEST_CASE("virtio 2.7.10: with EVENT_IDX the driver kicks only when the device's avail_event is crossed") {
    VirtqueueOptions options;
    options.event_idx = true;
    options.start_idx = 65534;
    Queue t(8, options);
    t.device().enable_notifications();  // avail_event = 65534
    t.add_one(0);
    t.add_one(1);
    CHECK(t.driver().kick_prepare());   // 65534 -> 0 crossed 65534
    t.add_one(2);
    CHECK_FALSE(t.driver().kick_prepare());  // device has not re-armed
    CHECK_FALSE(t.driver().kick_prepare());  // nothing added
    REQUIRE(t.device().pop(t.chain) == PopResult::kChain);  // pop re-arms at last_avail_idx
    t.device().push(t.chain.head, 0);
    while (t.device().pop(t.chain) == PopResult::kChain) t.device().push(t.chain.head, 0);
    t.add_one(3);
    CHECK(t.driver().kick_prepare());

    // Device -> driver: used_event set by the driver as it reaps.
    t.driver().enable_interrupts();
    CHECK(t.device().notify_prepare());   // used moved past used_event
    CHECK_FALSE(t.device().notify_prepare());
    while (t.driver().get_used()) {}
    REQUIRE(t.device().pop(t.chain) == PopResult::kChain);
    t.device().push(t.chain.head, 0);
    CHECK(t.device().notify_prepare());
}

TEST_CASE("virtio 2.7.7/2.7.10: without EVENT_IDX the NO_NOTIFY and NO_INTERRUPT flags suppress notifications") {
    Queue t(8);
    t.add_one(0);
    CHECK(t.driver().kick_prepare());
    t.device().disable_notifications();
    t.add_one(1);
    CHECK_FALSE(t.driver().kick_prepare());
    t.device().enable_notifications();
    t.add_one(2);
    CHECK(t.driver().kick_prepare());

    REQUIRE(t.device().pop(t.chain) == PopResult::kChain);
    t.device().push(t.chain.head, 0);
    CHECK(t.device().notify_prepare());
    t.driver().disable_interrupts();
    REQUIRE(t.device().pop(t.chain) == PopResult::kChain);
    t.device().push(t.chain.head, 0);
    CHECK_FALSE(t.device().notify_prepare());
}
