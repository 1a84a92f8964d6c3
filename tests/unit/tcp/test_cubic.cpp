// CUBIC (RFC 9438) window arithmetic, driven through the CongestionControl
// interface on a virtual clock.
//
// Expected values are computed here from the RFC's equations with the RFC's
// constants (C = 0.4, beta_cubic = 0.7), written out again rather than taken
// from cubic.hpp, so a wrong constant or a wrong formula in the controller
// fails. Two ways of looking at the curve:
//  - one ACK covering s segments moves cwnd by (target - cwnd) * s / cwnd
//    (RFC 9438 4.4/4.5 per segment), so its effect reveals the target the
//    controller aimed at, which must equal clamp(W_cubic(t + RTT)) exactly;
//  - an ACK clock (one ACK per segment, one window per RTT) must make cwnd
//    follow W_cubic(t) itself, which is what the t + RTT projection is for.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <memory>

#include "stack/tcp/congestion.hpp"
#include "stack/tcp/cubic.hpp"

using namespace tapstack;
using namespace tapstack::tcp;

namespace {

constexpr std::uint32_t kMss = 1460;
constexpr double kC = 0.4;     // RFC 9438 4.1.1
constexpr double kBeta = 0.7;  // RFC 9438 4.1.1
constexpr double kAlpha = 3 * (1 - kBeta) / (1 + kBeta);

Instant at(double s) { return instant_from_ns(std::llround(s * 1e9)); }
Duration secs(double s) { return Duration(std::llround(s * 1e9)); }
double segs(std::uint32_t bytes) { return double(bytes) / kMss; }
std::uint32_t bytes(double segments) { return static_cast<std::uint32_t>(std::llround(segments * kMss)); }

// RFC 9438 4.2 equation 1.
double w_cubic(double t, double k, double w_max) { return kC * std::pow(t - k, 3) + w_max; }

// A CUBIC controller that just came out of fast recovery after a loss at
// cwnd = FlightSize = w_max segments (w_max >= 10, a multiple of 10 so that
// 0.7*w_max is whole): cwnd = ssthresh = 0.7*w_max, no epoch started yet.
std::unique_ptr<CongestionControl> after_loss(std::uint32_t w_max, double srtt_s, double now_s = 0) {
    auto cc = make_cubic(kMss);
    cc->on_rtt_sample(at(now_s), secs(srtt_s), secs(srtt_s));
    while (cc->cwnd() < w_max * kMss) cc->on_ack(at(now_s), kMss, cc->cwnd());  // slow start, +1 MSS per ACK
    REQUIRE(cc->cwnd() == w_max * kMss);
    cc->on_enter_recovery(at(now_s), w_max * kMss);
    cc->on_exit_recovery(w_max * kMss);
    REQUIRE(cc->cwnd() == w_max * kMss * 7 / 10);
    return cc;
}

// Feeds one ACK of `s` segments at `now` in congestion avoidance and returns
// the target (segments) the controller moved toward: from
// after = before + (target - before) * s / before.
double aimed_target(CongestionControl& cc, Instant now, double s) {
    const double before = segs(cc.cwnd());
    cc.on_ack(now, bytes(s), cc.cwnd());
    const double after = segs(cc.cwnd());
    return before + (after - before) * before / s;
}

// One RTT of ACK clocking: as many one-segment ACKs as cwnd holds at the
// start of the round, evenly spread over [start, start + rtt).
void ack_round(CongestionControl& cc, double start, double rtt) {
    const auto n = static_cast<int>(std::lround(segs(cc.cwnd())));
    for (int i = 0; i < n; ++i) cc.on_ack(at(start + rtt * i / n), kMss, cc.cwnd());
}

}  // namespace

