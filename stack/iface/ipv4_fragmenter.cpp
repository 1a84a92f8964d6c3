// Output fragmentation (RFC 791 3.2); see ipv4_fragmenter.hpp.
#include "stack/iface/ipv4_fragmenter.hpp"

#include <algorithm>

namespace tapstack::iface {

std::size_t fragment_ipv4(const wire::Ipv4Repr& header, wire::Bytes payload, std::uint16_t mtu,
                          const FragmentEmitter& emit) {
    const std::size_t hlen = header.header_len();
    if (hlen + payload.size() <= mtu) {
        wire::Ipv4Repr whole = header;
        whole.payload_len = static_cast<std::uint16_t>(payload.size());
        emit(whole, payload);
        return 1;
    }
    if (mtu < hlen + 8) return 0;
    const std::size_t chunk = (mtu - hlen) / 8 * 8;
    std::size_t count = 0;
    for (std::size_t offset = 0; offset < payload.size(); offset += chunk) {
        const std::size_t n = std::min(chunk, payload.size() - offset);
        wire::Ipv4Repr frag = header;
        frag.fragment_offset = static_cast<std::uint16_t>(header.fragment_offset + offset);
        frag.more_fragments = header.more_fragments || offset + n < payload.size();
        frag.payload_len = static_cast<std::uint16_t>(n);
        emit(frag, payload.subspan(offset, n));
        ++count;
    }
    return count;
}

}  // namespace tapstack::iface
