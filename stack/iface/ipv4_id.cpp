// Ipv4IdGenerator (see ipv4_id.hpp).
#include "stack/iface/ipv4_id.hpp"

#include "stack/wire/byte_order.hpp"

namespace tapstack::iface {

Ipv4IdGenerator::Ipv4IdGenerator(const tcp::Secret& secret) : key_(tcp::derive_key(secret, tcp::KeyUse::kIpv4Id)) {}

std::uint16_t Ipv4IdGenerator::next(wire::Ipv4Address src, wire::Ipv4Address dst, std::uint8_t protocol,
                                    std::uint16_t count) {
    std::array<std::uint8_t, 9> b{};
    wire::store_be32(b.data(), src.value);
    wire::store_be32(b.data() + 4, dst.value);
    b[8] = protocol;
    // One hash gives both the bucket (low bits) and the offset (high bits).
    const std::uint64_t h = tcp::siphash24(key_, b);
    std::uint16_t& counter = counters_[h % kBuckets];
    const auto id = static_cast<std::uint16_t>((h >> 48) + counter);
    counter = static_cast<std::uint16_t>(counter + count);
    return id;
}

}  // namespace tapstack::iface
