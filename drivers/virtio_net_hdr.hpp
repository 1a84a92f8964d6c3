// struct virtio_net_hdr: the per-frame header of virtio-net (virtio 1.x
// section 5.1.6), defined once for the whole project.
//
// Every frame on tapstack's virtqueues, and every frame read from or written
// to the TAP (IFF_VNET_HDR with TUNSETVNETHDRSZ = 12), starts with these 12
// little-endian bytes:
//
//   0  flags        u8   NEEDS_CSUM | DATA_VALID
//   1  gso_type     u8   GSO_NONE, TCPV4, UDP, TCPV6, UDP_L4, optionally | ECN
//   2  hdr_len      le16
//   4  gso_size     le16
//   6  csum_start   le16
//   8  csum_offset  le16
//  10  num_buffers  le16  (VIRTIO_F_VERSION_1 always has it; 1 without MRG_RXBUF)
//
// VirtioNetHdr is the plain representation; parse() checks length and that
// every flag bit and gso_type is one the spec defines, so later code can
// switch on them without a default case for garbage. Semantic checks that
// need the frame (checksum offsets inside the frame, GSO fields coherent)
// live in validate_for_frame(). Loads and stores go through
// stack/wire/byte_order.hpp; nothing is reinterpret_cast onto a struct.
//
// Non-goals: offload negotiation (drivers/tap_device.cpp). Without
// TapPortConfig::offloads the port counts and drops frames whose gso_type
// is not GSO_NONE; with it, only TCPV4 passes (drivers/tap_port.cpp).
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>

#include "stack/wire/byte_order.hpp"

namespace tapstack::drivers {

// Spec names (virtio 1.x 5.1.6), kept as in the spec and in <linux/virtio_net.h>.
inline constexpr std::uint8_t VIRTIO_NET_HDR_F_NEEDS_CSUM = 1;
inline constexpr std::uint8_t VIRTIO_NET_HDR_F_DATA_VALID = 2;
inline constexpr std::uint8_t VIRTIO_NET_HDR_GSO_NONE = 0;
inline constexpr std::uint8_t VIRTIO_NET_HDR_GSO_TCPV4 = 1;
inline constexpr std::uint8_t VIRTIO_NET_HDR_GSO_UDP = 3;
inline constexpr std::uint8_t VIRTIO_NET_HDR_GSO_TCPV6 = 4;
inline constexpr std::uint8_t VIRTIO_NET_HDR_GSO_UDP_L4 = 5;  // virtio 1.2
inline constexpr std::uint8_t VIRTIO_NET_HDR_GSO_ECN = 0x80;

enum class VnetHdrError : std::uint8_t {
    kTruncated,          // fewer than 12 bytes
    kUnknownFlags,       // a flag bit other than NEEDS_CSUM / DATA_VALID
    kUnknownGsoType,     // gso_type (ECN bit masked off) not one of the spec's values
    kEcnWithoutGso,      // GSO_ECN on a GSO_NONE frame
    kBadCsumOffsets,     // NEEDS_CSUM with csum_start + csum_offset + 2 beyond the frame
    kBadGsoFields,       // GSO frame with gso_size 0 or hdr_len beyond the frame
    kBadNumBuffers,      // num_buffers != 1 on a received frame (no MRG_RXBUF)
};
std::string_view to_string(VnetHdrError error);

struct VirtioNetHdr {
    static constexpr std::size_t kSize = 12;

    std::uint8_t flags = 0;
    std::uint8_t gso_type = VIRTIO_NET_HDR_GSO_NONE;
    std::uint16_t hdr_len = 0;
    std::uint16_t gso_size = 0;
    std::uint16_t csum_start = 0;
    std::uint16_t csum_offset = 0;
    std::uint16_t num_buffers = 0;

    static constexpr std::size_t buffer_len() { return kSize; }

    // Reads the first 12 bytes of `bytes`; nullopt (and *error) when they are
    // missing or use a flag or gso_type the spec does not define.
    static std::optional<VirtioNetHdr> parse(wire::Bytes bytes, VnetHdrError* error = nullptr);
    // Writes 12 bytes at the front of `out` (out.size() >= 12).
    void emit(wire::MutBytes out) const;

    // Checks the fields against the frame that follows the header
    // (`frame_len` bytes, Ethernet header onward). Returns nullopt when
    // coherent, else the reason.
    std::optional<VnetHdrError> validate_for_frame(std::size_t frame_len) const;

    bool needs_csum() const { return (flags & VIRTIO_NET_HDR_F_NEEDS_CSUM) != 0; }
    bool data_valid() const { return (flags & VIRTIO_NET_HDR_F_DATA_VALID) != 0; }
    std::uint8_t gso_protocol() const { return static_cast<std::uint8_t>(gso_type & ~VIRTIO_NET_HDR_GSO_ECN); }
    bool is_gso() const { return gso_protocol() != VIRTIO_NET_HDR_GSO_NONE; }

    friend bool operator==(const VirtioNetHdr&, const VirtioNetHdr&) = default;
};

}  // namespace tapstack::drivers