TEST_CASE("RFC 6928: the initial window is min(10*MSS, max(2*MSS, 14600)) and ssthresh starts unbounded") {
    CHECK(make_cubic(1460)->cwnd() == 10 * 1460);
    CHECK(make_cubic(536)->cwnd() == 10 * 536);
    CHECK(make_cubic(9000)->cwnd() == 2 * 9000);
    CHECK(make_cubic(1460)->ssthresh() == 0xffffffffu);
}

TEST_CASE("RFC 9438 4.10 / RFC 5681 3.1: slow start doubles cwnd every RTT, with one ACK per segment or per two") {
    for (const std::uint32_t per_ack : {1u, 2u}) {
        CAPTURE(per_ack);
        auto cc = make_cubic(kMss);
        std::uint32_t expected = 10;
        for (int round = 0; round < 6; ++round) {
            const std::uint32_t window = cc->cwnd() / kMss;
            REQUIRE(window == expected);
            for (std::uint32_t acked = 0; acked < window; acked += per_ack) {
                cc->on_ack(at(0.01 * round), per_ack * kMss, window * kMss);
            }
            expected *= 2;
        }
        CHECK(cc->cwnd() == expected * kMss);
        CHECK_FALSE(cubic_state(*cc)->in_epoch);  // no congestion avoidance yet
    }
}

TEST_CASE("RFC 9438 4.6: a loss sets ssthresh to 0.7*cwnd and cwnd ends recovery at ssthresh") {
    auto cc = make_cubic(kMss);
    while (cc->cwnd() < 100 * kMss) cc->on_ack(at(0), kMss, cc->cwnd());
    REQUIRE(cc->cwnd() == 100 * kMss);
    cc->on_enter_recovery(at(1), 100 * kMss);
    CHECK(cc->ssthresh() == 70 * kMss);
    CHECK(cc->cwnd() == 73 * kMss);  // RFC 5681 3.2 step 3: ssthresh + 3*SMSS
    cc->on_dup_ack_in_recovery();
    CHECK(cc->cwnd() == 74 * kMss);  // step 4: inflate by one SMSS
    cc->on_exit_recovery(100 * kMss);
    CHECK(cc->cwnd() == 70 * kMss);
    CHECK(double(cc->cwnd()) == doctest::Approx(kBeta * 100 * kMss));
    CHECK(cubic_state(*cc)->w_max == doctest::Approx(100));
    CHECK(cubic_state(*cc)->cwnd_prior == doctest::Approx(100));
}

TEST_CASE("RFC 9438 4.6 / RFC 7661: cwnd grows only while it limits the sender; ssthresh is 0.7*cwnd, at least 2 segments") {
    auto cc = make_cubic(kMss);
    while (cc->cwnd() < 100 * kMss) cc->on_ack(at(0), kMss, cc->cwnd());
    // Application- or peer-limited: half the window in use. Neither slow
    // start (needs half in use) ... 
    cc->on_ack(at(0), kMss, 40 * kMss);
    CHECK(cc->cwnd() == 100 * kMss);
    // ... nor, once past ssthresh, congestion avoidance grows it.
    cc->on_enter_recovery(at(1), 100 * kMss);
    cc->on_exit_recovery(10 * kMss);  // little left in flight: cwnd is still ssthresh
    CHECK(cc->cwnd() == 70 * kMss);
    cc->on_ack(at(2), kMss, 50 * kMss);
    CHECK(cc->cwnd() == 70 * kMss);
    cc->on_ack(at(2), kMss, 70 * kMss);
    CHECK(cc->cwnd() > 70 * kMss);
    // The loss at 50 segments in flight still cuts from cwnd (Linux).
    const std::uint32_t cwnd = cc->cwnd();
    cc->on_enter_recovery(at(3), 50 * kMss);
    CHECK(cc->ssthresh() == static_cast<std::uint32_t>(std::llround(cwnd * kBeta)));

    auto small = make_cubic(kMss);
    small->on_rto(at(1), 10 * kMss);  // cwnd = 1 segment
    small->on_ack(at(2), kMss, kMss);
    small->on_enter_recovery(at(3), 2 * kMss);
    CHECK(small->ssthresh() == 2 * kMss);
    small->on_exit_recovery(0);
    CHECK(small->cwnd() == 2 * kMss);
}

