// FrameTap: a passive observer of the frames a TapPort hands to the stack
// and writes to the TAP, for packet capture.
//
// TapPort calls frame() for every frame at the point where it is final:
// received frames as they are handed to the stack (after the
// fault-injection stage: what the stack really sees, drops removed,
// corruption and duplicates included), sent frames once the TAP took them
// (after the stage: what the peer really gets). Frames are Ethernet onward,
// without the virtio-net header; with offloads they may be GSO super-frames
// with partial checksums, exactly as they cross the TAP.
//
// Cost: without a tap the port tests one pointer per frame. frame() runs
// inside poll_rx()/flush_tx(): it must not call back into the port, and it
// must be quick (copy what it wants and return); the parts are valid only
// during the call.
#pragma once

#include <cstdint>
#include <span>

namespace tapstack::drivers {

enum class FrameDirection : std::uint8_t { kIn, kOut };

class FrameTap {
public:
    // `parts` in order make up one frame.
    virtual void frame(FrameDirection direction, std::span<const std::span<const std::uint8_t>> parts) = 0;

protected:
    ~FrameTap() = default;
};

}  // namespace tapstack::drivers
