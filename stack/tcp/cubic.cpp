// CUBIC window arithmetic (RFC 9438 section 4); see cubic.hpp.
#include "stack/tcp/cubic.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>

namespace tapstack::tcp {

namespace {

// RFC 9438 4.3: the Reno-friendly slope, ~0.529 segments per RTT.
constexpr double kAlphaCubic = 3.0 * (1.0 - kCubicBeta) / (1.0 + kCubicBeta);
constexpr double kMaxCwnd = 1u << 30;  // bytes, as NewReno

double seconds(Duration d) { return std::chrono::duration<double>(d).count(); }

class Cubic final : public CongestionControl {
public:
    explicit Cubic(std::uint32_t mss)
        : mss_(std::max<std::uint32_t>(mss, 1)),
          // RFC 6928: min(10*MSS, max(2*MSS, 14600)).
          cwnd_(std::min(10.0 * mss_, std::max(2.0 * mss_, 14600.0))) {}

    void on_ack(Instant now, std::uint32_t acked, std::uint32_t in_use) override {
        rto_streak_ = false;
        if (acked == 0) return;
        // RFC 9438 4.6 (with ssthresh taken from cwnd, as Linux): cwnd grows
        // only while it limits the sender (RFC 7661), else a flow held back by
        // the peer's window or the application would carry a cwnd no loss can
        // bring down. Slow start counts as limited while half of cwnd is in
        // use (Linux tcp_is_cwnd_limited), congestion avoidance once all but
        // three segments are.
        const double used = double(in_use);
        const bool limited = cwnd_ < ssthresh_ ? 2.0 * used >= cwnd_ : used + 3.0 * mss_ >= cwnd_;
        if (!limited) return;
        if (cwnd_ < ssthresh_) {
            // RFC 9438 4.10 -> RFC 5681 3.1 slow start, counting every byte
            // acknowledged (RFC 3465 byte counting without its L limit, as
            // Linux tcp_slow_start()): receivers that ACK a whole batch at
            // once (GRO, tapstack's one ACK per poll) still double cwnd per
            // RTT. Capped at ssthresh: congestion avoidance starts a fresh
            // epoch from there.
            epoch_ = false;
            cwnd_ = std::min({cwnd_ + double(acked), double(ssthresh_), kMaxCwnd});
            return;
        }
        congestion_avoidance(now, double(acked) / mss_);
    }

    void on_enter_recovery(Instant, std::uint32_t flight) override {
        reduce(flight);
        in_recovery_ = true;
        // RFC 5681 3.2 step 3 (as NewReno): inflate by the three segments
        // that left the network.
        cwnd_ = std::min(double(ssthresh_) + 3.0 * mss_, kMaxCwnd);
    }
    void on_dup_ack_in_recovery() override { cwnd_ = std::min(cwnd_ + mss_, kMaxCwnd); }
    void on_partial_ack(std::uint32_t acked) override {
        rto_streak_ = false;
        // RFC 6582 3.2 step 3: deflate by the amount acknowledged, add back
        // one SMSS if at least one was acknowledged.
        cwnd_ = cwnd_ > acked ? cwnd_ - acked : double(mss_);
        if (acked >= mss_) cwnd_ += mss_;
        cwnd_ = std::max(cwnd_, double(mss_));
    }
    void on_exit_recovery(std::uint32_t) override {
        rto_streak_ = false;
        in_recovery_ = false;
        // cwnd = ssthresh (RFC 9438 4.6), as Linux ends a reduction. Not
        // RFC 6582's option 1 (FlightSize + SMSS): SACK recovery keeps pipe
        // at ssthresh, but the ACK that ends it often finds only the last
        // retransmission and a few new segments in flight, and cutting cwnd
        // to that at every loss event starves the flow on a lossy path
        // (a second reduction in the same event). The burst this allows is
        // at most ssthresh - FlightSize, sent back to back on this link.
        cwnd_ = std::max(double(ssthresh_), 2.0 * mss_);
        epoch_ = false;
    }
    void on_rto(Instant, std::uint32_t flight) override {
        // RFC 9438 4.8: Reno's cwnd (one segment, RFC 5681 3.1 "loss window"),
        // ssthresh from beta_cubic. An RTO inside fast recovery, or a further
        // RTO before anything new is acknowledged, belongs to the congestion
        // event already answered: ssthresh is not cut again (FlightSize is
        // one segment by then), as Linux's tcp_enter_loss() also does.
        if (!in_recovery_ && !rto_streak_) {
            // W_max as for a loss (4.7), in case another loss comes before
            // the next epoch; the epoch itself restarts from cwnd_epoch.
            remember_peak();
            ssthresh_ = loss_ssthresh(flight);
        }
        in_recovery_ = false;
        rto_streak_ = true;
        after_rto_ = true;
        epoch_ = false;
        alpha_ = kAlphaCubic;
        cwnd_ = mss_;
    }
    void on_rtt_sample(Instant, Duration rtt, Duration srtt) override {
        const Duration d = srtt > Duration::zero() ? srtt : rtt;
        if (d > Duration::zero()) srtt_ = seconds(d);
    }

