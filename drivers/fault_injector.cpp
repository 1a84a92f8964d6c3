// FaultInjector: seeded drop/corrupt/duplicate/delay/reorder stage; see
// fault_injector.hpp.
//
// Held frames live in a pool of fixed-size slots (slot i at i * slot_len),
// allocated once. A slot index sits in exactly one of three queues:
//   delayed  - a min-heap on (due, seq): frames held for a random delay;
//   reorder  - FIFO in arrival order: frames waiting for reorder_depth
//              later deliveries or for reorder_max_hold (both monotonic
//              along the FIFO, so only its front needs looking at);
//   ready    - FIFO of frames to hand out now, in order; non-empty between
//              calls only while the sink refuses (TX back-pressure).
// `delivered` counts every delivery; a reordered frame records the count it
// waits for. seq numbers holds, so equal due times keep arrival order.
#include "drivers/fault_injector.hpp"

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdio>
#include <cstring>

#include "stack/wire/byte_order.hpp"

namespace tapstack::drivers {
namespace {

constexpr std::size_t kEthHeaderLen = 14;
constexpr Duration kMaxDelay = seconds(60);

// splitmix64 (Steele, Lea, Flood 2014): expands the seed into PRNG state.
std::uint64_t splitmix64(std::uint64_t& x) {
    std::uint64_t z = (x += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

// xoshiro256** (Blackman, Vigna 2018): fast, 256 bits of state, good
// enough statistically for fault decisions, identical on every platform.
class Xoshiro256 {
public:
    explicit Xoshiro256(std::uint64_t seed) {
        for (auto& word : s_) word = splitmix64(seed);
    }
    std::uint64_t next() {
        const std::uint64_t result = rotl(s_[1] * 5, 7) * 9;
        const std::uint64_t t = s_[1] << 17;
        s_[2] ^= s_[0];
        s_[3] ^= s_[1];
        s_[1] ^= s_[2];
        s_[0] ^= s_[3];
        s_[2] ^= t;
        s_[3] = rotl(s_[3], 45);
        return result;
    }

private:
    static std::uint64_t rotl(std::uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }
    std::array<std::uint64_t, 4> s_{};
};

// True with probability pct/100, from one 64-bit draw.
bool hit(std::uint64_t draw, double pct) {
    const double u = static_cast<double>(draw >> 11) * 0x1.0p-53;  // uniform in [0, 1)
    return u * 100.0 < pct;
}

// A fixed-capacity FIFO of slot indices (never allocates after construction).
class IndexFifo {
public:
    explicit IndexFifo(std::size_t capacity) : buf_(std::max<std::size_t>(capacity, 1)) {}
    bool empty() const { return count_ == 0; }
    std::size_t size() const { return count_; }
    std::uint32_t front() const { return buf_[head_]; }
    void push(std::uint32_t v) {  // callers never exceed the pool size
        buf_[(head_ + count_) % buf_.size()] = v;
        ++count_;
    }
    void pop() {
        head_ = (head_ + 1) % buf_.size();
        --count_;
    }

private:
    std::vector<std::uint32_t> buf_;
    std::size_t head_ = 0;
    std::size_t count_ = 0;
};

}  // namespace

struct FaultInjector::Impl {
    struct Slot {
        Instant due{};
        Instant held_since{};
        std::uint64_t seq = 0;
        std::uint64_t release_after = 0;  // reorder: value of `delivered` to wait for
        std::uint64_t index = 0;          // frame_index for events
        std::uint32_t len = 0;            // buffer bytes, prefix included
        std::uint8_t copies = 0;          // deliveries still owed
    };

    FaultDirection direction;
    FaultDirectionConfig config;
    Xoshiro256 rng;
    std::uint64_t max_bytes;
    std::size_t slot_len;
    std::size_t prefix;
    std::vector<std::uint8_t> pool;
    std::vector<Slot> slots;
    std::vector<std::uint32_t> free;
    std::vector<std::uint32_t> delayed;  // heap, see delayed_after()
    IndexFifo reorder;
    IndexFifo ready;
    std::uint64_t held_bytes = 0;
    std::uint64_t next_index = 0;
    std::uint64_t next_seq = 0;
    std::uint64_t delivered = 0;
    FaultCounters counters;
    Observer observer;

    Impl(FaultDirection dir, const FaultDirectionConfig& c, std::uint64_t seed, std::uint32_t max_frames,
         std::uint64_t bytes_limit, std::size_t max_buffer_len, std::size_t prefix_len)
        : direction(dir),
          config(c),
          // Each direction has its own stream, so RX and TX decisions do not
          // depend on how the two interleave.
          rng(seed ^ (dir == FaultDirection::kRx ? 0x7278ull : 0x7478ull) * 0x9e3779b97f4a7c15ull),
          max_bytes(bytes_limit),
          slot_len(std::max(max_buffer_len, prefix_len)),
          prefix(prefix_len),
          pool(std::size_t{max_frames} * slot_len),
          slots(max_frames),
          reorder(max_frames),
          ready(max_frames) {
        free.reserve(max_frames);
        delayed.reserve(max_frames);
        for (std::uint32_t i = max_frames; i > 0; --i) free.push_back(i - 1);
    }

    std::span<std::uint8_t> slot_bytes(std::uint32_t i) {
        return {pool.data() + std::size_t{i} * slot_len, slots[i].len};
    }
    // Heap order for `delayed`: std::push_heap keeps the "largest" on top,
    // so "after" makes the earliest (due, seq) the top.
    auto delayed_after() const {
        return [this](std::uint32_t a, std::uint32_t b) {
            const Slot& x = slots[a];
            const Slot& y = slots[b];
            return x.due != y.due ? x.due > y.due : x.seq > y.seq;
        };
    }

    void event(FaultAction action, std::uint64_t index, std::span<const std::uint8_t> buffer, std::uint32_t bit = 0,
               Duration delay = Duration::zero()) const {
        if (!observer) return;
        FaultEvent e;
        e.direction = direction;
        e.action = action;
        e.frame_index = index;
        e.frame = buffer.size() >= prefix ? buffer.subspan(prefix) : buffer;
        e.bit = bit;
        e.delay = delay;
        observer(e);
    }

    enum class Queue { kDelayed, kReorder, kReady };
    // Copies `buffer` into a free slot on `queue`; false (counted) when the
    // pool or the byte budget is exhausted.
    bool hold(Instant now, std::span<const std::uint8_t> buffer, std::uint64_t index, std::uint8_t copies, Queue queue,
              Instant due, std::uint64_t release_after) {
        const std::uint64_t frame_len = buffer.size() - std::min(buffer.size(), prefix);
        if (free.empty() || buffer.size() > slot_len || held_bytes + frame_len > max_bytes) {
            ++counters.overflow;
            event(FaultAction::kOverflow, index, buffer);
            return false;
        }
        const std::uint32_t i = free.back();
        free.pop_back();
        Slot& s = slots[i];
        s = Slot{due, now, next_seq++, release_after, index, static_cast<std::uint32_t>(buffer.size()), copies};
        std::memcpy(pool.data() + std::size_t{i} * slot_len, buffer.data(), buffer.size());
        held_bytes += frame_len;
        switch (queue) {
        case Queue::kDelayed:
            delayed.push_back(i);
            std::push_heap(delayed.begin(), delayed.end(), delayed_after());
            break;
        case Queue::kReorder:
            reorder.push(i);
            break;
        case Queue::kReady:
            ready.push(i);
            break;
        }
        return true;
    }

    void free_slot(std::uint32_t i) {
        held_bytes -= slots[i].len - std::min<std::uint64_t>(slots[i].len, prefix);
        slots[i].copies = 0;
        free.push_back(i);
    }

    // Moves the next held frame whose time has come onto `ready`; false when
    // there is none. A reordered frame whose overtakers have passed goes
    // first: it is meant to follow them directly.
    bool promote(Instant now) {
        const bool reorder_quota = !reorder.empty() && delivered >= slots[reorder.front()].release_after;
        const bool reorder_due = !reorder.empty() && slots[reorder.front()].due <= now;
        const bool delay_due = !delayed.empty() && slots[delayed.front()].due <= now;
        std::uint32_t i = 0;
        if (reorder_quota || (reorder_due && (!delay_due || !delayed_after()(reorder.front(), delayed.front())))) {
            i = reorder.front();
            reorder.pop();
        } else if (delay_due) {
            i = delayed.front();
            std::pop_heap(delayed.begin(), delayed.end(), delayed_after());
            delayed.pop_back();
        } else {
            return false;
        }
        ready.push(i);
        ++counters.released;
        event(FaultAction::kRelease, slots[i].index, slot_bytes(i), 0, now - slots[i].held_since);
        return true;
    }

    std::size_t drain(Instant now, const Deliver& deliver) {
        std::size_t n = 0;
        for (;;) {
            if (ready.empty() && !promote(now)) return n;
            const std::uint32_t i = ready.front();
            while (slots[i].copies > 0) {
                if (!deliver(slot_bytes(i))) return n;
                --slots[i].copies;
                ++delivered;
                ++n;
            }
            ready.pop();
            free_slot(i);
        }
    }

    // Delivers a frame that is not held; if the sink refuses (or frames it
    // refused earlier still wait) the rest queues behind them.
    void pass(Instant now, std::span<std::uint8_t> buffer, std::uint64_t index, std::uint8_t copies,
              const Deliver& deliver) {
        while (copies > 0 && ready.empty()) {
            if (!deliver(buffer)) break;
            --copies;
            ++delivered;
        }
        if (copies > 0) hold(now, buffer, index, copies, Queue::kReady, now, 0);
    }

    void offer(Instant now, std::span<std::uint8_t> buffer, const Deliver& deliver) {
        const std::uint64_t index = next_index++;
        ++counters.frames;
        std::array<std::uint64_t, 7> draw{};
        for (auto& d : draw) d = rng.next();  // always seven: see the header
        if (buffer.size() < prefix || buffer.size() > slot_len) {  // not a frame the port would give us
            pass(now, buffer, index, 1, deliver);
            return;
        }
        std::span<std::uint8_t> frame = buffer.subspan(prefix);
        if (hit(draw[0], config.drop_pct)) {
            ++counters.dropped;
            event(FaultAction::kDrop, index, buffer);
            return;
        }
        if (hit(draw[1], config.corrupt_pct) && frame.size() > kEthHeaderLen) {
            const std::uint64_t bits = (frame.size() - kEthHeaderLen) * 8;
            const auto bit = static_cast<std::uint32_t>(kEthHeaderLen * 8 + draw[5] % bits);
            frame[bit / 8] ^= static_cast<std::uint8_t>(0x80u >> (bit % 8));  // bit 0 = MSB of byte 0
            ++counters.corrupted;
            event(FaultAction::kCorrupt, index, buffer, bit);
        }
        std::uint8_t copies = 1;
        if (hit(draw[2], config.duplicate_pct)) {
            copies = 2;
            ++counters.duplicated;
            event(FaultAction::kDuplicate, index, buffer);
        }
        if (hit(draw[3], config.delay_pct)) {
            const auto span = static_cast<std::uint64_t>((config.delay_max - config.delay_min).count());
            const Duration delay = config.delay_min + Duration(static_cast<Duration::rep>(draw[6] % (span + 1)));
            ++counters.delayed;
            event(FaultAction::kDelay, index, buffer, 0, delay);
            hold(now, buffer, index, copies, Queue::kDelayed, now + delay, 0);
        } else if (hit(draw[4], config.reorder_pct)) {
            ++counters.reordered;
            event(FaultAction::kReorder, index, buffer);
            hold(now, buffer, index, copies, Queue::kReorder, now + config.reorder_max_hold,
                 delivered + config.reorder_depth);
        } else {
            pass(now, buffer, index, copies, deliver);
        }
        if (ready.empty()) drain(now, deliver);  // a delivery may have completed a reorder quota
    }

    Instant poll_at() const {
        if (!ready.empty()) return kNever;  // waiting for the sink, not for a time
        Instant at = kNever;
        if (!reorder.empty()) at = std::min(at, slots[reorder.front()].due);
        if (!delayed.empty()) at = std::min(at, slots[delayed.front()].due);
        return at;
    }
};

FaultInjector::FaultInjector(FaultDirection direction, const FaultDirectionConfig& config, std::uint64_t seed,
                             std::uint32_t max_held_frames, std::uint64_t max_held_bytes, std::size_t max_buffer_len,
                             std::size_t prefix_len)
    : impl_(std::make_unique<Impl>(direction, config, seed, max_held_frames, max_held_bytes, max_buffer_len,
                                   prefix_len)) {}
FaultInjector::~FaultInjector() = default;

void FaultInjector::offer(Instant now, std::span<std::uint8_t> buffer, const Deliver& deliver) {
    impl_->offer(now, buffer, deliver);
}
std::size_t FaultInjector::release(Instant now, const Deliver& deliver) { return impl_->drain(now, deliver); }
Instant FaultInjector::poll_at() const { return impl_->poll_at(); }
bool FaultInjector::blocked() const { return !impl_->ready.empty(); }
std::size_t FaultInjector::held_frames() const { return impl_->slots.size() - impl_->free.size(); }
std::uint64_t FaultInjector::held_bytes() const { return impl_->held_bytes; }
void FaultInjector::set_observer(Observer observer) { impl_->observer = std::move(observer); }
FaultDirection FaultInjector::direction() const { return impl_->direction; }
const FaultCounters& FaultInjector::counters() const { return impl_->counters; }

void FaultInjector::add_counters(const FaultCounters& earlier) { impl_->counters += earlier; }

FaultCounters& FaultCounters::operator+=(const FaultCounters& other) {
#define TAPSTACK_X(field, kind, help) field += other.field;
    TAPSTACK_FAULT_COUNTERS(TAPSTACK_X)
#undef TAPSTACK_X
    return *this;
}

// ---------------------------------------------------------------- reporting

std::string_view to_string(FaultDirection direction) { return direction == FaultDirection::kRx ? "rx" : "tx"; }

std::string_view to_string(FaultAction action) {
    switch (action) {
    case FaultAction::kDrop: return "drop";
    case FaultAction::kCorrupt: return "corrupt";
    case FaultAction::kDuplicate: return "duplicate";
    case FaultAction::kDelay: return "delay";
    case FaultAction::kReorder: return "reorder";
    case FaultAction::kOverflow: return "overflow";
    case FaultAction::kRelease: return "release";
    }
    return "?";
}

void FaultCounters::visit(FaultDirection direction, const MetricVisitor& visit) const {
    const bool rx = direction == FaultDirection::kRx;
#define TAPSTACK_X(field, kind, help)                                                                 \
    visit({rx ? "fault.rx_" #field : "fault.tx_" #field, MetricKind::kind, help}, field);
    TAPSTACK_FAULT_COUNTERS(TAPSTACK_X)
#undef TAPSTACK_X
}

namespace {

std::string ipv4_text(const std::uint8_t* p) {
    return std::to_string(p[0]) + "." + std::to_string(p[1]) + "." + std::to_string(p[2]) + "." +
           std::to_string(p[3]);
}

std::string ms_text(Duration d) {
    const auto us = std::chrono::duration_cast<microseconds>(d).count();
    const auto mag = us < 0 ? -us : us;
    return (us < 0 ? "-" : "") + std::to_string(mag / 1000) + "." + std::to_string(mag % 1000 / 100) + " ms";
}

// "IPv4 a > b TCP p > q [S.] seq x ack y len n", as far as the bytes allow.
std::string frame_text(std::span<const std::uint8_t> f) {
    std::string out = std::to_string(f.size()) + " bytes";
    if (f.size() < kEthHeaderLen) return out;
    const std::uint16_t type = wire::load_be16(f.data() + 12);
    if (type == 0x0806) return out + " ARP";
    if (type != 0x0800) {
        char buf[8];
        static constexpr char kHex[] = "0123456789abcdef";
        buf[0] = kHex[type >> 12];
        buf[1] = kHex[(type >> 8) & 0xf];
        buf[2] = kHex[(type >> 4) & 0xf];
        buf[3] = kHex[type & 0xf];
        return out + " ethertype 0x" + std::string(buf, 4);
    }
    const auto ip = f.subspan(kEthHeaderLen);
    if (ip.size() < 20 || (ip[0] >> 4) != 4) return out + " IPv4 (truncated)";
    const std::size_t ihl = std::size_t{ip[0] & 0x0fu} * 4;
    const std::size_t total = std::min<std::size_t>(wire::load_be16(ip.data() + 2), ip.size());
    out += " IPv4 " + ipv4_text(ip.data() + 12) + " > " + ipv4_text(ip.data() + 16);
    const std::uint8_t proto = ip[9];
    const bool first_fragment = (wire::load_be16(ip.data() + 6) & 0x1fff) == 0;
    if (proto == 1) return out + " ICMP";
    if (proto == 17) return out + " UDP";
    if (proto != 6) return out + " proto " + std::to_string(proto);
    if (ihl < 20 || total < ihl + 20 || !first_fragment) return out + " TCP";
    const std::uint8_t* tcp = ip.data() + ihl;
    const std::size_t doff = static_cast<std::size_t>(tcp[12] >> 4) * 4;
    std::string flags;
    const std::uint8_t fl = tcp[13];
    if (fl & 0x02) flags += 'S';
    if (fl & 0x01) flags += 'F';
    if (fl & 0x04) flags += 'R';
    if (fl & 0x08) flags += 'P';
    if (fl & 0x10) flags += '.';
    out += " TCP " + std::to_string(wire::load_be16(tcp)) + " > " + std::to_string(wire::load_be16(tcp + 2)) + " [" +
           flags + "] seq " + std::to_string(wire::load_be32(tcp + 4)) + " ack " +
           std::to_string(wire::load_be32(tcp + 8));
    if (doff >= 20 && total >= ihl + doff) out += " len " + std::to_string(total - ihl - doff);
    return out;
}

void check_pct(std::vector<std::string>& errors, const std::string& where, const char* name, double v) {
    if (!std::isfinite(v) || v < 0 || v > 100) {
        errors.push_back(where + "." + name + ": " + std::to_string(v) + " is not within 0..100");
    }
}

void check_direction(std::vector<std::string>& errors, const std::string& where, const FaultDirectionConfig& d) {
    check_pct(errors, where, "drop", d.drop_pct);
    check_pct(errors, where, "duplicate", d.duplicate_pct);
    check_pct(errors, where, "reorder", d.reorder_pct);
    check_pct(errors, where, "corrupt", d.corrupt_pct);
    check_pct(errors, where, "delay", d.delay_pct);
    if (d.delay_min < Duration::zero() || d.delay_max < d.delay_min || d.delay_max > kMaxDelay) {
        errors.push_back(where + ".delay_ms: [" + ms_text(d.delay_min) + ", " + ms_text(d.delay_max) +
                         "] must be a range with 0 <= min <= max <= 60000 ms");
    }
    if (d.reorder_depth < 1 || d.reorder_depth > 1000) {
        errors.push_back(where + ".reorder_depth: " + std::to_string(d.reorder_depth) + " is not within 1..1000");
    }
    if (d.reorder_max_hold <= Duration::zero() || d.reorder_max_hold > kMaxDelay) {
        errors.push_back(where + ".reorder_max_ms: " + ms_text(d.reorder_max_hold) + " is not within (0, 60000] ms");
    }
}

}  // namespace

std::string describe(const FaultEvent& e) {
    std::string out = std::string(to_string(e.direction)) + " #" + std::to_string(e.frame_index) + " " +
                      std::string(to_string(e.action));
    if (e.action == FaultAction::kCorrupt) {
        out += " bit " + std::to_string(e.bit) + " (byte " + std::to_string(e.bit / 8) + ")";
    } else if (e.action == FaultAction::kDelay) {
        out += " " + ms_text(e.delay);
    } else if (e.action == FaultAction::kRelease) {
        out += " after " + ms_text(e.delay);
    }
    return out + ": " + frame_text(e.frame);
}

namespace {

std::string pct_text(double v) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%g%%", v);
    return buf;
}

std::string direction_text(const FaultDirectionConfig& d) {
    return "drop " + pct_text(d.drop_pct) + " duplicate " + pct_text(d.duplicate_pct) + " corrupt " +
           pct_text(d.corrupt_pct) + " delay " + pct_text(d.delay_pct) + " [" + ms_text(d.delay_min) + ", " +
           ms_text(d.delay_max) + "] reorder " + pct_text(d.reorder_pct) + " (depth " +
           std::to_string(d.reorder_depth) + ", at most " + ms_text(d.reorder_max_hold) + ")";
}

}  // namespace

std::string describe(const FaultConfig& c) {
    if (!c.enabled) return "fault injection off";
    return "fault injection on (seed " + std::to_string(c.seed) + ", at most " + std::to_string(c.max_held_frames) +
           " frames / " + std::to_string(c.max_held_bytes) + " bytes held per direction): rx " + direction_text(c.rx) +
           "; tx " + direction_text(c.tx);
}

std::vector<std::string> validate(const FaultConfig& c) {
    std::vector<std::string> errors;
    check_direction(errors, "fault_injection.rx", c.rx);
    check_direction(errors, "fault_injection.tx", c.tx);
    if (c.max_held_frames < 1 || c.max_held_frames > 65536) {
        errors.push_back("fault_injection.max_held_frames: " + std::to_string(c.max_held_frames) +
                         " is not within 1..65536");
    }
    if (c.max_held_bytes < 1) errors.push_back("fault_injection.max_held_bytes: must be at least 1");
    return errors;
}

}  // namespace tapstack::drivers
