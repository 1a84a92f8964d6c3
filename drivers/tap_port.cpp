// TapPort: a TAP device behind an RX and a TX virtqueue; see tap_port.hpp.
//
// Memory: one zeroed mapping (anonymous mmap: pages become resident as
// frames touch them), registered as a single GuestMemory region
// at kGuestBase (deliberately not the host address, so nothing can mistake
// a guest address for a pointer). It holds, 64-byte aligned:
//   RX rings | TX rings | RX buffers [queue_size] | TX buffers [queue_size]
// Each buffer is buffer_size bytes: the 12-byte virtio-net header, then the
// frame. Each chain is one descriptor over one buffer; the chain's token is
// the buffer's index. Nothing is allocated per frame.
//
// Roles, all on the caller's thread:
//  - RX driver: keeps every free RX buffer posted (device-writable); reaps
//    used buffers, validates the header, hands the frame up, reposts.
//  - RX device: pops posted buffers, read()s one frame from the TAP into
//    each, pushes it used with the byte count.
//  - TX driver: copies a frame (or the parts of one: headers, then TCP's
//    segment) behind its header into a free TX buffer and adds it
//    (device-readable); reaps used buffers onto tx_free_. That copy is the
//    only one the port makes: the device half writev()s the buffer itself.
//  - TX device: pops TX chains, write()s each to the TAP, pushes it used.
// The device halves treat the rings like a real device would (all chains
// validated, bad ones counted and returned), so replacing them with a
// vhost backend changes nothing on the driver side.
//
// Fault stage (when enabled): the RX driver hands each checked frame to
// rx_fault instead of on_frame, which delivers it (or not, or later); the TX
// device copies each checked chain (header + frame) into tx_scratch, returns
// the chain at once and hands the copy to tx_fault, which writes it to the
// TAP (or not, or later). Held frames live in the injectors' own pools.
//
// Offloads (config.offloads): buffers hold a 64 KiB super-frame;
// RX keeps a frame's partial checksum and GSO fields for the stack when the
// caller takes them (poll_rx_offload) and no fault stage runs, else
// completes the checksum as before; TX writes the TxOffload into the
// header and the device half lets GSO TCPV4 chains through to the kernel.
#include "drivers/tap_port.hpp"

#include <sys/mman.h>
#include <sys/uio.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <climits>
#include <cstring>
#include <utility>

#include "drivers/fault_injector.hpp"
#include "drivers/guest_memory.hpp"
#include "drivers/tap_device.hpp"
#include "drivers/unique_fd.hpp"
#include "drivers/virtio_net_hdr.hpp"
#include "drivers/virtqueue.hpp"
#include "stack/wire/byte_order.hpp"
#include "stack/wire/checksum.hpp"

