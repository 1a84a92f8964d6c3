// Counters of the TCP layer, each with a stable name ("tcp.<name>").
//
// Every drop has its own reason so a problem can be located from the
// counters alone. Exposed through TcpStack::visit_counters().
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <string_view>

namespace tapstack::tcp {

#define TAPSTACK_TCP_COUNTERS(X)                                                               \
    X(rx_segments)             /* segments handed to receive() */                               \
    X(tx_segments)             /* segments given to the sink */                                \
    X(rx_truncated)            /* shorter than a TCP header */                                 \
    X(rx_bad_offset)           /* data offset < 5 or beyond the segment */                     \
    X(rx_bad_checksum)         /* checksum over the pseudo-header failed */                    \
    X(rx_malformed_options)    /* illegal option length: option ignored, segment kept */      \
    X(rx_not_our_address)      /* destination is not the interface address */                  \
    X(rx_bad_source)           /* source broadcast/multicast/unspecified or port 0 */         \
    X(rx_no_listener)          /* segment for a closed port (RFC 9293 3.10.7.1) */            \
    X(rx_backlog_full)         /* SYN dropped: listener backlog full of unaccepted conns */   \
    X(rx_syn_queue_full)       /* SYN dropped: SYN queue full and syncookies off */            \
    X(rx_table_full)           /* SYN dropped: max_connections reached */                      \
    X(rx_listen_dropped)       /* non-SYN segment to a listener */                             \
    X(rx_syn_sent_dropped)     /* segment without SYN or RST in SYN-SENT */                    \
    X(rx_out_of_window)        /* unacceptable segment (step 1) */                             \
    X(rx_duplicate_segments)   /* wholly old data (already received) */                        \
    X(rx_partial_duplicates)   /* segment straddling RCV.NXT: old part trimmed */             \
    X(rx_beyond_window)        /* bytes past the window right edge trimmed */                  \
    X(rx_out_of_order)         /* in-window segment ahead of RCV.NXT, kept */                  \
    X(rx_ooo_dropped)          /* out-of-order segment dropped: range table full */            \
    X(rx_no_ack)               /* segment without ACK in a synchronized state */               \
    X(rx_bad_ack)              /* ACK for data never sent */                                   \
    X(rx_old_ack)              /* ACK older than the window (RFC 5961 5.2) */                  \
    X(rx_dup_acks)             /* duplicate ACKs (RFC 5681 definition) */                      \
    X(rx_data_after_close)     /* data for an orphaned connection: RST */                      \
    X(rx_syn_in_window)        /* SYN in a synchronized state */                               \
    X(rx_rst_in_window)        /* RST not exactly at RCV.NXT */                                \
    X(rx_rst_time_wait_ignored) /* RFC 1337 */                                                 \
    X(resets_received)         /* RSTs acted upon */                                           \
    X(resets_sent)             /* RSTs emitted */                                              \
    X(rst_queue_full)          /* RST not sent: pending queue full */                          \
    X(challenge_acks)          /* RFC 5961 challenge ACKs sent */                              \
    X(challenge_acks_suppressed) /* over the per-connection rate limit */                     \
    X(invalid_acks_suppressed) /* ACK to an invalid segment not sent: tcp.invalid_ack_ratelimit */\
    X(retransmissions)         /* segments sent again */                                       \
    X(rto_expiries)            /* retransmission timer expiries */                             \
    X(fast_retransmits)        /* entries into fast recovery */                                \
    X(sack_recoveries)         /* entries into RFC 6675 SACK loss recovery */                  \
    X(sack_retransmits)        /* segments retransmitted by RFC 6675 NextSeg */                \
    X(sack_rescue_retransmits) /* RFC 6675 NextSeg rule 4 rescue retransmissions */            \
    X(lost_retransmits)        /* retransmission found lost: later data delivered (RACK)   */  \
    X(tlp_probes)              /* tail loss probes sent (RFC 8985 7) */                        \
    X(rack_reorder_timeouts)   /* recoveries started by the reordering window (RFC 8985 6.3) */\
    X(limited_transmits)       /* new segments sent on the 1st/2nd dup ACK (RFC 3042) */       \
    X(rx_paws_rejected)        /* old duplicate dropped by PAWS (RFC 7323 5) */                \
    X(rx_missing_timestamps)   /* segment without the negotiated timestamp (accepted) */       \
    X(keepalive_probes)        /* keepalive probes sent (RFC 1122 4.2.3.6) */                  \
    X(keepalive_timeouts)      /* connections ended by unanswered keepalives */                \
    X(receive_buffer_grown)    /* receive buffer enlarged by auto-tuning */                    \
    X(persist_probes)          /* zero-window probes */                                        \
    X(window_updates)          /* pure ACKs sent because the window opened */                  \
    X(conn_opened)             /* active opens started */                                      \
    X(conn_established)        /* handshakes completed (both roles) */                         \
    X(conn_accepted)           /* connections handed to accept() */                            \
    X(conn_refused)            /* active opens answered by RST */                              \
    X(conn_reset)              /* synchronized connections reset by the peer */                \
    X(conn_timed_out)          /* aborted after exhausting retransmissions */                  \
    X(conn_unreachable)        /* active opens failed for host unreachable */                  \
    X(conn_aborted)            /* ended by abort() or close() with unread data */              \
    X(embryonic_dropped)       /* SYN-RECEIVED connections dropped (RST, timeout) */           \
    X(time_wait_expired)       /* TIME-WAIT ended normally */                                  \
    X(time_wait_reused)        /* TIME-WAIT replaced by a new SYN (RFC 6191) */               \
    X(time_wait_recycled)      /* oldest TIME-WAIT freed: connection table full */            \
    X(icmp_unmatched)          /* ICMP error quoting no connection of ours */                 \
    X(icmp_out_of_window)      /* ICMP error quoting a sequence number not in flight (RFC 5927) */\
    X(icmp_soft_errors)        /* unreachable for a synchronized connection: kept (RFC 1122) */ \
    X(icmp_aborted_opens)      /* connections still opening failed by ICMP unreachable */      \
    X(pmtu_lowered)            /* MSS lowered by ICMP fragmentation needed (RFC 1191) */       \
    X(pmtu_black_holes)        /* MSS lowered after repeated RTOs (RFC 4821 black hole) */     \
    X(pmtu_probes)             /* RFC 4821 probe segments sent */                             \
    X(pmtu_probe_successes)    /* probes acknowledged: MSS raised */                          \
    X(pmtu_probe_failures)     /* probes lost (retransmitted) */                              \
    X(poll_timer_visits)       /* TCBs poll() visited because a timer was due */              \
    X(poll_output_visits)      /* TCBs poll() visited for pending output */                   \
    X(buffers_reclaimed)       /* idle connections whose empty buffers were freed */           \
    X(syncookies_sent)         /* SYN-ACKs with a SYN cookie (RFC 4987 3.6) */                 \
    X(syncookies_accepted)     /* connections made from a valid cookie ACK */                  \
    X(syncookies_rejected)     /* ACKs to a listener whose cookie failed (RST) */             \
    X(syncookies_unsent)       /* cookie SYN-ACK not sent: too many pending in one batch */   \
    X(orphans_timed_out)       /* orphans reset after tcp.orphan_timeout without progress */  \
    X(orphans_overflow)        /* orphans reset beyond tcp.max_orphans (oldest first) */       \
    X(memory_pressure_entered) /* times the memory budget entered pressure */                 \
    X(memory_ooo_pruned)       /* connections whose out-of-order data was pruned */           \
    X(memory_ooo_pruned_bytes) /* out-of-order bytes pruned (never acknowledged) */           \
    X(memory_ooo_dropped)      /* out-of-order segments not stored: memory pressure */        \
    X(memory_rx_dropped)       /* in-order segments not stored: budget exhausted */           \
    X(memory_window_clamped)   /* advertised windows held small under pressure */             \
    X(memory_autotune_suppressed) /* receive buffer growth refused under pressure */          \
    X(memory_send_limited)     /* send() calls cut short by the budget */                     \
    X(memory_buffers_released) /* empty buffers freed at once under pressure */               \
    X(memory_conn_refused)     /* SYNs and cookie ACKs refused: memory pressure */            \
    X(memory_connect_refused)  /* connect() refused: memory pressure */

enum class Counter : std::size_t {
#define TAPSTACK_X(name) name,
    TAPSTACK_TCP_COUNTERS(TAPSTACK_X)
#undef TAPSTACK_X
        kCount
};

inline constexpr std::array<std::string_view, static_cast<std::size_t>(Counter::kCount)> kCounterNames = {
#define TAPSTACK_X(name) "tcp." #name,
    TAPSTACK_TCP_COUNTERS(TAPSTACK_X)
#undef TAPSTACK_X
};

class Counters {
public:
    void inc(Counter c, std::uint64_t n = 1) { values_[static_cast<std::size_t>(c)] += n; }
    std::uint64_t get(Counter c) const { return values_[static_cast<std::size_t>(c)]; }
    template <typename F>
    void visit(F&& f) const {
        for (std::size_t i = 0; i < values_.size(); ++i) f(kCounterNames[i], values_[i]);
    }

private:
    std::array<std::uint64_t, static_cast<std::size_t>(Counter::kCount)> values_{};
};

}  // namespace tapstack::tcp
