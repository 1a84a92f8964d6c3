// libFuzzer target: a stateful TCP conversation. The input drives a hostile
// peer and the application around one TcpStack on the virtual clock, and
// after every step the invariants tapstack exists for are checked.
//
// Theory of operation
// -------------------
// The stack (10.0.0.1, or fd00::1 for an input of odd length) holds a listener on port 80, a connection the peer
// opened to it (accepted) and one it opened to the peer (port 5000), both
// through real handshakes whose options come from the input's two header
// bytes (see Header). The rest of the input is a list of operations, each
// an opcode byte and its arguments (read front to back; missing bytes read
// as zero, so every input is valid):
//   segment   a segment from the peer on a known connection: flags, SEQ and
//             ACK chosen relative to the live state (the peer's next byte,
//             our SND.MAX, our advertised right edge, ...) or raw, window,
//             options (timestamps, SACK blocks, MSS, window scale), payload;
//   advance   virtual time forward (ms to minutes), running every timer;
//   read, write, shutdown/close/abort, options   the application's calls;
//   connect, accept, close_listener   new connections both ways;
//   raw_options  a segment whose option bytes come verbatim from the input.
// The peer's byte at stream offset i of the connection from port p is
// always peer_byte(p, i), and the application's byte i on it app_byte(p, i),
// so every byte either side receives can be checked where it lands.
//
// Checked after every step (a violation aborts, which libFuzzer reports):
//   * no crash, leak or undefined behaviour (the ASan+UBSan build);
//   * every byte the application reads is the peer's byte at that offset
//     and was sent by the peer: delivery is exactly a prefix of the peer's
//     stream in sequence space;
//   * every byte the stack acknowledged is still readable: bytes read +
//     recv_available >= bytes acknowledged, whatever ended the connection
//     (the promise of tapstack); the stack never acknowledges a byte the
//     peer did not send;
//   * every payload byte the stack sends is the application's byte at that
//     offset, never beyond what the application wrote;
//   * memory: receive data within receive_buffer_max (or receive_buffer),
//     send data within send_buffer, connections within max_connections;
//   * time: after poll(now), poll_at() is > now within a few polls (no
//     busy loop), and a virtual-time advance ends;
//   * at the end, with every handle released and the listener closed, every
//     connection is gone within an hour of virtual time: nothing lives
//     forever on a silent peer.
// Non-goals: wire parsing of arbitrary frames (fuzz_frame, fuzz_wire).
#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "stack/tcp/tcp_stack.hpp"
#include "stack/wire/byte_order.hpp"
#include "stack/wire/tcp_header.hpp"
#include "stack/wire/tcp_options.hpp"

