// TcpStack: every TCP connection and listener of one interface address.
//
// Theory of operation
// -------------------
// The stack is a pure state machine driven from outside (see stack/time.hpp):
//   * `receive()` is called with every TCP segment the IP layer accepted for
//     us (already known to be addressed to one of our addresses, IPv4 or
//     IPv6; TCP checks its own checksum with that family's pseudo-header);
//   * `poll(now)` runs due timers and emits whatever output is pending
//     (data the window allows, ACKs, window updates, FIN, RST);
//   * `poll_at()` tells the caller when `poll()` must next be called.
// Output leaves only through the `SegmentSink` given at construction.
// User calls (RFC 9293 3.10.1-3.10.6) only change state and buffers; their
// output goes out at the next `poll()`, so a caller that does many calls in
// one event-loop turn gets one batch of segments.
//
// Ownership of a connection handle (ConnId):
//   * from `connect()` or `accept()` until `close()` or `abort()`, the
//     application owns the handle; the TCB stays addressable even after the
//     connection failed (state kClosed, `info().error` says why), so the
//     application always learns how its connection ended;
//   * after `close()` the stack owns the TCB and frees it when the closing
//     handshake and TIME-WAIT are over; after `abort()` it is freed at once;
//   * a stale ConnId (freed slot, reused later) is detected by its generation
//     and every call on it is a harmless no-op returning kNotConnected.
//
// The invariant this stack exists for: in-order data reaches the
// application before EOF. `info().eof` becomes true only once FIN has been
// received at its sequence position AND the receive buffer has been drained
// by `recv()`. Nothing frees a TCB while it holds unread data that the
// application can still read.
//
// Memory: every connection has bounded send and receive buffers (sizes from
// TcpConfig), bounded out-of-order storage, and the number of TCBs and of
// embryonic (SYN-RECEIVED) connections per listener are capped; a SYN
// beyond a listener's backlog gets a SYN cookie and no state
// (syn_cookie.hpp). All buffers together are charged to one budget,
// `memory_max` (memory_budget.hpp), with Linux-like pressure behaviour;
// orphans are bounded in time and number (orphans.cpp). Buffers are
// allocated on first use, so an idle ESTABLISHED connection that never
// carried data costs about 1.3 KiB of heap (TCB, table entry, timer entry,
// congestion state); tests/sim/tcp/test_scale.cpp runs 10,000 of them. A
// connection that carried data gives its buffers' storage back once it has
// been quiet for 10 s with both buffers empty (counter buffers_reclaimed);
// poll_at() includes that check.
//
// Cost of time: every timer operation is O(1) (stack/tcp/timer_wheel.hpp,
// 1 ms slots, exact deadlines); poll() visits only connections with a due
// timer or pending output, never the whole table.
//
// Behaviour callers can rely on (the implementation is in stack/tcp/*.cpp):
//   * After any user call or receive(), poll_at() returns a time <= now when
//     output is pending; call poll() then (one batch per event-loop turn).
//   * recv() returns 0 when nothing is readable: check info().eof (orderly
//     end, all data read) and info().error/state (abnormal end). recv() after
//     eof keeps returning 0 and eof stays true.
//   * After RST (kReset), data already received in order stays readable
//     (recv_available > 0, eof false); state is kClosed and error kReset.
//     Whether to deliver it before reporting the reset is the caller's choice.
//   * Events (kConnection) fire on: new in-order data, send space freed by an
//     ACK, every state change (established, FIN received, closed), errors,
//     and once at accept(). kListener fires when accept() can succeed.
//   * close() with unread data sends RST and frees the TCB at once; otherwise
//     FIN follows the queued data and the stack finishes alone (TIME-WAIT
//     2*msl; an orphaned FIN-WAIT-2 gives up after 2*msl; an orphan whose
//     data or FIN makes no progress for `orphan_timeout` is reset, and so is
//     the oldest orphan beyond `max_orphans`; data arriving for an orphaned
//     connection is answered with RST, as Linux does).
//   * Once close() or abort() released a handle, every call on it is a no-op
//     (info().error == kNotConnected) and no queued event names it any more,
//     even while the stack still finishes the closing handshake.
//   * A connection reset (or timed out) while it waits in a listener's
//     accept queue keeps its place: accept() returns it with its received
//     data readable and info().error set, as Linux does. An embryonic
//     (SYN-RECEIVED) connection that fails is forgotten: it acknowledged no
//     data. close_listener() resets and frees whatever was not accepted.
//   * RST in TIME-WAIT is ignored (RFC 1337); a new SYN reuses a TIME-WAIT
//     tuple when a listener is on the port and it cannot be an old
//     duplicate (RFC 6191: a newer TSval, or without timestamps a higher
//     sequence number); the new ISS then lies beyond the old SND.MAX, and our
//     TSvals keep growing (one timestamp offset per address pair, from a key
//     of its own). A bare ACK from before the peer's FIN reaching TIME-WAIT
//     is not answered (the peer may be gone; an answer would only draw an RST).
//   * When the table is full (max_connections) the connection longest in
//     TIME-WAIT that no application holds makes room (tcp.time_wait_recycled).
//   * Hostile or confused peers: TS.Recent moves only for a segment that
//     passed every check (RFC 7323 4.3); ACKs to invalid segments are
//     rate-limited (invalid_ack_ratelimit); an abort RST carries SND.MAX; a
//     malformed option is ignored and its segment kept (as Linux).
//   * Path MTU: icmp_error() (below) and RFC 4821 probing (mtu_probing)
//     shrink, and probing grows, a connection's segments (path_mtu.hpp).
//
// Both families (RFC 9293 over IPv4, and over IPv6 with RFC 8200 8): one
// table, one state machine. A connection's endpoints are IpEndpoints of
// one family; the tuple key, ISN, timestamp offset, ephemeral port and SYN
// cookie hash the addresses of that family (hash_input.hpp), our MSS is the
// MTU less 40 (IPv4) or 60 (IPv6) bytes, and ICMPv6 Packet Too Big feeds
// the path MTU as "fragmentation needed" does (icmp_error(), RFC 5927 checks
// alike, never below 1280). A listener serves both families unless its
// ListenFamily says one. connect() to an IPv6 address takes its source from
// SegmentSink::source_for() (the interface's RFC 6724 choice). TSO
// super-segments are IPv4 only: IPv6 connections send MSS-sized segments.
//
// Loss recovery and flow control:
//   * RFC 7323 timestamps and RFC 2018 SACK are offered on our SYN (config
//     `timestamps`, `sack`) and on a SYN-ACK only in answer to the peer's
//     offer; once negotiated every segment carries timestamps (full segments
//     then hold MSS - 12 payload bytes), TS.Recent follows RFC 7323 4.3,
//     RTTM feeds RFC 6298, PAWS drops old duplicates (24-day idle rule).
//     A segment lacking the negotiated timestamp is accepted (as Linux).
//   * Loss recovery is one component per connection, LossRecovery
//     (stack/tcp/loss_recovery.hpp; sack_recovery.cpp, rack.cpp).
//   * With SACK: RFC 6675 recovery (scoreboard, pipe, NextSeg with the
//     rescue retransmission, DupThresh 3 or RFC 5827 early retransmit to
//     start it), with RACK's rules (RFC 8985 6) where RFC 6675 waits for
//     the RTO: a hole at SND.UNA with data SACKed above it starts recovery
//     after a reordering window of SRTT/4 (at least 1 ms); in recovery every
//     hole below the highest SACK counts as lost; a retransmission still
//     missing after later data was delivered is sent again
//     (retransmit_log.hpp); tail loss probes (RFC 8985 7) outside recovery.
//     Without SACK: NewReno (RFC 5681, RFC 6582). Both with RFC 3042
//     limited transmit; RFC 6298 5.7 (RTO 3 s after a SYN timeout).
//     Congestion control by name (`congestion_control`): "cubic" (default,
//     ssthresh from cwnd and cwnd grown only while it limits the sender, as
//     Linux; cwnd = ssthresh when recovery ends) or "newreno".
//   * Receiver: SACK blocks newest first (RFC 2018 4), and a D-SACK block
//     (RFC 2883) first on the ACK after a duplicate segment. Segments received
//     between two poll()s are one batch: its in-order data gets ONE
//     cumulative ACK at poll() (a stretch ACK, as Linux with GRO; RFC 9293
//     3.8.6.3 and RFC 5681 4.2 allow it), sent at that poll() once two full
//     segments' worth are unacknowledged, otherwise after the delayed-ACK
//     timer (`delayed_ack_timeout`, <= 200 ms). Every out-of-order segment
//     still gets its own duplicate ACK, and a filled hole and a FIN are
//     acknowledged at once (at that poll()). While out-of-order data is
//     held the advertised right edge stays put (duplicate ACKs stay
//     duplicates). Slow start counts every byte a (stretch) ACK covers, so
//     a sender facing such receivers still doubles cwnd per RTT. The
//     receive buffer grows with the measured delivery per RTT up to
//     `receive_buffer_max`; the right edge never moves left.
//   * Sender: Nagle unless no-delay (config `no_delay`, set_nodelay()),
//     sender SWS avoidance with a 200 ms override, persist probes with
//     backoff, keepalive (config or set_keepalive()) ending a dead
//     connection with kTimedOut.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "stack/metrics.hpp"
#include "stack/tcp/siphash.hpp"
#include "stack/time.hpp"
#include "stack/wire/addresses.hpp"
#include "stack/wire/offload.hpp"

