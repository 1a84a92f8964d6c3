// FaultInjector: a link that misbehaves on purpose, between the rings and
// the TAP.
//
// Theory of operation
// -------------------
// One FaultInjector serves one direction (rx = TAP -> stack, tx = stack ->
// TAP); TapPort owns one per direction once set_fault_injection() enabled
// the stage, and runs every frame through offer(). For each frame offered
// the injector draws seven numbers from its own PRNG (xoshiro256** seeded
// by splitmix64 from the seed and the direction), always seven, so the fate
// of frame n depends only on the seed, the direction's settings and n:
// changing one percentage does not reshuffle the others. In order:
//   1. drop (drop_pct): the frame is gone;
//   2. corrupt (corrupt_pct): one bit, uniform over the bytes after the
//      14-byte Ethernet header, is flipped, so the IPv4/TCP/UDP/ICMP
//      checksums catch it (a frame of only a header is left alone);
//   3. duplicate (duplicate_pct): the frame is delivered twice, back to back
//      (both copies carry the same corruption, if any);
//   4. delay (delay_pct): held for a uniform time in [delay_min, delay_max];
//      different delays reorder delayed frames among themselves;
//   5. otherwise reorder (reorder_pct): held until reorder_depth later frames
//      have been delivered, or reorder_max_hold has passed if traffic stops;
//   6. otherwise delivered at once.
// Held frames are copied into a pool of max_held_frames slots allocated when
// the injector is made (nothing is allocated per frame), also bounded by
// max_held_bytes; a frame that finds no room is dropped and counted
// ("overflow"). poll_at() says when the next held frame falls due; release()
// hands out every frame whose time has come, in order.
//
// The sink (a Deliver callback) may refuse a frame (the TAP said EAGAIN):
// the injector then keeps it, and everything after it, in a ready queue and
// offers them first on the next release(), so back-pressure never reorders
// or loses frames. Frames and decisions reach an optional observer as
// FaultEvents (the daemon logs them at debug level; drivers/ does no logging).
//
// Time comes only from the Instant arguments. Not thread-safe.
// Non-goals: rate limiting, loss bursts (Gilbert-Elliott), per-flow rules.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "stack/metrics.hpp"
#include "stack/time.hpp"

