// IPv4 reassembly with a received-ranges list (RFC 815 complement), the
// documented overlap rule and memory bounds; see reassembler.hpp.
#include "stack/iface/reassembler.hpp"

#include <algorithm>

namespace tapstack::iface {
namespace {

// Largest payload offset+length a 65535-byte datagram with a minimal
// header can have.
constexpr std::uint32_t kMaxPayloadEnd = 65535 - 20;

}  // namespace

Reassembler::Reassembler(const ReassemblyConfig& config) : config_(config) {}

void Reassembler::drop(std::size_t index) {
    bytes_held_ -= datagrams_[index].data.size();
    datagrams_.erase(datagrams_.begin() + static_cast<std::ptrdiff_t>(index));
}

bool Reassembler::make_room(std::size_t extra, bool new_datagram, const Datagram* keep) {
    const Key* keep_key = keep ? &keep->key : nullptr;
    const Key saved = keep_key ? *keep_key : Key{};
    while (bytes_held_ + extra > config_.max_bytes || (new_datagram && datagrams_.size() >= config_.max_datagrams)) {
        std::size_t oldest = datagrams_.size();
        for (std::size_t i = 0; i < datagrams_.size(); ++i) {
            if (keep_key && datagrams_[i].key == saved) continue;
            if (oldest == datagrams_.size() || datagrams_[i].created < datagrams_[oldest].created) oldest = i;
        }
        if (oldest == datagrams_.size()) return false;
        drop(oldest);
        ++stats_.evicted;
    }
    return true;
}

std::optional<Reassembled> Reassembler::add(Instant now, const wire::Ipv4View& fragment) {
    ++stats_.fragments;
    const wire::Bytes payload = fragment.payload();
    const std::uint32_t begin = fragment.fragment_offset();
    const std::uint32_t end = begin + static_cast<std::uint32_t>(payload.size());
    const bool last = !fragment.more_fragments();
    // RFC 791: every fragment but the last carries a multiple of 8 bytes.
    if ((!last && (payload.empty() || payload.size() % 8 != 0)) || end > kMaxPayloadEnd) {
        ++stats_.bad_fragments;
        return std::nullopt;
    }
    const Key key{fragment.src().value, fragment.dst().value, fragment.identification(), fragment.protocol()};
    auto find = [&]() -> std::size_t {
        for (std::size_t i = 0; i < datagrams_.size(); ++i) {
            if (datagrams_[i].key == key) return i;
        }
        return datagrams_.size();
    };

    std::size_t index = find();
    const bool is_new = index == datagrams_.size();
    if (!is_new) {
        Datagram& d = datagrams_[index];
        const bool inconsistent = (last && d.total_len && *d.total_len != end) ||
                                  (last && !d.ranges.empty() && d.ranges.back().end > end) ||
                                  (!last && d.total_len && end > *d.total_len);
        if (inconsistent) {
            ++stats_.inconsistent;
            drop(index);
            return std::nullopt;
        }
        bool covered = false;
        for (const Range& r : d.ranges) {
            const std::uint32_t lo = std::max(r.begin, begin);
            const std::uint32_t hi = std::min(r.end, end);
            if (lo >= hi) continue;
            if (!std::equal(payload.begin() + (lo - begin), payload.begin() + (hi - begin), d.data.begin() + lo)) {
                ++stats_.overlap_conflicts;
                drop(index);
                return std::nullopt;
            }
            if (r.begin <= begin && end <= r.end) covered = true;
        }
        if (covered) ++stats_.duplicates;
    }

    const std::size_t have = is_new ? 0 : datagrams_[index].data.size();
    const std::size_t extra = end > have ? end - have : 0;
    if (extra > config_.max_bytes) {
        ++stats_.too_big;
        if (!is_new) drop(index);
        return std::nullopt;
    }
    if (!make_room(extra, is_new, is_new ? nullptr : &datagrams_[index])) {
        ++stats_.too_big;
        return std::nullopt;
    }
    if (is_new) {
        Datagram d;
        d.key = key;
        d.created = now;
        datagrams_.push_back(std::move(d));
    }
    index = find();
    Datagram& d = datagrams_[index];

    if (extra > 0) {
        d.data.reserve(end);  // exact allocation, so size() is what we hold
        d.data.resize(end);
        bytes_held_ += extra;
    }
    std::copy(payload.begin(), payload.end(), d.data.begin() + begin);
    if (begin < end) {
        // Insert [begin, end) and merge with overlapping or adjacent ranges.
        Range merged{begin, end};
        std::vector<Range> out;
        out.reserve(d.ranges.size() + 1);
        bool placed = false;
        for (const Range& r : d.ranges) {
            if (r.end < merged.begin) {
                out.push_back(r);
            } else if (merged.end < r.begin) {
                if (!placed) {
                    out.push_back(merged);
                    placed = true;
                }
                out.push_back(r);
            } else {
                merged.begin = std::min(merged.begin, r.begin);
                merged.end = std::max(merged.end, r.end);
            }
        }
        if (!placed) out.push_back(merged);
        d.ranges = std::move(out);
    }
    if (last) d.total_len = end;
    if (begin == 0 && !d.first) {
        TimedOut first;
        first.header = wire::Ipv4Repr::parse(fragment);
        const std::size_t quoted = std::min(payload.size(), kQuotedPayload);
        first.leading_payload.assign(payload.begin(), payload.begin() + static_cast<std::ptrdiff_t>(quoted));
        d.first = std::move(first);
    }

    const bool complete =
        d.total_len && d.first && d.ranges.size() == 1 && d.ranges[0].begin == 0 && d.ranges[0].end == *d.total_len;
    if (!complete) return std::nullopt;
    if (d.first->header.header_len() + *d.total_len > 65535) {
        ++stats_.too_big;
        drop(index);
        return std::nullopt;
    }
    const std::size_t held = d.data.size();
    Reassembled done;
    done.header = d.first->header;
    done.header.more_fragments = false;
    done.header.fragment_offset = 0;
    done.header.payload_len = static_cast<std::uint16_t>(*d.total_len);
    done.payload = std::move(d.data);
    done.payload.resize(*d.total_len);
    d.data = {};
    datagrams_.erase(datagrams_.begin() + static_cast<std::ptrdiff_t>(index));
    bytes_held_ -= held;
    ++stats_.completed;
    return done;
}

void Reassembler::poll(Instant now, std::vector<TimedOut>& timed_out) {
    for (std::size_t i = 0; i < datagrams_.size();) {
        Datagram& d = datagrams_[i];
        if (now < d.created + config_.timeout) {
            ++i;
            continue;
        }
        ++stats_.timeouts;
        if (d.first) timed_out.push_back(std::move(*d.first));
        drop(i);
    }
}

Instant Reassembler::poll_at() const {
    Instant at = kNever;
    for (const Datagram& d : datagrams_) at = std::min(at, d.created + config_.timeout);
    return at;
}

void Reassembler::visit_metrics(const MetricVisitor& visit) const {
#define TAPSTACK_X(field, kind, help) visit({"ipv4.reasm_" #field, MetricKind::kind, help}, stats_.field);
    TAPSTACK_REASSEMBLY_COUNTERS(TAPSTACK_X)
#undef TAPSTACK_X
    static constexpr MetricInfo kDatagrams{"ipv4.reasm_datagrams", MetricKind::kGauge,
                                           "Datagrams being reassembled"};
    static constexpr MetricInfo kBytes{"ipv4.reasm_bytes", MetricKind::kGauge, "Bytes held for reassembly"};
    visit(kDatagrams, datagrams_.size());
    visit(kBytes, bytes_held_);
}

}  // namespace tapstack::iface
