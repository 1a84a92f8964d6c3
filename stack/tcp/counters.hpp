// Counters of the TCP layer, each with a stable name ("tcp.<name>"), a kind
// and a line of help (stack/metrics.hpp).
//
// Every drop has its own reason so a problem can be located from the
// counters alone. Exposed through TcpStack::visit_metrics().
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "stack/metrics.hpp"

namespace tapstack::tcp {

#define TAPSTACK_TCP_COUNTERS(X)                                                                                       \
    X(rx_segments, kCounter, "Segments handed to receive()")                                                           \
    X(tx_segments, kCounter, "Segments given to the sink")                                                             \
    X(rx_truncated, kCounter, "Shorter than a TCP header")                                                             \
    X(rx_bad_offset, kCounter, "Data offset < 5 or beyond the segment")                                                \
    X(rx_bad_checksum, kCounter, "Checksum over the pseudo-header failed")                                             \
    X(rx_malformed_options, kCounter, "Illegal option length")                                                         \
    X(rx_not_our_address, kCounter, "Destination is not the interface address")                                        \
    X(rx_bad_source, kCounter, "Source broadcast/multicast/unspecified or port 0")                                     \
    X(rx_no_listener, kCounter, "Segment for a closed port (RFC 9293 3.10.7.1)")                                       \
    X(rx_backlog_full, kCounter, "SYN dropped: listener backlog full of unaccepted conns")                             \
    X(rx_syn_queue_full, kCounter, "SYN dropped: SYN queue full and syncookies off")                                   \
    X(rx_table_full, kCounter, "SYN dropped: max_connections reached")                                                 \
    X(rx_listen_dropped, kCounter, "Non-SYN segment to a listener")                                                    \
    X(rx_syn_sent_dropped, kCounter, "Segment without SYN or RST in SYN-SENT")                                         \
    X(rx_out_of_window, kCounter, "Unacceptable segment (step 1)")                                                     \
    X(rx_duplicate_segments, kCounter, "Wholly old data (already received)")                                           \
    X(rx_partial_duplicates, kCounter, "Segment straddling RCV.NXT: old part trimmed")                                 \
    X(rx_beyond_window, kCounter, "Bytes past the window right edge trimmed")                                          \
    X(rx_out_of_order, kCounter, "In-window segment ahead of RCV.NXT, kept")                                           \
    X(rx_ooo_dropped, kCounter, "Out-of-order segment dropped: range table full")                                      \
    X(rx_no_ack, kCounter, "Segment without ACK in a synchronized state")                                              \
    X(rx_bad_ack, kCounter, "ACK for data never sent")                                                                 \
    X(rx_old_ack, kCounter, "ACK older than the window (RFC 5961 5.2)")                                                \
    X(rx_dup_acks, kCounter, "Duplicate ACKs (RFC 5681 definition)")                                                   \
    X(rx_data_after_close, kCounter, "Data for an orphaned connection: RST")                                           \
    X(rx_syn_in_window, kCounter, "SYN in a synchronized state")                                                       \
    X(rx_rst_in_window, kCounter, "RST not exactly at RCV.NXT")                                                        \
    X(rx_rst_time_wait_ignored, kCounter, "RFC 1337")                                                                  \
    X(resets_received, kCounter, "RSTs acted upon")                                                                    \
    X(resets_sent, kCounter, "RSTs emitted")                                                                           \
    X(rst_queue_full, kCounter, "RST not sent: pending queue full")                                                    \
    X(challenge_acks, kCounter, "RFC 5961 challenge ACKs sent")                                                        \
    X(challenge_acks_suppressed, kCounter, "Over the per-connection rate limit")                                       \
    X(invalid_acks_suppressed, kCounter, "ACK to an invalid segment not sent: tcp.invalid_ack_ratelimit")              \
    X(retransmissions, kCounter, "Segments sent again")                                                                \
    X(rto_expiries, kCounter, "Retransmission timer expiries")                                                         \
    X(fast_retransmits, kCounter, "Entries into fast recovery")                                                        \
    X(sack_recoveries, kCounter, "Entries into RFC 6675 SACK loss recovery")                                           \
    X(sack_retransmits, kCounter, "Segments retransmitted by RFC 6675 NextSeg")                                        \
    X(sack_rescue_retransmits, kCounter, "RFC 6675 NextSeg rule 4 rescue retransmissions")                             \
    X(lost_retransmits, kCounter, "Retransmission found lost: later data delivered (RACK)")                            \
    X(tlp_probes, kCounter, "Tail loss probes sent (RFC 8985 7)")                                                      \
    X(rack_reorder_timeouts, kCounter, "Recoveries started by the reordering window (RFC 8985 6.3)")                   \
    X(limited_transmits, kCounter, "New segments sent on the 1st/2nd dup ACK (RFC 3042)")                              \
    X(rx_paws_rejected, kCounter, "Old duplicate dropped by PAWS (RFC 7323 5)")                                        \
    X(rx_missing_timestamps, kCounter, "Segment without the negotiated timestamp (accepted)")                          \
    X(keepalive_probes, kCounter, "Keepalive probes sent (RFC 1122 4.2.3.6)")                                          \
    X(keepalive_timeouts, kCounter, "Connections ended by unanswered keepalives")                                      \
    X(receive_buffer_grown, kCounter, "Receive buffer enlarged by auto-tuning")                                        \
    X(persist_probes, kCounter, "Zero-window probes")                                                                  \
    X(window_updates, kCounter, "Pure ACKs sent because the window opened")                                            \
    X(conn_opened, kCounter, "Active opens started")                                                                   \
    X(conn_established, kCounter, "Handshakes completed (both roles)")                                                 \
    X(conn_accepted, kCounter, "Connections handed to accept()")                                                       \
    X(conn_refused, kCounter, "Active opens answered by RST")                                                          \
    X(conn_reset, kCounter, "Synchronized connections reset by the peer")                                              \
    X(conn_timed_out, kCounter, "Aborted after exhausting retransmissions")                                            \
    X(conn_unreachable, kCounter, "Active opens failed for host unreachable")                                          \
    X(conn_aborted, kCounter, "Ended by abort() or close() with unread data")                                          \
    X(embryonic_dropped, kCounter, "SYN-RECEIVED connections dropped (RST, timeout)")                                  \
    X(time_wait_expired, kCounter, "TIME-WAIT ended normally")                                                         \
    X(time_wait_reused, kCounter, "TIME-WAIT replaced by a new SYN (RFC 6191)")                                        \
    X(time_wait_recycled, kCounter, "Oldest TIME-WAIT freed: connection table full")                                   \
    X(icmp_unmatched, kCounter, "ICMP error quoting no connection of ours")                                            \
    X(icmp_out_of_window, kCounter, "ICMP error quoting a sequence number not in flight (RFC 5927)")                   \
    X(icmp_soft_errors, kCounter, "Unreachable for a synchronized connection: kept (RFC 1122)")                        \
    X(icmp_aborted_opens, kCounter, "Connections still opening failed by ICMP unreachable")                            \
    X(pmtu_lowered, kCounter, "MSS lowered by ICMP fragmentation needed (RFC 1191)")                                   \
    X(pmtu_black_holes, kCounter, "MSS lowered after repeated RTOs (RFC 4821 black hole)")                             \
    X(pmtu_probes, kCounter, "RFC 4821 probe segments sent")                                                           \
    X(pmtu_probe_successes, kCounter, "Probes acknowledged: MSS raised")                                               \
    X(pmtu_probe_failures, kCounter, "Probes lost (retransmitted)")                                                    \
    X(poll_timer_visits, kCounter, "TCBs poll() visited because a timer was due")                                      \
    X(poll_output_visits, kCounter, "TCBs poll() visited for pending output")                                          \
    X(buffers_reclaimed, kCounter, "Idle connections whose empty buffers were freed")                                  \
    X(syncookies_sent, kCounter, "SYN-ACKs with a SYN cookie (RFC 4987 3.6)")                                          \
    X(syncookies_accepted, kCounter, "Connections made from a valid cookie ACK")                                       \
    X(syncookies_rejected, kCounter, "ACKs to a listener whose cookie failed (RST)")                                   \
    X(syncookies_unsent, kCounter, "Cookie SYN-ACK not sent: too many pending in one batch")                           \
    X(orphans_timed_out, kCounter, "Orphans reset after tcp.orphan_timeout without progress")                          \
    X(orphans_overflow, kCounter, "Orphans reset beyond tcp.max_orphans (oldest first)")                               \
    X(memory_pressure_entered, kCounter, "Times the memory budget entered pressure")                                   \
    X(memory_ooo_pruned, kCounter, "Connections whose out-of-order data was pruned")                                   \
    X(memory_ooo_pruned_bytes, kCounter, "Out-of-order bytes pruned (never acknowledged)")                             \
    X(memory_ooo_dropped, kCounter, "Out-of-order segments not stored: memory pressure")                               \
    X(memory_rx_dropped, kCounter, "In-order segments not stored: budget exhausted")                                   \
    X(memory_window_clamped, kCounter, "Advertised windows held small under pressure")                                 \
    X(memory_autotune_suppressed, kCounter, "Receive buffer growth refused under pressure")                            \
    X(memory_send_limited, kCounter, "send() calls cut short by the budget")                                           \
    X(memory_buffers_released, kCounter, "Empty buffers freed at once under pressure")                                 \
    X(memory_conn_refused, kCounter, "SYNs and cookie ACKs refused: memory pressure")                                  \
    X(memory_connect_refused, kCounter, "connect() refused: memory pressure")

enum class Counter : std::size_t {
#define TAPSTACK_X(name, kind, help) name,
    TAPSTACK_TCP_COUNTERS(TAPSTACK_X)
#undef TAPSTACK_X
        kCount
};

inline constexpr std::array<MetricInfo, static_cast<std::size_t>(Counter::kCount)> kCounterInfo = {{
#define TAPSTACK_X(name, kind, help) {"tcp." #name, MetricKind::kind, help},
    TAPSTACK_TCP_COUNTERS(TAPSTACK_X)
#undef TAPSTACK_X
}};

class Counters {
public:
    void inc(Counter c, std::uint64_t n = 1) { values_[static_cast<std::size_t>(c)] += n; }
    std::uint64_t get(Counter c) const { return values_[static_cast<std::size_t>(c)]; }
    template <typename F>
    void visit(F&& f) const {
        for (std::size_t i = 0; i < values_.size(); ++i) f(kCounterInfo[i], values_[i]);
    }

private:
    std::array<std::uint64_t, static_cast<std::size_t>(Counter::kCount)> values_{};
};

}  // namespace tapstack::tcp
