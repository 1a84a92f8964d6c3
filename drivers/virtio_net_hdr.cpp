#include "drivers/virtio_net_hdr.hpp"

namespace tapstack::drivers {

std::string_view to_string(VnetHdrError error) {
    switch (error) {
    case VnetHdrError::kTruncated: return "truncated virtio-net header";
    case VnetHdrError::kUnknownFlags: return "unknown virtio-net header flags";
    case VnetHdrError::kUnknownGsoType: return "unknown gso_type";
    case VnetHdrError::kEcnWithoutGso: return "GSO_ECN without a GSO type";
    case VnetHdrError::kBadCsumOffsets: return "csum_start/csum_offset outside the frame";
    case VnetHdrError::kBadGsoFields: return "GSO frame with gso_size 0 or hdr_len beyond the frame";
    case VnetHdrError::kBadNumBuffers: return "num_buffers is not 1";
    }
    return "unknown virtio-net header error";
}

std::optional<VirtioNetHdr> VirtioNetHdr::parse(wire::Bytes bytes, VnetHdrError* error) {
    auto fail = [error](VnetHdrError e) {
        if (error != nullptr) *error = e;
        return std::nullopt;
    };
    if (bytes.size() < kSize) return fail(VnetHdrError::kTruncated);
    const std::uint8_t* p = bytes.data();
    VirtioNetHdr h;
    h.flags = p[0];
    h.gso_type = p[1];
    h.hdr_len = wire::load_le16(p + 2);
    h.gso_size = wire::load_le16(p + 4);
    h.csum_start = wire::load_le16(p + 6);
    h.csum_offset = wire::load_le16(p + 8);
    h.num_buffers = wire::load_le16(p + 10);

    constexpr std::uint8_t kKnownFlags = VIRTIO_NET_HDR_F_NEEDS_CSUM | VIRTIO_NET_HDR_F_DATA_VALID;
    if ((h.flags & ~kKnownFlags) != 0) return fail(VnetHdrError::kUnknownFlags);
    switch (h.gso_protocol()) {
    case VIRTIO_NET_HDR_GSO_NONE:
        if ((h.gso_type & VIRTIO_NET_HDR_GSO_ECN) != 0) return fail(VnetHdrError::kEcnWithoutGso);
        break;
    case VIRTIO_NET_HDR_GSO_TCPV4:
    case VIRTIO_NET_HDR_GSO_UDP:
    case VIRTIO_NET_HDR_GSO_TCPV6:
    case VIRTIO_NET_HDR_GSO_UDP_L4:
        break;
    default:
        return fail(VnetHdrError::kUnknownGsoType);
    }
    return h;
}

void VirtioNetHdr::emit(wire::MutBytes out) const {
    std::uint8_t* p = out.data();
    p[0] = flags;
    p[1] = gso_type;
    wire::store_le16(p + 2, hdr_len);
    wire::store_le16(p + 4, gso_size);
    wire::store_le16(p + 6, csum_start);
    wire::store_le16(p + 8, csum_offset);
    wire::store_le16(p + 10, num_buffers);
}

std::optional<VnetHdrError> VirtioNetHdr::validate_for_frame(std::size_t frame_len) const {
    // The checksum field (2 bytes at csum_start + csum_offset) must lie
    // inside the frame, as Linux's virtio_net_hdr_to_skb() also requires.
    if (needs_csum() && std::size_t{csum_start} + csum_offset + 2 > frame_len) {
        return VnetHdrError::kBadCsumOffsets;
    }
    if (is_gso() && (gso_size == 0 || hdr_len > frame_len)) return VnetHdrError::kBadGsoFields;
    return std::nullopt;
}

}  // namespace tapstack::drivers