namespace {

using namespace tapstack;
namespace flag = wire::tcp_flag;

constexpr wire::Ipv4Address kUs4 = wire::Ipv4Address::from_octets(10, 0, 0, 1);
constexpr wire::Ipv4Address kPeer4 = wire::Ipv4Address::from_octets(10, 0, 0, 2);
constexpr wire::Ipv6Address kUs6 = wire::Ipv6Address::from_groups({0xfd00, 0, 0, 0, 0, 0, 0, 1});
constexpr wire::Ipv6Address kPeer6 = wire::Ipv6Address::from_groups({0xfd00, 0, 0, 0, 0, 0, 0, 2});
constexpr std::uint16_t kListenPort = 80;
constexpr std::int64_t kMaxTracked = 1 << 20;  // stream offsets followed per connection
constexpr std::size_t kMaxTrackers = 24;
constexpr int kMaxPollsAtOneTime = 8;
constexpr int kMaxPollsPerAdvance = 200000;

// FUZZ_TCP_TRACE=1 prints every operation and segment (for a reproducer).
const bool kTrace = std::getenv("FUZZ_TCP_TRACE") != nullptr;

void trace_segment(const char* dir, const wire::TcpRepr& r) {
    if (!kTrace) return;
    std::fprintf(stderr, "  %s %u>%u [%s%s%s%s%s] seq=%u ack=%u win=%u len=%zu%s%s\n", dir, r.src_port, r.dst_port,
                 r.has(flag::kSyn) ? "S" : "", r.has(flag::kFin) ? "F" : "", r.has(flag::kRst) ? "R" : "",
                 r.has(flag::kPsh) ? "P" : "", r.has(flag::kAck) ? "." : "", r.seq, r.ack, r.window,
                 r.payload.size(), r.options.timestamps ? " ts" : "", r.options.sack_count ? " sack" : "");
}

[[noreturn]] void violated(const char* what) {
    std::fprintf(stderr, "fuzz_tcp invariant violated: %s\n", what);
    std::abort();
}

std::uint8_t peer_byte(std::uint16_t port, std::int64_t off) {
    return static_cast<std::uint8_t>(off * 131 + port * 7 + (off >> 9));
}
std::uint8_t app_byte(std::uint16_t port, std::int64_t off) {
    return static_cast<std::uint8_t>(off * 29 + port * 3 + (off >> 11) + 101);
}

// The byte loops of the harness carry no coverage instrumentation: their
// branches say nothing about the stack, and instrumented they cost most of
// the run time.
#define FUZZ_HARNESS_LOOP __attribute__((no_sanitize("coverage")))

using ByteOf = std::uint8_t (*)(std::uint16_t, std::int64_t);

FUZZ_HARNESS_LOOP void fill(std::span<std::uint8_t> out, ByteOf byte_of, std::uint16_t port, std::int64_t off) {
    for (std::size_t i = 0; i < out.size(); ++i) out[i] = byte_of(port, off + static_cast<std::int64_t>(i));
}

// True when `bytes` are byte_of()'s at offsets off, off + 1, ...
FUZZ_HARNESS_LOOP bool matches(std::span<const std::uint8_t> bytes, ByteOf byte_of, std::uint16_t port,
                               std::int64_t off) {
    bool ok = true;
    for (std::size_t i = 0; i < bytes.size(); ++i) ok &= bytes[i] == byte_of(port, off + static_cast<std::int64_t>(i));
    return ok;
}

// Signed distance a - b in sequence space.
std::int64_t seq_off(std::uint32_t a, std::uint32_t b) { return static_cast<std::int32_t>(a - b); }

// Front-to-back reader; bytes past the end read as 0.
class Input {
public:
    explicit Input(std::span<const std::uint8_t> d) : d_(d) {}
    bool empty() const { return pos_ >= d_.size(); }
    std::uint8_t u8() { return pos_ < d_.size() ? d_[pos_++] : 0; }
    std::uint16_t u16() { return static_cast<std::uint16_t>(u8() << 8 | u8()); }
    std::uint32_t u32() { return std::uint32_t{u16()} << 16 | u16(); }
    std::span<const std::uint8_t> bytes(std::size_t n) {
        n = std::min(n, d_.size() - std::min(pos_, d_.size()));
        auto s = d_.subspan(pos_, n);
        pos_ += n;
        return s;
    }

private:
    std::span<const std::uint8_t> d_;
    std::size_t pos_ = 0;
};

// One incarnation of a connection as the peer sees it.
struct Tracker {
    std::uint16_t port = 0;           // the peer's port
    bool passive = true;              // the peer opened it (to our listener)
    bool irs_known = false;
    std::uint32_t irs = 0;            // the peer's ISS
    bool iss_known = false;
    std::uint32_t our_iss = 0;
    std::uint32_t our_max = 0;        // highest sequence number we sent + 1
    std::uint32_t peer_acked = 0;     // highest ACK the peer sent for our data
    std::uint32_t our_right_edge = 0; // our last ACK + window (unscaled view is enough)
    std::uint32_t our_tsval = 0;      // for the peer's TSecr
    std::uint32_t peer_ts = 1;        // the peer's timestamp clock
    std::vector<std::uint8_t> sent;   // per stream offset: the peer sent it
    std::int64_t contiguous = 0;      // offsets [0, contiguous) all sent
    std::vector<std::int64_t> fins;   // offsets where the peer put a FIN
    std::int64_t acked = 0;           // data bytes we acknowledged
    std::int64_t app_written = 0;     // application bytes queued to TCP
    bool retired = false;             // its handle was released