namespace tapstack::tcp {

using wire::IpAddress;
using wire::IpEndpoint;
using wire::Ipv4Address;
using wire::Ipv6Address;

// Why a call failed or a connection ended.
enum class Error : std::uint8_t {
    kNone = 0,
    kRefused,          // RST in answer to our SYN (RFC 9293 3.10.7.3)
    kReset,            // connection reset by peer
    kTimedOut,         // retransmissions or connect attempts exhausted
    kHostUnreachable,  // next hop never answered ARP (reported by the interface)
    kAddressInUse,     // listen/connect on a port already taken
    kNoResources,      // connection table or port range exhausted
    kInvalidArgument,  // e.g. port 0 to listen, address not ours
    kNotConnected,     // call on a stale handle or in a state that forbids it
    kAborted,          // ended by our own abort()/close() with unread data
    kNoMemory,         // refused: the TCP memory budget (memory_max) is under pressure
};
std::string_view to_string(Error);

// RFC 9293 3.3.2 states, plus kClosed for a TCB that ended but whose handle
// the application has not released yet.
enum class State : std::uint8_t {
    kClosed,
    kListen,
    kSynSent,
    kSynReceived,
    kEstablished,
    kFinWait1,
    kFinWait2,
    kCloseWait,
    kClosing,
    kLastAck,
    kTimeWait,
};
std::string_view to_string(State);

// Packetization-layer path MTU discovery (RFC 4821) for paths that drop
// large segments without an ICMP "fragmentation needed" (black holes).
// ICMP-driven discovery (RFC 1191) is always on.
enum class MtuProbing : std::uint8_t {
    kOff,          // only ICMP lowers the MSS
    kOnBlackhole,  // after repeated RTOs of full-sized segments the MSS falls back to 1024 bytes and probes up
                   // (Linux tcp_mtu_probing=1)
    kAlways,       // every connection starts at 1024 bytes and probes up (Linux tcp_mtu_probing=2)
};
std::string_view to_string(MtuProbing);
// What a listener does with a SYN it has no room for (RFC 4987 3.6).
enum class SynCookieMode : std::uint8_t {
    kOff,         // drop it (queued half-open connections are never evicted)
    kOnOverflow,  // answer with a SYN cookie, keep no state (default, as Linux's 1)
    kAlways,      // every SYN gets a cookie (as Linux's 2)
};

struct TcpConfig {
    Ipv4Address local_address;               // the interface's IPv4 address (IPv6 ones: those segments arrive for)
    std::uint16_t mtu = 1500;                // our MSS = mtu - 40 (IPv4), mtu - 60 (IPv6)
    std::uint32_t send_buffer = 256 * 1024;  // bytes queued per connection toward the peer
    std::uint32_t receive_buffer = 256 * 1024;  // bytes held for the application; bounds rcv.wnd
    std::uint16_t ephemeral_port_min = 49152;
    std::uint16_t ephemeral_port_max = 65535;
    std::uint32_t max_connections = 65536;   // TCBs of every state together (see "Memory" above);
                                             // when full, the oldest TIME-WAIT one is recycled
    std::uint32_t default_backlog = 128;     // cap on a listener's embryonic + unaccepted queue
    Duration msl = seconds(30);              // TIME-WAIT lasts 2*msl
    Duration initial_rto = seconds(1);       // RFC 6298 2.1
    Duration min_rto = milliseconds(200);    // RFC 6298 says 1 s; Linux uses 200 ms
    Duration max_rto = seconds(60);
    std::uint32_t max_retransmits = 15;      // data retransmissions before kTimedOut (RFC 1122 R2)
    std::uint32_t max_syn_retransmits = 6;   // SYN retransmissions before kTimedOut (R2 for SYN)
    bool window_scaling = true;              // RFC 7323 section 2
    bool timestamps = true;                  // RFC 7323 3/4/5: offered on SYN, used only if both offer
    bool sack = true;                        // RFC 2018: SACK-permitted offered on SYN, used only if both offer
    // Delayed ACK (RFC 1122 4.2.3.2, RFC 5681 4.2): at once (one ACK per
    // poll() batch) when two full segments' worth arrived, otherwise after
    // this long (clamped to 200 ms; 0 = never delay).
    Duration delayed_ack_timeout = milliseconds(40);
    // Nagle (RFC 896) is on unless no_delay; set_nodelay() overrides per connection.
    bool no_delay = false;
    // Keepalive (RFC 1122 4.2.3.6): off unless enabled here or by set_keepalive().
    // After `keepalive_idle` without a segment from the peer, a probe every
    // `keepalive_interval`; `keepalive_count` unanswered probes end the
    // connection with kTimedOut.
    bool keepalive = false;
    Duration keepalive_idle = seconds(7200);
    Duration keepalive_interval = seconds(75);
    std::uint32_t keepalive_count = 9;
    // Receive buffer auto-tuning: the buffer (and so the advertised window)
    // starts at receive_buffer and grows with the measured bandwidth-delay
    // product up to receive_buffer_max. receive_buffer_max <= receive_buffer
    // turns auto-tuning off. The window scale we offer covers the maximum.
    std::uint32_t receive_buffer_max = 4 * 1024 * 1024;
    // "cubic" (RFC 9438, default) or "newreno" (RFC 5681/6582); anything else
    // falls back to newreno (check with is_known_congestion_control()).
    std::string congestion_control = "cubic";
    // TSO (interface.offloads): when more than one full segment
    // may leave at once, send up to 64 KiB as one super-segment through
    // SegmentSink::send_segment_offload() with gso_size = the segment's
    // payload room and a partial checksum; the device cuts it. Sequence
    // accounting is per byte, so recovery and RTT sampling are unchanged;
    // retransmissions may be super-segments too. false: never.
    bool tso = false;
    // ACKs in answer to invalid segments (out of window, PAWS failure, an
    // ACK of data never sent or older than any window): at most one per
    // connection per this interval (Linux's tcp_invalid_ratelimit), so two
    // endpoints that disagree cannot ACK each other in a loop and a blind
    // flood cannot turn us into an amplifier. Segments carrying data or
    // FIN are always answered (their ACK may be what the peer is missing).
    // 0 = no limit.
    Duration invalid_ack_ratelimit = milliseconds(500);
    // RFC 4821 probing (path_mtu.hpp): off, after a black hole, or always.
    MtuProbing mtu_probing = MtuProbing::kOnBlackhole;
    // Hostile peers (syn_cookie.hpp, orphans.cpp, memory_budget.hpp):
    // SYN cookies when a listener's SYN queue (its backlog) is full.
    SynCookieMode syncookies = SynCookieMode::kOnOverflow;
    // An orphan (closed by the application, the stack finishing alone) in
    // FIN-WAIT-1, CLOSING or LAST-ACK whose data makes no progress for this
    // long (e.g. a peer holding a zero window while answering every probe)
    // is reset; Linux's tcp_orphan_retries.
    Duration orphan_timeout = seconds(60);
    // At most this many orphans; beyond, the oldest is reset (Linux
    // tcp_max_orphans, "too many orphaned sockets").
    std::uint32_t max_orphans = 16384;
    // Bytes of send and receive buffer (out-of-order data included) of all
    // connections together; pressure behaviour in memory_budget.hpp. 0: no limit.
    std::uint64_t memory_max = 512ull * 1024 * 1024;
};

// What an ICMP error says about a datagram we sent; the interface decodes
// it and hands it over (RFC 1122 4.2.3.9, RFC 1191, RFC 5927). An ICMPv6
// Packet Too Big arrives as type kDestUnreachable, code
// kFragmentationNeeded with its MTU in next_hop_mtu (RFC 8201: the same
// meaning); other ICMPv6 errors are not handed to TCP.
struct IcmpErrorReport {
    std::uint8_t type = 0;             // wire::icmp_type: destination unreachable, time exceeded
    std::uint8_t code = 0;
    std::uint16_t next_hop_mtu = 0;    // "fragmentation needed" (RFC 1191); 0 from routers that predate it
    IpAddress src;                     // the quoted datagram's source (ours) and destination
    IpAddress dst;                     // (both IPv6 for an ICMPv6 error)
    std::uint16_t quoted_length = 0;   // its IPv4 total length (unused for ICMPv6)
    std::span<const std::uint8_t> tcp; // what follows its IP header(s): at least 8 bytes (ports, sequence number)
};

// True for the names TcpConfig::congestion_control accepts.
bool is_known_congestion_control(std::string_view name);

// Per-connection figures for display (TcpStack::stats()).
struct ConnStats {
    Duration srtt{0};     // RFC 6298 smoothed RTT (0 until the first sample)
    Duration rttvar{0};
    Duration rto{0};      // current RTO, backed off included
    std::uint32_t snd_mss = 0;         // payload bytes per full segment we send
    std::uint32_t cwnd = 0;            // bytes
    std::uint32_t ssthresh = 0;        // bytes (0xffffffff: not yet set)
    std::uint32_t bytes_in_flight = 0; // RFC 6675 pipe during SACK recovery, else SND.MAX - SND.UNA
    std::uint32_t snd_wnd = 0;         // peer's window, scaled
    std::uint32_t rcv_wnd = 0;         // window we advertise now
    std::uint32_t rcv_buffer = 0;      // receive buffer size (grows with auto-tuning)
    std::uint64_t bytes_sent = 0;      // payload bytes sent, retransmissions included
    std::uint64_t bytes_acked = 0;     // payload bytes the peer acknowledged
    std::uint64_t bytes_received = 0;  // in-order payload bytes received
    std::uint64_t segments_sent = 0;
    std::uint64_t segments_received = 0;
    std::uint64_t retransmissions = 0;      // segments sent again (any reason)
    std::uint64_t rto_expiries = 0;
    std::uint64_t fast_retransmits = 0;     // entries into fast recovery (NewReno or SACK)
    std::uint64_t sack_recoveries = 0;      // entries into RFC 6675 SACK recovery
    std::uint64_t dup_segments_received = 0;  // wholly or partly old data
    std::uint64_t ooo_segments_received = 0;  // in-window data ahead of RCV.NXT
    std::uint64_t paws_rejected = 0;          // RFC 7323 5 old duplicates dropped
    bool timestamps = false;  // negotiated
    bool sack = false;        // negotiated
    bool window_scaling = false;
    bool no_delay = false;
    bool keepalive = false;
    bool in_recovery = false;
    std::string_view congestion_control;  // "cubic" or "newreno"; valid as long as the TcpStack
};

// Where TCP's output goes: one complete TCP segment (header, options and
// payload, checksum filled in) to be carried in an IP datagram of the
// family of `src` and `dst` (always the same).
class SegmentSink {
public:
    virtual ~SegmentSink() = default;
    virtual void send_segment(const IpAddress& src, const IpAddress& dst, std::span<const std::uint8_t> segment) = 0;
    // Our source address toward an IPv6 destination (RFC 6724), for
    // connect(); nullopt when none is usable (none configured, DAD not done).
    virtual std::optional<Ipv6Address> source_for(const Ipv6Address& /*dst*/) { return std::nullopt; }
    // A segment with offload metadata (offsets from the TCP
    // header); only with TcpConfig::tso. The default completes the checksum
    // in software and hands the (possibly oversized) segment to send_segment().
    virtual void send_segment_offload(const IpAddress& src, const IpAddress& dst, std::span<std::uint8_t> segment,
                                      const wire::TxOffload& offload) {
        wire::complete_partial_checksum(segment, offload);
        send_segment(src, dst, std::span<const std::uint8_t>(segment));
    }
    // Fewer copies: a segment carrying data, as consecutive parts
    // (TCP header with options, then the payload straight from the send
    // buffer, one or two runs). `offload` as for send_segment_offload();
    // none() when the checksum is complete. Spans are valid only during the
    // call. The default joins the parts and uses the calls above; the
    // Interface frames them without joining (one copy, into the device).
    using Parts = std::span<const std::span<const std::uint8_t>>;
    virtual void send_segment_parts(const IpAddress& src, const IpAddress& dst, Parts parts, const wire::TxOffload& offload) {
        std::vector<std::uint8_t> segment;
        for (const auto& p : parts) segment.insert(segment.end(), p.begin(), p.end());
        if (offload.none()) {
            send_segment(src, dst, std::span<const std::uint8_t>(segment));
        } else {
            send_segment_offload(src, dst, std::span<std::uint8_t>(segment), offload);
        }
    }
};

// Whether receive() verifies the TCP checksum. kTrusted only
// when the device verified it (virtio DATA_VALID) or the segment came from
// the local kernel with a partial checksum (NEEDS_CSUM), never otherwise.
enum class RxChecksum : std::uint8_t { kVerify, kTrusted };

// Which families a listener accepts.
enum class ListenFamily : std::uint8_t { kBoth, kIpv4, kIpv6 };

struct ConnId {
    std::uint32_t index = 0;
    std::uint32_t generation = 0;  // 0 never names a live connection
    constexpr bool valid() const { return generation != 0; }
    friend constexpr bool operator==(const ConnId&, const ConnId&) = default;
};

struct ListenerId {
    std::uint32_t index = 0;
    std::uint32_t generation = 0;
    constexpr bool valid() const { return generation != 0; }
    friend constexpr bool operator==(const ListenerId&, const ListenerId&) = default;
};

// What the application may know about a connection.
struct ConnInfo {
    State state = State::kClosed;
    Error error = Error::kNone;   // set once the connection ended abnormally
    IpEndpoint local;
    IpEndpoint remote;
    std::size_t recv_available = 0;  // bytes recv() would return now
    std::size_t send_free = 0;       // bytes send() would accept now
    std::size_t send_queued = 0;     // bytes in the send buffer not yet acknowledged
    bool established = false;        // the handshake completed at some point
    bool eof = false;                // peer's FIN reached AND everything before it was read
    bool write_closed = false;       // shutdown_write()/close() was called
    std::size_t memory = 0;          // bytes of buffer memory charged to it (memory_budget.hpp)
};

// Something about this connection or listener changed: re-read info() or
// call accept(). Spurious events are allowed; missed ones are not.
struct Event {
    enum class Kind : std::uint8_t { kConnection, kListener };
    Kind kind = Kind::kConnection;
    ConnId conn;          // for kConnection
    ListenerId listener;  // for kListener: accept() may now succeed
};

class TcpStack {
public:
    // `secret` (128 bits, siphash.hpp) keys the RFC 6528 ISN hash, the
    // timestamp offset and the ephemeral port choice, each with its own
    // derived key; the daemon draws it from getrandom(), tests fix it.
    TcpStack(const TcpConfig& config, SegmentSink& sink, const Secret& secret);
    ~TcpStack();
    TcpStack(const TcpStack&) = delete;
    TcpStack& operator=(const TcpStack&) = delete;