namespace tapstack::drivers {

struct FaultDirectionConfig {
    double drop_pct = 0;       // each in [0, 100]
    double duplicate_pct = 0;
    double reorder_pct = 0;
    double corrupt_pct = 0;
    double delay_pct = 0;
    Duration delay_min{0};     // delay drawn uniformly from [delay_min, delay_max];
    Duration delay_max{0};     // equal values give a fixed delay
    std::uint32_t reorder_depth = 3;              // later frames that overtake a reordered one (1..1000)
    Duration reorder_max_hold = milliseconds(10);  // released after this even if no frame follows
};

struct FaultConfig {
    bool enabled = false;
    FaultDirectionConfig rx;  // TAP -> stack
    FaultDirectionConfig tx;  // stack -> TAP
    std::uint64_t seed = 1;
    std::uint32_t max_held_frames = 1024;              // per direction (1..65536)
    std::uint64_t max_held_bytes = std::uint64_t{4} << 20;  // per direction, frame bytes
};

// One line saying what the stage will do, for the daemon's start-up log:
// "fault injection off", or "fault injection on (seed 1, ...): rx drop 1% ...; tx ...".
std::string describe(const FaultConfig& config);

// Every problem with `config`, one line each naming the field, e.g.
// "fault_injection.rx.drop: 120 is not within 0..100"; empty when valid.
// Checked whether or not the stage is enabled.
std::vector<std::string> validate(const FaultConfig& config);

enum class FaultDirection : std::uint8_t { kRx, kTx };
std::string_view to_string(FaultDirection direction);  // "rx", "tx"

enum class FaultAction : std::uint8_t {
    kDrop,       // dropped by drop_pct
    kCorrupt,    // bit `bit` flipped
    kDuplicate,  // will be delivered twice
    kDelay,      // held for `delay`
    kReorder,    // held for reorder_depth later frames
    kOverflow,   // a frame to hold found the pool full: dropped
    kRelease,    // a held frame was delivered after `delay`
};
std::string_view to_string(FaultAction action);

struct FaultEvent {
    FaultDirection direction = FaultDirection::kRx;
    FaultAction action = FaultAction::kDrop;
    std::uint64_t frame_index = 0;          // frames offered in this direction before this one
    std::span<const std::uint8_t> frame;    // Ethernet header onward; valid during the call only
    std::uint32_t bit = 0;                  // kCorrupt: bit offset from the start of the frame
    Duration delay{0};                      // kDelay: planned hold; kRelease: time actually held
};
// One line for a debug log: direction, index, action, and the frame in
// short (length; for IPv4 the addresses and protocol; for TCP the ports,
// flags, seq, ack and payload length), e.g.
// "tx #812 drop: 1514 bytes IPv4 10.0.0.2 > 10.0.0.1 TCP 80 > 40000 [.] seq 1448001 ack 1 len 1448".
std::string describe(const FaultEvent& event);

// Counters of one direction, X(field, kind, help), named
// "fault.<dir>_<field>" by visit() (stack/metrics.hpp).
#define TAPSTACK_FAULT_COUNTERS(X)                                                                    \
    X(frames, kCounter, "Frames offered to the fault-injection stage")                                \
    X(dropped, kCounter, "Frames the fault-injection stage dropped")                                  \
    X(corrupted, kCounter, "Frames the fault-injection stage corrupted (one bit flipped)")            \
    X(duplicated, kCounter, "Frames the fault-injection stage sent twice")                            \
    X(delayed, kCounter, "Frames the fault-injection stage held back")                                \
    X(reordered, kCounter, "Frames the fault-injection stage let others overtake")                    \
    X(overflow, kCounter, "Frames dropped for want of room to hold them")                             \
    X(released, kCounter, "Held frames delivered later")

struct FaultCounters {
    TAPSTACK_FAULT_COUNTERS(TAPSTACK_METRIC_FIELD)
    void visit(FaultDirection direction, const MetricVisitor& visit) const;
    FaultCounters& operator+=(const FaultCounters& other);
};

class FaultInjector {
public:
    // Returns false when the frame could not be taken now (e.g. EAGAIN);
    // the injector keeps it and offers it again on the next release().
    using Deliver = std::function<bool(std::span<const std::uint8_t> bytes)>;
    using Observer = std::function<void(const FaultEvent& event)>;

    // `prefix_len` bytes precede the Ethernet frame in every buffer offered
    // (TX keeps its virtio-net header with the frame); they are carried
    // along, never corrupted, and not part of FaultEvent::frame.
    // `max_buffer_len` is the largest buffer (prefix included) offer() takes.
    // `config` and the limits must have passed validate().
    FaultInjector(FaultDirection direction, const FaultDirectionConfig& config, std::uint64_t seed,
                  std::uint32_t max_held_frames, std::uint64_t max_held_bytes, std::size_t max_buffer_len,
                  std::size_t prefix_len);
    ~FaultInjector();
    FaultInjector(const FaultInjector&) = delete;
    FaultInjector& operator=(const FaultInjector&) = delete;

    // Runs one buffer (prefix + frame) through the stage; may flip a bit in
    // it. Whatever is deliverable now (this frame, its duplicate, reordered
    // frames it released) goes to `deliver`, in order. A buffer larger than
    // max_buffer_len is passed through untouched.
    void offer(Instant now, std::span<std::uint8_t> buffer, const Deliver& deliver);
    // Delivers every held frame that is due at `now` (or was refused
    // earlier), in order, until `deliver` refuses one. Returns how many
    // deliveries were made.
    std::size_t release(Instant now, const Deliver& deliver);
    // The next instant at which release() has something to do by time;
    // kNever when nothing waits for a time. Frames refused by the sink wait
    // for the sink, not for a time (see blocked()).
    Instant poll_at() const;
    bool blocked() const;              // frames wait because the sink refused one
    std::size_t held_frames() const;   // in the pool now, ready queue included
    std::uint64_t held_bytes() const;

    void set_observer(Observer observer);
    FaultDirection direction() const;
    const FaultCounters& counters() const;
    // Carries counters over from an injector this one replaces.
    void add_counters(const FaultCounters& earlier);

private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

}  // namespace tapstack::drivers
