// Link and network addresses as small value types.
//
// Ipv4Address holds the address in host order (so arithmetic on prefixes is
// plain integer math); it is converted to network order only when stored into
// a frame. MacAddress holds the six bytes in wire order.
//
// Ipv6Address holds its 16 bytes in wire order (no arithmetic is done on
// whole IPv6 addresses, only on prefixes, bit by bit). Its text form is
// RFC 5952's canonical one; parse() takes every RFC 4291 2.2 form.
// IpAddress holds either family, so tables keyed by address (TCP's
// connections, the API) can hold both; IpEndpoint adds a port and prints
// IPv6 in brackets ("[fd00::2]:80", RFC 5952 6).
#pragma once

#include <array>
#include <compare>
#include <cstddef>
#include <cstdint>
#include <functional>
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

struct Ipv6Address {
    std::array<std::uint8_t, 16> bytes{};  // wire order

    static constexpr Ipv6Address unspecified() { return {}; }
    static constexpr Ipv6Address loopback() { return from_groups({0, 0, 0, 0, 0, 0, 0, 1}); }
    static constexpr Ipv6Address all_nodes() { return from_groups({0xff02, 0, 0, 0, 0, 0, 0, 1}); }
    static constexpr Ipv6Address all_routers() { return from_groups({0xff02, 0, 0, 0, 0, 0, 0, 2}); }
    static constexpr Ipv6Address from_groups(const std::array<std::uint16_t, 8>& g) {
        Ipv6Address a;
        for (std::size_t i = 0; i < 8; ++i) {
            a.bytes[2 * i] = static_cast<std::uint8_t>(g[i] >> 8);
            a.bytes[2 * i + 1] = static_cast<std::uint8_t>(g[i]);
        }
        return a;
    }
    constexpr std::uint16_t group(std::size_t i) const {
        return static_cast<std::uint16_t>((bytes[2 * i] << 8) | bytes[2 * i + 1]);
    }
    constexpr bool is_unspecified() const { return *this == Ipv6Address{}; }
    constexpr bool is_loopback() const { return *this == loopback(); }
    constexpr bool is_multicast() const { return bytes[0] == 0xff; }
    // fe80::/10 (RFC 4291 2.5.6).
    constexpr bool is_link_local() const { return bytes[0] == 0xfe && (bytes[1] & 0xc0) == 0x80; }
    // fc00::/7 (RFC 4193).
    constexpr bool is_unique_local() const { return (bytes[0] & 0xfe) == 0xfc; }
    // ::ffff:0:0/96 (RFC 4291 2.5.5.2): never valid on the wire.
    constexpr bool is_ipv4_mapped() const {
        for (std::size_t i = 0; i < 10; ++i) {
            if (bytes[i] != 0) return false;
        }
        return bytes[10] == 0xff && bytes[11] == 0xff;
    }
    // The scope field of a multicast address (RFC 4291 2.7): 2 = link-local.
    constexpr std::uint8_t multicast_scope() const { return static_cast<std::uint8_t>(bytes[1] & 0x0f); }
    // ff02::1:ffXX:XXXX, with the low 24 bits of this address (RFC 4291 2.7.1).
    constexpr Ipv6Address solicited_node() const {
        Ipv6Address a = from_groups({0xff02, 0, 0, 0, 0, 1, 0xff00, 0});
        a.bytes[13] = bytes[13];
        a.bytes[14] = bytes[14];
        a.bytes[15] = bytes[15];
        return a;
    }
    constexpr bool is_solicited_node_multicast() const {
        return solicited_node() == *this;
    }
    // The Ethernet group address of a multicast address: 33:33 and its low
    // 32 bits (RFC 2464 7).
    constexpr MacAddress multicast_mac() const {
        return MacAddress{{0x33, 0x33, bytes[12], bytes[13], bytes[14], bytes[15]}};
    }
    // fe80::/64 with the modified EUI-64 interface identifier of `mac`
    // (RFC 4291 2.5.1 and appendix A, RFC 2464 4): the universal/local bit
    // inverted and ff:fe in the middle.
    static constexpr Ipv6Address link_local_from_mac(const MacAddress& mac) {
        Ipv6Address a = from_groups({0xfe80, 0, 0, 0, 0, 0, 0, 0});
        a.bytes[8] = static_cast<std::uint8_t>(mac.bytes[0] ^ 0x02);
        a.bytes[9] = mac.bytes[1];
        a.bytes[10] = mac.bytes[2];
        a.bytes[11] = 0xff;
        a.bytes[12] = 0xfe;
        a.bytes[13] = mac.bytes[3];
        a.bytes[14] = mac.bytes[4];
        a.bytes[15] = mac.bytes[5];
        return a;
    }
    // RFC 4291 2.2: "x:x:x:x:x:x:x:x" with at most one "::", an optional
    // dotted quad in the last 32 bits; no brackets, no zone ("%eth0").
    static std::optional<Ipv6Address> parse(std::string_view text);
    // RFC 5952 4: lower case, no leading zeros, the longest run (the first
    // of equal ones) of two or more zero groups as "::"; IPv4-mapped
    // addresses end in a dotted quad (RFC 5952 5).
    std::string to_string() const;
    friend constexpr auto operator<=>(const Ipv6Address&, const Ipv6Address&) = default;
};