    // Replaces the configuration for what starts from now on: connections
    // created afterwards (connect() or a SYN to a listener) and listeners
    // opened afterwards use it, as do the stack-wide limits
    // (max_connections, ephemeral_port_*). Every existing connection keeps,
    // to its end, the configuration it was created with. local_address,
    // mtu and tso belong to the interface and keep their values.
    void set_config(const TcpConfig& config);
    // The configuration for new connections (as normalized: clamps applied).
    const TcpConfig& config() const;

    // --- User calls (RFC 9293 3.10.1-3.10.6) ---

    // Passive OPEN on our addresses. backlog 0 means config.default_backlog.
    // `family` limits it to IPv4 or IPv6 SYNs (those of the other family get
    // RST as for a closed port); one listener per port.
    Error listen(std::uint16_t port, std::uint32_t backlog, ListenerId* out, ListenFamily family = ListenFamily::kBoth);
    // Takes the oldest fully established connection of the listener, if any.
    ConnId accept(ListenerId listener);
    // Stops listening; connections not yet accepted are reset.
    void close_listener(ListenerId listener);

    // Active OPEN: sends SYN at the next poll(). local_port 0 picks an
    // ephemeral port. Over IPv6 the source is SegmentSink::source_for();
    // without one the call fails with kHostUnreachable. The result arrives as an event: state kEstablished, or
    // kClosed with error kRefused / kTimedOut / kHostUnreachable.
    Error connect(Instant now, IpEndpoint remote, std::uint16_t local_port, ConnId* out);

