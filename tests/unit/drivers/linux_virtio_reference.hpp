// Values from the kernel's uapi headers, exported by linux_virtio_reference.c:
// <linux/virtio_net.h> and <linux/virtio_ring.h> are C-only and define the
// spec's names as macros, which would clash with drivers/' constants of the
// same names. Tests compare our definitions against these.
#pragma once

#include <cstddef>
#include <cstdint>

extern "C" {
extern const std::size_t linux_ref_virtio_net_hdr_mrg_rxbuf_size;
extern const int linux_ref_needs_csum, linux_ref_data_valid, linux_ref_gso_none, linux_ref_gso_tcpv4,
    linux_ref_gso_udp, linux_ref_gso_tcpv6, linux_ref_gso_ecn;
extern const std::size_t linux_ref_vring_desc_size, linux_ref_vring_used_elem_size;
extern const int linux_ref_desc_next, linux_ref_desc_write, linux_ref_desc_indirect, linux_ref_avail_no_interrupt,
    linux_ref_used_no_notify;
// The legacy contiguous layout with used-ring alignment 4.
std::size_t linux_ref_vring_size(unsigned num);
bool linux_ref_vring_need_event(std::uint16_t event_idx, std::uint16_t new_idx, std::uint16_t old);
}
