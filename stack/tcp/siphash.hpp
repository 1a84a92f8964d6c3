// SipHash-2-4 (Aumasson & Bernstein): a keyed 64-bit hash.
//
// Used for RFC 6528 initial sequence numbers and the RFC 6056 ephemeral port
// offset: both need a function of the 4-tuple an off-path attacker cannot
// predict without the key. Not used for hash tables.
#pragma once

#include <cstdint>
#include <span>

namespace tapstack::tcp {

struct SipKey {
    std::uint64_t k0 = 0;
    std::uint64_t k1 = 0;
};

std::uint64_t siphash24(const SipKey& key, std::span<const std::uint8_t> data);

}  // namespace tapstack::tcp