namespace tapstack::drivers {
namespace {

constexpr GuestAddr kGuestBase = 0x10000000;
constexpr std::size_t kEthHeaderLen = 14;
constexpr std::size_t kVlanTagLen = 4;
constexpr std::uint64_t kMaxMemory = std::uint64_t{1} << 31;  // 2 GiB of rings and buffers at most
constexpr std::uint64_t kMaxFaultPool = std::uint64_t{256} << 20;  // per direction
constexpr std::size_t kHdr = VirtioNetHdr::kSize;

constexpr std::uint64_t align64(std::uint64_t v) { return VringLayout::align_up(v, 64); }

// The port's counters, X(field, kind, help), named "tap.<field>"
// (stack/metrics.hpp). rx/tx_ring_errors and tx_queued are computed in
// visit_metrics() from the rings.
#define TAPSTACK_TAP_COUNTERS(X) \
    X(rx_frames, kCounter, "Frames read from the TAP and passed on, before the fault-injection stage")                 \
    X(rx_bytes, kCounter, "Bytes of those frames (virtio-net header excluded)")                                        \
    X(rx_bad_vnet_hdr, kCounter, "Frames dropped: invalid virtio-net header")                                          \
    X(rx_gso_dropped, kCounter, "GSO frames dropped: offloads off or not TCPv4")                                       \
    X(rx_csum_completed, kCounter, "Partial checksums the port completed for the stack")                               \
    X(rx_truncated, kCounter, "Frames dropped: larger than an RX buffer")                                              \
    X(rx_runt, kCounter, "Frames dropped: shorter than an Ethernet header")                                            \
    X(rx_read_errors, kCounter, "Failed reads from the TAP")                                                           \
    X(tx_frames, kCounter, "Frames written to the TAP, after the fault-injection stage")                               \
    X(tx_bytes, kCounter, "Bytes of those frames (virtio-net header excluded)")                                        \
    X(tx_ring_full, kCounter, "Frames dropped: TX ring full")                                                          \
    X(tx_oversize, kCounter, "Frames dropped: larger than a TX buffer")                                                \
    X(tx_runt, kCounter, "Frames dropped: shorter than an Ethernet header")                                            \
    X(tx_bad_vnet_hdr, kCounter, "Frames dropped: invalid virtio-net header on the TX ring")                           \
    X(tx_errors, kCounter, "Failed or short writes to the TAP")                                                        \
    X(tx_eagain, kCounter, "Writes the TAP pushed back (EAGAIN); retried when writable")                               \
    X(rx_gso_frames, kCounter, "GSO super-frames received from the TAP")                                               \
    X(rx_csum_partial, kCounter, "Frames passed up with a partial checksum (offloads)")                                \
    X(tx_gso_frames, kCounter, "TSO super-frames queued for the TAP")                                                  \
    X(offload_refused, kCounter, "Times the kernel refused checksum offload and TSO4")

// Counter slots: the named ones, then faults folded into rx/tx_ring_errors
// (wrong-direction chains, failed reposts).
namespace slot {
enum Counter : std::size_t {
#define TAPSTACK_X(field, kind, help) field,
    TAPSTACK_TAP_COUNTERS(TAPSTACK_X)
#undef TAPSTACK_X
    named_count,
    rx_ring_faults = named_count,
    tx_ring_faults,
    count,
};
}  // namespace slot
using slot::Counter;

// Writes `data` at byte `offset` of the scattered buffers `bufs`.
void scatter_write(const std::vector<std::span<std::uint8_t>>& bufs, std::size_t offset, wire::Bytes data) {
    for (const auto& b : bufs) {
        if (data.empty()) return;
        if (offset >= b.size()) {
            offset -= b.size();
            continue;
        }
        const std::size_t n = std::min(b.size() - offset, data.size());
        std::memcpy(b.data() + offset, data.data(), n);
        data = data.subspan(n);
        offset = 0;
    }
}

// Copies the first out.size() bytes of the scattered buffers into `out`.
void gather_read(const std::vector<std::span<std::uint8_t>>& bufs, wire::MutBytes out) {
    for (const auto& b : bufs) {
        if (out.empty()) return;
        const std::size_t n = std::min(b.size(), out.size());
        std::memcpy(out.data(), b.data(), n);
        out = out.subspan(n);
    }
}

// Deleter of the ring memory's mapping.
struct Unmap {
    std::size_t len = 0;
    void operator()(std::uint8_t* p) const { ::munmap(p, len); }
};

bool is_would_block(int err) { return err == EAGAIN || err == EWOULDBLOCK; }

// Errors after which the fd will never work again: the TAP was deleted
// (EBADFD), the fd is gone, or an adopted socket's peer closed.
bool is_permanent(int err) {
    return err == EBADFD || err == EBADF || err == ENODEV || err == ENXIO || err == EPIPE || err == ECONNRESET;
}

}  // namespace

using RxHandler = TapPort::OffloadFrameHandler;

struct TapPort::Impl {
    TapPortConfig config;
    bool rx_offloads = false;  // the kernel may hand us GSO / partial checksums
    UniqueFd fd;
    std::string name;
    bool created = false;
    std::uint32_t mtu = 0;
    std::vector<std::string> warnings;
    std::size_t buffer_size = 0;

    // Anonymous mmap: zero pages the kernel hands out on first touch, so a
    // 64 KiB buffer (MTU 65520, or offloads) costs resident memory only for
    // the bytes frames actually reach, not 33 MiB up front at queue_size 256.
    std::unique_ptr<std::uint8_t, Unmap> backing;
    std::size_t backing_len = 0;
    GuestMemory memory;
    std::optional<Virtqueue> rx;
    std::optional<Virtqueue> tx;
    GuestAddr rx_buffers = 0;
    GuestAddr tx_buffers = 0;
    std::vector<std::uint16_t> tx_free;  // indices of TX buffers not on the ring
    DescChain rx_chain;
    DescChain tx_chain;
    std::vector<iovec> iov;
    bool tx_blocked = false;
    bool in_poll_rx = false;
    std::string failure;  // see TapPort::failure()
    std::array<std::uint64_t, slot::count> counters{};

    Instant now{};  // the latest Instant given to any call
    std::unique_ptr<FaultInjector> rx_fault;
    std::unique_ptr<FaultInjector> tx_fault;
    FaultCounters rx_fault_retired;  // counters of stages since removed
    FaultCounters tx_fault_retired;
    bool fault_ever = false;  // report fault.* counters from then on
    bool in_tx_stage = false;
    FaultInjector::Observer fault_observer;
    std::vector<std::uint8_t> tx_scratch;
    std::size_t tap_hdr = kHdr;  // the virtio-net header the TAP uses: 12, or 10 (tap_device.hpp)
    FrameTap* tap = nullptr;     // packet capture, see set_frame_tap()
    std::vector<std::span<const std::uint8_t>> tap_parts;  // a TX chain's buffers without the header

    explicit Impl(std::uint16_t queue_size) : rx_chain(queue_size), tx_chain(queue_size) {}

    void note_time(Instant t) {
        if (t > now) now = t;
    }

    std::uint8_t* host(GuestAddr addr) { return backing.get() + (addr - kGuestBase); }
    GuestAddr rx_buffer(std::uint64_t i) const { return rx_buffers + i * buffer_size; }
    GuestAddr tx_buffer(std::uint64_t i) const { return tx_buffers + i * buffer_size; }
    void count(Counter c, std::uint64_t n = 1) { counters[c] += n; }
    void fail(const char* op, const std::string& cause) {
        if (failure.empty()) failure = name + ": " + op + ": " + cause;
    }

