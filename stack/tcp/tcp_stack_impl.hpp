// TcpStack::Impl: the connection table and the protocol engine, shared by
// tcp_stack.cpp (user calls, table, events), tcp_input.cpp (segment
// arrival, RFC 9293 3.10.7) and tcp_output.cpp (output and timers, 3.10.8).
// Each TCB's loss recovery is its own LossRecovery (loss_recovery.hpp),
// reaching the transmit path and timers through RecoveryPort.
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
#include "stack/tcp/memory_budget.hpp"
#include "stack/tcp/syn_cookie.hpp"
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

// The 4-tuple of either family (both addresses of one family).
struct TupleKey {
    IpAddress local_addr;
    IpAddress remote_addr;
    std::uint16_t local_port = 0;
    std::uint16_t remote_port = 0;
    friend bool operator==(const TupleKey&, const TupleKey&) = default;
};

struct TupleHash {
    // An IPv6 address folds to 64 bits first; a peer can choose many
    // remote addresses, but the table is bounded (max_connections).
    static std::uint64_t fold(const IpAddress& a) {
        if (a.is_ipv4()) return a.ipv4().value;
        std::uint64_t h = 0x6a09e667f3bcc909ull;
        for (std::uint8_t b : a.ipv6().bytes) h = (h ^ b) * 0x100000001b3ull;
        return h;
    }
    std::size_t operator()(const TupleKey& k) const {
        std::uint64_t x = (fold(k.local_addr) << 32) ^ (fold(k.local_addr) >> 32) ^ fold(k.remote_addr);
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
    ListenFamily family = ListenFamily::kBoth;
    std::uint32_t backlog = 0;
    std::deque<std::uint32_t> accept_queue;  // TCB indices, oldest first
    std::vector<std::uint32_t> embryonic;    // SYN-RECEIVED TCB indices, oldest first
    bool event_pending = false;
    Instant last_cookie_sent = kNever;       // cookie ACKs are checked only within a cookie's lifetime of this
};

// An RST for a segment that has no TCB (or whose TCB is already gone).
struct PendingReset {
    IpEndpoint local;
    IpEndpoint remote;
    SeqNum seq;
    SeqNum ack;
    bool with_ack = false;
};

// A stateless SYN-ACK carrying a SYN cookie, sent at the next poll().
struct PendingSynAck {
    IpEndpoint local;
    IpEndpoint remote;
    SeqNum iss;  // the cookie
    SeqNum ack;
    std::uint16_t window = 0;
    wire::TcpOptions options;
};

struct TcpStack::Impl {
    Impl(const TcpConfig& config, SegmentSink& sink, const Secret& secret);
    void set_config(const TcpConfig& next);

    // ---- table (tcp_stack.cpp) ----
    Tcb* get(ConnId id);
    const Tcb* get(ConnId id) const;
    // The TCB behind a handle the application still owns (user calls).
    Tcb* get_owned(ConnId id);
    const Tcb* get_owned(ConnId id) const;
    void drop_events_for(ConnId id);
    ConnId id_of(std::uint32_t index) const { return ConnId{index, generations_[index]}; }
    std::uint32_t alloc_tcb();  // kNoListener when full (after recycle_time_wait())
    bool recycle_time_wait();   // frees the oldest TIME-WAIT TCB; false when there is none
    bool in_time_wait(ConnId id) const;
    void free_tcb(std::uint32_t index);
    void table_insert(std::uint32_t index);
    void table_remove(std::uint32_t index);
    std::uint32_t lookup(const TupleKey& key) const;
    static TupleKey key_of(const Tcb& t);
    Listener* get_listener(ListenerId id);
    void release_if_done(std::uint32_t index);
    void remove_from_listener(std::uint32_t index);
    bool choose_ephemeral_port(const IpAddress& local, IpEndpoint remote, std::uint16_t* port);
    // `prior_snd_max`: SND.MAX of the TIME-WAIT incarnation this one replaces.
    void init_send_side(Tcb& t, Instant now, std::optional<SeqNum> prior_snd_max = std::nullopt);
    std::uint8_t our_wscale() const;
    // MTU less the IP and TCP headers of that family (40 or 60 bytes).
    std::uint16_t our_mss(const IpAddress& family) const;

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
    void segment_arrives(Instant now, const IpAddress& src, const IpAddress& dst, const wire::TcpRepr& repr);
    void closed_state(const Segment& seg, IpEndpoint local, IpEndpoint remote);
    void listen_state(Instant now, std::uint32_t listener_index, const Segment& seg, IpEndpoint local,
                      IpEndpoint remote, std::optional<SeqNum> prior_snd_max = std::nullopt);
    void syn_sent_state(Instant now, std::uint32_t index, Segment& seg);
    // Returns false when the segment must be processed again by the listener
    // (a new SYN replacing a TIME-WAIT connection, whose SND.MAX is then
    // left in `*prior_snd_max`).
    bool other_states(Instant now, std::uint32_t index, Segment& seg, std::optional<SeqNum>* prior_snd_max);
    // RFC 6191 2: whether a SYN for a tuple in TIME-WAIT may start a new incarnation.
    bool time_wait_reusable(const Tcb& t, const Segment& seg) const;
    bool step1_check_sequence(Instant now, std::uint32_t index, Segment& seg);
    void step2_rst(Instant now, std::uint32_t index, const Segment& seg);
    void step4_syn(Instant now, std::uint32_t index);
    bool step5_ack(Instant now, std::uint32_t index, const Segment& seg);
    bool step7_text(Instant now, std::uint32_t index, const Segment& seg);
    void step8_fin(Instant now, std::uint32_t index, const Segment& seg);
    void accept_fin(Instant now, std::uint32_t index);
    void challenge_ack(Instant now, std::uint32_t index);
    // An ACK in answer to an invalid segment (invalid_ack_ratelimit).
    void invalid_segment_ack(Instant now, std::uint32_t index, const Segment& seg);
    void apply_peer_syn_options(Tcb& t, const Segment& seg, bool we_offered_wscale);
    // RFC 7323 5.3 R1: true when PAWS rejects the segment as an old duplicate.
    bool paws_rejects(Instant now, Tcb& t, const Segment& seg);
    bool stale_ack_in_time_wait(const Tcb& t, const Segment& seg) const;
    // RFC 7323 4.3 / 5.3 R3: TS.Recent from an acceptable segment.
    void update_ts_recent(Instant now, Tcb& t, const Segment& seg, SeqNum original_seq);
    // Receiver RTT for auto-tuning (RFC 7323 echo, or one window's time).
    void measure_rcv_rtt(Instant now, Tcb& t, const Segment& seg);
    void note_peer_alive(Instant now, Tcb& t);
    void note_duplicate(Tcb& t, SeqNum left, SeqNum right);
    void queue_reset(const PendingReset& r);
    // The RST that aborts a synchronized connection (from SND.MAX).
    void queue_abort_reset(const Tcb& t);

