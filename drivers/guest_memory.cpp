#include "drivers/guest_memory.hpp"

#include <limits>

namespace tapstack::drivers {
namespace {

constexpr GuestAddr kMaxAddr = std::numeric_limits<GuestAddr>::max();

// Last address of a non-empty range, which must not wrap.
GuestAddr last_addr(GuestAddr start, std::uint64_t size) { return start + (size - 1); }

}  // namespace

bool GuestMemory::add_region(GuestAddr guest_addr, std::span<std::uint8_t> host, std::string* error) {
    auto fail = [error](const char* why) {
        if (error != nullptr) *error = why;
        return false;
    };
    if (host.empty()) return fail("guest memory region is empty");
    if (host.size() - 1 > kMaxAddr - guest_addr) return fail("guest memory region wraps past 2^64");
    if (count_ == kMaxRegions) return fail("too many guest memory regions");
    const GuestAddr last = last_addr(guest_addr, host.size());
    for (std::size_t i = 0; i < count_; ++i) {
        const Region& r = regions_[i];
        if (guest_addr <= last_addr(r.guest_addr, r.host.size()) && r.guest_addr <= last) {
            return fail("guest memory regions overlap");
        }
    }
    regions_[count_++] = Region{guest_addr, host};
    return true;
}

std::optional<std::span<std::uint8_t>> GuestMemory::translate(GuestAddr addr, std::uint64_t len) const {
    for (std::size_t i = 0; i < count_; ++i) {
        const Region& r = regions_[i];
        if (addr < r.guest_addr) continue;
        const std::uint64_t offset = addr - r.guest_addr;
        const std::uint64_t size = r.host.size();
        // offset <= size and len <= size - offset: no addition can wrap.
        if (offset > size || len > size - offset) continue;
        return r.host.subspan(static_cast<std::size_t>(offset), static_cast<std::size_t>(len));
    }
    return std::nullopt;
}

}  // namespace tapstack::drivers
