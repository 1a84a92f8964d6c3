// NewReno window arithmetic (RFC 5681 3.1-3.2, RFC 6582 3.2, RFC 6928).
#include <algorithm>

#include "stack/tcp/congestion.hpp"

namespace tapstack::tcp {

namespace {

class NewReno final : public CongestionControl {
public:
    explicit NewReno(std::uint32_t mss)
        : mss_(mss), cwnd_(std::min(10 * mss, std::max(2 * mss, 14600u))), ssthresh_(0xffffffffu) {}

    void on_ack(Instant, std::uint32_t acked, std::uint32_t) override {
        if (cwnd_ < ssthresh_) {
            // Slow start (RFC 5681 3.1), counting every byte acknowledged
            // (RFC 3465 without its L limit, as Linux): a stretch ACK of a
            // whole batch (GRO, tapstack's one ACK per poll) still lets
            // cwnd double per RTT.
            cwnd_ += acked;
        } else {
            // Congestion avoidance: about one SMSS per RTT (RFC 5681 eq. 3).
            acc_ += acked;
            if (acc_ >= cwnd_) {
                acc_ -= cwnd_;
                cwnd_ += mss_;
            }
        }
        cwnd_ = std::min(cwnd_, kMaxCwnd);
    }
    void on_enter_recovery(Instant, std::uint32_t flight) override {
        ssthresh_ = std::max(flight / 2, 2 * mss_);  // RFC 5681 eq. 4
        cwnd_ = ssthresh_ + 3 * mss_;
    }
    void on_dup_ack_in_recovery() override { cwnd_ = std::min(cwnd_ + mss_, kMaxCwnd); }
    void on_partial_ack(std::uint32_t acked) override {
        cwnd_ = cwnd_ > acked ? cwnd_ - acked : mss_;
        if (acked >= mss_) cwnd_ += mss_;
        cwnd_ = std::max(cwnd_, mss_);
    }
    void on_exit_recovery(std::uint32_t flight) override {
        cwnd_ = std::max(std::min(ssthresh_, flight + mss_), mss_);
        acc_ = 0;
    }
    void on_rto(Instant, std::uint32_t flight) override {
        ssthresh_ = std::max(flight / 2, 2 * mss_);
        cwnd_ = mss_;
        acc_ = 0;
    }
    std::uint32_t cwnd() const override { return cwnd_; }
    std::uint32_t ssthresh() const override { return ssthresh_; }

private:
    static constexpr std::uint32_t kMaxCwnd = 1u << 30;
    std::uint32_t mss_;
    std::uint32_t cwnd_;
    std::uint32_t ssthresh_;
    std::uint32_t acc_ = 0;
};

}  // namespace

std::unique_ptr<CongestionControl> make_new_reno(std::uint32_t mss) { return std::make_unique<NewReno>(mss); }

}  // namespace tapstack::tcp
