// TcpStack::Impl: the connection table and the protocol engine, shared by
// tcp_stack.cpp (user calls, table, events), tcp_input.cpp (segment
// arrival, RFC 9293 3.10.7) and tcp_output.cpp (output and timers, 3.10.8).
//
// Theory of operation
// -------------------
// TCBs live in slots addressed by ConnId (index + generation); live
// connections are also in a hash map keyed by the 4-tuple for O(1) demux,
// listeners in a map keyed by port. Nothing is sent from receive() or from a
// user call: they mark the TCB dirty (or queue an RST for a segment that has
// no TCB), and poll() emits.
// Timers are per-TCB deadlines (tcb.hpp); each TCB with any deadline has one
// entry in `wheel_` (timer_wheel.hpp, 1 ms slots, O(1) per operation) at
// the earliest of them. poll() visits only the TCBs the wheel hands out as
// due (run_timers(), then output()) and the TCBs on `dirty_list` (output()),
// never the whole table; `poll_timer_visits` / `poll_output_visits` count
// those visits. After a visit `reschedule()` moves the TCB's entry to its
// new earliest deadline. A deadline armed outside a visit (arm() while a
// segment is processed, a user call) is rescheduled at the end of that
// entry point. A deadline cleared outside a visit leaves the entry early:
// the TCB is then visited once for nothing and rescheduled (run_timers()
// acts only on deadlines <= now), which keeps cancelling O(1) for callers
// that only write `deadline = kNever`.
// A second wheel, `reclaim_wheel_`, frees the buffer storage of connections
// quiet for kBufferReclaimIdle with empty buffers (note_active(),
// reclaim_buffers()); it never changes protocol state.
// A TCB that reaches kClosed while nobody owns it (see tcb.hpp) is freed by
// `release_if_done()`, which is called only at the end of an entry point,
// never in the middle of processing a segment.
#pragma once

#include <deque>
#include <memory>
#include <optional>
#include <unordered_map>
#include <vector>

#include "stack/tcp/counters.hpp"
#include "stack/tcp/isn.hpp"
#include "stack/tcp/tcb.hpp"
#include "stack/tcp/tcp_stack.hpp"
#include "stack/tcp/timer_wheel.hpp"
#include "stack/wire/tcp_header.hpp"

namespace tapstack::tcp {

// A received segment after parsing; step 1 trims it in place.
struct Segment {
    SeqNum seq;
    SeqNum ack;
    bool syn = false;
    bool ack_flag = false;
    bool rst = false;
    bool fin = false;
    std::uint16_t window = 0;  // raw field
    wire::TcpOptions options;
    std::span<const std::uint8_t> payload;

    std::uint32_t len() const {  // SEG.LEN
        return static_cast<std::uint32_t>(payload.size()) + (syn ? 1u : 0u) + (fin ? 1u : 0u);
    }
};

struct TupleKey {
    std::uint32_t local_addr = 0;
    std::uint32_t remote_addr = 0;
    std::uint16_t local_port = 0;
    std::uint16_t remote_port = 0;
    friend bool operator==(const TupleKey&, const TupleKey&) = default;
};

struct TupleHash {
    std::size_t operator()(const TupleKey& k) const {
        std::uint64_t x = (std::uint64_t{k.local_addr} << 32) ^ k.remote_addr;
        x ^= (std::uint64_t{k.local_port} << 16 | k.remote_port) * 0x9e3779b97f4a7c15ull;
        x ^= x >> 29;
        x *= 0xbf58476d1ce4e5b9ull;
        x ^= x >> 32;
        return static_cast<std::size_t>(x);
    }
};

struct Listener {
    std::uint32_t generation = 0;
    bool in_use = false;
    std::uint16_t port = 0;
    std::uint32_t backlog = 0;
    std::deque<std::uint32_t> accept_queue;  // TCB indices, oldest first
    std::vector<std::uint32_t> embryonic;    // SYN-RECEIVED TCB indices, oldest first
    bool event_pending = false;
};

// An RST for a segment that has no TCB (or whose TCB is already gone).
struct PendingReset {
    Ipv4Endpoint local;
    Ipv4Endpoint remote;
    SeqNum seq;
    SeqNum ack;
    bool with_ack = false;
};

struct TcpStack::Impl {
    Impl(const TcpConfig& config, SegmentSink& sink, std::uint64_t secret);
    void set_config(const TcpConfig& next);

    // ---- table (tcp_stack.cpp) ----
    Tcb* get(ConnId id);
    const Tcb* get(ConnId id) const;
    // The TCB behind a handle the application still owns (user calls).
    Tcb* get_owned(ConnId id);
    const Tcb* get_owned(ConnId id) const;
    void drop_events_for(ConnId id);
    ConnId id_of(std::uint32_t index) const { return ConnId{index, generations_[index]}; }
    std::uint32_t alloc_tcb();  // kNoListener when full
    void free_tcb(std::uint32_t index);
    void table_insert(std::uint32_t index);
    void table_remove(std::uint32_t index);
    std::uint32_t lookup(const TupleKey& key) const;
    static TupleKey key_of(const Tcb& t);
    Listener* get_listener(ListenerId id);
    void release_if_done(std::uint32_t index);
    void remove_from_listener(std::uint32_t index);
    bool choose_ephemeral_port(Ipv4Endpoint remote, std::uint16_t* port);
    void init_send_side(Tcb& t, Instant now);
    std::uint8_t our_wscale() const;
    std::uint16_t our_mss() const;

