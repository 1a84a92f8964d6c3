// CaptureHub; see capture_hub.hpp.
#include "daemon/capture/capture_hub.hpp"

#include <time.h>

#include <algorithm>

#include "tapstack_version.hpp"

namespace tapstack::capture {

std::span<const std::uint8_t> Session::pending() const {
    return std::span<const std::uint8_t>(buffer_.data() + head_, buffer_.size() - head_);
}

void Session::consume(std::size_t n) {
    head_ += std::min(n, buffer_.size() - head_);
    if (head_ == buffer_.size()) {
        buffer_.clear();
        head_ = 0;
    } else if (head_ >= buffer_.size() / 2) {
        // Keep appends cheap without letting consumed bytes pile up.
        buffer_.erase(buffer_.begin(), buffer_.begin() + static_cast<std::ptrdiff_t>(head_));
        head_ = 0;
    }
}

void Session::finish(std::uint64_t now_ns) {
    if (finished_) return;
    finished_ = true;
    done_ = true;
    pcapng::append_statistics(buffer_, {start_ns_, now_ns, seen_, dropped_, captured_});
}

CaptureHub::CaptureHub(std::string interface_name, Attach attach, Notify notify)
    : interface_name_(std::move(interface_name)), attach_(std::move(attach)), notify_(std::move(notify)) {}

CaptureHub::~CaptureHub() {
    if (attached_ && attach_) attach_(nullptr);
}

std::uint64_t CaptureHub::wall_clock_ns() {
    timespec ts{};
    ::clock_gettime(CLOCK_REALTIME, &ts);
    return static_cast<std::uint64_t>(ts.tv_sec) * 1'000'000'000u + static_cast<std::uint64_t>(ts.tv_nsec);
}

Session* CaptureHub::open(const SessionOptions& options, std::uint64_t owner) {
    if (sessions_.size() >= kMaxSessions) return nullptr;
    auto s = std::make_unique<Session>();
    s->options_ = options;
    s->options_.snaplen = std::clamp<std::uint32_t>(options.snaplen == 0 ? kMaxSnaplen : options.snaplen, 1,
                                                    kMaxSnaplen);
    s->options_.buffer = std::clamp(options.buffer == 0 ? kDefaultBuffer : options.buffer, kMinBuffer, kMaxBuffer);
    s->owner = owner;
    s->start_ns_ = wall_clock_ns();
    pcapng::append_header(s->buffer_, "tapstackd " TAPSTACK_VERSION, interface_name_, s->options_.snaplen);
    sessions_.push_back(std::move(s));
    ++counters_.opened;
    if (!attached_ && attach_) {
        attach_(this);
        attached_ = true;
    }
    return sessions_.back().get();
}

void CaptureHub::close(Session* session) {
    sessions_.remove_if([session](const std::unique_ptr<Session>& s) { return s.get() == session; });
    if (sessions_.empty() && attached_) {
        if (attach_) attach_(nullptr);
        attached_ = false;
    }
}

void CaptureHub::frame(drivers::FrameDirection direction, std::span<const std::span<const std::uint8_t>> parts) {
    std::size_t frame_len = 0;
    for (const auto& p : parts) frame_len += p.size();
    const std::uint64_t now = wall_clock_ns();
    const auto dir = direction == drivers::FrameDirection::kIn ? pcapng::Direction::kInbound
                                                               : pcapng::Direction::kOutbound;
    for (auto& sp : sessions_) {
        Session& s = *sp;
        if (s.done_) continue;
        ++s.seen_;
        const std::size_t held = s.buffer_.size() - s.head_;
        if (held + pcapng::packet_block_size(frame_len, s.options_.snaplen) > s.options_.buffer) {
            ++s.dropped_;
            ++counters_.dropped;
            continue;
        }
        pcapng::append_packet(s.buffer_, now, dir, parts, s.options_.snaplen);
        ++s.captured_;
        ++counters_.frames;
        if (s.options_.count != 0 && s.captured_ >= s.options_.count) s.done_ = true;
        // The owner hears of new bytes only when it may be idle: the buffer
        // was empty before this frame, or the session just completed.
        if ((held == 0 || s.done_) && notify_) notify_(s);
    }
}

void CaptureHub::visit_metrics(const MetricVisitor& visit) const {
#define TAPSTACK_X(field, kind, help) visit({"capture." #field, MetricKind::kind, help}, counters_.field);
    TAPSTACK_CAPTURE_COUNTERS(TAPSTACK_X)
#undef TAPSTACK_X
    static constexpr MetricInfo kSessions{"capture.sessions", MetricKind::kGauge, "Packet captures running"};
    visit(kSessions, sessions_.size());
}

}  // namespace tapstack::capture
