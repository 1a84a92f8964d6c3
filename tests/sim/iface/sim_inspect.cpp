// Decoding received frames for sim_iface assertions; see sim_inspect.hpp.
#include "tests/sim/iface/sim_inspect.hpp"

#include <map>

#include "stack/iface/reassembler.hpp"

namespace sim {

std::vector<IcmpSeen> icmp_messages(const std::vector<Frame>& frames) {
    std::vector<IcmpSeen> out;
    iface::Reassembler reasm(iface::ReassemblyConfig{});
    std::map<std::uint16_t, std::pair<std::size_t, std::size_t>> frag_info;  // id -> (count, largest)
    for (const Frame& f : frames) {
        auto eth = wire::EthernetView::check(f);
        if (!eth || eth->ethertype() != wire::ethertype::kIpv4) continue;
        auto ip = wire::Ipv4View::check(eth->payload());
        if (!ip || ip->protocol() != wire::ip_protocol::kIcmp) continue;
        wire::Ipv4Repr header;
        std::vector<std::uint8_t> payload;
        std::size_t count = 1;
        std::size_t largest = f.size();
        if (ip->is_fragment()) {
            auto& info = frag_info[ip->identification()];
            ++info.first;
            info.second = std::max(info.second, f.size());
            auto done = reasm.add(Instant{}, *ip);
            if (!done) continue;
            header = done->header;
            payload = std::move(done->payload);
            count = info.first;
            largest = info.second;
            frag_info.erase(ip->identification());
        } else {
            header = wire::Ipv4Repr::parse(*ip);
            payload.assign(ip->payload().begin(), ip->payload().end());
        }
        auto view = wire::IcmpView::check(payload);
        if (!view) continue;
        auto msg = wire::IcmpRepr::parse(*view);
        if (!msg) continue;
        IcmpSeen seen;
        seen.ip = header;
        seen.type = msg->type;
        seen.code = msg->code;
        seen.ident = msg->ident;
        seen.seq = msg->seq;
        seen.data.assign(msg->data.begin(), msg->data.end());
        seen.fragments = count;
        seen.largest_frame = largest;
        out.push_back(std::move(seen));
    }
    return out;
}

std::vector<std::uint8_t> pattern(std::size_t n, std::uint8_t salt) {
    std::vector<std::uint8_t> v(n);
    for (std::size_t i = 0; i < n; ++i) v[i] = static_cast<std::uint8_t>((i * 31) ^ (i >> 7) ^ salt);
    return v;
}

}  // namespace sim
