#include "stack/wire/offload.hpp"

#include "stack/wire/byte_order.hpp"
#include "stack/wire/checksum.hpp"

namespace tapstack::wire {

TxOffload TxOffload::prepended(std::size_t header_len) const {
    if (none()) return *this;
    TxOffload o = *this;
    const auto n = static_cast<std::uint16_t>(header_len);
    if (gso != GsoType::kNone) o.hdr_len = static_cast<std::uint16_t>(hdr_len + n);
    if (partial_csum) o.csum_start = static_cast<std::uint16_t>(csum_start + n);
    return o;
}

void complete_partial_checksum(std::span<std::uint8_t> buffer, const TxOffload& offload) {
    if (!offload.partial_csum) return;
    const std::size_t field = std::size_t{offload.csum_start} + offload.csum_offset;
    if (offload.csum_start > buffer.size() || field + 2 > buffer.size()) return;
    ChecksumAccumulator acc;
    acc.add(buffer.subspan(offload.csum_start));
    std::uint16_t sum = acc.checksum();
    if (sum == 0) sum = 0xffff;
    store_be16(buffer.data() + field, sum);
}

}  // namespace tapstack::wire
