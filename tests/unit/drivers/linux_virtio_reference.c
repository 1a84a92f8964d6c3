/* Values from the kernel's uapi virtio headers, compiled as C (the headers
 * are not valid C++) and exported under names that do not clash with the
 * spec's names drivers/ uses. See linux_virtio_reference.hpp. */
#include <linux/virtio_net.h>
#include <linux/virtio_ring.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

const size_t linux_ref_virtio_net_hdr_mrg_rxbuf_size = sizeof(struct virtio_net_hdr_mrg_rxbuf);
const int linux_ref_needs_csum = VIRTIO_NET_HDR_F_NEEDS_CSUM;
const int linux_ref_data_valid = VIRTIO_NET_HDR_F_DATA_VALID;
const int linux_ref_gso_none = VIRTIO_NET_HDR_GSO_NONE;
const int linux_ref_gso_tcpv4 = VIRTIO_NET_HDR_GSO_TCPV4;
const int linux_ref_gso_udp = VIRTIO_NET_HDR_GSO_UDP;
const int linux_ref_gso_tcpv6 = VIRTIO_NET_HDR_GSO_TCPV6;
const int linux_ref_gso_ecn = VIRTIO_NET_HDR_GSO_ECN;
const size_t linux_ref_vring_desc_size = sizeof(struct vring_desc);
const size_t linux_ref_vring_used_elem_size = sizeof(struct vring_used_elem);
const int linux_ref_desc_next = VRING_DESC_F_NEXT;
const int linux_ref_desc_write = VRING_DESC_F_WRITE;
const int linux_ref_desc_indirect = VRING_DESC_F_INDIRECT;
const int linux_ref_avail_no_interrupt = VRING_AVAIL_F_NO_INTERRUPT;
const int linux_ref_used_no_notify = VRING_USED_F_NO_NOTIFY;

size_t linux_ref_vring_size(unsigned num) { return (size_t)vring_size(num, 4); }
bool linux_ref_vring_need_event(uint16_t event_idx, uint16_t new_idx, uint16_t old) {
    return vring_need_event(event_idx, new_idx, old) != 0;
}
