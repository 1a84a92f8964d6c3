// Time as the stack sees it: a point on a clock that the caller owns.
//
// The stack never reads a clock. Every entry point that can depend on time
// takes an `Instant` from the caller, and every component that has timers
// answers `poll_at()` with the next `Instant` at which it wants to be called.
// The daemon feeds it CLOCK_MONOTONIC (via libuv); tests feed a virtual clock
// they advance by hand, which makes every timer path deterministic.
#pragma once

#include <chrono>
#include <cstdint>

namespace tapstack {

// A clock with no now(): only the caller can tell the time.
struct StackClock {
    using rep = std::int64_t;
    using period = std::nano;
    using duration = std::chrono::duration<rep, period>;
    using time_point = std::chrono::time_point<StackClock>;
    static constexpr bool is_steady = true;
};

using Duration = StackClock::duration;
using Instant = StackClock::time_point;

// "No deadline": poll_at() returns this when nothing is scheduled.
inline constexpr Instant kNever = Instant::max();

constexpr Instant instant_from_ns(std::int64_t ns) { return Instant(Duration(ns)); }
constexpr std::int64_t to_ns(Instant t) { return t.time_since_epoch().count(); }

using std::chrono::milliseconds;
using std::chrono::microseconds;
using std::chrono::nanoseconds;
using std::chrono::seconds;

}  // namespace tapstack
