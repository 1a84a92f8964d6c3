// Where the stack's outgoing Ethernet frames go.
//
// The interface hands each complete frame (Ethernet header onward, no
// virtio-net header) to the sink; the daemon's sink puts it on the driver's
// TX virtqueue, a test's sink records it or feeds a simulated link. A sink
// may copy the frame; the span is valid only during the call.
//
// Adds (issue 5): transmit_offload(), a frame with a wire::TxOffload for a
// TCP segment that asks for checksum offload or TSO (offsets from the
// Ethernet header). A sink that does not override it gets the frame
// completed in software: the checksum is filled in and a TSO super-frame
// goes out as one oversized frame, which a simulated link or another
// Interface accepts as it is.
#pragma once

#include <cstdint>
#include <span>

#include "stack/wire/offload.hpp"

namespace tapstack::iface {

class FrameSink {
public:
    virtual ~FrameSink() = default;
    // Returns false when the frame was dropped (e.g. TX ring full); the
    // caller counts it. TCP recovers by retransmission.
    virtual bool transmit(std::span<const std::uint8_t> frame) = 0;
    // `frame` is writable so the default can complete the checksum in place.
    virtual bool transmit_offload(std::span<std::uint8_t> frame, const wire::TxOffload& offload) {
        wire::complete_partial_checksum(frame, offload);
        return transmit(std::span<const std::uint8_t>(frame));
    }
};

}  // namespace tapstack::iface
