// A split virtqueue (virtio 1.x 2.7) with its two roles over the same rings.
//
// VirtqueueDriver is what a guest's virtio driver does (2.7.13, 2.7.14):
// it owns the free list of descriptors, adds chains of device-readable then
// device-writable buffers, publishes their heads on the available ring,
// decides whether the device needs a kick, and reaps used entries,
// recycling their descriptors. Its bookkeeping (free list, chain lengths,
// tokens) is a host-side shadow, like Linux's desc_extra: nothing the device
// writes into guest memory can corrupt it, and every used entry is checked
// against it (id is an outstanding head, len <= the chain's writable bytes).
//
// VirtqueueDevice is what a virtio device or vhost backend does (2.7.7,
// 2.7.8): pop the next available chain, validating all of it before use,
// then push it to the used ring. The device trusts nothing the driver put in
// guest memory: head and every `next` are checked < size, the chain may not
// be longer than the queue (this also catches loops), INDIRECT is rejected
// (VIRTIO_F_INDIRECT_DESC is not offered), every buffer must lie entirely in
// GuestMemory, readable buffers must precede writable ones, and the total is
// bounded. Every descriptor is read from guest memory exactly once, so the
// driver cannot change a checked value behind the device's back. A bad
// chain is counted by reason and returned on the used ring with len 0, so
// the driver gets its descriptors back and nothing hangs. An available index
// that moves by more than the queue size means the driver is broken; the
// device then stops (NEEDS_RESET in spec terms) rather than guess.
//
// Indices are free-running u16 (avail idx, used idx, last_avail_idx,
// last_used_idx) and wrap at 65535; ring slots are idx % size.
//
// Virtqueue bundles one Vring with both roles, as TapPort uses it.
// Non-goals: packed virtqueues, indirect descriptors, multi-threaded use.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "drivers/guest_memory.hpp"
#include "drivers/vring.hpp"

namespace tapstack::drivers {

struct VirtqueueOptions {
    bool event_idx = false;  // VIRTIO_F_EVENT_IDX negotiated
    // Initial value of every index (avail idx, used idx, last_avail_idx,
    // last_used_idx). 0 after a reset; vhost-user's SET_VRING_BASE resumes
    // a queue at another value. Tests use it to cross the 65535 wrap.
    std::uint16_t start_idx = 0;
    // Device side: the largest total length (readable + writable) of a chain.
    std::uint32_t max_chain_bytes = std::numeric_limits<std::uint32_t>::max();
};

// One buffer in guest memory, as the driver adds it.
struct GuestBuffer {
    GuestAddr addr = 0;
    std::uint32_t len = 0;
};

// ---------------------------------------------------------------- driver side

class VirtqueueDriver {
public:
    struct Used {
        std::uint16_t head = 0;
        std::uint32_t len = 0;      // bytes written by the device, <= the chain's writable total
        std::uint64_t token = 0;    // what add() was given for this chain
    };
    struct Stats {
        std::uint64_t bad_used_id = 0;   // used id out of range or not an outstanding head
        std::uint64_t bad_used_len = 0;  // used len > writable bytes (returned with len 0)
        std::uint64_t used_idx_jump = 0; // used idx moved by more than size: device broken
    };

    // Initialises the driver's half of the rings: the free list over all
    // descriptors, avail flags 0, avail idx and used_event = start_idx.
    VirtqueueDriver(Vring ring, const VirtqueueOptions& options);

    // Adds one chain (readable buffers first, then writable ones) and
    // publishes its head on the available ring. nullopt when the chain is
    // empty or needs more descriptors than are free; nothing is changed then.
    std::optional<std::uint16_t> add(std::span<const GuestBuffer> readable, std::span<const GuestBuffer> writable,
                                     std::uint64_t token);

    // After one or more add(): true when the device asked to be notified
    // (2.7.13.4: avail_event crossed with EVENT_IDX, else !VRING_USED_F_NO_NOTIFY).
    bool kick_prepare();

    // Reaps the next used entry and recycles its descriptors; nullopt when
    // none is pending. Invalid entries are counted in stats() and skipped.
    std::optional<Used> get_used();
    bool has_used() const;

    // Ask for (or suppress) used-buffer notifications (2.7.7).
    void enable_interrupts();
    void disable_interrupts();

    std::uint16_t size() const { return ring_.size(); }
    std::uint16_t num_free() const { return num_free_; }
    std::uint16_t in_flight() const { return in_flight_; }  // chains added and not yet reaped
    std::uint16_t avail_idx() const { return avail_idx_; }
    std::uint16_t last_used_idx() const { return last_used_idx_; }
    bool broken() const { return broken_; }
    const Stats& stats() const { return stats_; }

private:
    struct HeadState {
        std::uint16_t chain_len = 0;      // descriptors in the chain, 0 when not outstanding
        std::uint32_t writable_len = 0;
        std::uint64_t token = 0;
    };