    // SEND: copies as much as the send buffer has room for; returns that count
    // (0 when full or when sending is no longer allowed).
    std::size_t send(Instant now, ConnId conn, std::span<const std::uint8_t> data);
    // RECEIVE: copies up to data.size() in-order bytes out and frees that much
    // receive window (a window update follows at poll() when worth sending).
    std::size_t recv(Instant now, ConnId conn, std::span<std::uint8_t> data);
    // The same two calls without the copy, for scatter/gather
    // I/O straight between a socket and TCP's buffers (readv()/writev()).
    // The spans stay valid until the next call into this TcpStack other than
    // send_spans()/recv_spans() (an ACK frees send space, recv_consume() may
    // enlarge the receive buffer): take them, do the I/O, commit/consume.
    //
    // The send buffer's free space in order, as at most two runs (the second
    // non-empty when the space wraps); both empty whenever send() would
    // accept nothing (full, write side shut, state forbids sending).
    std::array<std::span<std::uint8_t>, 2> send_spans(ConnId conn);
    // Queues the first n bytes written into send_spans() (at most what send()
    // would accept now) with exactly send()'s bookkeeping; returns the count.
    std::size_t send_commit(Instant now, ConnId conn, std::size_t n);
    // The bytes recv() would return, in order, as at most two runs.
    std::array<std::span<const std::uint8_t>, 2> recv_spans(ConnId conn) const;
    // Drops the first n of those bytes (at most recv_available) with exactly
    // recv()'s bookkeeping (window update, auto-tuning; info().eof once FIN
    // arrived and everything before it was consumed); returns the count.
    std::size_t recv_consume(Instant now, ConnId conn, std::size_t n);
    // Half-close: FIN after all queued data (CLOSE in ESTABLISHED/CLOSE-WAIT).
    void shutdown_write(Instant now, ConnId conn);
    // The application releases the handle. With unread received data the
    // peer gets RST (RFC 9293 3.10.4 / RFC 1122 4.2.2.13), otherwise an
    // orderly FIN after queued data; the stack finishes the close alone.
    void close(Instant now, ConnId conn);
    // ABORT: RST if synchronized, free at once.
    void abort(Instant now, ConnId conn);

