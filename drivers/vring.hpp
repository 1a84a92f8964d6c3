// The split virtqueue's three areas in guest memory (virtio 1.x 2.7), and
// the VIRTIO_F_EVENT_IDX notification test need_event() (2.7.10).
//
//   descriptor table  16 * size   aligned 16   VringDesc{le64 addr, le32 len, le16 flags, le16 next}
//   available ring    6 + 2*size  aligned 2    le16 flags, le16 idx, le16 ring[size], le16 used_event
//   used ring         6 + 8*size  aligned 4    le16 flags, le16 idx, {le32 id, le32 len}[size], le16 avail_event
//
// Vring is the byte-level accessor over those areas and nothing more: it
// holds no indices and makes no decisions. Vring::map() checks once that
// the size is a power of two <= 32768, the areas are aligned and each lies
// entirely inside GuestMemory; after that the accessors need no per-access
// translation. Ring slots are addressed by the free-running 16-bit index and
// reduced modulo size here (size divides 65536, so the wrap at 65535 is
// seamless). Descriptor indices are the caller's to check (< size).
//
// All fields are little-endian and read or written byte by byte through
// stack/wire/byte_order.hpp. The driver and the device are in one thread
// today; the acquire/release fences at the publish points in virtqueue.cpp
// are where a cross-process backend (vhost-user) needs its barriers.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>

#include "drivers/guest_memory.hpp"

namespace tapstack::drivers {

// Descriptor flags (2.7.5) and ring flags (2.7.6, 2.7.8).
inline constexpr std::uint16_t VRING_DESC_F_NEXT = 1;
inline constexpr std::uint16_t VRING_DESC_F_WRITE = 2;
inline constexpr std::uint16_t VRING_DESC_F_INDIRECT = 4;
inline constexpr std::uint16_t VRING_AVAIL_F_NO_INTERRUPT = 1;
inline constexpr std::uint16_t VRING_USED_F_NO_NOTIFY = 1;

inline constexpr std::uint32_t kMaxQueueSize = 32768;  // 2.7: "Queue Size ... maximum 32768"

struct VringDesc {
    GuestAddr addr = 0;
    std::uint32_t len = 0;
    std::uint16_t flags = 0;
    std::uint16_t next = 0;
    static constexpr std::size_t kSize = 16;
    friend bool operator==(const VringDesc&, const VringDesc&) = default;
};

struct VringUsedElem {
    std::uint32_t id = 0;  // head of the returned descriptor chain
    std::uint32_t len = 0;  // bytes the device wrote into the chain's writable buffers
    static constexpr std::size_t kSize = 8;
    friend bool operator==(const VringUsedElem&, const VringUsedElem&) = default;
};

// 2.7.10 (VIRTIO_F_EVENT_IDX): true when moving an index from old_idx to
// new_idx passed event_idx, i.e. the other side asked to be told at
// event_idx and has not been told since. All arithmetic is mod 2^16.
constexpr bool need_event(std::uint16_t event_idx, std::uint16_t new_idx, std::uint16_t old_idx) {
    return static_cast<std::uint16_t>(new_idx - event_idx - 1) < static_cast<std::uint16_t>(new_idx - old_idx);
}

constexpr bool is_valid_queue_size(std::uint32_t size) {
    return size != 0 && size <= kMaxQueueSize && (size & (size - 1)) == 0;
}

// Where the three areas of one queue live in guest memory.
struct VringLayout {
    std::uint16_t size = 0;
    GuestAddr desc = 0;
    GuestAddr avail = 0;
    GuestAddr used = 0;

    static constexpr std::uint64_t desc_bytes(std::uint32_t size) { return VringDesc::kSize * std::uint64_t{size}; }
    static constexpr std::uint64_t avail_bytes(std::uint32_t size) { return 6 + 2 * std::uint64_t{size}; }
    static constexpr std::uint64_t used_bytes(std::uint32_t size) { return 6 + VringUsedElem::kSize * std::uint64_t{size}; }
    // Bytes needed by contiguous(): the three areas back to back, each aligned.
    static constexpr std::uint64_t contiguous_bytes(std::uint32_t size) {
        return align_up(desc_bytes(size) + avail_bytes(size), 4) + used_bytes(size);
    }
    // The three areas back to back from `base` (which must be 16-aligned).
    static constexpr VringLayout contiguous(GuestAddr base, std::uint16_t size) {
        const GuestAddr avail = base + desc_bytes(size);
        return VringLayout{size, base, avail, align_up(avail + avail_bytes(size), 4)};
    }
    static constexpr std::uint64_t align_up(std::uint64_t v, std::uint64_t a) { return (v + a - 1) & ~(a - 1); }
};

class Vring {
public:
    // Checks size, alignment and that every area lies inside `memory`;
    // nullopt with a reason in *error otherwise. `memory`'s regions must
    // outlive the Vring.
    static std::optional<Vring> map(const GuestMemory& memory, const VringLayout& layout, std::string* error = nullptr);

    std::uint16_t size() const { return size_; }
    std::uint16_t slot(std::uint16_t idx) const { return static_cast<std::uint16_t>(idx & (size_ - 1)); }

    // Descriptor table; i < size() (asserted).
    VringDesc read_desc(std::uint16_t i) const;
    void write_desc(std::uint16_t i, const VringDesc& desc);

    // Available ring (written by the driver).
    std::uint16_t avail_flags() const;
    void set_avail_flags(std::uint16_t flags);
    std::uint16_t avail_idx() const;
    void set_avail_idx(std::uint16_t idx);
    std::uint16_t avail_ring(std::uint16_t idx) const;  // slot idx % size
    void set_avail_ring(std::uint16_t idx, std::uint16_t head);
    std::uint16_t used_event() const;
    void set_used_event(std::uint16_t idx);

    // Used ring (written by the device).
    std::uint16_t used_flags() const;
    void set_used_flags(std::uint16_t flags);
    std::uint16_t used_idx() const;
    void set_used_idx(std::uint16_t idx);
    VringUsedElem used_ring(std::uint16_t idx) const;  // slot idx % size
    void set_used_ring(std::uint16_t idx, const VringUsedElem& elem);
    std::uint16_t avail_event() const;
    void set_avail_event(std::uint16_t idx);

private:
    Vring(std::uint16_t size, std::span<std::uint8_t> desc, std::span<std::uint8_t> avail, std::span<std::uint8_t> used)
        : size_(size), desc_(desc), avail_(avail), used_(used) {}

    std::uint16_t size_;
    std::span<std::uint8_t> desc_;
    std::span<std::uint8_t> avail_;
    std::span<std::uint8_t> used_;
};

}  // namespace tapstack::drivers