TEST_CASE("RFC 9438 4.2: K = cbrt(W_max*(1-beta)/C) when the epoch starts at beta*W_max") {
    for (const std::uint32_t w_max : {20u, 100u, 1000u, 5000u}) {
        CAPTURE(w_max);
        auto cc = after_loss(w_max, 0.1);
        cc->on_ack(at(10), kMss, cc->cwnd());  // first ACK of congestion avoidance: the epoch starts
        const auto st = cubic_state(*cc);
        REQUIRE(st);
        CHECK(st->in_epoch);
        CHECK(st->cwnd_epoch == doctest::Approx(kBeta * w_max));
        CHECK(st->w_max == doctest::Approx(w_max));
        CHECK(st->k == doctest::Approx(std::cbrt(w_max * (1 - kBeta) / kC)));
    }
}

TEST_CASE("RFC 9438 4.2, 4.4, 4.5: each ACK aims at W_cubic(t + RTT), clamped to [cwnd, 1.5*cwnd], at many instants") {
    constexpr std::uint32_t w_max = 1000;
    constexpr double rtt = 0.1;
    const double k = std::cbrt(w_max * (1 - kBeta) / kC);  // ~9.09 s
    int concave = 0, convex = 0, clamped = 0;
    for (const double t : {0.05, 0.3, 1.0, 2.0, 4.0, 6.0, 8.0, k - rtt, 9.5, 10.0, 11.0, 12.5, 14.0, 16.0, 25.0, 60.0}) {
        CAPTURE(t);
        auto cc = after_loss(w_max, rtt);
        cc->on_ack(at(100), kMss, cc->cwnd());  // the epoch starts at t = 0
        const double cwnd = segs(cc->cwnd());
        const double expected = std::clamp(w_cubic(t + rtt, k, w_max), cwnd, 1.5 * cwnd);
        CHECK(aimed_target(*cc, at(100 + t), 100) == doctest::Approx(expected).epsilon(1e-4));
        if (expected == 1.5 * cwnd) {
            ++clamped;
        } else if (expected < w_max) {
            ++concave;
        } else {
            ++convex;
        }
    }
    // The instants cover both regions and the clamp.
    CHECK(concave >= 5);
    CHECK(convex >= 4);
    CHECK(clamped >= 1);
}

TEST_CASE("RFC 9438 4.2: without an RTT sample the target is W_cubic(t)") {
    auto cc = make_cubic(kMss);
    while (cc->cwnd() < 1000 * kMss) cc->on_ack(at(0), kMss, cc->cwnd());
    cc->on_enter_recovery(at(0), 1000 * kMss);
    cc->on_exit_recovery(1000 * kMss);
    cc->on_ack(at(1), kMss, cc->cwnd());
    const double k = std::cbrt(1000 * (1 - kBeta) / kC);
    CHECK(aimed_target(*cc, at(1 + 3.0), 100) == doctest::Approx(w_cubic(3.0, k, 1000)).epsilon(1e-4));
}

TEST_CASE("RFC 9438 4.2: under an ACK clock cwnd follows W_cubic(t) through the concave and convex regions") {
    constexpr std::uint32_t w_max = 1000;
    constexpr double rtt = 0.1;
    const double k = std::cbrt(w_max * (1 - kBeta) / kC);
    auto cc = after_loss(w_max, rtt);
    const double t0 = 50;
    double worst = 0;
    for (int round = 0; round < 140; ++round) {  // 14 s: past K by ~5 s
        ack_round(*cc, t0 + round * rtt, rtt);
        const double t = (round + 1) * rtt;
        const double expected = w_cubic(t, k, w_max);
        const double actual = segs(cc->cwnd());
        CAPTURE(t);
        CHECK(std::abs(actual - expected) < 0.5);  // half a segment on a window of 700..1100
        worst = std::max(worst, std::abs(actual - expected));
    }
    CHECK(segs(cc->cwnd()) > w_max);  // convex region reached
    MESSAGE("largest deviation from W_cubic(t): " << worst << " segments");
}