    ConnInfo info(ConnId conn) const;
    // Figures for display; all zero for a handle the application does not own.
    ConnStats stats(ConnId conn) const;

    // Per-connection options (no-ops on a stale handle).
    // no-delay on: Nagle off, short segments leave at once (TCP_NODELAY).
    void set_nodelay(ConnId conn, bool on);
    // Keepalive with the TcpConfig idle/interval/count (SO_KEEPALIVE).
    // The idle time counts from the last segment received (or from now).
    void set_keepalive(ConnId conn, bool on);

    // --- Driven by the interface ---

    void receive(Instant now, const IpAddress& src, const IpAddress& dst, std::span<const std::uint8_t> segment);
    void receive(Instant now, const IpAddress& src, const IpAddress& dst, std::span<const std::uint8_t> segment,
                 RxChecksum checksum);
    // The interface gave up resolving `dst`: connections still in SYN-SENT
    // toward it fail with kHostUnreachable.
    void host_unreachable(Instant now, const IpAddress& dst);
    // An ICMP error quoting one of our segments. It changes a connection
    // only when the quoted sequence number is in flight (SND.UNA <= SEQ <
    // SND.MAX, RFC 5927 4.1), matched by the quoted 4-tuple: "fragmentation
    // needed" lowers the path MTU of the destination and the connection's
    // MSS (RFC 1191) and resends what was in flight at the new size;
    // unreachable and time exceeded fail a connection still opening
    // (refused for port and protocol unreachable, host unreachable else) and
    // are soft errors for a synchronized one (RFC 1122 4.2.3.9): it goes on,
    // and should it time out later, that error is reported instead.
    void icmp_error(Instant now, const IcmpErrorReport& report);
    void poll(Instant now);
    Instant poll_at() const;

