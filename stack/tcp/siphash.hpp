// SipHash-2-4 (Aumasson & Bernstein): a keyed 64-bit hash, and the secret
// that keys it.
//
// Used wherever an off-path attacker must not predict a value without the
// key: RFC 6528 initial sequence numbers, the RFC 7323 timestamp offset,
// the RFC 6056 ephemeral port offset, RFC 7739 IPv4 identifications. Not
// used for hash tables.
//
// Secret: 128 bits drawn once per start (the daemon uses getrandom());
// every use takes its own key from it through derive_key(), so knowing one
// of them (say, from the timestamps a peer sees) says nothing about another.
#pragma once

#include <cstdint>
#include <span>

namespace tapstack::tcp {

struct SipKey {
    std::uint64_t k0 = 0;
    std::uint64_t k1 = 0;
};

std::uint64_t siphash24(const SipKey& key, std::span<const std::uint8_t> data);

struct Secret {
    std::uint64_t k0 = 0;
    std::uint64_t k1 = 0;
    constexpr Secret() = default;
    constexpr Secret(std::uint64_t a, std::uint64_t b) : k0(a), k1(b) {}
    // A fixed seed, for tests and tools (64 bits; the daemon uses all 128).
    constexpr Secret(std::uint64_t seed) : k0(seed) {}  // NOLINT(google-explicit-constructor)
};

// What each keyed value is for; every label gives an independent key.
enum class KeyUse : std::uint8_t { kIsn = 1, kEphemeralPort, kTimestampOffset, kIpv4Id, kIpv4IdOffset, kSynCookie, kIpv6Random };

// SipHash of the label under the full 128-bit secret, twice: a 128-bit key.
SipKey derive_key(const Secret& secret, KeyUse use);

}  // namespace tapstack::tcp