    std::uint32_t cwnd() const override { return static_cast<std::uint32_t>(std::min(cwnd_, kMaxCwnd)); }
    std::uint32_t ssthresh() const override { return ssthresh_; }

    CubicState state() const {
        return CubicState{w_max_, k_, cwnd_epoch_, w_est_, alpha_, cwnd_prior_, epoch_};
    }

private:
    // RFC 9438 4.2 equation 1, in segments.
    double w_cubic(double t) const {
        const double d = t - k_;
        return kCubicC * d * d * d + w_max_;
    }

    // RFC 9438 4.6: ssthresh = FlightSize * beta_cubic, at least 2 segments.
    std::uint32_t loss_ssthresh(std::uint32_t) const {
        // RFC 9438 4.6 with cwnd (as Linux) rather than FlightSize, which
        // the note there allows when cwnd only grows while it limits the
        // sender (on_ack()). FlightSize counts what recovery has already
        // taken out of the network and cut the window twice per event.
        const auto s = static_cast<std::uint64_t>(std::llround(cwnd_ * kCubicBeta));
        return static_cast<std::uint32_t>(std::max<std::uint64_t>(s, 2ull * mss_));
    }

    // W_max and cwnd_prior from the window before a reduction.
    void remember_peak() {
        const double cw = cwnd_ / mss_;
        // 4.7 fast convergence: a flow whose window peaked below the last
        // W_max releases bandwidth to newer flows.
        w_max_ = cw < w_max_ ? cw * (1.0 + kCubicBeta) / 2.0 : cw;
        cwnd_prior_ = cw;
    }

    // A congestion event (three duplicate ACKs): RFC 9438 4.6 and 4.7.
    void reduce(std::uint32_t flight) {
        remember_peak();
        ssthresh_ = loss_ssthresh(flight);
        alpha_ = kAlphaCubic;
        epoch_ = false;
        after_rto_ = false;
    }

    // The first ACK of a congestion-avoidance stage starts the epoch (t = 0).
    void start_epoch(Instant now, double cw) {
        epoch_ = true;
        epoch_start_ = now;
        cwnd_epoch_ = cw;
        w_est_ = cw;  // 4.3
        if (after_rto_ || w_max_ <= cw) {
            // 4.8 after a timeout: K = 0 and W_max = cwnd_epoch. The same
            // when the window already exceeds W_max: growth is convex (4.5)
            // from here, instead of a negative K.
            w_max_ = cw;
            k_ = 0;
        } else {
            k_ = std::cbrt((w_max_ - cw) / kCubicC);  // 4.2 equation 2
        }
        after_rto_ = false;
    }

    void congestion_avoidance(Instant now, double segments_acked) {
        double cw = cwnd_ / mss_;
        if (!epoch_) start_epoch(now, cw);
        const double t = std::max(0.0, seconds(now - epoch_start_));
        // 4.3: W_est grows like Reno's window with AIMD(alpha_cubic, beta_cubic),
        // and like Reno's own once it is back at the window before the cut.
        w_est_ += alpha_ * segments_acked / cw;
        if (w_est_ >= cwnd_prior_) alpha_ = 1.0;
        if (w_cubic(t) < w_est_) {
            // Reno-friendly region. Never below cwnd: without a congestion
            // signal the window does not shrink.
            cw = std::max(cw, w_est_);
        } else {
            // 4.4 concave (cw < W_max) and 4.5 convex regions: aim at the
            // curve one RTT ahead, at most 1.5*cwnd. RFC 9438 adds
            // (target - cwnd)/cwnd per ACK of one segment; a (stretch) ACK of
            // several counts as that many, without passing the target.
            const double target = std::clamp(w_cubic(t + srtt_), cw, 1.5 * cw);
            cw = std::min(target, cw + (target - cw) / cw * segments_acked);
        }
        cwnd_ = std::min(cw * mss_, kMaxCwnd);
    }

    std::uint32_t mss_;
    double cwnd_;                         // bytes
    std::uint32_t ssthresh_ = 0xffffffffu;  // bytes; "arbitrarily high" until the first loss
    double srtt_ = 0;                     // seconds
    // RFC 9438 4.1.2 variables, in segments and seconds.
    double w_max_ = 0;
    double k_ = 0;
    double cwnd_epoch_ = 0;
    double w_est_ = 0;
    double alpha_ = kAlphaCubic;
    double cwnd_prior_ = 0;
    Instant epoch_start_{};
    bool epoch_ = false;
    bool in_recovery_ = false;
    bool after_rto_ = false;
    bool rto_streak_ = false;  // RTO fired and nothing new acknowledged since
};

}  // namespace

std::unique_ptr<CongestionControl> make_cubic(std::uint32_t mss) { return std::make_unique<Cubic>(mss); }

std::optional<CubicState> cubic_state(const CongestionControl& cc) {
    if (const auto* c = dynamic_cast<const Cubic*>(&cc)) return c->state();
    return std::nullopt;
}

}  // namespace tapstack::tcp
