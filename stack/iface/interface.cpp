// Interface: construction, timers and the public API (interface.hpp).
// The parts are described in interface_impl.hpp.
#include "stack/iface/interface_impl.hpp"

#include <algorithm>
#include <vector>

namespace tapstack::iface {

using wire::Ipv4Address;
using wire::MacAddress;

namespace {

tcp::TcpConfig tcp_config_for(const InterfaceConfig& c) {
    tcp::TcpConfig t = c.tcp;
    t.local_address = c.address.address;
    t.mtu = c.mtu;
    return t;
}

ArpCacheConfig arp_config_for(const InterfaceConfig& c) {
    return ArpCacheConfig{c.arp_entry_lifetime, c.arp_retry_interval, c.arp_max_retries,
                          c.arp_queue_per_host, c.arp_cache_size,     c.arp_queue_max_bytes};
}

ReassemblyConfig reassembly_config_for(const InterfaceConfig& c) {
    return ReassemblyConfig{c.reassembly_timeout, c.reassembly_max_bytes, c.reassembly_max_datagrams};
}

}  // namespace

Interface::Impl::Impl(const InterfaceConfig& c, FrameSink& s, const tcp::Secret& secret)
    : config(c),
      sink(s),
      arp(arp_config_for(c)),
      reasm(reassembly_config_for(c)),
      icmp_errors(c.icmp_error_rate_per_sec),
      ip_ids(secret),
      ip6(c.ipv6, c.mac, c.mtu, *this, secret),
      tcp(tcp_config_for(c), *this, secret) {
    ip6.set_transport(wire::ip_protocol::kTcp, &tcp6);
}

void Interface::Impl::flush_unreachable(Instant now) {
    if (unreachable.empty()) return;
    std::vector<Ipv4Address> hosts;
    hosts.swap(unreachable);
    std::sort(hosts.begin(), hosts.end());
    hosts.erase(std::unique(hosts.begin(), hosts.end()), hosts.end());
    for (Ipv4Address h : hosts) tcp.host_unreachable(now, h);
}

void Interface::Impl::poll(Instant now) {
    now_for_tcp = now;
    ArpCache::PollResult due;
    arp.poll(now, due);
    for (Ipv4Address ip : due.retry) send_arp_request(ip);
    for (const ArpCache::Refresh& r : due.refresh) {
        // RFC 1122 2.3.2.1 unicast poll: ask the host we believe in.
        ++st.arp_tx_requests;
        send_arp(wire::ArpOperation::kRequest, r.mac, MacAddress{}, r.ip);
    }
    for (const ArpCache::GiveUp& g : due.gave_up) {
        // Tell TCP about every destination that waited on this next hop
        // (the gateway stands for many).
        unreachable.push_back(g.ip);
        for (const ArpCache::Packet& p : g.dropped) {
            auto ip = wire::Ipv4View::check(p);
            if (ip) unreachable.push_back(ip->dst());
        }
    }
    std::vector<Reassembler::TimedOut> timed_out;
    reasm.poll(now, timed_out);
    for (const Reassembler::TimedOut& t : timed_out) {
        send_icmp_error(now, wire::icmp_type::kTimeExceeded, wire::icmp_code::kReassemblyTimeExceeded, t.header,
                        t.leading_payload, false);
    }
    ip6.poll(now);
    tcp.poll(now);
    flush_unreachable(now);
}

Instant Interface::Impl::poll_at() const {
    if (!unreachable.empty()) return Instant{};
    return std::min({arp.poll_at(), reasm.poll_at(), ip6.poll_at(), tcp.poll_at()});
}

Interface::Interface(const InterfaceConfig& config, FrameSink& sink, const tcp::Secret& secret)
    : impl_(std::make_unique<Impl>(config, sink, secret)) {}

Interface::~Interface() = default;

void Interface::receive_frame(Instant now, std::span<const std::uint8_t> frame) {
    receive_frame(now, frame, wire::RxOffload{});
}

void Interface::receive_frame(Instant now, std::span<const std::uint8_t> frame, const wire::RxOffload& offload) {
    impl_->now_for_tcp = now;
    impl_->receive_frame(now, frame, offload);
    impl_->flush_unreachable(now);
}

void Interface::poll(Instant now) { impl_->poll(now); }

Instant Interface::poll_at() const { return impl_->poll_at(); }

void Interface::announce(Instant /*now*/) {
    // RFC 5227 2.3: an ARP request with sender and target both our address.
    if (impl_->our_ip().is_unspecified()) return;
    ++impl_->st.arp_tx_announcements;
    impl_->send_arp(wire::ArpOperation::kRequest, MacAddress::broadcast(), MacAddress{}, impl_->our_ip());
}

tcp::TcpStack& Interface::tcp() { return impl_->tcp; }

const InterfaceConfig& Interface::config() const { return impl_->config; }

void Interface::set_arp_config(const InterfaceConfig& config) {
    InterfaceConfig& c = impl_->config;
    c.arp_entry_lifetime = config.arp_entry_lifetime;
    c.arp_retry_interval = config.arp_retry_interval;
    c.arp_max_retries = config.arp_max_retries;
    c.arp_queue_per_host = config.arp_queue_per_host;
    c.arp_cache_size = config.arp_cache_size;
    c.arp_queue_max_bytes = config.arp_queue_max_bytes;
    impl_->arp.set_config(arp_config_for(c));
}

void Interface::visit_metrics(const MetricVisitor& visit) const {
    impl_->visit_metrics(visit);
    impl_->ip6.visit_metrics(visit);
    impl_->tcp.visit_metrics(visit);
}

bool Interface::has_route(wire::Ipv4Address dst) const { return impl_->route(dst).has_value(); }

void Interface::set_ipv6_transport(std::uint8_t next_header, Ipv6Transport* transport) {
    impl_->ip6.set_transport(next_header, transport);
}

std::uint16_t Interface::ipv6_path_mtu(Instant now, const wire::Ipv6Address& dst) const {
    return impl_->ip6.path_mtu(now, dst);
}

std::optional<wire::Ipv6Address> Interface::ipv6_source_for(const wire::Ipv6Address& dst) const {
    return impl_->ip6.source_for(dst);
}

std::vector<Ipv6AddressInfo> Interface::ipv6_addresses() const { return impl_->ip6.addresses(); }

void Interface::visit_counters(const std::function<void(std::string_view, std::uint64_t)>& visit) const {
    visit_metrics([&visit](const MetricInfo& m, std::uint64_t value) { visit(m.name, value); });
}

}  // namespace tapstack::iface
