// SackScoreboard: the data sender's record of SACKed data (RFC 2018, RFC 6675).
//
// Theory of operation
// -------------------
// Holds the sequence ranges above SND.UNA that the peer reported in SACK
// blocks, sorted, disjoint and merged; `update()` adds the blocks of one ACK
// (ignoring anything outside (SND.UNA, SND.MAX], i.e. D-SACKs and bogus
// blocks) and forgets what the cumulative ACK has passed. On top of it sit
// the RFC 6675 section 4 routines, computed over the holes between the
// SACKed ranges rather than segment by segment:
//   * is_lost(seq): DupThresh discontiguous SACKed ranges, or more than
//     (DupThresh - 1) * SMSS SACKed bytes, lie above seq. All bytes of one
//     hole share the same answer, so pipe and NextSeg work per hole.
//   * pipe(): bytes presumed in the network (SetPipe), with HighRxt as the
//     watermark of retransmitted bytes.
//   * next_hole(): the first unSACKed byte at or after HighRxt below the
//     highest SACKed byte, with whether it is lost (NextSeg rules 1 and 3).
// Memory is bounded: at most kMaxRanges ranges are kept; a block that would
// need one more is ignored (forgetting a SACK only makes us retransmit
// more, never less, and the peer repeats its blocks). The scoreboard never frees send-buffer data: RFC 2018 8 lets the
// receiver renege, so only the cumulative ACK releases bytes.
// Non-goals: reading D-SACK (RFC 2883) blocks (one below SND.UNA is
// ignored, one above it repeats data already SACKed). RACK's rules (RFC 8985) sit around it: LossRule here, the
// retransmission log (retransmit_log.hpp), the reordering timer and the
// tail loss probe (rack.cpp); its owner is LossRecovery (loss_recovery.hpp).
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "stack/tcp/seq_num.hpp"
#include "stack/wire/tcp_options.hpp"

namespace tapstack::tcp {

inline constexpr std::uint32_t kDupThresh = 3;  // RFC 6675 2 / RFC 5681 3.2

class SackScoreboard {
public:
    struct Range {
        SeqNum left;   // first SACKed byte
        SeqNum right;  // one past the last
    };
    struct Hole {
        SeqNum begin;
        SeqNum end;
        bool lost = false;
    };
    static constexpr std::size_t kMaxRanges = 32;

    // Records the SACK blocks of an ACK and drops everything below `una`.
    // Returns how many bytes were newly SACKed (RFC 6675 2: such an ACK
    // counts as a duplicate acknowledgment).
    std::uint32_t update(SeqNum una, SeqNum snd_max, std::span<const wire::SackBlock> blocks);
    // Drops everything below `una` (a cumulative ACK without blocks).
    void advance(SeqNum una);
    void clear() { ranges_.clear(); }

    bool empty() const { return ranges_.empty(); }
    const std::vector<Range>& ranges() const { return ranges_; }
    bool is_sacked(SeqNum seq) const;
    // End of the SACKed range containing seq, or seq itself.
    SeqNum skip_sacked(SeqNum seq) const;
    // First SACKed byte at or above seq (or `limit` when none below it).
    SeqNum next_sacked(SeqNum seq, SeqNum limit) const;
    // Highest SACKed byte + 1 (HighSACK + 1); meaningless when empty().
    SeqNum high_sacked() const { return ranges_.back().right; }
    std::uint32_t sacked_bytes() const;

    // RFC 6675 4 IsLost(SeqNum).
    bool is_lost(SeqNum seq, std::uint32_t smss) const;
    // How a hole below HighSACK is judged lost: RFC 6675 IsLost (DupThresh
    // SACKed segments above it), or the RACK rule with a zero reordering
    // window (RFC 8985 6.2: data sent after it was delivered, so it is lost;
    // what recovery uses once it has started and no reordering was seen).
    enum class LossRule { kIsLost, kSentBeforeSacked };

    // RFC 6675 4 SetPipe: bytes of [una, snd_max) not SACKed and not lost,
    // plus those at or below high_rxt (retransmitted and not yet SACKed).
    std::uint32_t pipe(SeqNum una, SeqNum snd_max, SeqNum high_rxt, std::uint32_t smss,
                       LossRule rule = LossRule::kIsLost) const;
    // The first unSACKed hole byte >= from (and >= una) lying below
    // HighSACK, or nothing (begin == end) when there is none.
    Hole next_hole(SeqNum una, SeqNum from, std::uint32_t smss, LossRule rule = LossRule::kIsLost) const;

private:
    bool hole_lost(SeqNum seq, std::uint32_t smss, LossRule rule) const;
    void insert(SeqNum left, SeqNum right, std::uint32_t* newly);
    std::vector<Range> ranges_;
};

}  // namespace tapstack::tcp