    // The peer's stream starts after `syn_seq`; nothing of it sent yet.
    void reset_stream(std::uint32_t syn_seq) {
        irs = syn_seq;
        sent.clear();
        contiguous = 0;
        fins.clear();
        acked = 0;
    }
    FUZZ_HARNESS_LOOP void mark_sent(std::int64_t from, std::int64_t to) {
        from = std::max<std::int64_t>(from, 0);
        to = std::min(to, kMaxTracked);
        if (from >= to) return;
        if (sent.size() < static_cast<std::size_t>(to)) sent.resize(static_cast<std::size_t>(to), 0);
        std::fill(sent.begin() + from, sent.begin() + to, 1);
        while (contiguous < static_cast<std::int64_t>(sent.size()) && sent[static_cast<std::size_t>(contiguous)])
            ++contiguous;
    }
    bool fin_at(std::int64_t off) const { return std::find(fins.begin(), fins.end(), off) != fins.end(); }
};

// An application handle and what it read.
struct App {
    tcp::ConnId conn;
    std::size_t tracker = 0;
    bool unambiguous = true;  // tracker is certainly this handle's incarnation
    std::int64_t delivered = 0;
    bool released = false;
};

struct Header {
    // byte 0: what the peer offers on its SYN (bits 0-2: timestamps, SACK,
    //   window scale) and the stack's config (bits 3-7: timestamps, SACK,
    //   window scaling, no_delay, keepalive);
    // byte 1: bits 0-1 receive_buffer 4K/16K/64K/256K, bits 2-3
    //   send_buffer likewise, bit 4 auto-tuning to 1 MiB, bit 5 delayed
    //   ACK off, bit 6 NewReno, bit 7 the peer's ISS just below 2^32.
    std::uint8_t b0 = 0, b1 = 0;
    // Not a header byte: the family, from the input's length (odd: IPv6),
    // so every input keeps its meaning and a mutation that adds or drops a
    // byte tries the other family.
    bool ipv6 = false;
    bool peer_ts() const { return b0 & 1; }
    bool peer_sack() const { return b0 & 2; }
    bool peer_wscale() const { return b0 & 4; }
    std::uint32_t peer_iss() const { return (b1 & 0x80) ? 0xfffff000u : 1000u; }
};

class Harness final : public tcp::SegmentSink {
public:
    Harness(const Header& h)
        : hdr_(h),
          us_(h.ipv6 ? wire::IpAddress(kUs6) : wire::IpAddress(kUs4)),
          peer_(h.ipv6 ? wire::IpAddress(kPeer6) : wire::IpAddress(kPeer4)),
          cfg_(make_config(h)),
          stack_(cfg_, *this, 7) {}

    void run(Input& in);

private:
    static tcp::TcpConfig make_config(const Header& h) {
        static constexpr std::uint32_t kSizes[] = {4096, 16384, 65536, 262144};
        tcp::TcpConfig c;
        c.local_address = kUs4;
        c.timestamps = h.b0 & 8;
        c.sack = h.b0 & 16;
        c.window_scaling = h.b0 & 32;
        c.no_delay = h.b0 & 64;
        c.keepalive = h.b0 & 128;
        c.keepalive_idle = seconds(1);
        c.keepalive_interval = seconds(1);
        c.keepalive_count = 2;
        c.receive_buffer = kSizes[h.b1 & 3];
        c.send_buffer = kSizes[(h.b1 >> 2) & 3];
        c.receive_buffer_max = (h.b1 & 16) ? 1u << 20 : 0;
        c.delayed_ack_timeout = (h.b1 & 32) ? Duration::zero() : milliseconds(40);
        c.congestion_control = (h.b1 & 64) ? "newreno" : "cubic";
        c.msl = seconds(1);
        c.initial_rto = milliseconds(200);
        c.min_rto = milliseconds(50);
        c.max_rto = seconds(2);
        c.max_retransmits = 4;
        c.max_syn_retransmits = 3;
        c.max_connections = 16;
        c.default_backlog = 4;
        c.ephemeral_port_min = 50000;
        c.ephemeral_port_max = 50063;
        return c;
    }

    // ---- the stack's output ----
    void send_segment(const wire::IpAddress& src, const wire::IpAddress& dst, std::span<const std::uint8_t> seg) override;
    std::optional<wire::Ipv6Address> source_for(const wire::Ipv6Address& /*dst*/) override { return kUs6; }

    // ---- the peer ----
    std::size_t tracker_for(std::uint16_t port) {
        auto it = current_.find(port);
        return it == current_.end() ? kNone : it->second;
    }
    std::size_t new_tracker(std::uint16_t port, bool passive) {
        Tracker t;
        t.port = port;
        t.passive = passive;
        trackers_.push_back(std::move(t));
        current_[port] = trackers_.size() - 1;
        return trackers_.size() - 1;
    }
    wire::TcpOptions syn_options(std::uint8_t bits) const;
    void inject(std::uint16_t sport, std::uint16_t dport, std::uint32_t seq, std::uint32_t ack, std::uint8_t flags,
                std::uint16_t window, const wire::TcpOptions& options, std::span<const std::uint8_t> payload);
    void segment_op(Input& in);
    void raw_options_op(Input& in);
    void passive_open(std::uint8_t bits, bool complete);
    void active_open(std::uint8_t how);
    void accept_op();
    std::size_t pick_tracker(std::uint8_t sel) const {
        return trackers_.empty() ? kNone : std::size_t{sel} % trackers_.size();
    }
    App* pick_app(std::uint8_t sel) {
        if (apps_.empty()) return nullptr;
        App& a = apps_[sel % apps_.size()];
        return a.released ? nullptr : &a;
    }

