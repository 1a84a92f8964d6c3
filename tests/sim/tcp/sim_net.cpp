#include "tests/sim/tcp/sim_net.hpp"

#include <algorithm>
#include <cstdlib>
#include <iterator>
#include <optional>
#include <string>

#include "stack/wire/byte_order.hpp"

namespace tapstack::sim {

class SimNet::Sink : public tcp::SegmentSink {
public:
    Sink(SimNet& net, bool from_a) : net_(net), from_a_(from_a) {}
    void send_segment(const wire::IpAddress& src, const wire::IpAddress& dst,
                      std::span<const std::uint8_t> seg) override {
        net_.enqueue(from_a_, Packet{src, dst, std::vector<std::uint8_t>(seg.begin(), seg.end())});
    }
    // Each stack has one IPv6 address on the link.
    std::optional<wire::Ipv6Address> source_for(const wire::Ipv6Address& /*dst*/) override {
        return from_a_ ? kAddr6A : kAddr6B;
    }

private:
    SimNet& net_;
    bool from_a_;
};

tcp::TcpConfig SimNet::default_config(wire::Ipv4Address addr) {
    tcp::TcpConfig c;
    c.local_address = addr;
    c.msl = seconds(2);
    return c;
}

SimNet::SimNet(std::uint64_t seed, const tcp::TcpConfig& a_config, const tcp::TcpConfig& b_config,
               LinkFaults a_to_b, LinkFaults b_to_a)
    : seed_(seed), rng_(seed), faults_{a_to_b, b_to_a} {
    sink_a_ = std::make_unique<Sink>(*this, true);
    sink_b_ = std::make_unique<Sink>(*this, false);
    a_ = std::make_unique<tcp::TcpStack>(a_config, *sink_a_, seed ^ 0x1111);
    b_ = std::make_unique<tcp::TcpStack>(b_config, *sink_b_, seed ^ 0x2222);
    if (const char* dir = std::getenv("TAPSTACK_SIM_PCAP")) {
        static int instance = 0;
        const std::string path =
            std::string(dir) + "/sim-" + std::to_string(seed) + "-" + std::to_string(++instance) + ".pcap";
        pcap_ = std::fopen(path.c_str(), "wb");
        if (pcap_) {
            // pcap global header, LINKTYPE_RAW (101): packets start with IPv4.
            const std::uint32_t hdr[6] = {0xa1b2c3d4u, 0x00040002u, 0, 0, 65535, 101};
            std::fwrite(hdr, sizeof hdr, 1, pcap_);
        }
    }
}

SimNet::~SimNet() {
    if (pcap_) std::fclose(pcap_);
}

void SimNet::capture(const Packet& p) {
    // A minimal IP header around the segment (IPv4 checksum left 0).
    std::uint8_t ip[40] = {0x45, 0, 0, 0, 0, 0, 0x40, 0, 64, 6, 0, 0};
    std::size_t hlen = 20;
    if (p.src.is_ipv6()) {
        hlen = 40;
        std::fill(std::begin(ip), std::end(ip), std::uint8_t{0});
        ip[0] = 0x60;
        wire::store_be16(ip + 4, static_cast<std::uint16_t>(p.bytes.size()));
        ip[6] = 6;
        ip[7] = 64;
        std::copy(p.src.ipv6().bytes.begin(), p.src.ipv6().bytes.end(), ip + 8);
        std::copy(p.dst.ipv6().bytes.begin(), p.dst.ipv6().bytes.end(), ip + 24);
    } else {
        wire::store_be16(ip + 2, static_cast<std::uint16_t>(20 + p.bytes.size()));
        wire::store_be32(ip + 12, p.src.ipv4().value);
        wire::store_be32(ip + 16, p.dst.ipv4().value);
    }
    const auto total = static_cast<std::uint32_t>(hlen + p.bytes.size());
    const std::int64_t ns = to_ns(now_);
    const std::uint32_t rec[4] = {static_cast<std::uint32_t>(ns / 1'000'000'000),
                                  static_cast<std::uint32_t>((ns % 1'000'000'000) / 1000), total, total};
    std::fwrite(rec, sizeof rec, 1, pcap_);
    std::fwrite(ip, hlen, 1, pcap_);
    std::fwrite(p.bytes.data(), 1, p.bytes.size(), pcap_);
}

void SimNet::enqueue(bool from_a, Packet p) {
    if (pcap_) capture(p);
    if (on_wire) on_wire(p);
    if (filter && !filter(p)) return;
    const LinkFaults& f = faults_[from_a ? 0 : 1];
    auto chance = [&](double prob) {
        if (prob <= 0) return false;
        return static_cast<double>(rng_() >> 11) * 0x1.0p-53 < prob;
    };
    if (chance(f.drop)) return;
    int copies = chance(f.duplicate) ? 2 : 1;
    for (int i = 0; i < copies; ++i) {
        Packet q = p;
        if (chance(f.corrupt) && !q.bytes.empty()) {
            const std::size_t bit = rng_() % (q.bytes.size() * 8);
            q.bytes[bit / 8] = static_cast<std::uint8_t>(q.bytes[bit / 8] ^ (1u << (bit % 8)));
        }
        Duration d = f.delay;
        if (chance(f.reorder)) {
            const auto extra = static_cast<std::int64_t>(rng_() % static_cast<std::uint64_t>(f.reorder_delay.count() + 1));
            d += Duration(extra);
        }
        queue_.emplace(std::make_pair(now_ + d, order_++), std::make_pair(from_a, std::move(q)));
    }
}

void SimNet::deliver_later(bool to_b, Packet p, Duration after) {
    // order_ is the key the packet being filtered (if any) will get; one
    // more sorts this one right behind it (equal keys keep insertion order).
    queue_.emplace(std::make_pair(now_ + after, order_ + 1), std::make_pair(to_b, std::move(p)));
}

Instant SimNet::next_due() const {
    Instant t = std::min(a_->poll_at(), b_->poll_at());
    if (!queue_.empty()) t = std::min(t, queue_.begin()->first.first);
    for (const SimApp* app : apps_) t = std::min(t, app->wake_at());
    return t;
}

bool SimNet::step() {
    const Instant t = next_due();
    if (t == kNever) return false;
    now_ = std::max(now_, t);
    while (!queue_.empty() && queue_.begin()->first.first <= now_) {
        auto it = queue_.begin();
        const bool to_b = it->second.first;
        const Packet p = std::move(it->second.second);
        queue_.erase(it);
        ++delivered_;
        (to_b ? *b_ : *a_).receive(now_, p.src, p.dst, p.bytes);
    }
    for (SimApp* app : apps_) app->run(now_);
    a_->poll(now_);
    b_->poll(now_);
    return true;
}

void SimNet::kick() {
    // Applications added or changed since the last step get to run now even
    // when nothing else is due (poll_at() is exact: no spurious wake-up
    // would run them).
    for (SimApp* app : apps_) app->run(now_);
    a_->poll(now_);
    b_->poll(now_);
}

bool SimNet::run_until(const std::function<bool()>& pred, Duration limit) {
    const Instant end = now_ + limit;
    if (!pred()) kick();
    while (!pred()) {
        if (next_due() > end) return pred();
        if (!step()) return pred();
    }
    return true;
}

void SimNet::run_for(Duration d) {
    const Instant end = now_ + d;
    kick();
    while (next_due() <= end) {
        if (!step()) break;
    }
    now_ = std::max(now_, end);
}

std::uint64_t SimNet::counter(bool side_a, std::string_view name) const {
    std::uint64_t v = 0;
    (side_a ? *a_ : *b_).visit_counters([&](std::string_view n, std::uint64_t value) {
        if (n == name) v = value;
    });
    return v;
}

void StreamSender::run(Instant now) {
    if (finished_ || !conn_.valid()) return;
    const tcp::ConnInfo info = stack_.info(conn_);
    if (info.state == tcp::State::kClosed) return;
    while (written_ < data_.size()) {
        const std::size_t n = stack_.send(now, conn_, std::span(data_).subspan(written_));
        if (n == 0) break;
        written_ += n;
    }
    if (written_ == data_.size()) {
        if (close_after_)
            stack_.close(now, conn_);
        else
            stack_.shutdown_write(now, conn_);
        finished_ = true;
    }
}

void StreamReceiver::run(Instant now) {
    if (eof_ || !conn_.valid()) return;
    if (interval_ > Duration::zero() && now < next_read_) return;
    std::vector<std::uint8_t> buf(chunk_);
    const std::size_t n = stack_.recv(now, conn_, buf);
    received_.insert(received_.end(), buf.begin(), buf.begin() + static_cast<std::ptrdiff_t>(n));
    if (interval_ > Duration::zero()) next_read_ = now + interval_;
    if (interval_ == Duration::zero() && n == chunk_) {
        // keep draining while data is there
        for (;;) {
            const std::size_t m = stack_.recv(now, conn_, buf);
            received_.insert(received_.end(), buf.begin(), buf.begin() + static_cast<std::ptrdiff_t>(m));
            if (m < chunk_) break;
        }
    }
    if (stack_.info(conn_).eof) {
        eof_ = true;
        if (close_on_eof) stack_.close(now, conn_);
    }
}

Instant StreamReceiver::wake_at() const {
    if (eof_ || !conn_.valid() || interval_ == Duration::zero()) return kNever;
    return next_read_;
}

std::vector<std::uint8_t> pattern(std::size_t n, std::uint64_t seed) {
    std::vector<std::uint8_t> v(n);
    std::uint64_t x = seed * 0x9e3779b97f4a7c15ull + 1;
    for (std::size_t i = 0; i < n; ++i) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        v[i] = static_cast<std::uint8_t>(x);
    }
    return v;
}

}  // namespace tapstack::sim
