// RetransmitLog: see retransmit_log.hpp for the rule and its limits.
#include "stack/tcp/retransmit_log.hpp"

#include <algorithm>

namespace tapstack::tcp {

void RetransmitLog::record(Instant now, SeqNum begin, SeqNum end, SeqNum snd_max) {
    if (!(begin < end)) return;
    if (entries_.size() >= kMaxEntries) entries_.erase(entries_.begin());
    entries_.push_back(Entry{begin, end, snd_max, now, next_order_++, false});
}

bool RetransmitLog::delivered(const Entry& e, SeqNum una, const SackScoreboard& sb) {
    return e.end <= una || sb.skip_sacked(seq_max(e.begin, una)) >= e.end;
}

std::uint32_t RetransmitLog::missing_bytes(const Entry& e, SeqNum una, const SackScoreboard& sb) {
    std::uint32_t n = 0;
    SeqNum s = seq_max(e.begin, una);
    while (s < e.end) {
        s = sb.skip_sacked(s);
        if (s >= e.end) break;
        const SeqNum hole_end = sb.next_sacked(s, e.end);
        n += SeqNum::distance(hole_end, s);
        s = hole_end;
    }
    return n;
}

std::uint32_t RetransmitLog::detect(Instant now, Duration min_rtt, SeqNum una, const SackScoreboard& sb) {
    // (b): the newest retransmission known delivered (and not merely its
    // original, whose ACK would come sooner than a round trip).
    std::uint64_t delivered_order = 0;
    for (const Entry& e : entries_)
        if (delivered(e, una, sb) && now > e.sent && now - e.sent >= min_rtt) delivered_order = std::max(delivered_order, e.order);
    std::erase_if(entries_, [&](const Entry& e) { return delivered(e, una, sb); });
    std::uint32_t found = 0;
    for (Entry& e : entries_) {
        if (e.lost) continue;
        const bool later_new_data_arrived = !sb.empty() && sb.high_sacked() > e.snd_max_mark;  // (a)
        if (later_new_data_arrived || e.order < delivered_order) {
            e.lost = true;
            ++found;
        }
    }
    return found;
}

std::optional<RetransmitLog::Range> RetransmitLog::next_lost(SeqNum una, const SackScoreboard& sb) const {
    for (const Entry& e : entries_) {
        if (!e.lost) continue;
        const SeqNum s = sb.skip_sacked(seq_max(e.begin, una));
        if (s >= e.end) continue;  // meanwhile SACKed; detect() drops it
        return Range{s, sb.next_sacked(s, e.end)};
    }
    return std::nullopt;
}

void RetransmitLog::taken(SeqNum begin, std::uint32_t n) {
    for (auto it = entries_.begin(); it != entries_.end(); ++it) {
        if (!it->lost || !(it->begin <= begin && begin < it->end)) continue;
        const SeqNum sent_end = begin + n;
        if (sent_end >= it->end) {
            // Whatever preceded `begin` in the entry was SACKed or ACKed.
            entries_.erase(it);
        } else {
            it->begin = sent_end;  // the rest is still lost
        }
        return;
    }
}

std::uint32_t RetransmitLog::lost_bytes(SeqNum una, const SackScoreboard& sb) const {
    std::uint32_t n = 0;
    for (const Entry& e : entries_)
        if (e.lost) n += missing_bytes(e, una, sb);
    return n;
}

}  // namespace tapstack::tcp
