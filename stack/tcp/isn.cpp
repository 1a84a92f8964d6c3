// IsnGenerator (see isn.hpp).
#include "stack/tcp/isn.hpp"

#include <array>

#include "stack/wire/byte_order.hpp"

namespace tapstack::tcp {

IsnGenerator::IsnGenerator(const Secret& secret)
    : isn_key_(derive_key(secret, KeyUse::kIsn)),
      ts_key_(derive_key(secret, KeyUse::kTimestampOffset)),
      port_key_(derive_key(secret, KeyUse::kEphemeralPort)) {}

SeqNum IsnGenerator::isn(Instant now, wire::Ipv4Endpoint local, wire::Ipv4Endpoint remote) const {
    std::array<std::uint8_t, 12> b{};
    wire::store_be32(b.data(), local.address.value);
    wire::store_be16(b.data() + 4, local.port);
    wire::store_be32(b.data() + 6, remote.address.value);
    wire::store_be16(b.data() + 10, remote.port);
    const auto f = static_cast<std::uint32_t>(siphash24(isn_key_, b));
    const auto m = static_cast<std::uint32_t>(to_ns(now) / 4000);  // 4 us ticks
    return SeqNum(m + f);
}

std::uint32_t IsnGenerator::ts_offset(wire::Ipv4Address local, wire::Ipv4Address remote) const {
    std::array<std::uint8_t, 8> b{};
    wire::store_be32(b.data(), local.value);
    wire::store_be32(b.data() + 4, remote.value);
    return static_cast<std::uint32_t>(siphash24(ts_key_, b));
}

std::uint32_t IsnGenerator::port_offset(wire::Ipv4Address local, wire::Ipv4Endpoint remote) const {
    std::array<std::uint8_t, 10> b{};
    wire::store_be32(b.data(), local.value);
    wire::store_be32(b.data() + 4, remote.address.value);
    wire::store_be16(b.data() + 8, remote.port);
    return static_cast<std::uint32_t>(siphash24(port_key_, b));
}

}  // namespace tapstack::tcp