    // ---- output and timers (tcp_output.cpp) ----
    void output(Instant now, std::uint32_t index);
    void run_timers(Instant now, std::uint32_t index);
    void on_retransmit_timeout(Instant now, std::uint32_t index);
    void note_cwnd_use(Tcb& t, std::uint32_t cwnd);
    void on_persist_timeout(Instant now, std::uint32_t index);
    void send_syn(Instant now, Tcb& t);
    // `whole`: one segment whatever its size (an RFC 4821 probe; never cut by TSO).
    void send_data(Instant now, Tcb& t, SeqNum seq, std::uint32_t len, bool fin, bool retransmission,
                   bool whole = false);
    // ---- ICMP errors and path MTU probes (tcp_icmp.cpp) ----
    void icmp_error(Instant now, const IcmpErrorReport& report);
    bool send_mtu_probe(Instant now, Tcb& t, std::uint32_t cwnd);
    void send_ack(Tcb& t, SeqNum seq);
    // One new (or, after an RTO, go-back-N) segment at SND.NXT if the peer's
    // window, `cwnd_edge`, Nagle and sender SWS avoidance allow it.
    bool send_one(Instant now, Tcb& t, SeqNum cwnd_edge);
    // Retransmits from `seq` at most one segment not beyond `end`; returns
    // the sequence space covered (0 when nothing could be sent).
    std::uint32_t retransmit_from(Instant now, Tcb& t, SeqNum seq, SeqNum end);
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
    std::uint32_t max_send_len(const Tcb& t, std::uint32_t room) const;
    // TSO for this connection: TcpConfig::tso, IPv4 only.
    bool tso(const Tcb& t) const { return config.tso && t.remote.address.is_ipv4(); }
    std::uint16_t window_field(Tcb& t);
    bool window_update_due(const Tcb& t) const;
    void flush_resets();

    // ---- SYN cookies (syn_cookie_listen.cpp) ----
    // Whether a SYN to listener `li` gets a TCB in its SYN queue; if not,
    // it got a cookie SYN-ACK or was dropped (counted) here.
    bool admit_syn(Instant now, std::uint32_t li, const Segment& seg, IpEndpoint local, IpEndpoint remote);
    // An ACK to a listener: true when handled here (a valid cookie made the
    // connection, or the segment was dropped: no room, or data/FIN whose
    // cookie cannot be checked); false means "a bad ACK here" (RFC 9293
    // 3.10.7.2: RST).
    bool cookie_ack(Instant now, std::uint32_t li, const Segment& seg, IpEndpoint local, IpEndpoint remote);
    void queue_cookie_synack(Instant now, std::uint32_t li, const Segment& seg, IpEndpoint local,
                             IpEndpoint remote);
    void flush_cookie_synacks();

