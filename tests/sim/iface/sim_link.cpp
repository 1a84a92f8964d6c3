// The simulated hub, its stations and the frame builders; see sim_link.hpp.
#include "tests/sim/iface/sim_link.hpp"

#include <doctest/doctest.h>
#include <algorithm>
#include <cstdlib>

#include "stack/iface/ipv4_fragmenter.hpp"

namespace sim {

Hub::Hub(std::uint64_t seed, LinkParams params) : seed_(seed), params_(params), rng_(seed) {
    if (const char* path = std::getenv("TAPSTACK_SIM_PCAP")) {
        const std::string name = std::string(path) + "." + std::to_string(seed) + ".pcap";
        pcap_ = std::fopen(name.c_str(), "wb");
        if (pcap_) {
            // pcap global header: magic, v2.4, tz 0, sigfigs 0, snaplen, LINKTYPE_ETHERNET (nanosecond magic).
            const std::uint32_t hdr[6] = {0xa1b23c4d, 0x00040002, 0, 0, 262144, 1};
            std::fwrite(hdr, sizeof hdr, 1, pcap_);
        }
    }
}

Hub::~Hub() {
    if (pcap_) std::fclose(pcap_);
}

void Hub::write_pcap(std::span<const std::uint8_t> frame) {
    if (!pcap_) return;
    const std::int64_t ns = to_ns(now_);
    const std::uint32_t rec[4] = {static_cast<std::uint32_t>(ns / 1'000'000'000),
                                  static_cast<std::uint32_t>(ns % 1'000'000'000),
                                  static_cast<std::uint32_t>(frame.size()), static_cast<std::uint32_t>(frame.size())};
    std::fwrite(rec, sizeof rec, 1, pcap_);
    std::fwrite(frame.data(), 1, frame.size(), pcap_);
}

std::size_t Hub::attach(Station& s) {
    stations_.push_back(&s);
    return stations_.size() - 1;
}

void Hub::send(std::size_t from, std::span<const std::uint8_t> frame) {
    write_pcap(frame);
    std::uniform_real_distribution<double> coin(0.0, 1.0);
    std::uniform_int_distribution<std::int64_t> jitter(0, params_.jitter.count());
    for (std::size_t to = 0; to < stations_.size(); ++to) {
        if (to == from) continue;
        if (params_.drop_rate > 0 && coin(rng_) < params_.drop_rate) {
            ++dropped_;
            continue;
        }
        const Instant at = now_ + params_.base_delay + Duration(jitter(rng_));
        in_flight_.push_back(InFlight{at, order_++, to, Frame(frame.begin(), frame.end())});
    }
}

void Hub::run_until(Instant end, const std::function<bool()>& done) {
    for (int steps = 0;; ++steps) {
        REQUIRE_MESSAGE(steps < 2'000'000, "simulation livelock, seed " << seed_);
        if (done && done()) return;
        Instant next = kNever;
        for (const InFlight& f : in_flight_) next = std::min(next, f.at);
        for (Station* s : stations_) next = std::min(next, s->poll_at());
        if (next > end) {
            now_ = std::max(now_, end);
            return;
        }
        now_ = std::max(now_, next);
        // Deliver everything due, oldest first (later sends land behind).
        std::vector<InFlight> due;
        for (auto it = in_flight_.begin(); it != in_flight_.end();) {
            if (it->at <= now_) {
                due.push_back(std::move(*it));
                it = in_flight_.erase(it);
            } else {
                ++it;
            }
        }
        std::sort(due.begin(), due.end(),
                  [](const InFlight& a, const InFlight& b) { return a.at != b.at ? a.at < b.at : a.order < b.order; });
        for (const InFlight& f : due) stations_[f.to]->deliver(now_, f.frame);
        for (Station* s : stations_) {
            if (s->poll_at() <= now_) s->poll(now_);
        }
    }
}

IfaceStation::IfaceStation(Hub& hub, const iface::InterfaceConfig& config, std::uint64_t seed)
    : hub_(hub), port_(hub.attach(*this)), iface_(std::make_unique<iface::Interface>(config, *this, seed)) {}

bool IfaceStation::transmit(std::span<const std::uint8_t> frame) {
    hub_.send(port_, frame);
    return true;
}

std::uint64_t IfaceStation::counter(std::string_view name) const {
    std::optional<std::uint64_t> value;
    iface_->visit_counters([&](std::string_view n, std::uint64_t v) {
        if (n == name) value = v;
    });
    REQUIRE_MESSAGE(value.has_value(), "no counter named " << name);
    return *value;
}

std::string IfaceStation::nonzero_counters() const {
    std::string out;
    iface_->visit_counters([&](std::string_view n, std::uint64_t v) {
        if (v == 0) return;
        out += std::string(n) + "=" + std::to_string(v) + " ";
    });
    return out;
}

RawStation::RawStation(Hub& hub, wire::MacAddress m, wire::Ipv4Address ip)
    : hub_(hub), port_(hub.attach(*this)), mac_(m), ip_(ip) {}

void RawStation::deliver(Instant /*now*/, std::span<const std::uint8_t> frame) {
    sniffed_.emplace_back(frame.begin(), frame.end());
    auto eth = wire::EthernetView::check(frame);
    if (eth && ip6_ && eth->ethertype() == wire::ethertype::kIpv6 && eth->dst().is_multicast()) {
        received_.emplace_back(frame.begin(), frame.end());
        answer_solicitation(frame);
        return;
    }
    if (!eth || (eth->dst() != mac_ && !eth->dst().is_broadcast())) return;
    if (ip6_ && eth->ethertype() == wire::ethertype::kIpv6) answer_solicitation(frame);
    if (eth->ethertype() != wire::ethertype::kArp) {
        received_.emplace_back(frame.begin(), frame.end());
        return;
    }
    arp_received_.emplace_back(frame.begin(), frame.end());
    auto view = wire::ArpView::check(eth->payload());
    if (!view) return;
    auto a = wire::ArpRepr::parse(*view);
    if (!a || !answer_arp || a->operation != wire::ArpOperation::kRequest || a->target_ip != ip_) return;
    send(arp_frame(a->sender_mac, wire::ArpRepr{wire::ArpOperation::kReply, mac_, ip_, a->sender_mac, a->sender_ip}));
}

void RawStation::answer_solicitation(std::span<const std::uint8_t> frame) {
    auto eth = wire::EthernetView::check(frame);
    auto ip = wire::Ipv6View::check(eth->payload());
    if (!answer_nd || !ip || ip->next_header() != wire::next_header::kIcmpv6 || ip->src().is_unspecified()) return;
    auto icmp = wire::Icmpv6View::check(ip->payload());
    if (!icmp || icmp->type() != wire::icmpv6_type::kNeighborSolicitation) return;
    auto ns = wire::NdpRepr::parse(*icmp, ip->src(), ip->dst());
    const wire::Ipv6Address link_local = wire::Ipv6Address::link_local_from_mac(mac_);
    if (!ns || (ns->target != *ip6_ && ns->target != link_local)) return;
    wire::NdpRepr na;
    na.type = wire::icmpv6_type::kNeighborAdvertisement;
    na.target = ns->target;
    na.solicited = true;
    na.override_ = true;
    na.options.target_link_address = mac_;
    Frame msg(na.buffer_len());
    na.emit(msg, ns->target, ip->src());
    wire::Ipv6Repr h;
    h.src = ns->target;
    h.dst = ip->src();
    h.next_header = wire::next_header::kIcmpv6;
    h.hop_limit = 255;
    ++nd_answered;
    send(ipv6_frame(eth->src(), mac_, h, msg));
}

wire::MacAddress mac(std::uint8_t last) { return wire::MacAddress{{0x02, 0x00, 0x00, 0x00, 0x00, last}}; }

Frame ethernet(wire::MacAddress dst, wire::MacAddress src, std::uint16_t type, std::span<const std::uint8_t> payload) {
    Frame f(wire::EthernetRepr::buffer_len() + payload.size());
    wire::EthernetRepr{dst, src, type}.emit(f);
    std::copy(payload.begin(), payload.end(), f.begin() + 14);
    return f;
}

Frame arp_frame(wire::MacAddress eth_dst, const wire::ArpRepr& arp) {
    Frame p(wire::ArpRepr::buffer_len());
    arp.emit(p);
    return ethernet(eth_dst, arp.sender_mac, wire::ethertype::kArp, p);
}

Frame ipv4_frame(wire::MacAddress dst_mac, wire::MacAddress src_mac, wire::Ipv4Repr header,
                 std::span<const std::uint8_t> payload) {
    header.payload_len = static_cast<std::uint16_t>(payload.size());
    Frame p(header.buffer_len());
    header.emit(p);
    std::copy(payload.begin(), payload.end(), p.begin() + static_cast<std::ptrdiff_t>(header.header_len()));
    return ethernet(dst_mac, src_mac, wire::ethertype::kIpv4, p);
}

Frame ipv6_frame(wire::MacAddress dst_mac, wire::MacAddress src_mac, wire::Ipv6Repr header,
                 std::span<const std::uint8_t> payload) {
    header.payload_len = static_cast<std::uint16_t>(payload.size());
    Frame p(header.buffer_len());
    header.emit(p);
    std::copy(payload.begin(), payload.end(), p.begin() + 40);
    return ethernet(dst_mac, src_mac, wire::ethertype::kIpv6, p);
}

Frame echo_message(std::uint8_t type, std::uint16_t ident, std::uint16_t seq, std::span<const std::uint8_t> data) {
    wire::IcmpRepr r;
    r.type = type;
    r.ident = ident;
    r.seq = seq;
    r.data = data;
    Frame m(r.buffer_len());
    r.emit(m);
    return m;
}

std::vector<Frame> echo_request_frames(wire::MacAddress dst_mac, wire::MacAddress src_mac, wire::Ipv4Address src,
                                       wire::Ipv4Address dst, std::uint16_t ident, std::uint16_t seq,
                                       std::span<const std::uint8_t> data, std::uint16_t ip_id, std::uint16_t mtu) {
    const Frame message = echo_message(wire::icmp_type::kEchoRequest, ident, seq, data);
    wire::Ipv4Repr h;
    h.src = src;
    h.dst = dst;
    h.protocol = wire::ip_protocol::kIcmp;
    h.identification = ip_id;
    std::vector<Frame> frames;
    iface::fragment_ipv4(h, message, mtu, [&](const wire::Ipv4Repr& f, wire::Bytes chunk) {
        frames.push_back(ipv4_frame(dst_mac, src_mac, f, chunk));
    });
    return frames;
}

iface::InterfaceConfig iface_config(std::uint8_t host, wire::MacAddress m) {
    iface::InterfaceConfig c;
    c.mac = m;
    c.address = wire::Ipv4Cidr{wire::Ipv4Address::from_octets(10, 0, 0, host), 24};
    return c;
}

}  // namespace sim
