// IPv6 frame builders and decoder for the sim tests; see sim6.hpp.
#include "tests/sim/iface/sim6.hpp"

#include <algorithm>
#include <map>

#include "stack/iface/reassembler6.hpp"

namespace sim {

iface::InterfaceConfig iface_config6(std::uint8_t host) {
    iface::InterfaceConfig c = iface_config(host, mac(host));
    c.ipv6.enabled = true;
    c.ipv6.addresses = {wire::Ipv6Cidr{ip6(host), 64}};
    return c;
}

Frame icmpv6_message(const wire::Icmpv6Repr& m, const wire::Ipv6Address& src, const wire::Ipv6Address& dst) {
    Frame out(m.buffer_len());
    m.emit(out, src, dst);
    return out;
}

Frame ndp_message(const wire::NdpRepr& m, const wire::Ipv6Address& src, const wire::Ipv6Address& dst) {
    Frame out(m.buffer_len());
    m.emit(out, src, dst);
    return out;
}

Frame frame6(const wire::Ipv6Address& src, const wire::Ipv6Address& dst, std::uint8_t first_header,
             std::span<const std::uint8_t> payload, std::uint8_t hop, wire::MacAddress dst_mac) {
    wire::Ipv6Repr h;
    h.src = src;
    h.dst = dst;
    h.next_header = first_header;
    h.hop_limit = hop;
    return ipv6_frame(dst_mac, mac(3), h, payload);
}

std::vector<Frame> echo6_frames(const wire::Ipv6Address& src, const wire::Ipv6Address& dst, std::uint16_t ident,
                                std::uint16_t seq, std::span<const std::uint8_t> data, std::uint32_t frag_id,
                                std::uint16_t mtu, std::vector<std::uint8_t> ext, std::uint8_t first_header,
                                wire::MacAddress dst_mac) {
    wire::Icmpv6Repr echo;
    echo.type = wire::icmpv6_type::kEchoRequest;
    echo.ident = ident;
    echo.seq = seq;
    echo.data = data;
    std::vector<std::uint8_t> body = ext;
    const Frame msg = icmpv6_message(echo, src, dst);
    body.insert(body.end(), msg.begin(), msg.end());
    if (40 + body.size() <= mtu) return {frame6(src, dst, first_header, body, 64, dst_mac)};
    std::vector<Frame> frames;
    const std::size_t chunk = (mtu - 48) / 8 * 8;
    for (std::size_t off = 0; off < body.size(); off += chunk) {
        const std::size_t n = std::min(chunk, body.size() - off);
        wire::Ipv6FragmentRepr f{first_header, static_cast<std::uint16_t>(off), off + n < body.size(), frag_id};
        std::vector<std::uint8_t> p(8 + n);
        f.emit(p);
        std::copy(body.begin() + static_cast<std::ptrdiff_t>(off), body.begin() + static_cast<std::ptrdiff_t>(off + n),
                  p.begin() + 8);
        frames.push_back(frame6(src, dst, wire::next_header::kFragment, p, 64, dst_mac));
    }
    return frames;
}

std::vector<Icmp6Seen> icmp6_messages(const std::vector<Frame>& frames) {
    std::vector<Icmp6Seen> out;
    iface::Reassembler6 reasm(iface::Reassembly6Config{});
    std::map<std::uint32_t, std::pair<std::size_t, std::size_t>> frag_info;  // id -> (count, largest)
    for (const Frame& f : frames) {
        auto eth = wire::EthernetView::check(f);
        if (!eth || eth->ethertype() != wire::ethertype::kIpv6) continue;
        auto ip = wire::Ipv6View::check(eth->payload());
        if (!ip) continue;
        std::vector<std::uint8_t> packet(ip->bytes().begin(), ip->bytes().end());
        std::size_t at = 40;
        std::size_t count = 1;
        std::size_t largest = f.size();
        std::uint8_t nh = ip->next_header();
        if (nh == wire::next_header::kFragment) {
            auto fv = wire::Ipv6FragmentView::check(ip->payload());
            if (!fv) continue;
            auto& info = frag_info[fv->identification()];
            ++info.first;
            info.second = std::max(info.second, f.size());
            iface::Fragment6 frag;
            frag.src = ip->src();
            frag.dst = ip->dst();
            frag.identification = fv->identification();
            frag.offset = fv->fragment_offset();
            frag.more = fv->more_fragments();
            frag.data = ip->payload().subspan(8);
            frag.packet = ip->bytes();
            frag.fragment_header_at = 40;
            frag.naming_field_at = 6;
            frag.next_header = fv->next_header();
            auto done = reasm.add(Instant{}, frag);
            if (!done) continue;
            packet = std::move(done->packet);
            nh = done->next_header;
            count = info.first;
            largest = info.second;
            frag_info.erase(fv->identification());
        }
        if (nh != wire::next_header::kIcmpv6) continue;
        const wire::Ipv6Repr header = wire::Ipv6Repr::parse(*wire::Ipv6View::check(packet));
        auto view = wire::Icmpv6View::check(wire::Bytes(packet).subspan(at));
        if (!view) continue;
        Icmp6Seen seen;
        seen.ip = header;
        seen.eth_dst = eth->dst();
        seen.type = view->type();
        seen.code = view->code();
        seen.fragments = count;
        seen.largest_frame = largest;
        if (wire::is_ndp_type(view->type())) {
            seen.nd = wire::NdpRepr::parse(*view, header.src, header.dst);
            if (!seen.nd) continue;
        } else {
            auto msg = wire::Icmpv6Repr::parse(*view, header.src, header.dst);
            if (!msg) continue;
            seen.ident = msg->ident;
            seen.seq = msg->seq;
            seen.pointer = msg->pointer;
            seen.data.assign(msg->data.begin(), msg->data.end());
        }
        out.push_back(std::move(seen));
    }
    return out;
}

std::vector<Icmp6Seen> of_type(const std::vector<Icmp6Seen>& all, std::uint8_t type) {
    std::vector<Icmp6Seen> out;
    for (const Icmp6Seen& s : all) {
        if (s.type == type) out.push_back(s);
    }
    return out;
}

}  // namespace sim
