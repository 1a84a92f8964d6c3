// DAD states, group membership and source selection; see ipv6_addresses.hpp.
#include "stack/iface/ipv6_addresses.hpp"

#include <algorithm>

namespace tapstack::iface {
namespace {

std::size_t common_prefix_len(const wire::Ipv6Address& a, const wire::Ipv6Address& b) {
    std::size_t n = 0;
    for (std::size_t i = 0; i < 16; ++i) {
        const std::uint8_t x = a.bytes[i] ^ b.bytes[i];
        if (x == 0) {
            n += 8;
            continue;
        }
        for (int bit = 7; bit >= 0 && (x & (1u << bit)) == 0; --bit) ++n;
        break;
    }
    return n;
}

}  // namespace

Ipv6AddressTable::Ipv6AddressTable(const wire::Ipv6Address& link_local,
                                   const std::vector<wire::Ipv6Cidr>& configured, std::uint32_t dad_transmits)
    : dad_transmits_(dad_transmits) {
    entries_.push_back(Entry{Ipv6AddressInfo{wire::Ipv6Cidr{link_local, 64}, Ipv6AddressState::kTentative}});
    for (const wire::Ipv6Cidr& c : configured) {
        if (find(c.address) != nullptr) continue;
        entries_.push_back(Entry{Ipv6AddressInfo{c, Ipv6AddressState::kTentative}});
    }
}

const Ipv6AddressTable::Entry* Ipv6AddressTable::find(const wire::Ipv6Address& a) const {
    for (const Entry& e : entries_) {
        if (e.info.cidr.address == a) return &e;
    }
    return nullptr;
}

void Ipv6AddressTable::advance(Instant now, Entry& e, Due& out) {
    if (e.info.state != Ipv6AddressState::kTentative || now < e.next) return;
    if (e.probes_sent < dad_transmits_) {
        ++e.probes_sent;
        e.next = now + retrans_timer_;
        out.solicit.push_back(e.info.cidr.address);
        return;
    }
    // RFC 4862 5.4: RetransTimer after the last probe without a reply.
    e.info.state = Ipv6AddressState::kPreferred;
    out.ready.push_back(e.info.cidr.address);
}

void Ipv6AddressTable::start(Instant now, Duration delay, Due& out) {
    for (Entry& e : entries_) {
        if (e.started) continue;
        e.started = true;
        e.next = dad_transmits_ == 0 ? now : now + delay;
        advance(now, e, out);
    }
}

void Ipv6AddressTable::poll(Instant now, Due& out) {
    if (disabled_) return;
    for (Entry& e : entries_) {
        if (e.started) advance(now, e, out);
    }
}

Instant Ipv6AddressTable::poll_at() const {
    Instant at = kNever;
    if (disabled_) return at;
    for (const Entry& e : entries_) {
        if (e.started && e.info.state == Ipv6AddressState::kTentative) at = std::min(at, e.next);
    }
    return at;
}

bool Ipv6AddressTable::mark_duplicate(const wire::Ipv6Address& a) {
    for (std::size_t i = 0; i < entries_.size(); ++i) {
        Entry& e = entries_[i];
        if (e.info.cidr.address != a || e.info.state == Ipv6AddressState::kDuplicate) continue;
        e.info.state = Ipv6AddressState::kDuplicate;
        if (i == 0) disabled_ = true;
        return true;
    }
    return false;
}

std::optional<Ipv6AddressState> Ipv6AddressTable::state(const wire::Ipv6Address& a) const {
    const Entry* e = find(a);
    if (e == nullptr) return std::nullopt;
    return e->info.state;
}

bool Ipv6AddressTable::accepts_destination(const wire::Ipv6Address& dst) const {
    if (disabled_) return false;
    if (dst == wire::Ipv6Address::all_nodes()) return true;
    for (const Entry& e : entries_) {
        if (e.info.state == Ipv6AddressState::kDuplicate) continue;
        if (e.info.state == Ipv6AddressState::kPreferred && e.info.cidr.address == dst) return true;
        if (e.info.cidr.address.solicited_node() == dst) return true;
    }
    return false;
}

bool Ipv6AddressTable::accepts_link_multicast(const wire::MacAddress& mac) const {
    if (disabled_) return false;
    if (mac == wire::Ipv6Address::all_nodes().multicast_mac()) return true;
    for (const Entry& e : entries_) {
        if (e.info.state == Ipv6AddressState::kDuplicate) continue;
        if (e.info.cidr.address.solicited_node().multicast_mac() == mac) return true;
    }
    return false;
}

std::optional<wire::Ipv6Address> Ipv6AddressTable::source_for(const wire::Ipv6Address& dst) const {
    if (disabled_) return std::nullopt;
    if (is_preferred(dst)) return dst;  // RFC 6724 rule 1
    const bool link_scope = dst.is_link_local() || (dst.is_multicast() && dst.multicast_scope() <= 2);
    const Entry& ll = entries_.front();
    const bool ll_ok = ll.info.state == Ipv6AddressState::kPreferred;
    if (link_scope) {
        if (ll_ok) return ll.info.cidr.address;  // rule 2: the smallest adequate scope
        return std::nullopt;
    }
    const Entry* best = nullptr;
    std::size_t best_len = 0;
    for (std::size_t i = 1; i < entries_.size(); ++i) {
        const Entry& e = entries_[i];
        if (e.info.state != Ipv6AddressState::kPreferred) continue;
        const std::size_t len = common_prefix_len(e.info.cidr.address, dst);
        if (best == nullptr || len > best_len) {  // rule 8: longest matching prefix
            best = &e;
            best_len = len;
        }
    }
    if (best != nullptr) return best->info.cidr.address;
    if (ll_ok) return ll.info.cidr.address;
    return std::nullopt;
}

std::vector<Ipv6AddressInfo> Ipv6AddressTable::list() const {
    std::vector<Ipv6AddressInfo> out;
    for (const Entry& e : entries_) out.push_back(e.info);
    return out;
}

}  // namespace tapstack::iface