    // ---- the application ----
    void read_op(App& a, std::size_t limit);
    void write_op(App& a, std::size_t n);
    void release(App& a, bool abort);

    // ---- time and checks ----
    void poll();
    void advance(Duration d);
    void check();

    static constexpr std::size_t kNone = ~std::size_t{0};

    Header hdr_;
    wire::IpAddress us_;    // the stack's address and the peer's, of the input's family
    wire::IpAddress peer_;
    tcp::TcpConfig cfg_;
    tcp::TcpStack stack_;
    Instant now_ = instant_from_ns(5'000'000'000);
    tcp::ListenerId listener_;
    bool listening_ = false;
    std::vector<Tracker> trackers_;
    std::map<std::uint16_t, std::size_t> current_;  // peer port -> its latest incarnation
    std::vector<App> apps_;
    std::uint16_t next_passive_port_ = 40000;
    std::uint16_t next_active_port_ = 5000;
    std::vector<std::uint8_t> scratch_;
    std::uint64_t polls_ = 0;
};

void Harness::send_segment(const wire::IpAddress& src, const wire::IpAddress& dst, std::span<const std::uint8_t> seg) {
    wire::TcpRepr r;
    if (src != us_ || dst != peer_ || wire::TcpRepr::parse(seg, src, dst, r).has_value())
        violated("the stack emitted a segment that does not parse");
    trace_segment("<", r);
    const std::size_t ti = tracker_for(r.dst_port);
    if (ti == kNone) return;  // an RST for a tuple the peer never used
    Tracker& t = trackers_[ti];
    const bool syn = r.has(flag::kSyn);
    const bool ack = r.has(flag::kAck);
    if (syn && ack && t.irs_known && r.ack - 1 != t.irs && t.passive) {
        // A SYN-ACK for another SYN: a new incarnation of this 4-tuple.
        const std::size_t n = new_tracker(r.dst_port, true);
        send_segment(src, dst, seg);  // account it to the new one
        (void)n;
        return;
    }
    if (syn) {
        t.iss_known = true;
        t.our_iss = r.seq;
        t.our_max = r.seq + 1;
        t.peer_acked = r.seq;
    }
    if (ack && !t.irs_known && !r.has(flag::kRst)) {
        t.irs_known = true;
        // Consistent with the SYN the peer counted on (its text and FIN may
        // be acknowledged too)? Otherwise the stack took another one.
        const std::int64_t a = seq_off(r.ack, t.irs + 1);
        if (a < 0 || a > t.contiguous + 1) t.reset_stream(r.ack - 1);
    }
    if (r.options.timestamps) t.our_tsval = r.options.timestamps->tsval;
    const std::uint32_t len = static_cast<std::uint32_t>(r.payload.size()) + (syn ? 1 : 0) +
                              (r.has(flag::kFin) ? 1 : 0);
    if (t.iss_known && seq_off(r.seq + len, t.our_max) > 0) t.our_max = r.seq + len;
    if (!r.payload.empty() && t.iss_known) {
        const std::int64_t off = seq_off(r.seq, t.our_iss + 1);
        if (off < 0 || off + static_cast<std::int64_t>(r.payload.size()) > t.app_written)
            violated("the stack sent bytes the application never wrote");
        if (!matches(r.payload, app_byte, t.port, off))
            violated("the stack sent a byte other than the application's at that offset");
    }
    if (ack && !r.has(flag::kRst) && t.irs_known) {
        const std::int64_t a = seq_off(r.ack, t.irs + 1);
        const std::int64_t limit = t.contiguous + (t.fin_at(t.contiguous) ? 1 : 0);
        if (a > limit) violated("the stack acknowledged data the peer never sent");
        // An ACK just past a FIN the peer sent may count that FIN rather
        // than a byte (when the peer also sent data there): the lower bound.
        const std::int64_t data = (a > 0 && t.fin_at(a - 1)) ? a - 1 : a;
        t.acked = std::max(t.acked, std::min(data, t.contiguous));
        t.our_right_edge = r.ack + r.window;  // unscaled: a place near the edge is enough
    }
}

wire::TcpOptions Harness::syn_options(std::uint8_t bits) const {
    wire::TcpOptions o;
    o.mss = static_cast<std::uint16_t>(bits & 0x40 ? 536 : 1460);
    if (bits & 1) o.timestamps = wire::TcpTimestamps{1, 0};
    if (bits & 2) o.sack_permitted = true;
    if (bits & 4) o.window_scale = static_cast<std::uint8_t>((bits >> 3) & 7);
    return o;
}

void Harness::inject(std::uint16_t sport, std::uint16_t dport, std::uint32_t seq, std::uint32_t ack,
                     std::uint8_t flags, std::uint16_t window, const wire::TcpOptions& options,
                     std::span<const std::uint8_t> payload) {
    wire::TcpRepr r;
    r.src_port = sport;
    r.dst_port = dport;
    r.seq = seq;
    r.ack = ack;
    r.flags = flags;
    r.window = window;
    r.options = options;
    r.payload = payload;
    scratch_.assign(r.buffer_len(), 0);
    r.emit(scratch_, peer_, us_);
    trace_segment(">", r);
    stack_.receive(now_, peer_, us_, scratch_);
    poll();
}

// The peer's handshake toward our listener (port `next_passive_port_`).
void Harness::passive_open(std::uint8_t bits, bool complete) {
    if (!listening_ || trackers_.size() >= kMaxTrackers) return;
    const std::uint16_t port = next_passive_port_++;
    const std::size_t ti = new_tracker(port, true);
    const std::uint32_t iss = hdr_.peer_iss() + port;
    trackers_[ti].irs = iss;  // expected; confirmed by the SYN-ACK
    inject(port, kListenPort, iss, 0, flag::kSyn, 65535, syn_options(bits), {});
    Tracker& t = trackers_[ti];
    if (complete && t.iss_known) {
        wire::TcpOptions o;
        if (bits & 1) o.timestamps = wire::TcpTimestamps{2, t.our_tsval};
        inject(port, kListenPort, iss + 1, t.our_iss + 1, flag::kAck, 65535, o, {});
        t.peer_acked = t.our_iss + 1;
    }
}

// We connect to the peer; `how`: 0-1 SYN-ACK, 2 RST, 3 nothing (SYN-SENT
// stays), 4 the peer's own SYN (simultaneous open).
void Harness::active_open(std::uint8_t how) {
    if (trackers_.size() >= kMaxTrackers) return;
    const std::uint16_t port = next_active_port_++;
    tcp::ConnId c;
    if (stack_.connect(now_, {peer_, port}, 0, &c) != tcp::Error::kNone) return;
    const std::size_t ti = new_tracker(port, false);
    apps_.push_back(App{c, ti, true, 0, false});
    poll();  // our SYN
    Tracker& t = trackers_[ti];
    const std::uint16_t local = stack_.info(c).local.port;
    const std::uint32_t iss = hdr_.peer_iss() + port * 3u;
    switch (how % 5) {
        case 0:
        case 1:
            if (t.iss_known)
                inject(port, local, iss, t.our_iss + 1, flag::kSyn | flag::kAck, 65535, syn_options(how), {});
            break;
        case 2:
            if (t.iss_known) inject(port, local, 0, t.our_iss + 1, flag::kRst | flag::kAck, 0, {}, {});
            break;
        case 3: break;
        case 4: inject(port, local, iss, 0, flag::kSyn, 65535, syn_options(how), {}); break;
    }
}

void Harness::accept_op() {
    if (!listening_) return;
    const tcp::ConnId c = stack_.accept(listener_);
    if (!c.valid()) return;
    const std::uint16_t port = stack_.info(c).remote.port;
    const std::size_t ti = tracker_for(port);
    if (ti == kNone) violated("accept() returned a connection the peer never opened");
    // An older incarnation of the same tuple may still wait in the queue
    // (reset there, then reopened): then which one this is stays open.
    std::size_t incarnations = 0;
    for (const Tracker& t : trackers_) incarnations += t.port == port ? 1 : 0;
    apps_.push_back(App{c, ti, incarnations == 1, 0, false});
}

void Harness::segment_op(Input& in) {
    std::size_t ti = pick_tracker(in.u8());
    // A segment to a port reaches the latest incarnation of its 4-tuple.
    if (ti != kNone) ti = tracker_for(trackers_[ti].port);
    std::uint8_t flags = in.u8();
    const std::uint8_t seq_mode = in.u8();
    const auto seq_delta = static_cast<std::int16_t>(in.u16());
    const std::uint8_t ack_mode = in.u8();
    const auto ack_delta = static_cast<std::int8_t>(in.u8());
    const std::uint16_t window = in.u16();
    const std::uint8_t opts = in.u8();
    const std::size_t len = in.u16() % 4096;
    if (ti == kNone) return;
    Tracker& t = trackers_[ti];
    std::uint32_t seq = 0;
    const std::uint32_t next = t.irs + 1;
    switch (seq_mode % 4) {
        case 0: seq = next + static_cast<std::uint32_t>(t.contiguous) + static_cast<std::uint32_t>(seq_delta); break;
        case 1: seq = next + static_cast<std::uint32_t>(t.sent.size()) + static_cast<std::uint32_t>(seq_delta); break;
        case 2: seq = t.our_right_edge + static_cast<std::uint32_t>(seq_delta); break;
        case 3: seq = std::uint32_t{static_cast<std::uint16_t>(seq_delta)} << 16 | std::uint32_t{ack_mode} << 8 | opts;
    }
    // The peer never reuses its first ISS on a new SYN: a SYN-ACK that
    // acknowledges another sequence number is then surely a new incarnation.
    if ((flags & flag::kSyn) && seq == t.irs && t.irs_known) ++seq;
    // Before the stack acknowledged a SYN of the peer's, this SYN would
    // start the peer's stream (a SYN-ACK toward our SYN, or a simultaneous
    // open): account its text from there.
    const bool defines_stream = (flags & flag::kSyn) && !t.irs_known && (flags & flag::kRst) == 0;
    if (defines_stream) t.reset_stream(seq);
    std::uint32_t ack = 0;
    switch (ack_mode % 4) {
        case 0: ack = t.our_max + static_cast<std::uint32_t>(ack_delta); break;
        case 1: ack = t.peer_acked + static_cast<std::uint32_t>(ack_delta); break;
        case 2: ack = t.our_iss + static_cast<std::uint32_t>(ack_delta); break;
        case 3: ack = t.our_max - static_cast<std::uint32_t>(ack_mode) * 1000u; break;
    }
    wire::TcpOptions o;
    if (opts & 1) {
        t.peer_ts += (opts >> 4);
        o.timestamps = wire::TcpTimestamps{t.peer_ts, t.our_tsval};
    }
    if (opts & 2) {
        const std::uint32_t left = t.peer_acked + static_cast<std::uint32_t>(std::abs(ack_delta)) * 100u;
        o.sack_blocks[o.sack_count++] = wire::SackBlock{left, left + static_cast<std::uint32_t>(len % 3000 + 1)};
        if (opts & 8) o.sack_blocks[o.sack_count++] = wire::SackBlock{left + 5000, left + 6000};
    }
    if (opts & 4) o.mss = static_cast<std::uint16_t>(len + 1);
    flags &= flag::kFin | flag::kSyn | flag::kRst | flag::kPsh | flag::kAck | flag::kUrg;
    // The payload: the peer's bytes at those offsets (anything outside the
    // followed range is filler the checks ignore).
    std::vector<std::uint8_t> payload(len);
    const std::int64_t off = seq_off(seq + ((flags & flag::kSyn) ? 1 : 0), t.irs + 1);
    fill(payload, peer_byte, t.port, off);
    const std::uint16_t local =
        t.passive ? kListenPort : [&] {
            for (const App& a : apps_)
                if (a.tracker == ti) return stack_.info(a.conn).local.port;
            return std::uint16_t{0};
        }();
    if (local == 0) return;  // its handle is gone: the local port is unknown
    // Account what the peer sends before the stack sees it (its answer is
    // checked against it).
    if ((t.irs_known || defines_stream) && (flags & flag::kRst) == 0) {
        if (len > 0) t.mark_sent(off, off + static_cast<std::int64_t>(len));
        if (flags & flag::kFin) t.fins.push_back(off + static_cast<std::int64_t>(len));
    }
    if ((flags & flag::kAck) && seq_off(ack, t.peer_acked) > 0 && seq_off(ack, t.our_max) <= 0) t.peer_acked = ack;
    inject(t.port, local, seq, ack, flags, window, o, payload);
}

void Harness::raw_options_op(Input& in) {
    std::size_t ti = pick_tracker(in.u8());
    if (ti != kNone) ti = tracker_for(trackers_[ti].port);
    const std::size_t n = in.u8() % 41;
    auto bytes = in.bytes(n);
    if (ti == kNone || !trackers_[ti].passive) return;
    const Tracker& t = trackers_[ti];
    // Header by hand: data offset covers the option bytes (padded with NOPs).
    const std::size_t opt_len = (bytes.size() + 3) / 4 * 4;
    std::vector<std::uint8_t> seg(20 + opt_len, 1);
    wire::store_be16(seg.data(), t.port);
    wire::store_be16(seg.data() + 2, kListenPort);
    wire::store_be32(seg.data() + 4, t.irs + 1 + static_cast<std::uint32_t>(t.contiguous));
    wire::store_be32(seg.data() + 8, t.peer_acked);
    seg[12] = static_cast<std::uint8_t>((20 + opt_len) / 4 << 4);
    seg[13] = flag::kAck;
    wire::store_be16(seg.data() + 14, 65535);
    seg[16] = seg[17] = 0;
    seg[18] = seg[19] = 0;
    std::copy(bytes.begin(), bytes.end(), seg.begin() + 20);
    // No checksum: the device "verified" it, so the options reach parsing.
    stack_.receive(now_, peer_, us_, seg, tcp::RxChecksum::kTrusted);
    poll();
}

void Harness::read_op(App& a, std::size_t limit) {
    std::vector<std::uint8_t> buf(limit == 0 ? 65536 : limit);
    const std::size_t n = stack_.recv(now_, a.conn, buf);
    const Tracker& t = trackers_[a.tracker];
    if (kTrace) {
        std::fprintf(stderr, "  read %zu on port %u: delivered %lld, peer sent %lld in order\n", n, t.port,
                     static_cast<long long>(a.delivered), static_cast<long long>(t.contiguous));
    }
    if (!matches(std::span(buf).first(n), peer_byte, t.port, a.delivered))
        violated("the application read a byte the peer did not send there");
    if (a.unambiguous && a.delivered + static_cast<std::int64_t>(n) > t.contiguous)
        violated("the application read beyond what the peer sent");
    a.delivered += static_cast<std::int64_t>(n);
    poll();
}

void Harness::write_op(App& a, std::size_t n) {
    Tracker& t = trackers_[a.tracker];
    if (!a.unambiguous) return;  // its bytes could not be told from another incarnation's
    std::vector<std::uint8_t> buf(n);
    fill(buf, app_byte, t.port, t.app_written);
    t.app_written += static_cast<std::int64_t>(stack_.send(now_, a.conn, buf));
    poll();
}

void Harness::release(App& a, bool abort) {
    if (abort)
        stack_.abort(now_, a.conn);
    else
        stack_.close(now_, a.conn);
    a.released = true;
    trackers_[a.tracker].retired = true;
    poll();
}

void Harness::poll() {
    ++polls_;
    stack_.poll(now_);
    for (int i = 0; stack_.poll_at() <= now_; ++i) {
        if (i == kMaxPollsAtOneTime) violated("poll_at() stays in the past: a busy loop");
        stack_.poll(now_);
    }
    check();
}

void Harness::advance(Duration d) {
    const Instant end = now_ + d;
    for (int i = 0; stack_.poll_at() <= end; ++i) {
        if (i == kMaxPollsPerAdvance) violated("timers never let virtual time reach its end");
        now_ = std::max(now_, stack_.poll_at());
        poll();
    }
    now_ = end;
    poll();
}

void Harness::check() {
    if (stack_.connection_count() > cfg_.max_connections) violated("more connections than max_connections");
    const std::size_t rcv_max = std::max(cfg_.receive_buffer, cfg_.receive_buffer_max);
    for (const App& a : apps_) {
        if (a.released) continue;
        const tcp::ConnInfo info = stack_.info(a.conn);
        if (info.error == tcp::Error::kNotConnected) violated("a handle the application holds stopped working");
        if (info.recv_available > rcv_max) violated("receive data beyond the receive buffer");
        if (info.send_queued > cfg_.send_buffer) violated("send data beyond the send buffer");
        if (stack_.stats(a.conn).rcv_buffer > rcv_max) violated("receive buffer grew beyond receive_buffer_max");
        const Tracker& t = trackers_[a.tracker];
        if (a.unambiguous && a.delivered + static_cast<std::int64_t>(info.recv_available) < t.acked) {
            if (kTrace) {
                std::fprintf(stderr, "port %u: delivered %lld + available %zu < acked %lld (state %s, error %s)\n",
                             t.port, static_cast<long long>(a.delivered), info.recv_available,
                             static_cast<long long>(t.acked), std::string(tcp::to_string(info.state)).c_str(),
                             std::string(tcp::to_string(info.error)).c_str());
            }
            violated("acknowledged bytes are no longer readable by the application");
        }
    }
}

void Harness::run(Input& in) {
    if (stack_.listen(kListenPort, 0, &listener_) != tcp::Error::kNone) violated("listen() failed");
    listening_ = true;
    // The peer's connection to us and ours to it, with the header's options.
    const std::uint8_t offer = hdr_.b0 & 7;
    passive_open(static_cast<std::uint8_t>(offer | (2 << 3)), true);
    accept_op();
    active_open(0);
    if (apps_.size() != 2) violated("the two set-up connections did not come up");
    for (int steps = 0; !in.empty() && steps < 2000; ++steps) {
        const std::uint8_t op = in.u8();
        if (kTrace) {
            std::fprintf(stderr, "op %u at %lld ms\n", op % 16, static_cast<long long>(to_ns(now_) / 1000000));
        }
        switch (op % 16) {
            case 0:
            case 1:
            case 2:
            case 3:
            case 4: segment_op(in); break;
            case 5: {
                const std::uint8_t scale = in.u8();
                const std::uint8_t amount = in.u8();
                const Duration d = scale % 3 == 0 ? milliseconds(amount)
                                   : scale % 3 == 1 ? milliseconds(std::int64_t{amount} * 20)
                                                    : seconds(amount);
                advance(d);
                break;
            }
            case 6:
            case 7: {
                App* a = pick_app(in.u8());
                const std::size_t limit = in.u16();
                if (a) read_op(*a, limit);
                break;
            }
            case 8: {
                App* a = pick_app(in.u8());
                const std::size_t n = in.u16();
                if (a) write_op(*a, n);
                break;
            }
            case 9: {
                App* a = pick_app(in.u8());
                const std::uint8_t kind = in.u8();
                if (!a) break;
                if (kind % 4 == 0) {
                    stack_.shutdown_write(now_, a->conn);
                    poll();
                } else if (kind % 4 == 1) {
                    release(*a, false);
                } else if (kind % 4 == 2) {
                    release(*a, true);
                }
                break;
            }
            case 10: {
                const std::uint8_t bits = in.u8();
                passive_open(bits, (bits & 0x80) == 0);
                break;
            }
            case 11: accept_op(); break;
            case 12: active_open(in.u8()); break;
            case 13: {
                App* a = pick_app(in.u8());
                const std::uint8_t bits = in.u8();
                if (a) {
                    stack_.set_nodelay(a->conn, bits & 1);
                    stack_.set_keepalive(a->conn, bits & 2);
                    poll();
                }
                break;
            }
            case 14: raw_options_op(in); break;
            case 15: {
                const std::uint8_t what = in.u8();
                if (what % 2 == 0 && listening_) {
                    stack_.close_listener(listener_);
                    listening_ = false;
                    poll();
                } else if (!listening_) {
                    if (stack_.listen(kListenPort, 2, &listener_) == tcp::Error::kNone) listening_ = true;
                } else {
                    stack_.host_unreachable(now_, peer_);
                    poll();
                }
                break;
            }
        }
    }
    // Everything released and the listener closed: with a silent peer every
    // connection ends by itself.
    for (App& a : apps_) {
        if (!a.released) release(a, false);
    }
    if (listening_) stack_.close_listener(listener_);
    listening_ = false;
    for (int i = 0; i < 60 && stack_.connection_count() > 0; ++i) advance(seconds(60));
    if (kTrace) std::fprintf(stderr, "polls: %llu\n", static_cast<unsigned long long>(polls_));
    if (stack_.connection_count() != 0) violated("a connection outlives an hour of a silent peer");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    Input in(std::span<const std::uint8_t>(data, size));
    Header h;
    h.b0 = in.u8();
    h.b1 = in.u8();
    h.ipv6 = (size & 1) != 0;
    Harness harness(h);
    harness.run(in);
    return 0;
}
