// Where the stack's outgoing Ethernet frames go.
//
// The interface hands each complete frame (Ethernet header onward, no
// virtio-net header) to the sink; the daemon's sink puts it on the driver's
// TX virtqueue, a test's sink records it or feeds a simulated link. A sink
// may copy the frame; the span is valid only during the call.
//
// transmit_offload(): a frame with a wire::TxOffload for a
// TCP segment that asks for checksum offload or TSO (offsets from the
// Ethernet header). A sink that does not override it gets the frame
// completed in software: the checksum is filled in and a TSO super-frame
// goes out as one oversized frame, which a simulated link or another
// Interface accepts as it is.
//
// Fewer copies: transmit_parts(), one frame given as consecutive
// pieces (scatter/gather), so the interface puts the Ethernet and IPv4
// headers it builds on its stack in front of TCP's segment without copying
// the segment into a frame of its own. The interface sends every IPv4
// frame this way. A sink that does not override it gets the pieces joined
// into one buffer and handed to transmit() (or transmit_offload() when the
// offload is not none()), exactly the calls it got before; the daemon's
// sink overrides it and the driver copies the pieces straight into its TX
// virtqueue buffer, the one copy the data makes between TCP and the TAP.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

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
    // `parts` in order make one frame; offsets in `offload` count from the
    // start of the first part. Spans are valid only during the call.
    using Parts = std::span<const std::span<const std::uint8_t>>;
    virtual bool transmit_parts(Parts parts, const wire::TxOffload& offload) {
        std::size_t len = 0;
        for (const auto& p : parts) len += p.size();
        std::vector<std::uint8_t> frame;
        frame.reserve(len);
        for (const auto& p : parts) frame.insert(frame.end(), p.begin(), p.end());
        if (offload.none()) return transmit(std::span<const std::uint8_t>(frame));
        return transmit_offload(frame, offload);
    }
};

}  // namespace tapstack::iface
