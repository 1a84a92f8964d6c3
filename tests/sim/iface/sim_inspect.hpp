// Decoding what a RawStation received, with our own wire views and the
// Reassembler, for sim_iface assertions.
#pragma once

#include <cstdint>
#include <vector>

#include "tests/sim/iface/sim_link.hpp"

namespace sim {

struct IcmpSeen {
    wire::Ipv4Repr ip;
    std::uint8_t type = 0;
    std::uint8_t code = 0;
    std::uint16_t ident = 0;
    std::uint16_t seq = 0;
    std::vector<std::uint8_t> data;
    std::size_t fragments = 1;  // frames it arrived in
    std::size_t largest_frame = 0;
};

// Every ICMP message in `frames` (reassembling fragments), in completion order.
std::vector<IcmpSeen> icmp_messages(const std::vector<Frame>& frames);

std::vector<std::uint8_t> pattern(std::size_t n, std::uint8_t salt = 0);

}  // namespace sim
