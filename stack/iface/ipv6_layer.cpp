// Ipv6Layer: construction, start (DAD), timers, counters; see
// ipv6_layer.hpp for the parts.
#include "stack/iface/ipv6_layer.hpp"

#include <algorithm>

namespace tapstack::iface {
namespace {

NeighborCacheConfig neighbor_config(const Ipv6Config& c) {
    NeighborCacheConfig n;
    n.reachable_time = c.nd_reachable_time;
    n.retrans_timer = c.nd_retrans_timer;
    n.max_multicast_solicit = c.nd_max_solicit;
    n.max_unicast_solicit = c.nd_max_solicit;
    n.queue_per_host = c.nd_queue_per_host;
    n.cache_size = c.nd_cache_size;
    n.max_queued_bytes = c.nd_queue_max_bytes;
    return n;
}

}  // namespace

Ipv6Layer::Ipv6Layer(const Ipv6Config& config, const wire::MacAddress& mac, std::uint16_t link_mtu, LinkTx& link,
                     const tcp::Secret& secret)
    : config_(config),
      mac_(mac),
      link_mtu_(std::max(link_mtu, wire::kIpv6MinimumMtu)),
      configured_mtu_(link_mtu_),
      link_(link),
      random_key_(tcp::derive_key(secret, tcp::KeyUse::kIpv6Random)),
      addresses_(wire::Ipv6Address::link_local_from_mac(mac), config.addresses, config.dad_transmits),
      neighbors_(neighbor_config(config)),
      routes_(config.addresses, config.gateway),
      reasm_(Reassembly6Config{config.reassembly_timeout, config.reassembly_max_bytes, config.reassembly_max_datagrams}),
      icmp_errors_(config.icmp_error_rate_per_sec),
      hop_limit_(config.hop_limit),
      base_reachable_time_(config.nd_reachable_time) {
    addresses_.set_retrans_timer(config.nd_retrans_timer);
    set_base_reachable_time(config.nd_reachable_time);
}

// Unpredictable values (fragment identifications, RFC 7739; random delays
// and reachable times) from SipHash of a counter under a key of its own.
std::uint64_t Ipv6Layer::random64() {
    std::uint8_t counter[8];
    wire::store_be32(counter, static_cast<std::uint32_t>(random_counter_ >> 32));
    wire::store_be32(counter + 4, static_cast<std::uint32_t>(random_counter_));
    ++random_counter_;
    return tcp::siphash24(random_key_, counter);
}

// RFC 4861 6.3.2: ReachableTime is uniform in 0.5..1.5 x BaseReachableTime.
void Ipv6Layer::set_base_reachable_time(Duration base) {
    base_reachable_time_ = base;
    const std::int64_t permille = 500 + static_cast<std::int64_t>(random64() % 1001);
    neighbors_.set_reachable_time(Duration(base.count() / 1000 * permille));
}

void Ipv6Layer::address_event(Ipv6AddressEvent::Kind kind, const wire::Ipv6Address& a,
                              std::optional<wire::MacAddress> from) {
    if (config_.on_address_event) config_.on_address_event(Ipv6AddressEvent{kind, a, from});
}

void Ipv6Layer::start(Instant now) {
    if (started_ || !config_.enabled) return;
    started_ = true;
    // RFC 4862 5.4.2: the first probe after a random delay up to
    // MAX_RTR_SOLICITATION_DELAY, so hosts starting together do not collide.
    const Duration delay(static_cast<std::int64_t>(random64() % static_cast<std::uint64_t>(
                                                                    kMaxRtrSolicitationDelay.count())));
    Ipv6AddressTable::Due due;
    addresses_.start(now, delay, due);
    handle_due(now, due);
}

void Ipv6Layer::handle_due(Instant now, const Ipv6AddressTable::Due& due) {
    for (const wire::Ipv6Address& a : due.solicit) {
        inc(Counter6::nd_dad_solicitations);
        send_neighbor_solicitation(now, a, a.solicited_node(), true);
    }
    for (const wire::Ipv6Address& a : due.ready) {
        inc(Counter6::nd_dad_completed);
        address_event(Ipv6AddressEvent::Kind::kReady, a);
        if (a == addresses_.link_local() && config_.accept_ra && rs_sent_ == 0) rs_next_ = now;
    }
}

bool Ipv6Layer::accepts_link_multicast(const wire::MacAddress& mac) const {
    return config_.enabled && addresses_.accepts_link_multicast(mac);
}

void Ipv6Layer::poll(Instant now) {
    if (!config_.enabled) return;
    start(now);
    Ipv6AddressTable::Due due;
    addresses_.poll(now, due);
    handle_due(now, due);
    if (now >= rs_next_) send_router_solicitation(now);

    NeighborCache::PollResult nd;
    neighbors_.poll(now, nd);
    for (const wire::Ipv6Address& ip : nd.solicit) send_neighbor_solicitation(now, ip, ip.solicited_node(), false);
    for (const NeighborCache::Probe& probe : nd.probe) send_neighbor_solicitation(now, probe.ip, probe.ip, false);
    for (const NeighborCache::GiveUp& g : nd.gave_up) {
        if (g.was_router) routes_.router_unreachable(g.ip);
        unreachable_.push_back(g.ip);
        for (const NeighborCache::Packet& packet : g.dropped) {
            if (auto v = wire::Ipv6View::check(packet)) unreachable_.push_back(v->dst());
        }
    }
    std::vector<Reassembler6::TimedOut> timed_out;
    reasm_.poll(now, timed_out);
    for (const Reassembler6::TimedOut& t : timed_out) {
        // RFC 8200 4.5: time exceeded, code 1, only when the first fragment came.
        send_error_about(now, t.quote, t.link_multicast, wire::icmpv6_type::kTimeExceeded,
                         wire::icmpv6_code::kReassemblyTimeExceeded, 0, false);
    }
    pmtu_.poll(now);
    inc(Counter6::nd_routes_expired, routes_.poll(now));

    if (unreachable_.empty()) return;
    std::vector<wire::Ipv6Address> hosts;
    hosts.swap(unreachable_);
    std::sort(hosts.begin(), hosts.end());
    hosts.erase(std::unique(hosts.begin(), hosts.end()), hosts.end());
    for (Ipv6Transport* t : transports_) {
        if (t == nullptr) continue;
        for (const wire::Ipv6Address& h : hosts) t->unreachable(now, h);
    }
}

Instant Ipv6Layer::poll_at() const {
    if (!config_.enabled) return kNever;
    if (!started_ || !unreachable_.empty()) return Instant{};
    return std::min({addresses_.poll_at(), rs_next_, neighbors_.poll_at(), reasm_.poll_at(), pmtu_.poll_at(),
                     routes_.poll_at()});
}

void Ipv6Layer::visit_metrics(const MetricVisitor& visit) const {
    if (!config_.enabled) return;
    st_.visit(visit);
    reasm_.visit_metrics(visit);
    pmtu_.visit_metrics(visit);
    neighbors_.visit_metrics(visit);
    static constexpr MetricInfo kRouters{"nd.routers", MetricKind::kGauge, "Default routers learned from advertisements"};
    static constexpr MetricInfo kPrefixes{"nd.prefixes", MetricKind::kGauge,
                                          "On-link prefixes learned from advertisements"};
    visit(kRouters, routes_.routers());
    visit(kPrefixes, routes_.prefixes());
}

}  // namespace tapstack::iface
