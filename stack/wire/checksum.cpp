#include "stack/wire/checksum.hpp"

namespace tapstack::wire {

void ChecksumAccumulator::add(std::span<const std::uint8_t> bytes) {
    std::size_t i = 0;
    const std::size_t n = bytes.size();
    if (n == 0) return;
    if (odd_) {
        sum_ += bytes[0];  // low half of the word whose high half came before
        odd_ = false;
        i = 1;
    }
    // Sum 16-bit words; a 64-bit accumulator cannot overflow for any frame
    // size we will ever see (2^48 words), so folding happens once at the end.
    for (; i + 1 < n; i += 2) sum_ += (std::uint32_t{bytes[i]} << 8) | bytes[i + 1];
    if (i < n) {
        sum_ += std::uint32_t{bytes[i]} << 8;
        odd_ = true;
    }
}

void ChecksumAccumulator::add_u16(std::uint16_t w) {
    const std::uint8_t b[2] = {static_cast<std::uint8_t>(w >> 8), static_cast<std::uint8_t>(w)};
    add(b);
}

void ChecksumAccumulator::add_u32(std::uint32_t w) {
    add_u16(static_cast<std::uint16_t>(w >> 16));
    add_u16(static_cast<std::uint16_t>(w));
}

std::uint16_t ChecksumAccumulator::folded_sum() const {
    std::uint64_t s = sum_;
    while (s >> 16) s = (s & 0xffff) + (s >> 16);
    return static_cast<std::uint16_t>(s);
}

std::uint16_t internet_checksum(std::span<const std::uint8_t> bytes) {
    ChecksumAccumulator acc;
    acc.add(bytes);
    return acc.checksum();
}

void add_ipv4_pseudo_header(ChecksumAccumulator& acc, Ipv4Address src, Ipv4Address dst, std::uint8_t protocol,
                            std::uint16_t transport_length) {
    acc.add_u32(src.value);
    acc.add_u32(dst.value);
    acc.add_u16(protocol);
    acc.add_u16(transport_length);
}

void add_ipv6_pseudo_header(ChecksumAccumulator& acc, const Ipv6Address& src, const Ipv6Address& dst,
                            std::uint8_t next_header, std::uint32_t upper_layer_length) {
    acc.add(src.bytes);
    acc.add(dst.bytes);
    acc.add_u32(upper_layer_length);
    acc.add_u32(next_header);  // three zero bytes, then the next header value
}

void add_pseudo_header(ChecksumAccumulator& acc, const IpAddress& src, const IpAddress& dst, std::uint8_t protocol,
                       std::uint32_t transport_length) {
    if (src.is_ipv6()) {
        add_ipv6_pseudo_header(acc, src.ipv6(), dst.ipv6(), protocol, transport_length);
    } else {
        add_ipv4_pseudo_header(acc, src.ipv4(), dst.ipv4(), protocol, static_cast<std::uint16_t>(transport_length));
    }
}

}  // namespace tapstack::wire
