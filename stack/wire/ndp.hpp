// Neighbour Discovery messages (RFC 4861 section 4) and their options
// (4.6): router solicitation and advertisement, neighbour solicitation and
// advertisement, redirect.
//
// NdpRepr::parse takes an Icmpv6View of one of those types, checks the
// ICMPv6 checksum, that the message holds its type's fixed part, and that
// the options are well formed (every option has a nonzero length and lies
// inside the message, RFC 4861 4.6: otherwise the whole message is
// invalid). Options it knows are kept: source and target link-layer
// address (Ethernet: length 1), prefix information (length 4), MTU
// (length 1); an option of a known type with another length, and any
// option of an unknown type, is skipped (RFC 4861 4.6 "MUST silently
// ignore"). The semantic checks of RFC 4861 7.1 and 6.1 (hop limit 255,
// code 0, which addresses may appear) need the IPv6 header and are the
// interface's. emit() writes the message with its checksum.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <vector>

#include "stack/wire/addresses.hpp"
#include "stack/wire/byte_order.hpp"
#include "stack/wire/icmpv6.hpp"

namespace tapstack::wire {

namespace ndp_option {
inline constexpr std::uint8_t kSourceLinkAddress = 1;
inline constexpr std::uint8_t kTargetLinkAddress = 2;
inline constexpr std::uint8_t kPrefixInformation = 3;
inline constexpr std::uint8_t kRedirectedHeader = 4;
inline constexpr std::uint8_t kMtu = 5;
}  // namespace ndp_option

enum class NdpError : std::uint8_t {
    kTruncated,  // shorter than the type's fixed part
    kBadChecksum,
    kBadOption,  // an option of length 0, or one running past the message
    kNotNdp,     // the ICMPv6 type is not a Neighbour Discovery message
};

bool is_ndp_type(std::uint8_t icmpv6_type);

struct NdpPrefixInfo {
    std::uint8_t prefix_len = 0;
    bool on_link = false;     // L
    bool autonomous = false;  // A
    std::uint32_t valid_lifetime = 0;      // seconds; 0xffffffff is infinity
    std::uint32_t preferred_lifetime = 0;  // seconds
    Ipv6Address prefix;
    friend bool operator==(const NdpPrefixInfo&, const NdpPrefixInfo&) = default;
};

struct NdpOptions {
    std::optional<MacAddress> source_link_address;
    std::optional<MacAddress> target_link_address;
    std::optional<std::uint32_t> mtu;
    std::vector<NdpPrefixInfo> prefixes;

    std::size_t buffer_len() const;
    void emit(std::uint8_t* out) const;  // buffer_len() bytes
    friend bool operator==(const NdpOptions&, const NdpOptions&) = default;
};

struct NdpRepr {
    std::uint8_t type = icmpv6_type::kNeighborSolicitation;
    // Router advertisement (RFC 4861 4.2)
    std::uint8_t cur_hop_limit = 0;
    bool managed = false;
    bool other = false;
    std::uint8_t other_flags = 0;       // the flag byte's low six bits (H, Prf, P: RFC 3775, 4191, 4389), kept as is
    std::uint16_t router_lifetime = 0;  // seconds
    std::uint32_t reachable_time = 0;   // milliseconds, 0: unspecified
    std::uint32_t retrans_timer = 0;    // milliseconds, 0: unspecified
    // Neighbour solicitation / advertisement / redirect (4.3, 4.4, 4.5)
    Ipv6Address target;
    Ipv6Address destination;  // redirect only
    bool router = false;      // advertisement: R
    bool solicited = false;   // advertisement: S
    bool override_ = false;   // advertisement: O
    NdpOptions options;

    static std::optional<NdpRepr> parse(const Icmpv6View& view, const Ipv6Address& src, const Ipv6Address& dst,
                                        NdpError* error = nullptr);
    std::size_t buffer_len() const;
    // The whole ICMPv6 message (code 0) with its checksum for (src, dst).
    void emit(MutBytes out, const Ipv6Address& src, const Ipv6Address& dst) const;
    friend bool operator==(const NdpRepr&, const NdpRepr&) = default;
};

}  // namespace tapstack::wire
