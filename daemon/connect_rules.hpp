// Connect rules: where applications on the Unix-socket API may open TCP
// connections (api.connect_allow, api.connect_deny).
//
// Theory of operation
// -------------------
// A rule is an address prefix with an optional port range:
//   10.0.0.0/8            every port of 10.0.0.0/8
//   198.19.77.1/32:22     one port of one address
//   0.0.0.0/0:1-1023      the privileged ports of every address
//   198.19.77.1           a bare address is a /32
//   fd00::/8              every port of an IPv6 prefix (a bare one: a /128)
//   [2001:db8::/32]:443   with a port (range), in brackets (RFC 5952 6)
// A CONNECT to an endpoint is allowed when no deny rule matches it and some
// allow rule does: deny wins, whatever the order of the lists. A rule
// matches only its own family. The default is two allow rules for
// everything (0.0.0.0/0 and ::/0) and no deny rule.
//
// Why it matters: a CONNECT leaves from the daemon's address, not from the
// calling user, so a host firewall that filters by uid (nftables `meta
// skuid`) never sees who asked. These rules are that filter for the API.
//
// AddressPrefix holds a family and 16 address bytes in network order
// (IPv4 in the first four).
//
// Pure code: no I/O, unit-tested on strings (tests/unit/config).
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "stack/wire/addresses.hpp"

namespace tapstack::daemon {

struct AddressPrefix {
    enum class Family : std::uint8_t { kIpv4, kIpv6 };
    Family family = Family::kIpv4;
    std::array<std::uint8_t, 16> bytes{};  // network order; IPv4 uses the first 4
    std::uint8_t length = 0;               // prefix length in bits

    static AddressPrefix ipv4(wire::Ipv4Address address, std::uint8_t length);
    static AddressPrefix ipv6(const wire::Ipv6Address& address, std::uint8_t length);
    // True when `address` (of `family`, network order) starts with this prefix.
    bool contains(Family address_family, const std::uint8_t* address) const;
    bool contains(const wire::IpAddress& address) const;
    friend bool operator==(const AddressPrefix&, const AddressPrefix&) = default;
};

struct PortRange {
    std::uint16_t first = 1;
    std::uint16_t last = 65535;
    bool contains(std::uint16_t port) const { return port >= first && port <= last; }
    friend bool operator==(const PortRange&, const PortRange&) = default;
};

struct ConnectRule {
    AddressPrefix prefix;
    PortRange ports;   // every port when the rule names none
    std::string text;  // as written in the config, for messages

    bool matches(const wire::IpEndpoint& endpoint) const;
};

// One rule from its text, or the reason it is not one (one line, e.g.
// "10.0.0.1/8 has bits set beyond the prefix (10.0.0.0/8 would match)").
std::variant<ConnectRule, std::string> parse_connect_rule(std::string_view text);

// The syntax, for the "allowed: ..." part of config errors.
inline constexpr std::string_view kConnectRuleSyntax =
    "an IPv4 ADDRESS[/PREFIX][:PORT[-PORT]] or IPv6 ADDRESS[/PREFIX] or [ADDRESS[/PREFIX]]:PORT[-PORT], e.g. "
    "10.0.0.0/8, 198.19.77.1/32:22, 0.0.0.0/0:1-1023, fd00::/8, [2001:db8::/32]:443";

struct ConnectRules {
    std::vector<ConnectRule> allow = {everything(), everything6()};
    std::vector<ConnectRule> deny;

    struct Verdict {
        bool allowed = false;
        // The deny rule that refused, or the allow rule that allowed;
        // nullptr when refused because no allow rule matched.
        const ConnectRule* rule = nullptr;
    };
    Verdict check(const wire::IpEndpoint& endpoint) const;

    // 0.0.0.0/0 and ::/0, every port: the default allow rules.
    static ConnectRule everything();
    static ConnectRule everything6();
};

// "denied by api.connect_deny rule \"0.0.0.0/0:1-1023\"" or "not allowed by
// any api.connect_allow rule": the reason part of the refusal of `verdict`.
std::string describe_refusal(const ConnectRules::Verdict& verdict);

}  // namespace tapstack::daemon