    Vring ring_;
    bool event_idx_;
    std::vector<std::uint16_t> next_;  // shadow of desc.next: chain links and free-list links
    std::vector<HeadState> heads_;
    std::uint16_t free_head_ = 0;
    std::uint16_t num_free_ = 0;
    std::uint16_t in_flight_ = 0;
    std::uint16_t avail_idx_;     // our copy of avail->idx
    std::uint16_t last_used_idx_;
    std::uint16_t num_added_ = 0;  // since the last kick_prepare()
    bool broken_ = false;
    Stats stats_;
};

// ---------------------------------------------------------------- device side

enum class ChainError : std::uint8_t {
    kHeadOutOfRange,          // avail ring entry >= size
    kNextOutOfRange,          // a `next` >= size
    kChainTooLong,            // more descriptors than the queue size: a loop
    kIndirect,                // VRING_DESC_F_INDIRECT (not negotiated)
    kUnknownFlags,            // descriptor flag bits the spec does not define
    kOutsideMemory,           // [addr, addr + len) not inside guest memory (or wraps)
    kReadableAfterWritable,   // 2.7.4.2: writable descriptors must come last
    kTooManyBytes,            // total length > max_chain_bytes
};
inline constexpr std::size_t kChainErrorCount = 8;
std::string_view to_string(ChainError error);

// One popped chain, its buffers already translated to host bytes. The
// vectors keep their capacity between pops (reserved for the queue size in
// the constructor), so popping does not allocate.
struct DescChain {
    explicit DescChain(std::uint16_t queue_size);

    std::uint16_t head = 0;
    std::vector<std::span<std::uint8_t>> readable;
    std::vector<std::span<std::uint8_t>> writable;
    std::uint64_t readable_len = 0;
    std::uint64_t writable_len = 0;
    ChainError error = ChainError::kHeadOutOfRange;  // meaningful after PopResult::kRejected

    void clear();
};

enum class PopResult : std::uint8_t {
    kEmpty,     // nothing available
    kChain,     // `chain` holds a valid chain; push() it (or unpop()) when done
    kRejected,  // a malformed chain was counted, returned with len 0; chain.error says why
    kBroken,    // the driver moved avail idx impossibly; the queue is stopped
};

class VirtqueueDevice {
public:
    struct Stats {
        std::uint64_t popped = 0;
        std::uint64_t rejected = 0;
        std::array<std::uint64_t, kChainErrorCount> rejected_by_reason{};
        std::uint64_t avail_idx_jump = 0;
    };

    // Initialises the device's half: used flags 0, used idx and avail_event
    // = start_idx, last_avail_idx = start_idx. `memory` must outlive this.
    VirtqueueDevice(Vring ring, const GuestMemory& memory, const VirtqueueOptions& options);

    PopResult pop(DescChain& chain);
    // Gives back the chain just popped (e.g. the backend hit EAGAIN), so the
    // next pop() returns it again. Only valid directly after kChain.
    void unpop();
    // Returns a chain to the driver: `len` bytes were written to its
    // writable buffers. Published at once.
    void push(std::uint16_t head, std::uint32_t len);
    // After one or more push(): true when the driver asked for a
    // notification (2.7.7.2: used_event crossed, else !VRING_AVAIL_F_NO_INTERRUPT).
    bool notify_prepare();

    // Ask for (or suppress) available-buffer notifications (2.7.10).
    void enable_notifications();
    void disable_notifications();

    bool has_available() const;
    std::uint16_t size() const { return ring_.size(); }
    std::uint16_t last_avail_idx() const { return last_avail_idx_; }
    std::uint16_t used_idx() const { return used_idx_; }
    bool broken() const { return broken_; }
    const Stats& stats() const { return stats_; }

private:
    PopResult reject(DescChain& chain, ChainError error);

    Vring ring_;
    const GuestMemory* memory_;
    bool event_idx_;
    std::uint32_t max_chain_bytes_;
    std::uint16_t last_avail_idx_;
    std::uint16_t used_idx_;            // our copy of used->idx
    std::uint16_t signalled_used_idx_;  // used idx at the last notify_prepare()
    bool broken_ = false;
    Stats stats_;
};

// ---------------------------------------------------------------- both

class Virtqueue {
public:
    // Maps the rings at `layout` inside `memory` and initialises both roles.
    static std::optional<Virtqueue> create(const GuestMemory& memory, const VringLayout& layout,
                                           const VirtqueueOptions& options = {}, std::string* error = nullptr);

    VirtqueueDriver& driver() { return driver_; }
    VirtqueueDevice& device() { return device_; }
    const VirtqueueDriver& driver() const { return driver_; }
    const VirtqueueDevice& device() const { return device_; }
    Vring& ring() { return ring_; }  // raw access, for tests that play a hostile driver

private:
    Virtqueue(Vring ring, const GuestMemory& memory, const VirtqueueOptions& options)
        : ring_(ring), driver_(ring, options), device_(ring, memory, options) {}

    Vring ring_;
    VirtqueueDriver driver_;
    VirtqueueDevice device_;
};

}  // namespace tapstack::drivers
