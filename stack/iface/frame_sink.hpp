// Where the stack's outgoing Ethernet frames go.
//
// The interface hands each complete frame (Ethernet header onward, no
// virtio-net header) to the sink; the daemon's sink puts it on the driver's
// TX virtqueue, a test's sink records it or feeds a simulated link. A sink
// may copy the frame; the span is valid only during the call.
#pragma once

#include <cstdint>
#include <span>

namespace tapstack::iface {

class FrameSink {
public:
    virtual ~FrameSink() = default;
    // Returns false when the frame was dropped (e.g. TX ring full); the
    // caller counts it. TCP recovers by retransmission.
    virtual bool transmit(std::span<const std::uint8_t> frame) = 0;
};

}  // namespace tapstack::iface
