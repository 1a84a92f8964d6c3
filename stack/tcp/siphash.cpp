#include "stack/tcp/siphash.hpp"

#include <array>

#include "stack/wire/byte_order.hpp"

namespace tapstack::tcp {

namespace {

constexpr std::uint64_t rotl(std::uint64_t x, int b) { return (x << b) | (x >> (64 - b)); }

struct State {
    std::uint64_t v0, v1, v2, v3;
    void round() {
        v0 += v1;
        v1 = rotl(v1, 13);
        v1 ^= v0;
        v0 = rotl(v0, 32);
        v2 += v3;
        v3 = rotl(v3, 16);
        v3 ^= v2;
        v0 += v3;
        v3 = rotl(v3, 21);
        v3 ^= v0;
        v2 += v1;
        v1 = rotl(v1, 17);
        v1 ^= v2;
        v2 = rotl(v2, 32);
    }
    void compress(std::uint64_t m) {
        v3 ^= m;
        round();
        round();
        v0 ^= m;
    }
};

}  // namespace

std::uint64_t siphash24(const SipKey& key, std::span<const std::uint8_t> data) {
    State s{key.k0 ^ 0x736f6d6570736575ull, key.k1 ^ 0x646f72616e646f6dull, key.k0 ^ 0x6c7967656e657261ull,
            key.k1 ^ 0x7465646279746573ull};
    const std::size_t n = data.size();
    std::size_t i = 0;
    for (; i + 8 <= n; i += 8) s.compress(wire::load_le64(data.data() + i));
    std::uint64_t last = std::uint64_t{n & 0xff} << 56;
    for (std::size_t j = 0; i + j < n; ++j) last |= std::uint64_t{data[i + j]} << (8 * j);
    s.compress(last);
    s.v2 ^= 0xff;
    s.round();
    s.round();
    s.round();
    s.round();
    return s.v0 ^ s.v1 ^ s.v2 ^ s.v3;
}

SipKey derive_key(const Secret& secret, KeyUse use) {
    const SipKey master{secret.k0, secret.k1};
    std::array<std::uint8_t, 2> label{static_cast<std::uint8_t>(use), 0};
    const std::uint64_t k0 = siphash24(master, label);
    label[1] = 1;
    return SipKey{k0, siphash24(master, label)};
}

}  // namespace tapstack::tcp
