// Per-frame offload metadata between TCP, the interface and the driver
// (virtio-net checksum offload and TSO4/GSO).
//
// TxOffload travels with one outgoing buffer, downward: TCP fills it for a
// segment (offsets from the TCP header), each layer that puts a header in
// front calls prepended() so the offsets keep naming the same bytes, and the
// driver turns it into a virtio_net_hdr. The default value means "none":
// the buffer is complete and checksummed, exactly as before offloads.
// RxOffload travels upward with one received frame (offsets from the
// Ethernet header), filled by the driver from the virtio_net_hdr.
//
// Invariant for TxOffload with partial_csum: the 16-bit field at
// csum_start + csum_offset holds the folded pseudo-header sum (not
// complemented) and the sum over csum_start..end completes it (virtio 1.x
// 5.1.6.2). complete_partial_checksum() does that in software, for sinks
// without offloads; a GSO super-frame then stays one oversized frame.
//
// Non-goals: UDP, IPv6, tunnels; only what TCP over IPv4 needs.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

namespace tapstack::wire {

enum class GsoType : std::uint8_t { kNone, kTcpv4 };

struct TxOffload {
    GsoType gso = GsoType::kNone;
    std::uint16_t gso_size = 0;  // payload bytes per segment the device cuts
    std::uint16_t hdr_len = 0;   // bytes of headers in front of the payload
    bool partial_csum = false;   // see the invariant above
    std::uint16_t csum_start = 0;
    std::uint16_t csum_offset = 0;

    bool none() const { return gso == GsoType::kNone && !partial_csum; }
    // The same request after `header_len` bytes were put in front.
    TxOffload prepended(std::size_t header_len) const;
    friend bool operator==(const TxOffload&, const TxOffload&) = default;
};

// Stores the complete checksum at csum_start + csum_offset (0 becomes
// 0xffff, as Linux's skb_checksum_help()). No-op without partial_csum or
// when the offsets lie outside `buffer`.
void complete_partial_checksum(std::span<std::uint8_t> buffer, const TxOffload& offload);

struct RxOffload {
    // NEEDS_CSUM: the field at csum_start + csum_offset holds only the
    // pseudo-header sum (the sender was local; nothing crossed a wire).
    bool csum_partial = false;
    // DATA_VALID: the device verified the transport checksum.
    bool csum_valid = false;
    std::uint16_t csum_start = 0;
    std::uint16_t csum_offset = 0;
    GsoType gso = GsoType::kNone;  // a super-frame of segments of gso_size payload bytes
    std::uint16_t gso_size = 0;

    bool none() const { return !csum_partial && !csum_valid && gso == GsoType::kNone; }
};

}  // namespace tapstack::wire
