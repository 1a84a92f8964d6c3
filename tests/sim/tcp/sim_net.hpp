// A deterministic simulated network for TCP tests: two TcpStacks joined by a
// virtual link on a virtual clock.
//
// Theory of operation
// -------------------
// Each stack's SegmentSink hands segments to the link, which decides with a
// seeded PRNG whether to drop, duplicate, corrupt (one flipped bit, so the
// receiver's checksum rejects it) or delay/reorder each one, and queues it
// for delivery at a virtual time. `step()` advances the clock to the next
// thing that is due (a delivery, a stack's poll_at(), an application's
// wake-up), delivers, runs the applications and polls both stacks. Nothing
// reads a real clock, so a run is a pure function of the seed; every failing
// check prints the seed. With TAPSTACK_SIM_PCAP=DIR in the environment each
// SimNet also writes DIR/sim-SEED-N.pcap (raw IPv4, virtual timestamps) of
// every segment put on the wire, before faults, for Wireshark or tcpdump.
// Both stacks have an IPv4 and an IPv6 address; a connection is of the
// family its connect() names.
#pragma once

#include <cstdint>
#include <cstdio>
#include <functional>
#include <map>
#include <memory>
#include <random>
#include <vector>

#include "stack/tcp/tcp_stack.hpp"
#include "stack/time.hpp"
#include "stack/wire/addresses.hpp"

namespace tapstack::sim {

struct LinkFaults {
    double drop = 0;     // probability per segment
    double duplicate = 0;
    double corrupt = 0;
    double reorder = 0;  // probability of an extra random delay
    Duration delay = milliseconds(5);
    Duration reorder_delay = milliseconds(20);  // maximum extra delay
};

// Something driven by the simulation besides the stacks (an application).
class SimApp {
public:
    virtual ~SimApp() = default;
    virtual void run(Instant now) = 0;
    virtual Instant wake_at() const { return kNever; }
};

class SimNet {
public:
    struct Packet {
        wire::IpAddress src;  // both of one family
        wire::IpAddress dst;
        std::vector<std::uint8_t> bytes;
    };

    SimNet(std::uint64_t seed, const tcp::TcpConfig& a_config, const tcp::TcpConfig& b_config,
           LinkFaults a_to_b = {}, LinkFaults b_to_a = {});
    ~SimNet();

    static tcp::TcpConfig default_config(wire::Ipv4Address addr);
    static constexpr wire::Ipv4Address kAddrA = wire::Ipv4Address::from_octets(10, 0, 0, 1);
    static constexpr wire::Ipv4Address kAddrB = wire::Ipv4Address::from_octets(10, 0, 0, 2);
    // Each stack's IPv6 address too (SegmentSink::source_for() gives it to
    // connect()); one link carries both families.
    static constexpr wire::Ipv6Address kAddr6A = wire::Ipv6Address::from_groups({0xfd00, 0, 0, 0, 0, 0, 0, 1});
    static constexpr wire::Ipv6Address kAddr6B = wire::Ipv6Address::from_groups({0xfd00, 0, 0, 0, 0, 0, 0, 2});

    tcp::TcpStack& a() { return *a_; }
    tcp::TcpStack& b() { return *b_; }
    Instant now() const { return now_; }
    std::uint64_t seed() const { return seed_; }

    void add_app(SimApp* app) { apps_.push_back(app); }
    // Observer of every segment put on the wire (before faults).
    std::function<void(const Packet&)> on_wire;
    // Filter applied before faults: return false to drop this segment.
    std::function<bool(const Packet&)> filter;

    // Puts a packet on the link toward B (or A) to arrive `after` from now,
    // bypassing filter and faults (a test re-injecting a held segment).
    // Called from `filter`, it arrives right behind the packet being
    // filtered when `after` is the link delay.
    void deliver_later(bool to_b, Packet p, Duration after);

    // Advances to the next due thing; false when nothing is scheduled.
    bool step();
    // Runs the applications and polls both stacks at the current time
    // (run_until() and run_for() start with it).
    void kick();
    // Steps until pred() holds or virtual time passes `limit`.
    bool run_until(const std::function<bool()>& pred, Duration limit);
    // Steps until virtual time reaches now + d (or nothing is scheduled).
    void run_for(Duration d);

    std::uint64_t delivered() const { return delivered_; }
    std::uint64_t counter(bool side_a, std::string_view name) const;

private:
    class Sink;
    void enqueue(bool from_a, Packet p);
    Instant next_due() const;
    void capture(const Packet& p);

    std::uint64_t seed_;
    std::mt19937_64 rng_;
    LinkFaults faults_[2];
    std::unique_ptr<Sink> sink_a_;
    std::unique_ptr<Sink> sink_b_;
    std::unique_ptr<tcp::TcpStack> a_;
    std::unique_ptr<tcp::TcpStack> b_;
    std::multimap<std::pair<Instant, std::uint64_t>, std::pair<bool, Packet>> queue_;  // (time, order) -> (to_b, packet)
    std::uint64_t order_ = 0;
    std::uint64_t delivered_ = 0;
    Instant now_ = instant_from_ns(1'000'000'000);
    std::vector<SimApp*> apps_;
    std::FILE* pcap_ = nullptr;
};

// Moves `data` through a connection: the sender writes everything then
// shuts down (or closes), the receiver reads `read_chunk` bytes every
// `read_interval` (0 = whenever woken) and records what it got and EOF.
class StreamSender : public SimApp {
public:
    StreamSender(tcp::TcpStack& stack, const std::vector<std::uint8_t>& data, bool close_after)
        : stack_(stack), data_(data), close_after_(close_after) {}
    void attach(tcp::ConnId c) { conn_ = c; }
    void run(Instant now) override;
    bool done() const { return finished_; }

private:
    tcp::TcpStack& stack_;
    const std::vector<std::uint8_t>& data_;
    bool close_after_;
    tcp::ConnId conn_;
    std::size_t written_ = 0;
    bool finished_ = false;
};

class StreamReceiver : public SimApp {
public:
    StreamReceiver(tcp::TcpStack& stack, std::size_t read_chunk, Duration read_interval)
        : stack_(stack), chunk_(read_chunk), interval_(read_interval) {}
    void attach(tcp::ConnId c) { conn_ = c; }
    void run(Instant now) override;
    Instant wake_at() const override;
    bool eof() const { return eof_; }
    const std::vector<std::uint8_t>& received() const { return received_; }
    tcp::ConnId conn() const { return conn_; }
    bool close_on_eof = true;

private:
    tcp::TcpStack& stack_;
    std::size_t chunk_;
    Duration interval_;
    tcp::ConnId conn_;
    Instant next_read_{};
    std::vector<std::uint8_t> received_;
    bool eof_ = false;
};

std::vector<std::uint8_t> pattern(std::size_t n, std::uint64_t seed);

}  // namespace tapstack::sim
