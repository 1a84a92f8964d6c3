// VirtioNetHdr: golden bytes, round trip, truncation and every rejected
// field, checked against the kernel's own definitions.
#include <doctest/doctest.h>

#include <array>
#include <vector>

#include "drivers/virtio_net_hdr.hpp"
#include "linux_virtio_reference.hpp"

using namespace tapstack::drivers;

TEST_CASE("virtio 5.1.6: constants and header size match <linux/virtio_net.h>") {
    CHECK(VirtioNetHdr::kSize == linux_ref_virtio_net_hdr_mrg_rxbuf_size);
    CHECK(VIRTIO_NET_HDR_F_NEEDS_CSUM == linux_ref_needs_csum);
    CHECK(VIRTIO_NET_HDR_F_DATA_VALID == linux_ref_data_valid);
    CHECK(VIRTIO_NET_HDR_GSO_NONE == linux_ref_gso_none);
    CHECK(VIRTIO_NET_HDR_GSO_TCPV4 == linux_ref_gso_tcpv4);
    CHECK(VIRTIO_NET_HDR_GSO_UDP == linux_ref_gso_udp);
    CHECK(VIRTIO_NET_HDR_GSO_TCPV6 == linux_ref_gso_tcpv6);
        CHECK(VIRTIO_NET_HDR_GSO_ECN == linux_ref_gso_ecn);
}

TEST_CASE("virtio 5.1.6: emit writes the golden little-endian bytes and parse reads them back") {
    VirtioNetHdr h;
    h.flags = VIRTIO_NET_HDR_F_NEEDS_CSUM;
    h.gso_type = VIRTIO_NET_HDR_GSO_TCPV4 | VIRTIO_NET_HDR_GSO_ECN;
    h.hdr_len = 54;
    h.gso_size = 1448;
    h.csum_start = 34;
    h.csum_offset = 16;
    h.num_buffers = 1;
    const std::array<std::uint8_t, 12> golden = {0x01, 0x81, 0x36, 0x00, 0xa8, 0x05,
                                                 0x22, 0x00, 0x10, 0x00, 0x01, 0x00};
    std::array<std::uint8_t, 12> out{};
    h.emit(out);
    CHECK(out == golden);
    auto parsed = VirtioNetHdr::parse(golden);
    REQUIRE(parsed);
    CHECK(*parsed == h);
    CHECK(parsed->needs_csum());
    CHECK(parsed->is_gso());
    CHECK(parsed->gso_protocol() == VIRTIO_NET_HDR_GSO_TCPV4);
}

TEST_CASE("VirtioNetHdr round trip: every field survives emit then parse, trailing bytes ignored") {
    VirtioNetHdr h;
    h.flags = VIRTIO_NET_HDR_F_DATA_VALID;
    h.gso_type = VIRTIO_NET_HDR_GSO_TCPV6;
    h.hdr_len = 0xfedc;
    h.gso_size = 0xba98;
    h.csum_start = 0x7654;
    h.csum_offset = 0x3210;
    h.num_buffers = 0xabcd;
    std::vector<std::uint8_t> buf(20, 0xee);
    h.emit(buf);
    CHECK(buf[12] == 0xee);  // emit writes exactly 12 bytes
    auto parsed = VirtioNetHdr::parse(buf);
    REQUIRE(parsed);
    CHECK(*parsed == h);

    VirtioNetHdr zero;
    std::array<std::uint8_t, 12> z{};
    zero.emit(z);
    CHECK(z == std::array<std::uint8_t, 12>{});
    CHECK(VirtioNetHdr::parse(z) == zero);
}

TEST_CASE("VirtioNetHdr parse: truncated input is rejected at every length below 12") {
    std::array<std::uint8_t, 12> bytes{};
    for (std::size_t n = 0; n < 12; ++n) {
        VnetHdrError e{};
        CHECK_FALSE(VirtioNetHdr::parse(std::span<const std::uint8_t>(bytes.data(), n), &e));
        CHECK(e == VnetHdrError::kTruncated);
    }
    CHECK(VirtioNetHdr::parse(bytes));
}

TEST_CASE("VirtioNetHdr parse: unknown flags, unknown gso_type and ECN without GSO are rejected") {
    auto error_for = [](std::uint8_t flags, std::uint8_t gso_type) {
        std::array<std::uint8_t, 12> b{};
        b[0] = flags;
        b[1] = gso_type;
        VnetHdrError e{};
        const bool ok = VirtioNetHdr::parse(b, &e).has_value();
        return ok ? std::optional<VnetHdrError>() : std::optional<VnetHdrError>(e);
    };
    CHECK(error_for(0x04, 0) == VnetHdrError::kUnknownFlags);  // RSC_INFO: not negotiated
    CHECK(error_for(0x80, 0) == VnetHdrError::kUnknownFlags);
    CHECK(error_for(0, 2) == VnetHdrError::kUnknownGsoType);
    CHECK(error_for(0, 6) == VnetHdrError::kUnknownGsoType);
    CHECK(error_for(0, 0x7f) == VnetHdrError::kUnknownGsoType);
    CHECK(error_for(0, 0x82) == VnetHdrError::kUnknownGsoType);
    CHECK(error_for(0, VIRTIO_NET_HDR_GSO_ECN) == VnetHdrError::kEcnWithoutGso);
    CHECK_FALSE(error_for(VIRTIO_NET_HDR_F_NEEDS_CSUM | VIRTIO_NET_HDR_F_DATA_VALID, 0));
    for (const std::uint8_t t : {VIRTIO_NET_HDR_GSO_TCPV4, VIRTIO_NET_HDR_GSO_UDP, VIRTIO_NET_HDR_GSO_TCPV6,
                                 VIRTIO_NET_HDR_GSO_UDP_L4}) {
        CHECK_FALSE(error_for(0, t));
        CHECK_FALSE(error_for(0, static_cast<std::uint8_t>(t | VIRTIO_NET_HDR_GSO_ECN)));
    }
}

TEST_CASE("VirtioNetHdr validate_for_frame: checksum field and GSO fields must fit the frame") {
    VirtioNetHdr h;
    h.flags = VIRTIO_NET_HDR_F_NEEDS_CSUM;
    h.csum_start = 34;
    h.csum_offset = 6;
    CHECK_FALSE(h.validate_for_frame(42));  // field at 40..41
    CHECK(h.validate_for_frame(41) == VnetHdrError::kBadCsumOffsets);
    h.csum_start = 0xffff;
    h.csum_offset = 0xffff;  // no u16 overflow into a small value
    CHECK(h.validate_for_frame(1514) == VnetHdrError::kBadCsumOffsets);

    VirtioNetHdr g;
    g.gso_type = VIRTIO_NET_HDR_GSO_TCPV4;
    g.hdr_len = 54;
    g.gso_size = 0;
    CHECK(g.validate_for_frame(3000) == VnetHdrError::kBadGsoFields);
    g.gso_size = 1448;
    CHECK_FALSE(g.validate_for_frame(3000));
    CHECK(g.validate_for_frame(50) == VnetHdrError::kBadGsoFields);
    CHECK_FALSE(VirtioNetHdr{}.validate_for_frame(0));
}
