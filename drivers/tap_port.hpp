// TapPort: the daemon's network port, a TAP device behind two virtqueues.
//
// CONTRACT (written before the implementation; keep the public API).
//
//   stack  --transmit()-->  TX virtqueue (driver side)  --flush_tx()-->  TAP fd
//   stack  <--poll_rx()---  RX virtqueue (driver side)  <--(backend)---  TAP fd
//
// The port plays both roles of a split virtqueue: the *driver* (what a guest
// kernel's virtio-net driver would do: post RX buffers, add TX frames, reap
// used entries) and the *device* (what a virtio-net device or vhost backend
// would do: fill posted RX buffers from the TAP, consume TX frames into the
// TAP). Every frame on both rings carries a struct virtio_net_hdr in front,
// exactly as the TAP delivers and takes it with IFF_VNET_HDR, so the device
// half can later be replaced by a real virtio device or vhost-user without
// touching the stack.
//
// All I/O is non-blocking; the daemon watches fd() with libuv.
//
// Adds: an optional fault-injection stage (drivers/fault_injector.hpp)
// between the rings and the TAP, off by default. RX frames pass it after the
// RX ring's checks (and after a NEEDS_CSUM checksum is completed, so a
// corrupted bit is caught by the stack's checksum checks); TX frames pass it
// when the device half takes them off the TX ring, before the TAP write. The
// port never reads a clock: the Instant overloads of poll_rx() and
// flush_tx() give the stage the time, poll_at() says when held frames fall
// due. The overloads without an Instant use the latest Instant seen.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "drivers/fault_injector.hpp"
#include "drivers/frame_tap.hpp"
#include "stack/metrics.hpp"
#include "stack/time.hpp"
#include "stack/wire/addresses.hpp"
#include "stack/wire/offload.hpp"

namespace tapstack::drivers {

struct TapPortConfig {
    std::string name = "tap0";                 // TAP to create, or attach to if it exists
    std::uint16_t mtu = 1500;                  // set on the device when we created it or may change it
    std::optional<wire::Ipv4Cidr> host_address;  // given to the kernel side of the TAP if set
    std::optional<wire::Ipv6Cidr> host_address6;  // likewise, without DAD (tap_device.hpp)
    std::uint16_t queue_size = 256;            // descriptors per virtqueue (power of two, <= 32768)
    std::uint32_t rx_budget = 256;             // frames taken from the TAP per poll_rx() call
    // Bytes per RX and TX buffer, virtio-net header included. 0 picks
    // 12 + 14 + 4 (802.1Q tag) + MTU rounded up to 64, with MTU the larger
    // of `mtu` and the device's; with `offloads`, room for a 64 KiB GSO
    // super-frame (12 + 14 + 4 + 65535, rounded up to 64).
    std::uint32_t buffer_size = 0;
    // virtio-net offloads. false: TUNSETOFFLOAD 0, GSO frames are
    // counted and dropped, every frame is handed over fully checksummed;
    // exactly the behaviour before offloads existed. true: asks the kernel
    // for TUN_F_CSUM | TUN_F_TSO4 (a refusal is one warning and counted in
    // tap.offload_refused; the port then works exactly as with false),
    // delivers GSO super-frames and partial checksums upward with their
    // RxOffload, and takes TSO super-frames (TxOffload) on TX. (tapstackd's
    // configuration turns them on by default; this struct's default is the
    // plain port.)
    bool offloads = false;
};

class TapPort {
public:
    // Opens /dev/net/tun with IFF_TAP | IFF_NO_PI | IFF_VNET_HDR, creating
    // the device or attaching to an existing persistent one; sets the
    // virtio-net header size to 12 (virtio 1.x), non-blocking mode, MTU,
    // link up, and the host address when configured. On failure returns
    // nullptr and a one-line reason in *error naming the device and the
    // missing privilege or bad setting.
    static std::unique_ptr<TapPort> open(const TapPortConfig& config, std::string* error);
    // Adds: runs the port over an fd that already behaves like a configured
    // TAP (one frame per read()/write(), each behind a 12-byte virtio-net
    // header, non-blocking), e.g. one end of a SOCK_SEQPACKET socketpair in
    // tests. Takes ownership of fd (closed on failure too). `name` is only
    // reported by name(). If fd is a socket, the caller ignores SIGPIPE.
    // `vnet_hdr_len` 10 stands for a TAP that kept the kernel's 10-byte
    // header (TUNSETVNETHDRSZ refused, see tap_device.hpp).
    static std::unique_ptr<TapPort> adopt(int fd, std::string name, const TapPortConfig& config, std::string* error,
                                          std::size_t vnet_hdr_len = 12);
    ~TapPort();

    int fd() const;
    const std::string& name() const;  // the kernel's name for the device
    // Adds: true when open() created the device, false when it attached to
    // an existing persistent one (or adopted an fd).
    bool created() const;
    // Adds: settings open() could not apply to an attached device (no
    // CAP_NET_ADMIN), each one line with the command that would fix it. The
    // daemon logs them; the port works regardless.
    const std::vector<std::string>& warnings() const;
    std::uint32_t mtu() const;         // Adds: the device's MTU after configuration
    std::size_t buffer_size() const;   // Adds: bytes per RX/TX buffer, header included

    // Reads frames from the TAP into the RX ring (device side), then hands
    // each received frame (Ethernet header onward, virtio-net header
    // stripped and validated) to on_frame, and reposts the buffers. Stops at
    // EAGAIN or after config.rx_budget frames. Returns frames delivered.
    // on_frame may call transmit()/flush_tx(); a nested poll_rx() returns 0.
    std::size_t poll_rx(const std::function<void(std::span<const std::uint8_t> frame)>& on_frame);