    bool init(std::string* error);
    bool post_rx(std::uint16_t i);
    void reap_tx();
    enum class Fill { kBudget, kDrained, kNoBuffers };
    Fill fill_rx(std::uint32_t budget, std::uint32_t& reads);
    std::size_t deliver_rx(const RxHandler& on_frame, bool want_offload, const FaultInjector::Deliver* staged);
    bool deliver_one(std::span<std::uint8_t> bytes, const RxHandler& on_frame, bool want_offload,
                     const FaultInjector::Deliver* staged);
    std::size_t poll(Instant now, const RxHandler& on_frame, bool want_offload);
    bool pop_tx_frame();
    bool write_frame(std::span<const std::uint8_t> bytes, std::size_t& written);
    std::size_t flush_tx_staged();
    void retire_faults();
    std::uint64_t ring_errors(const Virtqueue& q, Counter faults) const;
    void tap_frame(FrameDirection direction, std::span<const std::uint8_t> frame);
    void tap_chain(const DescChain& chain);
    template <class Buffer>
    void fill_iov(const std::vector<Buffer>& bufs);
};

// iov over `bufs` for the TAP: with a 10-byte TAP header, bytes 10..11
// (num_buffers, which the TAP does not know) are left out.
template <class Buffer>
void TapPort::Impl::fill_iov(const std::vector<Buffer>& bufs) {
    iov.clear();
    std::size_t at = 0;
    for (const auto& b : bufs) {
        const std::size_t end = at + b.size();
        if (tap_hdr == kHdr || end <= tap_hdr || at >= kHdr) {
            iov.push_back(iovec{b.data(), b.size()});
        } else {
            if (at < tap_hdr) iov.push_back(iovec{b.data(), tap_hdr - at});
            if (end > kHdr) iov.push_back(iovec{b.data() + (kHdr - at), end - kHdr});
        }
        at = end;
    }
}

bool TapPort::Impl::init(std::string* error) {
    auto refuse = [error](std::string why) {
        if (error != nullptr) *error = std::move(why);
        return false;
    };
    const std::uint16_t q = config.queue_size;
    if (!is_valid_queue_size(q)) {
        return refuse(name + ": queue_size " + std::to_string(q) + " is not a power of two in 1..32768");
    }
    if (config.rx_budget == 0) return refuse(name + ": rx_budget must be at least 1");
    const std::uint64_t min_buffer = kHdr + kEthHeaderLen + 1;
    if (config.buffer_size != 0) {
        if (config.buffer_size < min_buffer) {
            return refuse(name + ": buffer_size " + std::to_string(config.buffer_size) + " is below " +
                        std::to_string(min_buffer));
        }
        buffer_size = config.buffer_size;
    } else {
        // With offloads a GSO super-frame carries up to 64 KiB of IPv4.
        const std::uint32_t frame_mtu = config.offloads ? 65535 : std::max<std::uint32_t>(config.mtu, mtu);
        buffer_size = static_cast<std::size_t>(align64(kHdr + kEthHeaderLen + kVlanTagLen + frame_mtu));
    }

    const std::uint64_t ring_bytes = align64(VringLayout::contiguous_bytes(q));
    const GuestAddr rx_ring = kGuestBase;
    const GuestAddr tx_ring = rx_ring + ring_bytes;
    rx_buffers = tx_ring + ring_bytes;
    tx_buffers = rx_buffers + std::uint64_t{q} * buffer_size;
    const std::uint64_t total = tx_buffers + std::uint64_t{q} * buffer_size - kGuestBase;
    if (total > kMaxMemory) {
        return refuse(name + ": queue_size " + std::to_string(q) + " x buffer_size " + std::to_string(buffer_size) +
                    " needs more than 2 GiB");
    }
    backing_len = static_cast<std::size_t>(total);
    void* mem = ::mmap(nullptr, backing_len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (mem == MAP_FAILED) {
        return refuse(name + ": cannot allocate " + std::to_string(backing_len) + " bytes of ring memory");
    }
    backing = std::unique_ptr<std::uint8_t, Unmap>(static_cast<std::uint8_t*>(mem), Unmap{backing_len});
    std::string why;
    if (!memory.add_region(kGuestBase, std::span<std::uint8_t>(backing.get(), backing_len), &why)) {
        return refuse(name + ": " + why);
    }
    VirtqueueOptions options;
    options.max_chain_bytes = static_cast<std::uint32_t>(buffer_size);
    rx = Virtqueue::create(memory, VringLayout::contiguous(rx_ring, q), options, &why);
    if (!rx) return refuse(name + ": RX virtqueue: " + why);
    tx = Virtqueue::create(memory, VringLayout::contiguous(tx_ring, q), options, &why);
    if (!tx) return refuse(name + ": TX virtqueue: " + why);

    // Reserve every container now; the data path never allocates.
    iov.reserve(std::size_t{q} + 2);  // a chain's buffers, the gap of a 10-byte header, the overflow byte
    tap_parts.reserve(std::size_t{q});
    tx_free.reserve(q);
    for (std::uint16_t i = q; i > 0; --i) tx_free.push_back(static_cast<std::uint16_t>(i - 1));
    for (std::uint16_t i = 0; i < q; ++i) {
        if (!post_rx(i)) return refuse(name + ": cannot post RX buffer " + std::to_string(i));
    }
    rx->device().enable_notifications();
    tx->device().enable_notifications();
    return true;
}

bool TapPort::Impl::post_rx(std::uint16_t i) {
    const GuestBuffer buf{rx_buffer(i), static_cast<std::uint32_t>(buffer_size)};
    if (!rx->driver().add({}, std::span<const GuestBuffer>(&buf, 1), i)) return false;
    rx->driver().kick_prepare();  // the device is us: nothing to notify
    return true;
}

void TapPort::Impl::reap_tx() {
    while (auto used = tx->driver().get_used()) tx_free.push_back(static_cast<std::uint16_t>(used->token));
}

// Device side of RX: fill posted buffers from the TAP.
TapPort::Impl::Fill TapPort::Impl::fill_rx(std::uint32_t budget, std::uint32_t& reads) {
    VirtqueueDevice& dev = rx->device();
    std::uint8_t overflow = 0;  // one byte past the buffers tells a truncated frame apart
    while (reads < budget) {
        const PopResult r = dev.pop(rx_chain);
        if (r == PopResult::kEmpty) return Fill::kNoBuffers;
        if (r == PopResult::kBroken) return Fill::kDrained;
        if (r == PopResult::kRejected) continue;  // counted by the device, returned to the driver
        if (!rx_chain.readable.empty() || rx_chain.writable.size() + 1 > IOV_MAX) {
            count(slot::rx_ring_faults);
            dev.push(rx_chain.head, 0);
            continue;
        }
        fill_iov(rx_chain.writable);
        iov.push_back(iovec{&overflow, 1});
        const ssize_t n = ::readv(fd.get(), iov.data(), static_cast<int>(iov.size()));
        if (n < 0) {
            const int err = errno;
            dev.unpop();
            if (err == EINTR) continue;
            if (!is_would_block(err)) {
                count(slot::rx_read_errors);
                if (is_permanent(err)) fail("read", errno_text(err));
            }
            return Fill::kDrained;
        }
        ++reads;
        if (n == 0) {  // end of file on an adopted socket; a TAP never returns 0
            dev.unpop();
            fail("read", "end of file");
            return Fill::kDrained;
        }
        auto len = static_cast<std::uint64_t>(n);
        if (len > tap_hdr) len += kHdr - tap_hdr;  // the bytes fill_iov() left out are part of the buffer
        if (len > rx_chain.writable_len) {
            // The TAP reports the whole frame's length even when it did not
            // fit. Drop it and read the next frame into the same buffer.
            count(slot::rx_truncated);
            dev.unpop();
            continue;
        }
        if (len >= kHdr) {
            // The TAP writes only the first 10 header bytes; num_buffers is
            // the device's to set: 1 without VIRTIO_NET_F_MRG_RXBUF (5.1.6.4).
            std::array<std::uint8_t, 2> one{};
            wire::store_le16(one.data(), 1);
            scatter_write(rx_chain.writable, 10, one);
        }
        dev.push(rx_chain.head, static_cast<std::uint32_t>(len));
    }
    dev.notify_prepare();  // the driver is us: nothing to notify
    return Fill::kBudget;
}

// Driver side of RX: reap, validate, deliver, repost.
std::size_t TapPort::Impl::deliver_rx(const RxHandler& on_frame, bool want_offload,
                                      const FaultInjector::Deliver* staged) {
    std::size_t delivered = 0;
    while (auto used = rx->driver().get_used()) {
        const auto i = static_cast<std::uint16_t>(used->token);
        std::span<std::uint8_t> bytes(host(rx_buffer(i)), used->len);
        if (deliver_one(bytes, on_frame, want_offload, staged)) ++delivered;
        if (!post_rx(i)) count(slot::rx_ring_faults);  // cannot happen unless the device leaked descriptors
    }
    return delivered;
}

// Returns true when on_frame was called directly; frames handed to the
// fault stage are counted by `staged` as it delivers them.
bool TapPort::Impl::deliver_one(std::span<std::uint8_t> bytes, const RxHandler& on_frame, bool want_offload,
                                const FaultInjector::Deliver* staged) {
    auto hdr = VirtioNetHdr::parse(bytes);
    if (!hdr || hdr->num_buffers != 1) {
        count(slot::rx_bad_vnet_hdr);
        return false;
    }
    std::span<std::uint8_t> frame = bytes.subspan(kHdr);
    // Without offloads (TUNSETOFFLOAD 0) no GSO frame is expected; with them
    // only TCPV4 (TSO4) was negotiated.
    if (hdr->is_gso() && (!config.offloads || hdr->gso_protocol() != VIRTIO_NET_HDR_GSO_TCPV4)) {
        count(slot::rx_gso_dropped);
        return false;
    }
    if (hdr->validate_for_frame(frame.size())) {
        count(slot::rx_bad_vnet_hdr);
        return false;
    }
    if (frame.size() < kEthHeaderLen) {
        count(slot::rx_runt);
        return false;
    }
    // The stack takes the metadata only when asked for, with offloads on,
    // and when no fault stage needs complete frames to corrupt.
    const bool pass_up = want_offload && config.offloads && staged == nullptr;
    wire::RxOffload offload;
    if (pass_up) {
        offload.csum_valid = hdr->data_valid();
        if (hdr->needs_csum()) {
            offload.csum_partial = true;
            offload.csum_start = hdr->csum_start;
            offload.csum_offset = hdr->csum_offset;
            count(slot::rx_csum_partial);
        }
    }
    if (hdr->is_gso()) {
        count(slot::rx_gso_frames);
        if (pass_up) {
            offload.gso = wire::GsoType::kTcpv4;
            offload.gso_size = hdr->gso_size;
        }
    }
    if (hdr->needs_csum() && !offload.csum_partial) {
        // 5.1.6.4.1: the field holds the pseudo-header sum; checksum from
        // csum_start to the end and store it there, as Linux's
        // skb_checksum_help() does (a result of 0 is sent as 0xffff).
        wire::ChecksumAccumulator acc;
        acc.add(frame.subspan(hdr->csum_start));
        std::uint16_t sum = acc.checksum();
        if (sum == 0) sum = 0xffff;
        wire::store_be16(frame.data() + hdr->csum_start + hdr->csum_offset, sum);
        count(slot::rx_csum_completed);
    }
    count(slot::rx_frames);
    count(slot::rx_bytes, frame.size());
    if (staged != nullptr) {
        rx_fault->offer(now, frame, *staged);
        return false;
    }
    if (tap != nullptr) [[unlikely]] tap_frame(FrameDirection::kIn, frame);
    on_frame(frame, offload);
    return true;
}

// Device side of TX: pops chains until one holds a frame the TAP may take
// (left in tx_chain; push it when done). Bad chains are counted and
// returned. False when the ring is empty (or broken).
bool TapPort::Impl::pop_tx_frame() {
    VirtqueueDevice& dev = tx->device();
    DescChain& chain = tx_chain;
    for (;;) {
        const PopResult r = dev.pop(chain);
        if (r == PopResult::kEmpty || r == PopResult::kBroken) return false;
        if (r == PopResult::kRejected) continue;  // counted by the device, returned to the driver
        if (!chain.writable.empty() || chain.readable.size() > IOV_MAX) {
            count(slot::tx_ring_faults);
            dev.push(chain.head, 0);
            continue;
        }
        // The device checks the header like the kernel would, before writing.
        std::array<std::uint8_t, kHdr> hdr_bytes{};
        const bool has_hdr = chain.readable_len >= kHdr + kEthHeaderLen;
        if (has_hdr) gather_read(chain.readable, hdr_bytes);
        const auto hdr = has_hdr ? VirtioNetHdr::parse(hdr_bytes) : std::nullopt;
        const bool gso_ok = !hdr || !hdr->is_gso() ||
                            (config.offloads && hdr->gso_protocol() == VIRTIO_NET_HDR_GSO_TCPV4 && hdr->needs_csum());
        if (!hdr || !gso_ok ||
            hdr->validate_for_frame(static_cast<std::size_t>(chain.readable_len - kHdr))) {
            count(slot::tx_bad_vnet_hdr);
            dev.push(chain.head, 0);
            continue;
        }
        return true;
    }
}

// The fault stage's TX sink: one header + frame to the TAP. False keeps the
// frame in the stage (EAGAIN, or a permanent failure that stops all I/O).
bool TapPort::Impl::write_frame(std::span<const std::uint8_t> bytes, std::size_t& written) {
    if (!failure.empty()) return false;
    const std::size_t expect = bytes.size() - (kHdr - tap_hdr);
    const iovec parts[2] = {{const_cast<std::uint8_t*>(bytes.data()), tap_hdr},
                            {const_cast<std::uint8_t*>(bytes.data()) + kHdr, bytes.size() - kHdr}};
    for (;;) {
        const ssize_t n = ::writev(fd.get(), parts, 2);
        if (n < 0) {
            const int err = errno;
            if (err == EINTR) continue;
            if (is_would_block(err)) {
                tx_blocked = true;
                count(slot::tx_eagain);
                return false;
            }
            count(slot::tx_errors);
            if (is_permanent(err)) {
                fail("write", errno_text(err));
                return false;
            }
            return true;  // e.g. EINVAL for a frame the kernel refuses: only this frame is lost
        }
        if (static_cast<std::size_t>(n) != expect) {
            count(slot::tx_errors);
        } else {
            count(slot::tx_frames);
            count(slot::tx_bytes, bytes.size() - kHdr);
            ++written;
            if (tap != nullptr) [[unlikely]] tap_frame(FrameDirection::kOut, bytes.subspan(kHdr));
        }
        return true;
    }
}

std::size_t TapPort::Impl::flush_tx_staged() {
    VirtqueueDevice& dev = tx->device();
    tx_blocked = false;
    std::size_t written = 0;
    if (!failure.empty()) return 0;
    in_tx_stage = true;
    const FaultInjector::Deliver sink = [this, &written](std::span<const std::uint8_t> b) {
        return write_frame(b, written);
    };
    tx_fault->release(now, sink);  // frames due or refused earlier go first
    while (!tx_blocked && failure.empty() && pop_tx_frame()) {
        const auto len = static_cast<std::size_t>(tx_chain.readable_len);  // <= buffer_size: max_chain_bytes
        gather_read(tx_chain.readable, wire::MutBytes(tx_scratch.data(), len));
        dev.push(tx_chain.head, 0);  // the stage owns the copy from here
        tx_fault->offer(now, std::span<std::uint8_t>(tx_scratch.data(), len), sink);
    }
    in_tx_stage = false;
    dev.notify_prepare();  // the driver is us: nothing to notify
    reap_tx();
    return written;
}

void TapPort::Impl::retire_faults() {
    auto retire = [](std::unique_ptr<FaultInjector>& f, FaultCounters& retired) {
        if (!f) return;
        retired = f->counters();
        retired.overflow += f->held_frames();  // discarded with the stage
        f.reset();
    };
    retire(rx_fault, rx_fault_retired);
    retire(tx_fault, tx_fault_retired);
}

std::uint64_t TapPort::Impl::ring_errors(const Virtqueue& q, Counter faults) const {
    const auto& dev = q.device().stats();
    const auto& drv = q.driver().stats();
    return dev.rejected + dev.avail_idx_jump + drv.bad_used_id + drv.bad_used_len + drv.used_idx_jump +
           counters[faults];
}

void TapPort::Impl::tap_frame(FrameDirection direction, std::span<const std::uint8_t> frame) {
    tap->frame(direction, std::span<const std::span<const std::uint8_t>>(&frame, 1));
}

// A TX chain as the TAP took it: its buffers after the virtio-net header.
void TapPort::Impl::tap_chain(const DescChain& chain) {
    tap_parts.clear();
    std::size_t skip = kHdr;
    for (const auto& b : chain.readable) {
        if (skip >= b.size()) {
            skip -= b.size();
            continue;
        }
        tap_parts.emplace_back(b.data() + skip, b.size() - skip);
        skip = 0;
    }
    tap->frame(FrameDirection::kOut, tap_parts);
}

// ---------------------------------------------------------------- TapPort

TapPort::TapPort(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
TapPort::~TapPort() = default;

std::unique_ptr<TapPort> TapPort::open(const TapPortConfig& config, std::string* error) {
    if (!is_valid_queue_size(config.queue_size)) {
        if (error != nullptr) {
            *error = config.name + ": queue_size " + std::to_string(config.queue_size) +
                     " is not a power of two in 1..32768";
        }
        return nullptr;
    }
    auto dev = open_tap_device(
        TapDeviceConfig{config.name, config.mtu, config.host_address, config.offloads, config.host_address6}, error);
    if (!dev) return nullptr;
    auto impl = std::make_unique<Impl>(config.queue_size);
    impl->config = config;
    impl->fd = std::move(dev->fd);
    impl->name = dev->name;
    impl->created = dev->created;
    impl->mtu = dev->mtu;
    impl->warnings = std::move(dev->warnings);
    // Refused offloads: the port runs exactly as configured without them.
    impl->config.offloads = dev->offloads;
    impl->rx_offloads = dev->offloads;
    impl->tap_hdr = dev->vnet_hdr_len;
    if (dev->offloads_refused) impl->count(slot::offload_refused);
    if (!impl->init(error)) return nullptr;
    return std::unique_ptr<TapPort>(new TapPort(std::move(impl)));
}

std::unique_ptr<TapPort> TapPort::adopt(int fd, std::string name, const TapPortConfig& config, std::string* error,
                                        std::size_t vnet_hdr_len) {
    UniqueFd owned(fd);
    if (vnet_hdr_len != kHdr && vnet_hdr_len != 10) {
        if (error != nullptr) *error = name + ": a virtio-net header is 12 or 10 bytes, not " + std::to_string(vnet_hdr_len);
        return nullptr;
    }
    if (!is_valid_queue_size(config.queue_size)) {
        if (error != nullptr) {
            *error = name + ": queue_size " + std::to_string(config.queue_size) + " is not a power of two in 1..32768";
        }
        return nullptr;
    }
    auto impl = std::make_unique<Impl>(config.queue_size);
    impl->config = config;
    impl->fd = std::move(owned);
    impl->name = std::move(name);
    impl->mtu = config.mtu;
    impl->rx_offloads = config.offloads;
    impl->tap_hdr = vnet_hdr_len;
    if (!impl->init(error)) return nullptr;
    return std::unique_ptr<TapPort>(new TapPort(std::move(impl)));
}

int TapPort::fd() const { return impl_->fd.get(); }
const std::string& TapPort::name() const { return impl_->name; }
bool TapPort::created() const { return impl_->created; }
const std::vector<std::string>& TapPort::warnings() const { return impl_->warnings; }
std::uint32_t TapPort::mtu() const { return impl_->mtu; }
std::size_t TapPort::buffer_size() const { return impl_->buffer_size; }

std::size_t TapPort::poll_rx(const std::function<void(std::span<const std::uint8_t> frame)>& on_frame) {
    return poll_rx(impl_->now, on_frame);
}

std::size_t TapPort::poll_rx(Instant now,
                             const std::function<void(std::span<const std::uint8_t> frame)>& on_frame) {
    return impl_->poll(now, [&on_frame](std::span<const std::uint8_t> f, const wire::RxOffload&) { on_frame(f); },
                       false);
}

std::size_t TapPort::poll_rx_offload(Instant now, const OffloadFrameHandler& on_frame) {
    return impl_->poll(now, on_frame, true);
}

bool TapPort::rx_offloads() const { return impl_->rx_offloads; }

std::size_t TapPort::Impl::poll(Instant t, const RxHandler& on_frame, bool want_offload) {
    Impl& p = *this;
    if (p.in_poll_rx || !p.failure.empty()) return 0;
    p.note_time(t);
    p.in_poll_rx = true;
    std::size_t delivered = 0;
    FaultInjector::Deliver staged;
    if (p.rx_fault) {
        staged = [&p, &on_frame, &delivered](std::span<const std::uint8_t> f) {
            if (p.tap != nullptr) [[unlikely]] p.tap_frame(FrameDirection::kIn, f);
            on_frame(f, wire::RxOffload{});
            ++delivered;
            return true;
        };
        p.rx_fault->release(p.now, staged);  // held frames that are due came first
    }
    std::uint32_t reads = 0;
    for (;;) {
        const Impl::Fill fill = p.fill_rx(p.config.rx_budget, reads);
        // Frames the stage delivers count themselves in `staged`.
        const std::size_t direct = p.deliver_rx(on_frame, want_offload, p.rx_fault ? &staged : nullptr);
        delivered += direct;
        // Out of posted buffers but within budget: they were just reposted.
        if (fill != Impl::Fill::kNoBuffers || reads >= p.config.rx_budget) break;
        if (!p.rx->device().has_available()) break;
    }
    p.in_poll_rx = false;
    return delivered;
}

bool TapPort::transmit(std::span<const std::uint8_t> frame) { return transmit(frame, wire::TxOffload{}); }

bool TapPort::transmit(std::span<const std::uint8_t> frame, const wire::TxOffload& offload) {
    return transmit(std::span<const std::span<const std::uint8_t>>(&frame, 1), offload);
}

bool TapPort::transmit(std::span<const std::span<const std::uint8_t>> parts, const wire::TxOffload& offload) {
    Impl& p = *impl_;
    p.reap_tx();
    std::size_t frame_len = 0;
    for (const auto& part : parts) frame_len += part.size();
    if (frame_len < kEthHeaderLen) {
        p.count(slot::tx_runt);
        return false;
    }
    if (frame_len > p.buffer_size - kHdr) {
        p.count(slot::tx_oversize);
        return false;
    }
    if (p.tx_free.empty() && !p.tx_blocked) flush_tx();
    if (p.tx_free.empty()) {
        p.count(slot::tx_ring_full);
        return false;
    }
    const std::uint16_t i = p.tx_free.back();
    p.tx_free.pop_back();
    const GuestAddr addr = p.tx_buffer(i);
    std::uint8_t* buf = p.host(addr);
    // Without offloads all zero (num_buffers is 0 on TX). The device half
    // checks a GSO header against config.offloads before the TAP sees it.
    VirtioNetHdr hdr;
    if (offload.partial_csum) {
        hdr.flags = VIRTIO_NET_HDR_F_NEEDS_CSUM;
        hdr.csum_start = offload.csum_start;
        hdr.csum_offset = offload.csum_offset;
    }
    if (offload.gso == wire::GsoType::kTcpv4) {
        hdr.gso_type = VIRTIO_NET_HDR_GSO_TCPV4;
        hdr.gso_size = offload.gso_size;
        hdr.hdr_len = offload.hdr_len;
        p.count(slot::tx_gso_frames);
    }
    hdr.emit(std::span<std::uint8_t>(buf, kHdr));
    std::uint8_t* out = buf + kHdr;
    for (const auto& part : parts) {
        if (part.empty()) continue;  // memcpy from an empty span's data() may be null
        std::memcpy(out, part.data(), part.size());
        out += part.size();
    }
    const GuestBuffer gb{addr, static_cast<std::uint32_t>(kHdr + frame_len)};
    if (!p.tx->driver().add(std::span<const GuestBuffer>(&gb, 1), {}, i)) {
        p.tx_free.push_back(i);
        p.count(slot::tx_ring_full);
        return false;
    }
    p.tx->driver().kick_prepare();  // the device is us: nothing to notify
    return true;
}

std::size_t TapPort::flush_tx() { return flush_tx(impl_->now); }

std::size_t TapPort::flush_tx(Instant now) {
    Impl& p = *impl_;
    p.note_time(now);
    if (p.in_tx_stage) return 0;  // a fault observer called back
    if (p.tx_fault) return p.flush_tx_staged();
    VirtqueueDevice& dev = p.tx->device();
    DescChain& chain = p.tx_chain;
    p.tx_blocked = false;
    std::size_t written = 0;
    if (!p.failure.empty()) return 0;
    while (p.pop_tx_frame()) {
        p.fill_iov(chain.readable);
        const ssize_t n = ::writev(p.fd.get(), p.iov.data(), static_cast<int>(p.iov.size()));
        if (n < 0) {
            const int err = errno;
            if (err == EINTR) {
                dev.unpop();
                continue;
            }
            if (is_would_block(err)) {
                dev.unpop();
                p.tx_blocked = true;
                p.count(slot::tx_eagain);
                break;
            }
            p.count(slot::tx_errors);
            if (is_permanent(err)) {  // keep the frame queued; nothing will be written any more
                dev.unpop();
                p.fail("write", errno_text(err));
                break;
            }
            // Otherwise (e.g. EINVAL for a frame the kernel refuses) only this frame is lost.
        } else if (static_cast<std::uint64_t>(n) != chain.readable_len - (kHdr - p.tap_hdr)) {
            p.count(slot::tx_errors);
        } else {
            p.count(slot::tx_frames);
            p.count(slot::tx_bytes, chain.readable_len - kHdr);
            ++written;
            if (p.tap != nullptr) [[unlikely]] p.tap_chain(chain);
        }
        dev.push(chain.head, 0);  // TX buffers are read-only: nothing written
    }
    dev.notify_prepare();  // the driver is us: nothing to notify
    p.reap_tx();
    return written;
}

bool TapPort::tx_blocked() const { return impl_->tx_blocked; }
bool TapPort::tx_pending() const {
    return impl_->tx->driver().in_flight() > 0 || (impl_->tx_fault && impl_->tx_fault->blocked());
}

bool TapPort::set_fault_injection(const FaultConfig& config, std::string* error) {
    Impl& p = *impl_;
    auto refuse = [&p, error](const std::string& why) {
        if (error != nullptr) *error = p.name + ": " + why;
        return false;
    };
    if (p.in_poll_rx || p.in_tx_stage) return refuse("fault injection cannot be changed from inside poll_rx()/flush_tx()");
    const std::vector<std::string> errors = validate(config);
    if (!errors.empty()) {
        std::string all;
        for (const auto& e : errors) all += (all.empty() ? "" : "; ") + e;
        return refuse(all);
    }
    const std::uint64_t pool = std::uint64_t{config.max_held_frames} * p.buffer_size;
    if (pool > kMaxFaultPool) {
        return refuse("fault_injection.max_held_frames: " + std::to_string(config.max_held_frames) + " x " +
                      std::to_string(p.buffer_size) + "-byte buffers needs more than 256 MiB per direction");
    }
    p.retire_faults();
    if (!config.enabled) return true;
    p.fault_ever = true;
    p.rx_fault = std::make_unique<FaultInjector>(FaultDirection::kRx, config.rx, config.seed, config.max_held_frames,
                                                 config.max_held_bytes, p.buffer_size - kHdr, 0);
    p.tx_fault = std::make_unique<FaultInjector>(FaultDirection::kTx, config.tx, config.seed, config.max_held_frames,
                                                 config.max_held_bytes, p.buffer_size, kHdr);
    p.rx_fault->add_counters(std::exchange(p.rx_fault_retired, FaultCounters{}));
    p.tx_fault->add_counters(std::exchange(p.tx_fault_retired, FaultCounters{}));
    p.rx_fault->set_observer(p.fault_observer);
    p.tx_fault->set_observer(p.fault_observer);
    p.tx_scratch.assign(p.buffer_size, 0);
    return true;
}

bool TapPort::fault_injection_enabled() const { return impl_->rx_fault != nullptr; }

void TapPort::set_fault_observer(FaultInjector::Observer observer) {
    Impl& p = *impl_;
    p.fault_observer = std::move(observer);
    if (p.rx_fault) p.rx_fault->set_observer(p.fault_observer);
    if (p.tx_fault) p.tx_fault->set_observer(p.fault_observer);
}

Instant TapPort::poll_at() const {
    const Impl& p = *impl_;
    Instant at = kNever;
    if (p.rx_fault) at = std::min(at, p.rx_fault->poll_at());
    if (p.tx_fault) at = std::min(at, p.tx_fault->poll_at());
    return at;
}
const std::string& TapPort::failure() const { return impl_->failure; }

void TapPort::set_frame_tap(FrameTap* tap) { impl_->tap = tap; }

void TapPort::visit_metrics(const MetricVisitor& visit) const {
    const Impl& p = *impl_;
#define TAPSTACK_X(field, kind, help) visit({"tap." #field, MetricKind::kind, help}, p.counters[slot::field]);
    TAPSTACK_TAP_COUNTERS(TAPSTACK_X)
#undef TAPSTACK_X
    static constexpr MetricInfo kRxRingErrors{"tap.rx_ring_errors", MetricKind::kCounter,
                                              "RX virtqueue faults: rejected chains, bad indices, failed reposts"};
    static constexpr MetricInfo kTxRingErrors{"tap.tx_ring_errors", MetricKind::kCounter,
                                              "TX virtqueue faults: rejected chains, bad indices"};
    static constexpr MetricInfo kTxQueued{"tap.tx_queued", MetricKind::kGauge,
                                          "Frames on the TX ring waiting for the TAP"};
    visit(kRxRingErrors, p.ring_errors(*p.rx, slot::rx_ring_faults));
    visit(kTxRingErrors, p.ring_errors(*p.tx, slot::tx_ring_faults));
    visit(kTxQueued, p.tx->driver().in_flight());
    if (p.fault_ever) {
        (p.rx_fault ? p.rx_fault->counters() : p.rx_fault_retired).visit(FaultDirection::kRx, visit);
        (p.tx_fault ? p.tx_fault->counters() : p.tx_fault_retired).visit(FaultDirection::kTx, visit);
        static constexpr MetricInfo kRxHeld{"fault.rx_held", MetricKind::kGauge,
                                            "Received frames the fault-injection stage holds now"};
        static constexpr MetricInfo kTxHeld{"fault.tx_held", MetricKind::kGauge,
                                            "Frames to send the fault-injection stage holds now"};
        visit(kRxHeld, p.rx_fault ? p.rx_fault->held_frames() : 0);
        visit(kTxHeld, p.tx_fault ? p.tx_fault->held_frames() : 0);
    }
}

void TapPort::visit_counters(const std::function<void(std::string_view name, std::uint64_t value)>& visit) const {
    visit_metrics([&visit](const MetricInfo& m, std::uint64_t value) { visit(m.name, value); });
}

}  // namespace tapstack::drivers
