// GuestMemory: the address space that virtqueue rings and buffers live in.
//
// A virtio device never holds pointers from the driver, only guest addresses
// (u64) that it must translate and bounds-check before touching a byte. This
// class is that translation: a handful of regions, each mapping a range of
// guest addresses onto host bytes. translate() succeeds only when the whole
// range [addr, addr + len) lies inside one region, with every addition
// checked for u64 wrap-around, so a hostile descriptor cannot reach outside.
//
// Today TapPort registers one region over its own buffer pool (an in-process
// "guest"); vhost-user will register the regions of a VM's memory table the
// same way, and the device code above does not change.
//
// Ownership: GuestMemory does not own the host bytes; whoever registers a
// region keeps it alive (and unmoved) for as long as the GuestMemory is used.
// Fixed capacity, no heap allocation.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>

namespace tapstack::drivers {

using GuestAddr = std::uint64_t;

class GuestMemory {
public:
    static constexpr std::size_t kMaxRegions = 8;

    struct Region {
        GuestAddr guest_addr = 0;
        std::span<std::uint8_t> host;
    };

    // Maps [guest_addr, guest_addr + host.size()) onto `host`. Fails (with a
    // reason in *error) for an empty region, one whose end wraps past 2^64,
    // one overlapping an existing region, or when all slots are used.
    bool add_region(GuestAddr guest_addr, std::span<std::uint8_t> host, std::string* error = nullptr);

    // The host bytes of [addr, addr + len) when that range lies entirely in
    // one region; nullopt otherwise (including when addr + len wraps).
    std::optional<std::span<std::uint8_t>> translate(GuestAddr addr, std::uint64_t len) const;

    std::size_t region_count() const { return count_; }

private:
    std::array<Region, kMaxRegions> regions_{};
    std::size_t count_ = 0;
};

}  // namespace tapstack::drivers
