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

bool AddressPrefix::contains(wire::Ipv4Address address) const {
    const AddressPrefix a = ipv4(address, 32);
    return contains(Family::kIpv4, a.bytes.data());
}

bool ConnectRule::matches(const wire::Ipv4Endpoint& endpoint) const {
    return prefix.contains(endpoint.address) && ports.contains(endpoint.port);
}

std::variant<ConnectRule, std::string> parse_connect_rule(std::string_view text) {
    const std::string quoted = "\"" + std::string(text) + "\"";
    if (text.empty()) {
        return std::string("an empty rule");
    }
    if (text.front() == '[' || text.find("::") != std::string_view::npos ||
        text.find(':') != text.rfind(':')) {
        return quoted + " looks like IPv6, which the stack does not speak yet";
    }
    ConnectRule rule;
    rule.text = std::string(text);
    std::string_view address_part = text;
    if (const std::size_t colon = text.find(':'); colon != std::string_view::npos) {
        address_part = text.substr(0, colon);
        const std::string_view ports = text.substr(colon + 1);
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
    std::uint8_t length = 32;
    if (const std::size_t slash = address_part.find('/'); slash != std::string_view::npos) {
        address_text = address_part.substr(0, slash);
        const std::string_view len_text = address_part.substr(slash + 1);
        auto len = len_text.size() <= 2 ? parse_uint(len_text, 0, 32) : std::nullopt;
        if (!len) {
            return "\"" + std::string(len_text) + "\" is not a prefix length 0..32";
        }
        length = static_cast<std::uint8_t>(*len);
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

ConnectRules::Verdict ConnectRules::check(const wire::Ipv4Endpoint& endpoint) const {
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

std::string describe_refusal(const ConnectRules::Verdict& verdict) {
    if (verdict.rule != nullptr && !verdict.allowed) {
        return "denied by api.connect_deny rule \"" + verdict.rule->text + "\"";
    }
    return "not allowed by any api.connect_allow rule";
}

}  // namespace tapstack::daemon
