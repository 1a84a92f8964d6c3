// SackScoreboard (see sack_scoreboard.hpp): range bookkeeping and the
// RFC 6675 section 4 routines.
#include "stack/tcp/sack_scoreboard.hpp"

#include <algorithm>

namespace tapstack::tcp {

void SackScoreboard::insert(SeqNum left, SeqNum right, std::uint32_t* newly) {
    // Bytes of [left, right) not yet covered.
    std::uint32_t covered = 0;
    for (const Range& r : ranges_) {
        const SeqNum a = seq_max(r.left, left);
        const SeqNum b = seq_min(r.right, right);
        if (a < b) covered += SeqNum::distance(b, a);
    }
    auto first = std::find_if(ranges_.begin(), ranges_.end(), [&](const Range& r) { return r.right >= left; });
    auto last = first;
    while (last != ranges_.end() && last->left <= right) ++last;
    if (first == last) {
        if (ranges_.size() >= kMaxRanges) return;
        ranges_.insert(first, Range{left, right});
    } else {
        const Range merged{seq_min(left, first->left), seq_max(right, (last - 1)->right)};
        *first = merged;
        ranges_.erase(first + 1, last);
    }
    *newly += SeqNum::distance(right, left) - covered;
}

std::uint32_t SackScoreboard::update(SeqNum una, SeqNum snd_max, std::span<const wire::SackBlock> blocks) {
    advance(una);
    std::uint32_t newly = 0;
    for (const wire::SackBlock& b : blocks) {
        SeqNum left(b.left);
        const SeqNum right(b.right);
        // Only blocks inside (SND.UNA, SND.MAX]; a D-SACK (below SND.UNA)
        // or a block for data never sent says nothing about holes.
        if (!(left < right) || right > snd_max || right <= una) continue;
        if (left < una) left = una;
        insert(left, right, &newly);
    }
    return newly;
}

void SackScoreboard::advance(SeqNum una) {
    while (!ranges_.empty() && ranges_.front().right <= una) ranges_.erase(ranges_.begin());
    if (!ranges_.empty() && ranges_.front().left < una) ranges_.front().left = una;
}

bool SackScoreboard::is_sacked(SeqNum seq) const {
    for (const Range& r : ranges_) {
        if (seq < r.left) return false;
        if (seq < r.right) return true;
    }
    return false;
}

SeqNum SackScoreboard::skip_sacked(SeqNum seq) const {
    for (const Range& r : ranges_) {
        if (seq < r.left) break;
        if (seq < r.right) return r.right;
    }
    return seq;
}

SeqNum SackScoreboard::next_sacked(SeqNum seq, SeqNum limit) const {
    for (const Range& r : ranges_) {
        if (r.right <= seq) continue;
        const SeqNum s = seq_max(r.left, seq);
        return seq_min(s, limit);
    }
    return limit;
}

std::uint32_t SackScoreboard::sacked_bytes() const {
    std::uint32_t n = 0;
    for (const Range& r : ranges_) n += SeqNum::distance(r.right, r.left);
    return n;
}

bool SackScoreboard::is_lost(SeqNum seq, std::uint32_t smss) const {
    std::uint32_t count = 0;
    std::uint32_t bytes = 0;
    for (auto it = ranges_.rbegin(); it != ranges_.rend(); ++it) {
        if (it->right <= seq) break;
        const SeqNum from = seq_max(it->left, seq + 1);
        if (from < it->right) {
            ++count;
            bytes += SeqNum::distance(it->right, from);
        }
        if (count >= kDupThresh || bytes > (kDupThresh - 1) * smss) return true;
    }
    return false;
}

bool SackScoreboard::hole_lost(SeqNum seq, std::uint32_t smss, LossRule rule) const {
    if (rule == LossRule::kSentBeforeSacked) return !ranges_.empty() && seq < high_sacked();
    return is_lost(seq, smss);
}

std::uint32_t SackScoreboard::pipe(SeqNum una, SeqNum snd_max, SeqNum high_rxt, std::uint32_t smss,
                                   LossRule rule) const {
    std::uint32_t pipe = 0;
    SeqNum s = una;
    while (s < snd_max) {
        s = skip_sacked(s);
        if (s >= snd_max) break;
        const SeqNum hole_end = next_sacked(s, snd_max);
        const std::uint32_t len = SeqNum::distance(hole_end, s);
        // (a) not lost: still in the network.
        if (!hole_lost(s, smss, rule)) pipe += len;
        // (b) retransmitted (below HighRxt): that copy is in the network.
        if (s < high_rxt) pipe += SeqNum::distance(seq_min(hole_end, high_rxt), s);
        s = hole_end;
    }
    return pipe;
}

SackScoreboard::Hole SackScoreboard::next_hole(SeqNum una, SeqNum from, std::uint32_t smss, LossRule rule) const {
    if (ranges_.empty()) return {};
    SeqNum s = seq_max(una, from);
    const SeqNum high = high_sacked();
    s = skip_sacked(s);
    if (s >= high) return {};
    const SeqNum end = next_sacked(s, high);
    return Hole{s, end, hole_lost(s, smss, rule)};
}

}  // namespace tapstack::tcp
