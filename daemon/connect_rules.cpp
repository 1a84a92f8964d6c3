// Connect rules: parsing and matching; see connect_rules.hpp.
#include "daemon/connect_rules.hpp"

#include "daemon/config_values.hpp"

namespace tapstack::daemon {

AddressPrefix AddressPrefix::ipv4(wire::Ipv4Address address, std::uint8_t length) {
    AddressPrefix p;
    p.family = Family::kIpv4;
    p.length = length;
    p.bytes[0] = static_cast<std::uint8_t>(address.value >> 24);
    p.bytes[1] = static_cast<std::uint8_t>(address.value >> 16);
    p.bytes[2] = static_cast<std::uint8_t>(address.value >> 8);
    p.bytes[3] = static_cast<std::uint8_t>(address.value);
    return p;
}

AddressPrefix AddressPrefix::ipv6(const wire::Ipv6Address& address, std::uint8_t length) {
    AddressPrefix p;
    p.family = Family::kIpv6;
    p.length = length;
    p.bytes = address.bytes;
    return p;
}

bool AddressPrefix::contains(Family address_family, const std::uint8_t* address) const {
    if (address_family != family) {
        return false;
    }
    std::size_t bits = length;
    for (std::size_t i = 0; bits > 0; ++i) {
        const unsigned take = bits >= 8 ? 8u : static_cast<unsigned>(bits);
        const auto mask = static_cast<std::uint8_t>(0xffu << (8 - take));
        if ((address[i] & mask) != (bytes[i] & mask)) {
            return false;
        }
        bits -= take;
    }
    return true;
}

bool AddressPrefix::contains(const wire::IpAddress& address) const {
    if (address.is_ipv6()) return contains(Family::kIpv6, address.ipv6().bytes.data());
    const AddressPrefix a = ipv4(address.ipv4(), 32);
    return contains(Family::kIpv4, a.bytes.data());
}

bool ConnectRule::matches(const wire::IpEndpoint& endpoint) const {
    return prefix.contains(endpoint.address) && ports.contains(endpoint.port);
}

std::variant<ConnectRule, std::string> parse_connect_rule(std::string_view text) {
    const std::string quoted = "\"" + std::string(text) + "\"";
    if (text.empty()) {
        return std::string("an empty rule");
    }
    ConnectRule rule;
    rule.text = std::string(text);
    std::string_view address_part = text;
    std::string_view ports;
    bool has_ports = false;
    bool v6 = false;
    if (text.front() == '[') {
        // [ADDRESS[/PREFIX]]:PORT[-PORT] (or no port after the bracket)
        const std::size_t close = text.find(']');
        if (close == std::string_view::npos) {
            return quoted + " has '[' without ']'";
        }
        address_part = text.substr(1, close - 1);
        const std::string_view after = text.substr(close + 1);
        if (!after.empty()) {
            if (after.front() != ':' || after.size() < 2) {
                return quoted + ": after ']' comes :PORT or :PORT-PORT";
            }
            ports = after.substr(1);
            has_ports = true;
        }
        v6 = true;
    } else if (text.find(':') != text.rfind(':')) {
        v6 = true;  // a bare IPv6 prefix: every port
    } else if (const std::size_t colon = text.find(':'); colon != std::string_view::npos) {
        address_part = text.substr(0, colon);
        ports = text.substr(colon + 1);
        has_ports = true;
    }
    if (has_ports) {
        if (ports.find('-') != std::string_view::npos) {
            auto range = parse_port_range(ports);
            if (!range) {
                return "\"" + std::string(ports) + "\" is not a port range LOW-HIGH with 1 <= LOW <= HIGH <= 65535";
            }
            rule.ports = PortRange{range->first, range->second};
        } else {
            auto port = parse_uint(ports, 1, 65535);
            if (!port) {
                return "\"" + std::string(ports) + "\" is not a port 1..65535";
            }
            rule.ports = PortRange{static_cast<std::uint16_t>(*port), static_cast<std::uint16_t>(*port)};
        }
    }
    std::string_view address_text = address_part;
    const unsigned max_length = v6 ? 128 : 32;
    auto length = static_cast<std::uint8_t>(max_length);
    if (const std::size_t slash = address_part.find('/'); slash != std::string_view::npos) {
        address_text = address_part.substr(0, slash);
        const std::string_view len_text = address_part.substr(slash + 1);
        // At most two digits for IPv4 ("008" is refused), three for IPv6
        // where a leading zero is refused too ("064").
        const bool plain = v6 ? (len_text.size() <= 3 && (len_text.size() <= 1 || len_text.front() != '0'))
                              : len_text.size() <= 2;
        auto len = plain ? parse_uint(len_text, 0, max_length) : std::nullopt;
        if (!len) {
            return "\"" + std::string(len_text) + "\" is not a prefix length 0.." + std::to_string(max_length);
        }
        length = static_cast<std::uint8_t>(*len);
    }
    if (v6) {
        auto address6 = wire::Ipv6Address::parse(address_text);
        if (!address6) {
            return "\"" + std::string(address_text) + "\" is not an IPv6 address";
        }
        const wire::Ipv6Cidr cidr6{*address6, length};
        if (cidr6.network() != *address6) {
            return quoted + " has address bits set beyond /" + std::to_string(length) + " (" +
                   cidr6.network().to_string() + "/" + std::to_string(length) + " would match)";
        }
        rule.prefix = AddressPrefix::ipv6(*address6, length);
        return rule;
    }
    auto address = wire::Ipv4Address::parse(address_text);
    if (!address) {
        return "\"" + std::string(address_text) + "\" is not an IPv4 address";
    }
    const wire::Ipv4Cidr cidr{*address, length};
    if (cidr.network() != *address) {
        return quoted + " has address bits set beyond /" + std::to_string(length) + " (" +
               cidr.network().to_string() + "/" + std::to_string(length) + " would match)";
    }
    rule.prefix = AddressPrefix::ipv4(*address, length);
    return rule;
}

ConnectRules::Verdict ConnectRules::check(const wire::IpEndpoint& endpoint) const {
    for (const ConnectRule& r : deny) {
        if (r.matches(endpoint)) {
            return Verdict{false, &r};
        }
    }
    for (const ConnectRule& r : allow) {
        if (r.matches(endpoint)) {
            return Verdict{true, &r};
        }
    }
    return Verdict{false, nullptr};
}

ConnectRule ConnectRules::everything() {
    return ConnectRule{AddressPrefix::ipv4(wire::Ipv4Address::any(), 0), PortRange{}, "0.0.0.0/0"};
}

ConnectRule ConnectRules::everything6() {
    return ConnectRule{AddressPrefix::ipv6(wire::Ipv6Address::unspecified(), 0), PortRange{}, "::/0"};
}

std::string describe_refusal(const ConnectRules::Verdict& verdict) {
    if (verdict.rule != nullptr && !verdict.allowed) {
        return "denied by api.connect_deny rule \"" + verdict.rule->text + "\"";
    }
    return "not allowed by any api.connect_allow rule";
}

}  // namespace tapstack::daemon
