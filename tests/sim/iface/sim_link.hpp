// A simulated Ethernet segment on a virtual clock, for sim_iface.
//
// Theory of operation
// -------------------
// A Hub joins Stations: every frame a station sends reaches every other
// station (an Ethernet hub: the stations filter by MAC themselves) after a
// delay of `base_delay + uniform(0, jitter)`, unless the seeded RNG drops
// it (`drop_rate`, per receiving station). run_until() is a discrete event
// loop: it jumps virtual time to the next frame arrival or the next
// poll_at() of a station, delivers, polls, and repeats, so every timer path
// runs without waiting. A step cap turns a livelock into a test failure.
// With TAPSTACK_SIM_PCAP=<path> every frame on the wire is written to a
// pcap file (one per Hub; the path gets the seed appended).
#pragma once

#include <cstdint>
#include <cstdio>
#include <functional>
#include <memory>
#include <optional>
#include <random>
#include <span>
#include <string>
#include <vector>

#include "stack/iface/frame_sink.hpp"
#include "stack/iface/interface.hpp"
#include "stack/time.hpp"
#include "stack/wire/addresses.hpp"
#include "stack/wire/arp.hpp"
#include "stack/wire/ethernet.hpp"
#include "stack/wire/icmp.hpp"
#include "stack/wire/ipv4.hpp"
#include "stack/wire/ipv6.hpp"
#include "stack/wire/ndp.hpp"

namespace sim {

using namespace tapstack;
using Frame = std::vector<std::uint8_t>;

class Hub;

class Station {
public:
    virtual ~Station() = default;
    virtual void deliver(Instant now, std::span<const std::uint8_t> frame) = 0;
    virtual void poll(Instant /*now*/) {}
    virtual Instant poll_at() const { return kNever; }
};

struct LinkParams {
    Duration base_delay = microseconds(50);
    Duration jitter = microseconds(20);
    double drop_rate = 0.0;
};

class Hub {
public:
    Hub(std::uint64_t seed, LinkParams params);
    ~Hub();

    std::size_t attach(Station& s);
    void send(std::size_t from, std::span<const std::uint8_t> frame);
    // Runs the event loop until `end` or until `done()` holds after a step.
    void run_until(Instant end, const std::function<bool()>& done = {});
    void run_for(Duration d, const std::function<bool()>& done = {}) { run_until(now_ + d, done); }
    Instant now() const { return now_; }
    void set_drop_rate(double r) { params_.drop_rate = r; }
    std::uint64_t seed() const { return seed_; }
    std::uint64_t frames_dropped() const { return dropped_; }

private:
    struct InFlight {
        Instant at;
        std::uint64_t order;
        std::size_t to;
        Frame frame;
    };
    void write_pcap(std::span<const std::uint8_t> frame);

    std::uint64_t seed_;
    LinkParams params_;
    std::mt19937_64 rng_;
    std::vector<Station*> stations_;
    std::vector<InFlight> in_flight_;
    std::uint64_t order_ = 0;
    std::uint64_t dropped_ = 0;
    Instant now_{};
    std::FILE* pcap_ = nullptr;
};

// An Interface on the hub.
class IfaceStation final : public Station, public iface::FrameSink {
public:
    IfaceStation(Hub& hub, const iface::InterfaceConfig& config, std::uint64_t seed);
    void deliver(Instant now, std::span<const std::uint8_t> frame) override { iface_->receive_frame(now, frame); }
    void poll(Instant now) override { iface_->poll(now); }
    Instant poll_at() const override { return iface_->poll_at(); }
    bool transmit(std::span<const std::uint8_t> frame) override;
    iface::Interface& iface() { return *iface_; }
    std::uint64_t counter(std::string_view name) const;
    // "name=value ..." for every nonzero counter, for failure messages.
    std::string nonzero_counters() const;

private:
    Hub& hub_;
    std::size_t port_;
    std::unique_ptr<iface::Interface> iface_;
};

// A host the test drives by hand: it answers ARP for its own address (so
// interfaces can reach it), records every frame addressed to it, and sends
// whatever frames the test builds. With set_ipv6() it also answers
// neighbour solicitations for its IPv6 addresses (the given one and the
// link-local one of its MAC) and records IPv6 frames sent to any
// multicast group too.
class RawStation final : public Station {
public:
    RawStation(Hub& hub, wire::MacAddress mac, wire::Ipv4Address ip);
    void deliver(Instant now, std::span<const std::uint8_t> frame) override;
    void send(std::span<const std::uint8_t> frame) { hub_.send(port_, frame); }
    // Frames (to our MAC or broadcast) other than ARP, in arrival order.
    std::vector<Frame>& received() { return received_; }
    std::vector<Frame>& arp_received() { return arp_received_; }
    // Every frame seen on the wire, whoever it was for.
    std::vector<Frame>& sniffed() { return sniffed_; }
    wire::MacAddress mac() const { return mac_; }
    wire::Ipv4Address ip() const { return ip_; }
    void set_ipv6(const wire::Ipv6Address& address) { ip6_ = address; }
    bool answer_arp = true;
    bool answer_nd = true;
    std::size_t nd_answered = 0;  // neighbour advertisements sent in answer

private:
    Hub& hub_;
    std::size_t port_;
    wire::MacAddress mac_;
    wire::Ipv4Address ip_;
    std::optional<wire::Ipv6Address> ip6_;
    void answer_solicitation(std::span<const std::uint8_t> frame);
    std::vector<Frame> received_;
    std::vector<Frame> arp_received_;
    std::vector<Frame> sniffed_;
};

// --- Frame builders (our own wire Reprs) ---
wire::MacAddress mac(std::uint8_t last);
Frame ethernet(wire::MacAddress dst, wire::MacAddress src, std::uint16_t type, std::span<const std::uint8_t> payload);
Frame arp_frame(wire::MacAddress eth_dst, const wire::ArpRepr& arp);
// One IPv4 datagram (unfragmented) with the given payload.
Frame ipv4_frame(wire::MacAddress dst_mac, wire::MacAddress src_mac, wire::Ipv4Repr header,
                 std::span<const std::uint8_t> payload);
// One IPv6 packet (payload: extension headers and upper layer, as given).
Frame ipv6_frame(wire::MacAddress dst_mac, wire::MacAddress src_mac, wire::Ipv6Repr header,
                 std::span<const std::uint8_t> payload);
// An echo request's ICMP message.
Frame echo_message(std::uint8_t type, std::uint16_t ident, std::uint16_t seq, std::span<const std::uint8_t> data);
// An ICMP echo request as Ethernet frames, fragmented at `mtu` when needed.
std::vector<Frame> echo_request_frames(wire::MacAddress dst_mac, wire::MacAddress src_mac, wire::Ipv4Address src,
                                       wire::Ipv4Address dst, std::uint16_t ident, std::uint16_t seq,
                                       std::span<const std::uint8_t> data, std::uint16_t ip_id,
                                       std::uint16_t mtu = 1500);

iface::InterfaceConfig iface_config(std::uint8_t host, wire::MacAddress mac);

}  // namespace sim