    // ---- events ----
    void notify(std::uint32_t index);
    void notify_listener(std::uint32_t listener_index);
    void mark_dirty(std::uint32_t index);
    // Sets one of a TCB's deadlines; the TCB's wheel entry follows at the
    // next reschedule() (end of the visit or of the entry point).
    void arm(Instant& deadline, Instant when);
    // Puts the TCB's wheel entry at its earliest deadline (or removes it).
    void reschedule(std::uint32_t index);
    // Buffer reclaim: the TCB was just active (visited by poll(), data read);
    // once it has been quiet for kBufferReclaimIdle with both buffers empty,
    // reclaim_buffers() frees their storage (see tcp_stack.cpp).
    void note_active(std::uint32_t index, Instant now);
    void reclaim_buffers(Instant now);
    Instant earliest_deadline(const Tcb& t) const;  // tcp_output.cpp, next to the timers

    // ---- state changes ----
    void set_state(std::uint32_t index, State s);
    void enter_time_wait(std::uint32_t index, Instant now);
    void fail(std::uint32_t index, Error e);  // to kClosed with an error
    void close_orderly(std::uint32_t index);  // to kClosed without error
    void established(std::uint32_t index, Instant now);

    // ---- input (tcp_input.cpp) ----
    void segment_arrives(Instant now, wire::Ipv4Address src, wire::Ipv4Address dst, const wire::TcpRepr& repr);
    void closed_state(const Segment& seg, Ipv4Endpoint local, Ipv4Endpoint remote);
    void listen_state(Instant now, std::uint32_t listener_index, const Segment& seg, Ipv4Endpoint local,
                      Ipv4Endpoint remote);
    void syn_sent_state(Instant now, std::uint32_t index, Segment& seg);
    // Returns false when the segment must be processed again by the listener
    // (a new SYN replacing a TIME-WAIT connection).
    bool other_states(Instant now, std::uint32_t index, Segment& seg);
    bool step1_check_sequence(Instant now, std::uint32_t index, Segment& seg);
    void step2_rst(Instant now, std::uint32_t index, const Segment& seg);
    void step4_syn(Instant now, std::uint32_t index);
    bool step5_ack(Instant now, std::uint32_t index, const Segment& seg);
    bool step7_text(Instant now, std::uint32_t index, const Segment& seg);
    void step8_fin(Instant now, std::uint32_t index, const Segment& seg);
    void accept_fin(Instant now, std::uint32_t index);
    void challenge_ack(Instant now, std::uint32_t index);
    void apply_peer_syn_options(Tcb& t, const Segment& seg, bool we_offered_wscale);
    // RFC 7323 5.3 R1: true when PAWS rejects the segment as an old duplicate.
    bool paws_rejects(Instant now, Tcb& t, const Segment& seg);
    bool stale_ack_in_time_wait(const Tcb& t, const Segment& seg) const;
    // RFC 7323 4.3 / 5.3 R3: TS.Recent from an acceptable segment.
    void update_ts_recent(Instant now, Tcb& t, const Segment& seg, SeqNum original_seq);
    // Receiver RTT for auto-tuning (RFC 7323 echo, or one window's time).
    void measure_rcv_rtt(Instant now, Tcb& t, const Segment& seg);
    void note_peer_alive(Instant now, Tcb& t);
    void enter_loss_recovery(Instant now, std::uint32_t index);
    void note_duplicate(Tcb& t, SeqNum left, SeqNum right);
    void arm_reordering_timer(Instant now, Tcb& t);
    bool reordering_hole(const Tcb& t) const;
    void on_reordering_timeout(Instant now, std::uint32_t index);
    void queue_reset(const PendingReset& r);

