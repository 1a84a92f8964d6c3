// IPv6 reassembly with RFC 5722's overlap rule, dead keys and memory
// bounds; see reassembler6.hpp.
#include "stack/iface/reassembler6.hpp"

#include <algorithm>
#include <array>
#include <iterator>
#include <string_view>

#include "stack/wire/ipv6.hpp"

namespace tapstack::iface {

Reassembler6::Reassembler6(const Reassembly6Config& config) : config_(config) {}

std::size_t Reassembler6::find(const Key& key) const {
    for (std::size_t i = 0; i < datagrams_.size(); ++i) {
        if (datagrams_[i].key == key) return i;
    }
    return datagrams_.size();
}

void Reassembler6::charge(Datagram& d, std::size_t bytes) {
    d.charged += bytes;
    bytes_held_ += bytes;
}

void Reassembler6::kill(std::size_t index) {
    Datagram& d = datagrams_[index];
    bytes_held_ -= d.charged;
    d.charged = 0;
    d.dead = true;
    d.data = {};
    d.fragments.clear();
    d.unfragmentable = {};
    d.quote = {};
}

void Reassembler6::erase(std::size_t index) {
    bytes_held_ -= datagrams_[index].charged;
    datagrams_.erase(datagrams_.begin() + static_cast<std::ptrdiff_t>(index));
}

bool Reassembler6::make_room(std::size_t extra, bool new_datagram, std::size_t keep) {
    const Key saved = keep < datagrams_.size() ? datagrams_[keep].key : Key{};
    const bool keeping = keep < datagrams_.size();
    while (bytes_held_ + extra > config_.max_bytes || (new_datagram && datagrams_.size() >= config_.max_datagrams)) {
        std::size_t oldest = datagrams_.size();
        for (std::size_t i = 0; i < datagrams_.size(); ++i) {
            if (keeping && datagrams_[i].key == saved) continue;
            if (oldest == datagrams_.size() || datagrams_[i].created < datagrams_[oldest].created) oldest = i;
        }
        if (oldest == datagrams_.size()) return false;
        erase(oldest);
        count(Stat::kEvicted);
    }
    return true;
}

std::optional<Reassembled6> Reassembler6::add(Instant now, const Fragment6& f) {
    count(Stat::kFragments);
    const Key key{f.src, f.dst, f.identification};
    const std::uint32_t begin = f.offset;
    const std::uint32_t end = begin + static_cast<std::uint32_t>(f.data.size());
    const bool last = !f.more;
    std::size_t index = find(key);
    const bool is_new = index == datagrams_.size();
    if (!is_new) {
        Datagram& d = datagrams_[index];
        if (d.dead) {
            count(Stat::kDeadDropped);
            return std::nullopt;
        }
        const std::uint32_t highest = d.fragments.empty() ? 0 : d.fragments.rbegin()->second;
        if ((last && d.total_len && *d.total_len != end) || (last && highest > end) ||
            (!last && d.total_len && end > *d.total_len)) {
            count(Stat::kInconsistent);
            kill(index);
            return std::nullopt;
        }
        auto next = d.fragments.lower_bound(begin);
        if (next != d.fragments.end() && next->first == begin && next->second == end &&
            std::equal(f.data.begin(), f.data.end(), d.data.begin() + begin)) {
            count(Stat::kDuplicates);  // RFC 8200 4.5: an exact duplicate is dropped alone
            return std::nullopt;
        }
        const bool overlaps_next = next != d.fragments.end() && next->first < std::max(end, begin + 1);
        const bool overlaps_prev = next != d.fragments.begin() && std::prev(next)->second > begin;
        if (overlaps_next || overlaps_prev) {
            count(Stat::kOverlaps);  // RFC 5722: drop the whole packet
            kill(index);
            return std::nullopt;
        }
    }

    const std::size_t have = is_new ? 0 : datagrams_[index].data.size();
    const bool first_now = begin == 0 && (is_new || datagrams_[index].unfragmentable.empty());
    std::size_t extra = (end > have ? end - have : 0) + kPerFragmentOverhead;
    if (first_now) extra += f.fragment_header_at + std::min(f.packet.size(), kQuoteLen);
    if (extra > config_.max_bytes || !make_room(extra, is_new, index)) {
        count(Stat::kTooBig);
        if (!is_new) {
            index = find(key);
            if (index < datagrams_.size()) kill(index);
        }
        return std::nullopt;
    }
    if (is_new) {
        Datagram d;
        d.key = key;
        d.created = now;
        datagrams_.push_back(std::move(d));
    }
    index = find(key);
    Datagram& d = datagrams_[index];
    if (end > d.data.size()) {
        d.data.reserve(end);  // exact allocation, so what is charged is what is held
        d.data.resize(end);
    }
    std::copy(f.data.begin(), f.data.end(), d.data.begin() + begin);
    d.fragments.emplace(begin, end);
    d.covered += end - begin;
    if (last) d.total_len = end;
    if (first_now) {
        d.unfragmentable.assign(f.packet.begin(), f.packet.begin() + static_cast<std::ptrdiff_t>(f.fragment_header_at));
        d.naming_field_at = f.naming_field_at;
        d.next_header = f.next_header;
        const std::size_t q = std::min(f.packet.size(), kQuoteLen);
        d.quote.assign(f.packet.begin(), f.packet.begin() + static_cast<std::ptrdiff_t>(q));
        d.link_multicast = f.link_multicast;
    }
    charge(d, extra);

    if (!d.total_len || d.unfragmentable.empty() || d.covered != *d.total_len) return std::nullopt;
    const std::size_t payload_len = d.unfragmentable.size() - wire::Ipv6View::kHeaderLen + *d.total_len;
    if (payload_len > 65535) {
        count(Stat::kTooBig);
        kill(index);
        return std::nullopt;
    }
    Reassembled6 done;
    done.packet.reserve(d.unfragmentable.size() + *d.total_len);
    done.packet = std::move(d.unfragmentable);
    done.packet.insert(done.packet.end(), d.data.begin(), d.data.begin() + *d.total_len);
    wire::store_be16(done.packet.data() + wire::Ipv6View::kPayloadLengthOffset, static_cast<std::uint16_t>(payload_len));
    done.packet[d.naming_field_at] = d.next_header;
    done.start = done.packet.size() - *d.total_len;
    done.naming_field_at = d.naming_field_at;
    done.next_header = d.next_header;
    erase(index);
    count(Stat::kCompleted);
    return done;
}

void Reassembler6::poll(Instant now, std::vector<TimedOut>& timed_out) {
    for (std::size_t i = 0; i < datagrams_.size();) {
        Datagram& d = datagrams_[i];
        if (now < d.created + config_.timeout) {
            ++i;
            continue;
        }
        if (!d.dead) {
            count(Stat::kTimeouts);
            if (!d.quote.empty()) {
                timed_out.push_back(TimedOut{std::move(d.quote), d.key.src, d.key.dst, d.link_multicast});
            }
        }
        erase(i);
    }
}

Instant Reassembler6::poll_at() const {
    Instant at = kNever;
    for (const Datagram& d : datagrams_) at = std::min(at, d.created + config_.timeout);
    return at;
}

void Reassembler6::visit_metrics(const MetricVisitor& visit) const {
    // In the order of Stat.
    static constexpr std::array<MetricInfo, static_cast<std::size_t>(Stat::kCount)> kInfo = {{
        {"ipv6.reasm_fragments", MetricKind::kCounter, "IPv6 fragments taken for reassembly"},
        {"ipv6.reasm_completed", MetricKind::kCounter, "IPv6 datagrams reassembled"},
        {"ipv6.reasm_duplicates", MetricKind::kCounter, "Exact duplicate fragments dropped"},
        {"ipv6.reasm_overlaps", MetricKind::kCounter, "Datagrams dropped for overlapping fragments (RFC 5722)"},
        {"ipv6.reasm_dead_dropped", MetricKind::kCounter, "Fragments of a datagram already dropped"},
        {"ipv6.reasm_inconsistent", MetricKind::kCounter, "Datagrams dropped: fragments disagree on the length"},
        {"ipv6.reasm_timeouts", MetricKind::kCounter, "Datagrams not completed within ipv6.reassembly_timeout"},
        {"ipv6.reasm_evicted", MetricKind::kCounter, "Datagrams dropped to stay within the reassembly bounds"},
        {"ipv6.reasm_too_big", MetricKind::kCounter, "Datagrams that would reassemble beyond 65535 bytes"},
    }};
    for (std::size_t i = 0; i < kInfo.size(); ++i) visit(kInfo[i], stats_[i]);
    std::size_t live = 0;
    for (const Datagram& d : datagrams_) live += d.dead ? 0 : 1;
    static constexpr MetricInfo kDatagrams{"ipv6.reasm_datagrams", MetricKind::kGauge, "IPv6 datagrams being reassembled"};
    static constexpr MetricInfo kBytes{"ipv6.reasm_bytes", MetricKind::kGauge, "Bytes held for IPv6 reassembly"};
    visit(kDatagrams, live);
    visit(kBytes, bytes_held_);
}

}  // namespace tapstack::iface
