// PathMtu and PathMtuCache (see path_mtu.hpp).
#include "stack/tcp/path_mtu.hpp"

#include <algorithm>

namespace tapstack::tcp {

void PathMtu::start(MtuProbing mode, std::uint16_t ceiling, std::uint16_t cached_path_mtu, bool ipv6) {
    mode_ = mode;
    headers_ = ipv6 ? kHeaders6 : kHeaders;
    min_icmp_mtu_ = ipv6 ? kMinIcmpMtu6 : kMinIcmpMtu;
    ceiling_ = ceiling;
    mss_ = ceiling;
    if (cached_path_mtu > 0) {
        const auto cached = static_cast<std::uint16_t>(std::max(cached_path_mtu, min_icmp_mtu_) - headers_);
        mss_ = std::min(mss_, cached);
    }
    searching_ = false;
    probe_out_ = false;
    reprobe_at_ = kNever;
    if (mode_ == MtuProbing::kAlways && mss_ > kBaseMss) {
        searching_ = true;
        search_low_ = kBaseMss;
        search_high_ = mss_;
        mss_ = kBaseMss;
    }
}

bool PathMtu::on_packet_too_big(std::uint16_t mtu) {
    const auto m = static_cast<std::uint16_t>(std::max(mtu, min_icmp_mtu_) - headers_);
    if (m >= mss_) return false;  // ICMP never raises the size
    mss_ = m;
    if (searching_) {
        search_high_ = std::min(search_high_, m);
        search_low_ = std::min(search_low_, m);
    }
    if (probe_out_ && probe_size_ > m) probe_out_ = false;  // it cannot have passed
    return true;
}

bool PathMtu::on_repeated_rto(std::uint32_t segment_len, std::uint16_t options_len) {
    if (mode_ == MtuProbing::kOff) return false;
    // A short segment that does not pass is not a size problem.
    if (segment_len + options_len <= kFloorMss) return false;
    std::uint16_t target = mss_ > kBaseMss ? kBaseMss : static_cast<std::uint16_t>(mss_ / 2);
    target = std::max(target, kFloorMss);
    if (target >= mss_) return false;
    searching_ = true;
    search_low_ = target;
    search_high_ = ceiling_;
    mss_ = target;
    probe_out_ = false;
    reprobe_at_ = kNever;
    return true;
}

std::uint16_t PathMtu::probe_mss(Instant now) {
    if (!searching_ || probe_out_) return 0;
    if (search_high_ < search_low_ + kSearchDone) {
        // RFC 4821 7.7: the search is over; look again after a while (the
        // path may have changed, or an ICMP lowered the ceiling for a time).
        if (reprobe_at_ == kNever) reprobe_at_ = now + kReprobeInterval;
        if (now < reprobe_at_) return 0;
        reprobe_at_ = kNever;
        search_low_ = mss_;
        search_high_ = ceiling_;
        if (search_high_ < search_low_ + kSearchDone) return 0;
    }
    return static_cast<std::uint16_t>((std::uint32_t{search_low_} + search_high_ + 1) / 2);
}

void PathMtu::on_probe_sent(SeqNum begin, SeqNum end, std::uint16_t size) {
    probe_out_ = true;
    probe_begin_ = begin;
    probe_end_ = end;
    probe_size_ = size;
}

bool PathMtu::on_acked(SeqNum una, Instant /*now*/) {
    if (!probe_out_ || una < probe_end_) return false;
    probe_out_ = false;
    search_low_ = std::max(search_low_, probe_size_);
    mss_ = std::max(mss_, probe_size_);
    return true;
}

bool PathMtu::on_retransmit(SeqNum begin, SeqNum end, Instant /*now*/) {
    if (!probe_out_ || !(begin < probe_end_) || !(probe_begin_ < end)) return false;
    probe_out_ = false;
    search_high_ = static_cast<std::uint16_t>(probe_size_ - 1);
    return true;
}

void PathMtuCache::lower(const IpAddress& dst, std::uint16_t mtu, Instant now) {
    auto it = entries_.find(dst);
    if (it != entries_.end()) {
        if (it->second.expires > now) mtu = std::min(mtu, it->second.mtu);
        it->second = Entry{mtu, now + kLifetime};
        return;
    }
    if (entries_.size() >= kMaxEntries) {
        std::erase_if(entries_, [&](const auto& e) { return e.second.expires <= now; });
        if (entries_.size() >= kMaxEntries) {
            // Forget the one that would expire first.
            auto oldest = std::min_element(entries_.begin(), entries_.end(), [](const auto& a, const auto& b) {
                return a.second.expires < b.second.expires;
            });
            entries_.erase(oldest);
        }
    }
    entries_.emplace(dst, Entry{mtu, now + kLifetime});
}

std::uint16_t PathMtuCache::lookup(const IpAddress& dst, Instant now) const {
    auto it = entries_.find(dst);
    return it != entries_.end() && it->second.expires > now ? it->second.mtu : 0;
}

}  // namespace tapstack::tcp