TEST_CASE("RFC 9438 4.3: at a small BDP the Reno-friendly estimate drives cwnd, alpha_cubic then 1 per RTT") {
    // W_max 20 segments, RTT 10 ms: W_cubic needs K ~ 2.5 s to climb back,
    // Reno gets there in a dozen RTTs.
    constexpr std::uint32_t w_max = 20;
    constexpr double rtt = 0.01;
    const double k = std::cbrt(w_max * (1 - kBeta) / kC);
    auto cc = after_loss(w_max, rtt);
    const double t0 = 5;
    int below_prior = 0, above_prior = 0;
    for (int round = 0; round < 100; ++round) {
        const double before = segs(cc->cwnd());
        ack_round(*cc, t0 + round * rtt, rtt);
        const double after = segs(cc->cwnd());
        const double t = (round + 1) * rtt;
        CAPTURE(round);
        CHECK(after > w_cubic(t, k, w_max));  // cwnd is not on the cubic curve here
        if (after < w_max - 0.5) {
            CHECK(after - before == doctest::Approx(kAlpha).epsilon(0.06));  // AIMD(alpha_cubic, beta_cubic)
            ++below_prior;
        } else if (before > w_max + 0.5) {
            CHECK(after - before == doctest::Approx(1.0).epsilon(0.06));  // W_est >= cwnd_prior: Reno's own rate
            ++above_prior;
        }
    }
    CHECK(below_prior >= 8);
    CHECK(above_prior >= 80);
    CHECK(cubic_state(*cc)->alpha == 1.0);
}

TEST_CASE("RFC 9438 4.7: fast convergence lowers W_max to cwnd*(1+beta)/2 when cwnd peaked below W_max") {
    constexpr double rtt = 0.1;
    auto cc = after_loss(100, rtt);  // W_max = 100, cwnd = 70
    cc->on_ack(at(1), kMss, cc->cwnd());
    const double cwnd_at_loss = segs(cc->cwnd());  // ~70 < W_max
    cc->on_enter_recovery(at(1.5), bytes(70));
    cc->on_exit_recovery(bytes(70));
    const double w_max = cwnd_at_loss * (1 + kBeta) / 2;
    CHECK(cubic_state(*cc)->w_max == doctest::Approx(w_max));
    const double ss = segs(cc->ssthresh());
    CHECK(ss == doctest::Approx(cwnd_at_loss * kBeta).epsilon(1e-4));
    // The new curve plateaus at the lowered W_max: K from cwnd_epoch = ssthresh.
    cc->on_ack(at(2), kMss, cc->cwnd());
    const double k = std::cbrt((w_max - ss) / kC);
    CHECK(cubic_state(*cc)->k == doctest::Approx(k));
    CHECK(aimed_target(*cc, at(2 + k - rtt), 10) == doctest::Approx(w_max).epsilon(1e-3));
}

TEST_CASE("RFC 9438 4.7: a loss at or above W_max keeps W_max = cwnd (no fast convergence)") {
    constexpr double rtt = 0.1;
    auto cc = after_loss(100, rtt);
    const double t0 = 10;
    int round = 0;
    while (segs(cc->cwnd()) < 110 && round < 200) ack_round(*cc, t0 + rtt * round++, rtt);
    const double cwnd_at_loss = segs(cc->cwnd());
    REQUIRE(cwnd_at_loss >= 110);
    cc->on_enter_recovery(at(t0 + rtt * round), cc->cwnd());
    CHECK(cubic_state(*cc)->w_max == doctest::Approx(cwnd_at_loss));
}

