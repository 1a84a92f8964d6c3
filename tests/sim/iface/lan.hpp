// The standard test LAN for sim_iface: 10.0.0.0/24 with two Interfaces
// (a = .1, b = .2) and a hand-driven RawStation (.3).
#pragma once

#include "tests/sim/iface/sim_inspect.hpp"
#include "tests/sim/iface/sim_link.hpp"

namespace sim {

inline wire::Ipv4Address ip(std::uint8_t host) { return wire::Ipv4Address::from_octets(10, 0, 0, host); }

struct Lan {
    explicit Lan(std::uint64_t seed = 1, LinkParams params = {},
                 iface::InterfaceConfig a_config = iface_config(1, mac(1)),
                 iface::InterfaceConfig b_config = iface_config(2, mac(2)))
        : hub(seed, params), a(hub, a_config, seed * 2 + 1), b(hub, b_config, seed * 2 + 2), raw(hub, mac(3), ip(3)) {}

    Hub hub;
    IfaceStation a;
    IfaceStation b;
    RawStation raw;
};

}  // namespace sim