// An IPv6 address with its prefix length, as in "fd00::2/64".
struct Ipv6Cidr {
    Ipv6Address address;
    std::uint8_t prefix_len = 128;

    static std::optional<Ipv6Cidr> parse(std::string_view text);
    std::string to_string() const;
    // The first prefix_len bits of `a` equal ours.
    bool contains(const Ipv6Address& a) const;
    Ipv6Address network() const;
    friend constexpr bool operator==(const Ipv6Cidr&, const Ipv6Cidr&) = default;
};

// An address of either family.
class IpAddress {
public:
    enum class Family : std::uint8_t { kIpv4, kIpv6 };

    constexpr IpAddress() = default;  // 0.0.0.0
    constexpr IpAddress(Ipv4Address a) : family_(Family::kIpv4), v4_(a) {}   // NOLINT: implicit on purpose
    constexpr IpAddress(const Ipv6Address& a) : family_(Family::kIpv6), v6_(a) {}  // NOLINT

    constexpr Family family() const { return family_; }
    constexpr bool is_ipv4() const { return family_ == Family::kIpv4; }
    constexpr bool is_ipv6() const { return family_ == Family::kIpv6; }
    // The address of that family; the other family's value is the zero address.
    constexpr Ipv4Address ipv4() const { return is_ipv4() ? v4_ : Ipv4Address{}; }
    constexpr Ipv6Address ipv6() const { return is_ipv6() ? v6_ : Ipv6Address{}; }
    constexpr bool is_unspecified() const { return is_ipv4() ? v4_.is_unspecified() : v6_.is_unspecified(); }
    constexpr bool is_multicast() const { return is_ipv4() ? v4_.is_multicast() : v6_.is_multicast(); }
    constexpr bool is_limited_broadcast() const { return is_ipv4() && v4_.is_limited_broadcast(); }

    // A dotted quad or any IPv6 text form (see the families' parse()).
    static std::optional<IpAddress> parse(std::string_view text);
    std::string to_string() const;
    // IPv4 sorts before IPv6; within a family by value.
    friend constexpr auto operator<=>(const IpAddress&, const IpAddress&) = default;

private:
    Family family_ = Family::kIpv4;
    Ipv4Address v4_{};  // only meaningful for kIpv4 (zero otherwise)
    Ipv6Address v6_{};  // only meaningful for kIpv6 (zero otherwise)
};

// A transport endpoint of either family.
struct IpEndpoint {
    IpAddress address;
    std::uint16_t port = 0;
    std::string to_string() const;  // "10.0.0.2:7", "[fd00::2]:7"
    friend constexpr auto operator<=>(const IpEndpoint&, const IpEndpoint&) = default;
};

}  // namespace tapstack::wire

template <>
struct std::hash<tapstack::wire::Ipv6Address> {
    std::size_t operator()(const tapstack::wire::Ipv6Address& a) const noexcept {
        // FNV-1a over the bytes: tables keyed by neighbours and paths, whose
        // keys a peer chooses, are bounded in size, so collisions cost time
        // only up to that bound.
        std::uint64_t h = 0xcbf29ce484222325ull;
        for (std::uint8_t b : a.bytes) h = (h ^ b) * 0x100000001b3ull;
        return static_cast<std::size_t>(h);
    }
};
