// TimerWheel (stack/tcp/timer_wheel.hpp) against a plain reference model:
// random schedules, re-schedules and cancels over ranges from microseconds to
// years, expiring at random instants; after every step the wheel must hand
// out exactly the ids the model says are due and name the exact next wake.
#include <doctest/doctest.h>

#include <algorithm>
#include <map>
#include <random>
#include <vector>

#include "stack/tcp/timer_wheel.hpp"

using namespace tapstack;
using tapstack::tcp::TimerWheel;

namespace {

struct Model {
    std::map<std::uint32_t, Instant> when;

    Instant next() const {
        Instant m = kNever;
        for (const auto& [id, w] : when) m = std::min(m, w);
        return m;
    }
    std::vector<std::uint32_t> expire(Instant now) {
        std::vector<std::uint32_t> due;
        for (auto it = when.begin(); it != when.end();) {
            if (it->second <= now) {
                due.push_back(it->first);
                it = when.erase(it);
            } else {
                ++it;
            }
        }
        return due;
    }
};

std::vector<std::uint32_t> expire_sorted(TimerWheel& w, Instant now) {
    std::vector<std::uint32_t> due;
    w.expire(now, due);
    std::sort(due.begin(), due.end());
    return due;
}

}  // namespace

TEST_CASE("timer wheel: expiry and next_wake() match a reference model exactly (random ops, ns to months ahead)") {
    const Duration spans[] = {microseconds(300), milliseconds(3), milliseconds(70), milliseconds(900),
                              seconds(5), seconds(75), seconds(7200), std::chrono::hours(24 * 40)};
    for (std::uint64_t seed = 1; seed <= 20; ++seed) {
        INFO("seed=" << seed);
        std::mt19937_64 rng(seed);
        TimerWheel wheel;
        Model model;
        Instant now = instant_from_ns(5'000'000'123);
        for (int step = 0; step < 3000; ++step) {
            const auto op = rng() % 10;
            const auto id = static_cast<std::uint32_t>(rng() % 64);
            if (op < 5) {
                const Duration span = spans[rng() % std::size(spans)];
                // Sometimes in the past or exactly now: due at the next expire.
                const auto off = static_cast<std::int64_t>(rng() % static_cast<std::uint64_t>(span.count())) -
                                 (rng() % 8 == 0 ? span.count() / 2 : 0);
                const Instant when = now + Duration(off);
                wheel.schedule(id, when);
                model.when[id] = when;
            } else if (op < 6) {
                wheel.cancel(id);
                model.when.erase(id);
            } else {
                // Jump ahead: often a little, sometimes to the next wake, sometimes far.
                const auto kind = rng() % 4;
                if (kind == 0 && model.next() != kNever)
                    now = std::max(now, model.next());
                else if (kind == 1)
                    now += Duration(static_cast<std::int64_t>(rng() % 2'000'000));
                else if (kind == 2)
                    now += Duration(static_cast<std::int64_t>(rng() % 100'000'000'000ull));
                else
                    now += milliseconds(static_cast<std::int64_t>(rng() % 5));
                const auto got = expire_sorted(wheel, now);
                const auto want = model.expire(now);
                REQUIRE(got == want);
            }
            REQUIRE(wheel.size() == model.when.size());
            REQUIRE(wheel.next_wake() == model.next());
            if (model.when.contains(id)) REQUIRE(wheel.wake_of(id) == model.when[id]);
        }
    }
}

TEST_CASE("timer wheel: a wake time later in the current 1 ms tick is not handed out early") {
    TimerWheel w;
    const Instant t0 = instant_from_ns(1'000'000'000);
    w.schedule(1, t0 + microseconds(700));
    w.schedule(2, t0 + microseconds(200));
    CHECK(expire_sorted(w, t0 + microseconds(199)).empty());
    CHECK(w.next_wake() == t0 + microseconds(200));
    CHECK(expire_sorted(w, t0 + microseconds(200)) == std::vector<std::uint32_t>{2});
    CHECK(w.next_wake() == t0 + microseconds(700));
    CHECK(expire_sorted(w, t0 + microseconds(699)).empty());
    CHECK(expire_sorted(w, t0 + microseconds(700)) == std::vector<std::uint32_t>{1});
    CHECK(w.next_wake() == kNever);
}

TEST_CASE("timer wheel: re-scheduling moves the one entry of an id; cancel removes it; far times fire exactly") {
    TimerWheel w;
    const Instant t0 = instant_from_ns(3'000'000'000);
    w.schedule(7, t0 + seconds(7200));  // keepalive idle
    w.schedule(8, t0 + seconds(60));    // TIME-WAIT 2*MSL
    CHECK(w.size() == 2);
    w.schedule(7, t0 + seconds(7300));  // re-armed: still one entry
    CHECK(w.size() == 2);
    CHECK(w.next_wake() == t0 + seconds(60));
    CHECK(expire_sorted(w, t0 + seconds(60) - nanoseconds(1)).empty());
    CHECK(expire_sorted(w, t0 + seconds(60)) == std::vector<std::uint32_t>{8});
    CHECK(w.next_wake() == t0 + seconds(7300));
    CHECK(expire_sorted(w, t0 + seconds(7200)).empty());  // the old time is gone
    CHECK(expire_sorted(w, t0 + seconds(7300)) == std::vector<std::uint32_t>{7});
    w.schedule(9, t0 + seconds(8000));
    w.cancel(9);
    w.cancel(9);  // twice is harmless
    CHECK(w.size() == 0);
    CHECK(w.next_wake() == kNever);
    CHECK(expire_sorted(w, t0 + seconds(9000)).empty());
    w.schedule(9, kNever);  // kNever cancels too
    CHECK(!w.scheduled(9));
}

TEST_CASE("timer wheel: a wake time beyond the wheel's range (~2 years) is handed out early, never late") {
    TimerWheel w;
    const Instant t0 = instant_from_ns(1'000'000'000);
    const Instant far = t0 + std::chrono::hours(24 * 365 * 5);
    w.schedule(1, far);
    const Instant wake = w.next_wake();
    CHECK(wake < far);
    CHECK(wake > t0 + std::chrono::hours(24 * 365));
    CHECK(expire_sorted(w, wake - nanoseconds(1)).empty());
    CHECK(expire_sorted(w, wake) == std::vector<std::uint32_t>{1});
}