    // ---- orphans (orphans.cpp) ----
    // close() made the TCB an orphan: count it, bound it by max_orphans and
    // arm the orphan timeout.
    void orphan_adopt(Instant now, std::uint32_t index);
    // The linger timer of an orphan in FIN-WAIT-1/CLOSING/LAST-ACK fired:
    // true when handled here (re-armed after progress, or reset).
    bool orphan_linger_expired(Instant now, std::uint32_t index);
    // The TCB stops counting as an orphan (TIME-WAIT, CLOSED, freed).
    void orphan_forget(Tcb& t);
    void orphan_reset(std::uint32_t index, Counter why);

    // ---- memory budget (memory_pressure.cpp) ----
    // Before step 7 stores `len` bytes at `offset` past RCV.NXT: charges
    // the growth, or refuses it (the segment is then dropped, unacknowledged).
    bool memory_admit_rx(std::uint32_t index, std::size_t offset, std::size_t len);
    // Bytes send() may queue now (the budget, a guaranteed page); counts an
    // empty ring as rewound, which memory_prepare_send() does before a write.
    std::size_t memory_send_room(const Tcb& t) const;
    void memory_prepare_send(Tcb& t);
    // Auto-tuning may grow the receive buffer (its copy touches the old capacity).
    bool memory_admit_growth(std::uint32_t index);
    // The window window_field() may offer now (never below `cur`: the right
    // edge does not move left); _cap counts the clamp, _limit only computes it.
    std::uint32_t memory_window_cap(const Tcb& t, std::uint32_t cur, std::uint32_t wnd);
    std::uint32_t memory_window_limit(const Tcb& t, std::uint32_t cur, std::uint32_t wnd) const;
    // A new connection (SYN, cookie ACK, connect()) may be made.
    bool memory_admit_connection();
    // Re-reads a TCB's buffer footprint into the account (after writes and releases).
    void recharge(std::uint32_t index);
    void memory_forget(Tcb& t);
    // Under pressure: frees a visited connection's empty buffers at once.
    void memory_release_empty(std::uint32_t index);
    void prune_ooo(std::uint32_t keep_index);


    // `config` is the configuration for what starts now (new TCBs, new
    // listeners, stack-wide limits); `conn_config` is the same, shared with
    // every TCB created under it (Tcb::cfg).
    TcpConfig config;
    std::shared_ptr<const TcpConfig> conn_config;
    SegmentSink& sink;
    IsnGenerator isn;
    PathMtuCache pmtu_cache;
    RttEstimator rtt_proto;
    Counters counters;

    std::vector<std::unique_ptr<Tcb>> tcbs;
    std::vector<std::uint32_t> generations_;
    std::vector<std::uint32_t> free_slots;
    std::size_t live_tcbs = 0;
    std::deque<ConnId> time_wait_order_;  // TCBs in order of entering TIME-WAIT (some stale)
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

    SynCookies cookies_;
    std::vector<PendingSynAck> cookie_synacks_;
    std::uint32_t orphan_count_ = 0;        // orphans not yet in TIME-WAIT or CLOSED
    std::deque<ConnId> orphan_fifo_;        // orphans, oldest first (stale entries skipped)
    MemoryBudget budget_;
    std::deque<ConnId> ooo_holders_;        // connections holding out-of-order data, oldest first

    // Loss recovery's way to one TCB's transmit path and timers.
    struct RecoveryPort;
};

struct TcpStack::Impl::RecoveryPort final : LossRecovery::Host {
    RecoveryPort(Impl& stack, std::uint32_t tcb_index) : m(stack), index(tcb_index), t(*stack.tcbs[tcb_index]) {}
    std::uint32_t retransmit(Instant now, SeqNum from, SeqNum end) override { return m.retransmit_from(now, t, from, end); }
    bool send_new(Instant now, SeqNum cwnd_edge) override { return m.send_one(now, t, cwnd_edge); }
    std::uint32_t payload_room() const override { return m.segment_payload_room(t); }
    bool tso() const override { return m.tso(t); }
    void arm(Instant& deadline, Instant when) override { m.arm(deadline, when); }
    void want_output() override { m.mark_dirty(index); }
    Counters& counters() override { return m.counters; }

    Impl& m;
    std::uint32_t index;
    Tcb& t;
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
inline constexpr std::size_t kMaxPendingCookies = 1024;
// Each ring may always grow to this footprint whatever the budget (Linux's
// tcp_rmem[0]/tcp_wmem[0]), so no connection stalls for good; out-of-order
// data gets no such guarantee.
inline constexpr std::size_t kMemGuaranteed = buf::RingBuffer::kPage;
inline constexpr std::size_t kMaxOooRanges = 16;
inline constexpr std::size_t kMaxSackAnchors = kMaxOooRanges;  // one per block at most
// RFC 4821 black-hole detection: this many consecutive RTOs of the segment
// at SND.UNA (as Linux's tcp_retries1) before its size is suspected.
inline constexpr std::uint32_t kBlackholeRtos = 3;
// No probe before cwnd holds this many segments (Linux tcp_mtu_probe): a
// lost probe costs a recovery.
inline constexpr std::uint32_t kMtuProbeMinCwndSegments = 11;

}  // namespace tapstack::tcp