    // ---- output and timers (tcp_output.cpp) ----
    void output(Instant now, std::uint32_t index);
    void run_timers(Instant now, std::uint32_t index);
    void on_retransmit_timeout(Instant now, std::uint32_t index);
    void arm_loss_probe(Instant now, Tcb& t);
    void note_cwnd_use(Tcb& t, std::uint32_t cwnd);
    bool early_retransmit_due(const Tcb& t) const;
    void on_loss_probe_timeout(Instant now, std::uint32_t index);
    void on_persist_timeout(Instant now, std::uint32_t index);
    void send_syn(Instant now, Tcb& t);
    void send_data(Instant now, Tcb& t, SeqNum seq, std::uint32_t len, bool fin, bool retransmission);
    void send_ack(Tcb& t, SeqNum seq);
    // One new (or, after an RTO, go-back-N) segment at SND.NXT if the peer's
    // window, `cwnd_edge`, Nagle and sender SWS avoidance allow it.
    bool send_one(Instant now, Tcb& t, SeqNum cwnd_edge);
    // Retransmits from `seq` at most one segment not beyond `end`; returns
    // the sequence space covered (0 when nothing could be sent).
    std::uint32_t retransmit_from(Instant now, Tcb& t, SeqNum seq, SeqNum end);
    // RFC 6675 5 steps (C): send per NextSeg while cwnd - pipe >= 1 SMSS.
    bool sack_recovery_output(Instant now, Tcb& t);
    void on_keepalive_timeout(Instant now, std::uint32_t index);
    void autotune(Instant now, std::uint32_t index);
    std::uint32_t ts_now(const Tcb& t) const;
    std::size_t sack_blocks_to_send(const Tcb& t) const;
    std::uint32_t segment_payload_room(const Tcb& t) const;
    void fill_sack_blocks(Tcb& t, wire::TcpOptions& o, bool pure_ack);
    std::unique_ptr<CongestionControl> make_congestion_control(const Tcb& t, std::uint32_t mss) const;
    // `gso_size` > 0: a TSO super-segment the device cuts into that size.
    // The payload is `payload` followed by `payload_tail` (the send ring's
    // two runs); both are sent from where they lie.
    void emit(Tcb& t, SeqNum seq, std::uint8_t flags, std::span<const std::uint8_t> payload,
              const wire::TcpOptions& options, std::uint32_t gso_size = 0,
              std::span<const std::uint8_t> payload_tail = {});
    // Largest payload send_one() may put in one segment: the payload room,
    // or with TcpConfig::tso a whole number of them up to 64 KiB of IPv4.
    std::uint32_t max_send_len(std::uint32_t room) const;
    std::uint16_t window_field(Tcb& t);
    bool window_update_due(const Tcb& t) const;
    void flush_resets();

    // `config` is the configuration for what starts now (new TCBs, new
    // listeners, stack-wide limits); `conn_config` is the same, shared with
    // every TCB created under it (Tcb::cfg).
    TcpConfig config;
    std::shared_ptr<const TcpConfig> conn_config;
    SegmentSink& sink;
    IsnGenerator isn;
    RttEstimator rtt_proto;
    Counters counters;

    std::vector<std::unique_ptr<Tcb>> tcbs;
    std::vector<std::uint32_t> generations_;
    std::vector<std::uint32_t> free_slots;
    std::size_t live_tcbs = 0;
    std::unordered_map<TupleKey, std::uint32_t, TupleHash> table;

    std::vector<Listener> listeners;
    std::unordered_map<std::uint16_t, std::uint32_t> listener_by_port;

    std::vector<Event> events;
    std::vector<std::uint32_t> dirty_list;
    std::vector<PendingReset> resets;
    TimerWheel wheel_;
    std::vector<std::uint32_t> due_;  // TCBs the wheel handed out in this poll()
    std::vector<std::uint32_t> dirty_work_;  // dirty_list being worked through (capacity reused)
    TimerWheel reclaim_wheel_;               // buffer reclaim checks, by TCB index
    std::vector<Instant> last_active_;       // by TCB index: last note_active()
    bool armed_ = false;              // arm() was called since the last reschedule point
    Instant last_now_{};
    std::uint32_t port_counter = 0;  // RFC 6056 algorithm 3 "next_ephemeral"

    std::size_t sack_first_anchor_ = 0;     // which recent out-of-order segment the next ACK names first
    std::vector<std::uint8_t> tx_buf;       // one outgoing segment
};

// Timing constants not (yet) in TcpConfig.
inline constexpr Duration kMaxDelayedAck = milliseconds(200);  // RFC 5681 4.2 / RFC 1122 4.2.3.2 ceiling
// A connection quiet this long with empty send and receive buffers gives
// their storage back (allocated again on the next byte).
inline constexpr Duration kBufferReclaimIdle = seconds(10);
inline constexpr Duration kSwsOverride = milliseconds(200);    // RFC 9293 3.8.6.2.1 override (0.1-1 s)
inline constexpr Duration kPawsIdle = std::chrono::hours(24 * 24);  // RFC 7323 5.5: TS.Recent invalid after 24 days
inline constexpr std::uint32_t kMaxOwedDupAcks = 32;   // duplicate ACKs owed within one batch
inline constexpr std::uint16_t kMinMss = 64;       // tiny peer MSS values are raised to this
inline constexpr std::uint16_t kDefaultMss = 536;  // RFC 9293 3.7.1 when the option is absent
inline constexpr std::uint32_t kChallengeAcksPerSecond = 10;  // RFC 5961 7
inline constexpr std::size_t kMaxPendingResets = 1024;
inline constexpr std::size_t kMaxOooRanges = 16;
inline constexpr std::size_t kMaxSackAnchors = kMaxOooRanges;  // one per block at most

}  // namespace tapstack::tcp