TEST_CASE("RFC 9438 4.8: an RTO sets cwnd to one segment and ssthresh to 0.7*cwnd, once per event") {
    constexpr double rtt = 0.1;
    auto cc = after_loss(100, rtt);  // cwnd 70
    cc->on_ack(at(1), kMss, cc->cwnd());
    const double cwnd_before = segs(cc->cwnd());
    cc->on_rto(at(2), 60 * kMss);
    CHECK(cc->cwnd() == kMss);
    const double ss = segs(cc->ssthresh());
    CHECK(ss == doctest::Approx(cwnd_before * kBeta).epsilon(1e-4));
    // W_max is remembered as for a loss (below the old W_max of 100: fast
    // convergence), for a loss that might come before the next epoch.
    CHECK(cubic_state(*cc)->w_max == doctest::Approx(cwnd_before * (1 + kBeta) / 2).epsilon(1e-4));
    cc->on_rto(at(3), kMss);  // the retransmission timed out again: same congestion event
    CHECK(cc->cwnd() == kMss);
    CHECK(segs(cc->ssthresh()) == ss);
    // Slow start back up to ssthresh, then congestion avoidance with K = 0
    // and W_max = cwnd_epoch: the curve is convex from the start.
    while (cc->cwnd() < cc->ssthresh()) cc->on_ack(at(4), kMss, cc->cwnd());
    CHECK(segs(cc->cwnd()) == ss);
    cc->on_ack(at(5), kMss, cc->cwnd());
    const auto st = cubic_state(*cc);
    CHECK(st->k == 0.0);
    CHECK(st->w_max == doctest::Approx(ss));
    CHECK(st->w_est == doctest::Approx(ss).epsilon(1e-3));
    const double cwnd = segs(cc->cwnd());
    for (const double t : {1.0, 2.0, 3.0}) {
        CAPTURE(t);
        const double expected = std::clamp(w_cubic(t + rtt, 0, ss), cwnd, 1.5 * cwnd);
        auto copy = after_loss(100, rtt);  // fresh controller through the same steps
        copy->on_ack(at(1), kMss, copy->cwnd());
        copy->on_rto(at(2), 60 * kMss);
        while (copy->cwnd() < copy->ssthresh()) copy->on_ack(at(4), kMss, copy->cwnd());
        copy->on_ack(at(5), kMss, copy->cwnd());
        CHECK(aimed_target(*copy, at(5 + t), 10) == doctest::Approx(expected).epsilon(1e-3));
    }
}

TEST_CASE("RFC 9438 4.8: an RTO during fast recovery does not cut ssthresh a second time") {
    auto cc = after_loss(100, 0.1);
    cc->on_ack(at(1), kMss, cc->cwnd());
    const std::uint32_t cwnd = cc->cwnd();
    cc->on_enter_recovery(at(2), 70 * kMss);
    const std::uint32_t ss = cc->ssthresh();
    CHECK(ss == static_cast<std::uint32_t>(std::llround(cwnd * kBeta)));
    cc->on_rto(at(3), 70 * kMss);
    CHECK(cc->ssthresh() == ss);
    CHECK(cc->cwnd() == kMss);
}

TEST_CASE("CUBIC: partial ACKs deflate as in RFC 6582 3.2 step 3 and cwnd never drops below one segment") {
    auto cc = after_loss(100, 0.1);
    cc->on_ack(at(1), kMss, cc->cwnd());
    cc->on_enter_recovery(at(2), 70 * kMss);  // cwnd = ssthresh + 3 segments
    const std::uint32_t inflated = cc->ssthresh() + 3 * kMss;
    CHECK(cc->cwnd() == inflated);
    cc->on_partial_ack(10 * kMss);
    CHECK(cc->cwnd() == inflated - 10 * kMss + kMss);
    cc->on_partial_ack(100 * kMss);
    CHECK(cc->cwnd() == 2 * kMss);  // deflated to one segment, plus one for a full segment acknowledged
    CHECK_FALSE(cubic_state(*make_new_reno(kMss)).has_value());
}
