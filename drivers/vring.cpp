#include "drivers/vring.hpp"

#include <cassert>

#include "stack/wire/byte_order.hpp"

namespace tapstack::drivers {

using wire::load_le16;
using wire::load_le32;
using wire::load_le64;
using wire::store_le16;
using wire::store_le32;
using wire::store_le64;

std::optional<Vring> Vring::map(const GuestMemory& memory, const VringLayout& layout, std::string* error) {
    auto fail = [error](const char* why) {
        if (error != nullptr) *error = why;
        return std::nullopt;
    };
    if (!is_valid_queue_size(layout.size)) return fail("queue size is not a power of two in 1..32768");
    // 2.7 "Alignment": descriptor table 16, available ring 2, used ring 4.
    if (layout.desc % 16 != 0 || layout.avail % 2 != 0 || layout.used % 4 != 0) {
        return fail("virtqueue area misaligned (desc 16, avail 2, used 4)");
    }
    auto desc = memory.translate(layout.desc, VringLayout::desc_bytes(layout.size));
    auto avail = memory.translate(layout.avail, VringLayout::avail_bytes(layout.size));
    auto used = memory.translate(layout.used, VringLayout::used_bytes(layout.size));
    if (!desc || !avail || !used) return fail("virtqueue area outside guest memory");
    return Vring(layout.size, *desc, *avail, *used);
}

VringDesc Vring::read_desc(std::uint16_t i) const {
    assert(i < size_);
    const std::uint8_t* p = desc_.data() + std::size_t{i} * VringDesc::kSize;
    return VringDesc{load_le64(p), load_le32(p + 8), load_le16(p + 12), load_le16(p + 14)};
}

void Vring::write_desc(std::uint16_t i, const VringDesc& desc) {
    assert(i < size_);
    std::uint8_t* p = desc_.data() + std::size_t{i} * VringDesc::kSize;
    store_le64(p, desc.addr);
    store_le32(p + 8, desc.len);
    store_le16(p + 12, desc.flags);
    store_le16(p + 14, desc.next);
}

std::uint16_t Vring::avail_flags() const { return load_le16(avail_.data()); }
void Vring::set_avail_flags(std::uint16_t flags) { store_le16(avail_.data(), flags); }
std::uint16_t Vring::avail_idx() const { return load_le16(avail_.data() + 2); }
void Vring::set_avail_idx(std::uint16_t idx) { store_le16(avail_.data() + 2, idx); }
std::uint16_t Vring::avail_ring(std::uint16_t idx) const {
    return load_le16(avail_.data() + 4 + 2 * std::size_t{slot(idx)});
}
void Vring::set_avail_ring(std::uint16_t idx, std::uint16_t head) {
    store_le16(avail_.data() + 4 + 2 * std::size_t{slot(idx)}, head);
}
std::uint16_t Vring::used_event() const { return load_le16(avail_.data() + 4 + 2 * std::size_t{size_}); }
void Vring::set_used_event(std::uint16_t idx) { store_le16(avail_.data() + 4 + 2 * std::size_t{size_}, idx); }

std::uint16_t Vring::used_flags() const { return load_le16(used_.data()); }
void Vring::set_used_flags(std::uint16_t flags) { store_le16(used_.data(), flags); }
std::uint16_t Vring::used_idx() const { return load_le16(used_.data() + 2); }
void Vring::set_used_idx(std::uint16_t idx) { store_le16(used_.data() + 2, idx); }
VringUsedElem Vring::used_ring(std::uint16_t idx) const {
    const std::uint8_t* p = used_.data() + 4 + VringUsedElem::kSize * std::size_t{slot(idx)};
    return VringUsedElem{load_le32(p), load_le32(p + 4)};
}
void Vring::set_used_ring(std::uint16_t idx, const VringUsedElem& elem) {
    std::uint8_t* p = used_.data() + 4 + VringUsedElem::kSize * std::size_t{slot(idx)};
    store_le32(p, elem.id);
    store_le32(p + 4, elem.len);
}
std::uint16_t Vring::avail_event() const {
    return load_le16(used_.data() + 4 + VringUsedElem::kSize * std::size_t{size_});
}
void Vring::set_avail_event(std::uint16_t idx) {
    store_le16(used_.data() + 4 + VringUsedElem::kSize * std::size_t{size_}, idx);
}

}  // namespace tapstack::drivers
