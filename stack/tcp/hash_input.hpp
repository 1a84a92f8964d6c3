// HashInput: the bytes a keyed hash (siphash.hpp) reads for a connection's
// addresses and ports, for either family.
//
// An IPv4 address is written as its 4 bytes and an IPv6 address as its 16
// (wire order), so the IPv4 inputs are exactly the 12-byte tuples used
// before IPv6 existed (golden values in the unit tests stay valid), and
// an IPv4 and an IPv6 tuple never give the same input: their lengths differ
// and SipHash includes the length.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>

#include "stack/wire/addresses.hpp"
#include "stack/wire/byte_order.hpp"

namespace tapstack::tcp {

class HashInput {
public:
    HashInput& address(const wire::IpAddress& a) {
        if (a.is_ipv6()) {
            const auto b = a.ipv6().bytes;
            for (std::uint8_t x : b) bytes_[len_++] = x;
        } else {
            wire::store_be32(bytes_.data() + len_, a.ipv4().value);
            len_ += 4;
        }
        return *this;
    }
    HashInput& endpoint(const wire::IpEndpoint& e) { return address(e.address).u16(e.port); }
    HashInput& u16(std::uint16_t v) {
        wire::store_be16(bytes_.data() + len_, v);
        len_ += 2;
        return *this;
    }
    HashInput& u32(std::uint32_t v) {
        wire::store_be32(bytes_.data() + len_, v);
        len_ += 4;
        return *this;
    }
    HashInput& u8(std::uint8_t v) {
        bytes_[len_++] = v;
        return *this;
    }
    std::span<const std::uint8_t> bytes() const { return std::span<const std::uint8_t>(bytes_).first(len_); }

private:
    // Two endpoints of 18 bytes and a few words: the largest input used.
    std::array<std::uint8_t, 64> bytes_{};
    std::size_t len_ = 0;
};

}  // namespace tapstack::tcp