    // Queues one Ethernet frame on the TX ring (copied, virtio-net header
    // prepended). False when the ring is full; the frame is dropped and
    // counted. (A full ring is first flushed unless tx_blocked(), so a
    // burst larger than the queue is not dropped while the TAP accepts it.)
    // Frames shorter than 14 bytes or longer than buffer_size() - 12 are
    // also refused and counted.
    bool transmit(std::span<const std::uint8_t> frame);
    // Writes every queued TX frame to the TAP (device side), returning used
    // descriptors to the driver side. Stops at EAGAIN: then tx_blocked() is
    // true and the daemon waits for the fd to become writable.
    std::size_t flush_tx();
    bool tx_blocked() const;
    // Frames on the TX ring, or refused by the TAP and kept by the stage.
    bool tx_pending() const;

    // Adds: empty while the port works; otherwise one line naming the device,
    // the operation and the cause of a failure that will not go away, e.g.
    // "tap0: read: File descriptor in bad state (EBADFD)" after the device
    // was deleted under us (its fd then polls POLLERR forever). Once set,
    // poll_rx() and flush_tx() do no I/O; the daemon should stop watching
    // fd() and shut down or reopen.
    const std::string& failure() const;

    // Adds, fault injection. Validates `config` (see validate() in
    // fault_injector.hpp) and replaces the stage: enabled = false removes it
    // (the port is then a plain pass-through again). Frames the old stage
    // still held are discarded and counted as overflow; counters carry on.
    // False with *error (one line, every problem) on a bad config, or when
    // called from inside poll_rx()/flush_tx(); the stage is unchanged then.
    bool set_fault_injection(const FaultConfig& config, std::string* error);
    bool fault_injection_enabled() const;
    // Called for every fault decision and every release of a held frame, in
    // both directions (for a debug log: describe(event)). Must not call back
    // into the port.
    void set_fault_observer(FaultInjector::Observer observer);
    // Adds: poll_rx() and flush_tx() at time `now`: frames the stage held
    // and that are due by `now` go out first. Call them (poll_rx() even
    // when the fd is not readable) once `now` reaches poll_at().
    std::size_t poll_rx(Instant now, const std::function<void(std::span<const std::uint8_t> frame)>& on_frame);
    std::size_t flush_tx(Instant now);

    // Offloads (TapPortConfig::offloads). poll_rx() that hands
    // each frame up with its RxOffload: with offloads on and no fault stage,
    // a partial checksum (NEEDS_CSUM) is left for the stack (csum_partial),
    // DATA_VALID is passed on, and GSO TCPV4 super-frames come with
    // gso/gso_size. Otherwise (offloads off, or a fault stage, which needs
    // complete frames to corrupt) the RxOffload is empty and every checksum
    // is completed, exactly as poll_rx(). The plain poll_rx() with offloads
    // on gets super-frames too, checksums completed.
    using OffloadFrameHandler = std::function<void(std::span<const std::uint8_t> frame, const wire::RxOffload&)>;
    std::size_t poll_rx_offload(Instant now, const OffloadFrameHandler& on_frame);
    // transmit() with a TxOffload: the virtio-net header carries NEEDS_CSUM
    // with csum_start/csum_offset and, for a TSO super-frame, gso_type TCPV4,
    // gso_size and hdr_len, so the kernel completes the checksum and cuts
    // the frame. A GSO frame without offloads on is refused and counted
    // (tap.tx_bad_vnet_hdr). An empty TxOffload is transmit(frame).
    bool transmit(std::span<const std::uint8_t> frame, const wire::TxOffload& offload);
    // Fewer copies: one frame given as consecutive parts (e.g. the
    // interface's Ethernet + IPv4 headers and TCP's segment, see
    // iface::FrameSink::transmit_parts), copied straight into the TX buffer
    // behind the virtio-net header: no frame is assembled anywhere else.
    // Same checks, counters and result as transmit(frame, offload), with
    // the frame's length the sum of the parts.
    bool transmit(std::span<const std::span<const std::uint8_t>> parts, const wire::TxOffload& offload);
    // True when TapPortConfig::offloads is on and the kernel took them
    // (an adopted fd: when configured): offloads are in effect both ways.
    bool rx_offloads() const;

    // Adds: when held frames fall due; kNever without a stage or when
    // nothing is held (or the only frames held wait for the TAP to take
    // them: then tx_blocked() is true and the daemon waits for writability).
    Instant poll_at() const;

    // Counters and gauges with name, kind and help (stack/metrics.hpp):
    // "tap.rx_frames", "tap.tx_ring_full", ... Once fault injection was
    // enabled, also "fault.rx_dropped", "fault.tx_duplicated", ... (see
    // FaultCounters) and the gauges "fault.rx_held" / "fault.tx_held".
    void visit_metrics(const MetricVisitor& visit) const;
    // The same by stable name only.
    void visit_counters(const std::function<void(std::string_view name, std::uint64_t value)>& visit) const;

    // Packet capture (frame_tap.hpp): every frame handed to the stack and
    // every frame the TAP took goes to `tap` as well; nullptr (the default)
    // turns it off. The tap must outlive its registration.
    void set_frame_tap(FrameTap* tap);

private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
    explicit TapPort(std::unique_ptr<Impl> impl);
};

}  // namespace tapstack::drivers
