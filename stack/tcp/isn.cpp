#include "stack/tcp/isn.hpp"

#include <array>

#include "stack/wire/byte_order.hpp"

namespace tapstack::tcp {

namespace {

// splitmix64: spreads one 64-bit secret into independent key words.
std::uint64_t splitmix(std::uint64_t& x) {
    std::uint64_t z = (x += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

}  // namespace

IsnGenerator::IsnGenerator(std::uint64_t secret) {
    std::uint64_t s = secret;
    isn_key_ = {splitmix(s), splitmix(s)};
    port_key_ = {splitmix(s), splitmix(s)};
}

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

std::uint32_t IsnGenerator::port_offset(wire::Ipv4Address local, wire::Ipv4Endpoint remote) const {
    std::array<std::uint8_t, 10> b{};
    wire::store_be32(b.data(), local.value);
    wire::store_be32(b.data() + 4, remote.address.value);
    wire::store_be16(b.data() + 8, remote.port);
    return static_cast<std::uint32_t>(siphash24(port_key_, b));
}

}  // namespace tapstack::tcp
