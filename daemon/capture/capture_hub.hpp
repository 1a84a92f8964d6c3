// CaptureHub: live packet captures of the frames the stack receives and
// sends, one bounded pcapng buffer per capture.
//
// Theory of operation
// -------------------
// The hub is the TapPort's FrameTap (drivers/frame_tap.hpp) while at least
// one capture is open, and nothing otherwise: with no capture the port
// tests one null pointer per frame and the hub costs nothing. open()
// attaches it (through the `attach` function the owner gives), the last
// close() detaches it.
//
// Each Session owns a byte buffer holding pcapng blocks (pcapng.hpp) that
// its reader has not taken yet. frame() appends one Enhanced Packet Block
// per session, time-stamped with CLOCK_REALTIME, or, when the block does
// not fit under the session's limit, drops the frame and counts it (the
// session's `dropped` and the hub's capture.dropped). The stack never
// waits for a reader: a slow reader loses frames, never slows the stack,
// and memory stays within the limits. A session with a frame count stops
// taking frames once it has that many (`done`).
//
// The owner (the API server) drains a session with pending()/consume() as
// its socket accepts bytes and is told through `notify` when a session that
// was empty gains bytes or is done, so it only writes when there is
// something to write. finish() appends the statistics block (frames seen,
// dropped, delivered) that ends an orderly capture; it may exceed the limit
// by that one small block.
//
// Non-goals: filters (pipe into tcpdump for that), several interfaces.
#pragma once

#include <cstdint>
#include <functional>
#include <list>
#include <memory>
#include <span>
#include <string>

#include "daemon/capture/pcapng.hpp"
#include "drivers/frame_tap.hpp"
#include "stack/metrics.hpp"

namespace tapstack::capture {

// The hub's counters, X(field, kind, help), named "capture.<field>"; the
// gauge capture.sessions is added by visit_metrics().
#define TAPSTACK_CAPTURE_COUNTERS(X)                                                                  \
    X(opened, kCounter, "Packet captures started")                                                    \
    X(frames, kCounter, "Frames written into packet captures (each capture counts)")                  \
    X(dropped, kCounter, "Frames packet captures lost because their reader was too slow")

// Bounds of what one capture may ask for.
inline constexpr std::uint32_t kMaxSnaplen = 262144;  // as tcpdump: whole frames, GSO super-frames included
inline constexpr std::uint32_t kMinBuffer = 64 * 1024;
inline constexpr std::uint32_t kMaxBuffer = 64 * 1024 * 1024;
inline constexpr std::uint32_t kDefaultBuffer = 4 * 1024 * 1024;
inline constexpr std::size_t kMaxSessions = 8;

struct SessionOptions {
    std::uint64_t count = 0;        // frames to capture, 0 = until closed
    std::uint32_t snaplen = kMaxSnaplen;
    std::uint32_t buffer = kDefaultBuffer;  // bytes of pcapng the reader may fall behind
};

class Session {
public:
    std::span<const std::uint8_t> pending() const;
    void consume(std::size_t n);
    // Ends the capture in order: no more frames, the statistics block last.
    void finish(std::uint64_t now_ns);
    bool done() const { return done_; }  // count reached or finished
    bool finished() const { return finished_; }
    std::uint64_t captured() const { return captured_; }
    std::uint64_t dropped() const { return dropped_; }
    std::uint64_t seen() const { return seen_; }
    const SessionOptions& options() const { return options_; }
    std::uint64_t owner = 0;  // the owner's key for the notify callback

private:
    friend class CaptureHub;
    SessionOptions options_;
    pcapng::Bytes buffer_;
    std::size_t head_ = 0;  // bytes of buffer_ already consumed
    std::uint64_t start_ns_ = 0;
    std::uint64_t seen_ = 0;
    std::uint64_t captured_ = 0;
    std::uint64_t dropped_ = 0;
    bool done_ = false;
    bool finished_ = false;
};

class CaptureHub final : public drivers::FrameTap {
public:
    using Attach = std::function<void(drivers::FrameTap* tap)>;
    using Notify = std::function<void(Session& session)>;

    // `interface_name` goes into every capture's interface block.
    CaptureHub(std::string interface_name, Attach attach, Notify notify);
    ~CaptureHub();
    CaptureHub(const CaptureHub&) = delete;
    CaptureHub& operator=(const CaptureHub&) = delete;

    // nullptr when kMaxSessions are open. The session starts with the
    // pcapng header blocks pending.
    Session* open(const SessionOptions& options, std::uint64_t owner);
    void close(Session* session);
    std::size_t sessions() const { return sessions_.size(); }

    void frame(drivers::FrameDirection direction, std::span<const std::span<const std::uint8_t>> parts) override;

    // capture.* figures (stack/metrics.hpp).
    void visit_metrics(const MetricVisitor& visit) const;

    // CLOCK_REALTIME in nanoseconds, the capture's time base.
    static std::uint64_t wall_clock_ns();

private:
    std::string interface_name_;
    Attach attach_;
    Notify notify_;
    std::list<std::unique_ptr<Session>> sessions_;
    bool attached_ = false;
    struct Counters {
        TAPSTACK_CAPTURE_COUNTERS(TAPSTACK_METRIC_FIELD)
    } counters_;
};

}  // namespace tapstack::capture