    // Appends and clears the events raised since the last call.
    void drain_events(std::vector<Event>& out);
    bool has_pending_events() const;

    // Every counter (counters.hpp), then the gauge tcp.connections, each
    // with its name, kind and help (stack/metrics.hpp).
    void visit_metrics(const MetricVisitor& visit) const;
    // The same figures by stable name only ("tcp.rx_bad_checksum", ...).
    void visit_counters(const std::function<void(std::string_view name, std::uint64_t value)>& visit) const;

    std::size_t connection_count() const;  // TCBs alive in any state, TIME-WAIT included
    // Bytes of buffer memory charged to all connections (memory_budget.hpp),
    // and whether the budget is under pressure.
    std::uint64_t memory_in_use() const;
    bool memory_pressure() const;

    // --- Stopping (the daemon's graceful stop) ---

    // Connections the application has closed whose data or FIN the peer
    // has not acknowledged yet (FIN-WAIT-1, CLOSING, LAST-ACK): while any
    // is left, stopping now could lose bytes the application handed over.
    // O(connections); meant for a stop, not for every event-loop turn.
    std::size_t orphans_sending() const;
    // Resets every connection the application has closed and that is not
    // finished (TIME-WAIT excepted): the RSTs leave at the next poll().
    void abort_orphans(Instant now);

private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

}  // namespace tapstack::tcp
