// Link and network addresses as small value types.
//
// Ipv4Address holds the address in host order (so arithmetic on prefixes is
// plain integer math); it is converted to network order only when stored into
// a frame. MacAddress holds the six bytes in wire order.
#pragma once

#include <array>
#include <compare>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace tapstack::wire {

struct MacAddress {
    std::array<std::uint8_t, 6> bytes{};

    static constexpr MacAddress broadcast() { return {{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}}; }
    constexpr bool is_broadcast() const { return *this == broadcast(); }
    constexpr bool is_multicast() const { return (bytes[0] & 0x01) != 0; }
    constexpr bool is_zero() const { return *this == MacAddress{}; }
    // Accepts "02:00:00:00:00:02" (also '-' separators); nullopt otherwise.
    static std::optional<MacAddress> parse(std::string_view text);
    std::string to_string() const;
    friend constexpr auto operator<=>(const MacAddress&, const MacAddress&) = default;
};

struct Ipv4Address {
    std::uint32_t value = 0;  // host order: 10.0.0.2 == 0x0a000002

    constexpr Ipv4Address() = default;
    constexpr explicit Ipv4Address(std::uint32_t host_order) : value(host_order) {}
    static constexpr Ipv4Address from_octets(std::uint8_t a, std::uint8_t b, std::uint8_t c, std::uint8_t d) {
        return Ipv4Address((std::uint32_t{a} << 24) | (std::uint32_t{b} << 16) | (std::uint32_t{c} << 8) | d);
    }
    static constexpr Ipv4Address any() { return Ipv4Address(0); }
    static constexpr Ipv4Address limited_broadcast() { return Ipv4Address(0xffffffffu); }
    constexpr bool is_unspecified() const { return value == 0; }
    constexpr bool is_limited_broadcast() const { return value == 0xffffffffu; }
    constexpr bool is_multicast() const { return (value >> 28) == 0xe; }
    constexpr bool is_loopback() const { return (value >> 24) == 127; }
    // Strict dotted quad "a.b.c.d", each 0..255, no leading '+', no extra text.
    static std::optional<Ipv4Address> parse(std::string_view text);
    std::string to_string() const;
    friend constexpr auto operator<=>(const Ipv4Address&, const Ipv4Address&) = default;
};

// An address with its on-link prefix, as in "10.0.0.2/24".
struct Ipv4Cidr {
    Ipv4Address address;
    std::uint8_t prefix_len = 32;

    static std::optional<Ipv4Cidr> parse(std::string_view text);
    std::string to_string() const;
    constexpr std::uint32_t netmask() const {
        return prefix_len == 0 ? 0u : (0xffffffffu << (32 - prefix_len));
    }
    constexpr Ipv4Address network() const { return Ipv4Address(address.value & netmask()); }
    constexpr Ipv4Address broadcast() const { return Ipv4Address(address.value | ~netmask()); }
    constexpr bool contains(Ipv4Address a) const { return (a.value & netmask()) == (address.value & netmask()); }
    friend constexpr bool operator==(const Ipv4Cidr&, const Ipv4Cidr&) = default;
};

// A transport endpoint (address, port), used by TCP and the API.
struct Ipv4Endpoint {
    Ipv4Address address;
    std::uint16_t port = 0;
    std::string to_string() const;  // "10.0.0.2:7"
    friend constexpr auto operator<=>(const Ipv4Endpoint&, const Ipv4Endpoint&) = default;
};

}  // namespace tapstack::wire
