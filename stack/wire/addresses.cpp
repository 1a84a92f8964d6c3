#include "stack/wire/addresses.hpp"

#include <charconv>
#include <cstdio>

namespace tapstack::wire {
namespace {

int hex_value(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

// Parses a decimal number of at most `max_digits` digits with no sign.
std::optional<unsigned> parse_decimal(std::string_view text, std::size_t max_digits, unsigned max_value) {
    if (text.empty() || text.size() > max_digits) return std::nullopt;
    unsigned v = 0;
    for (char c : text) {
        if (c < '0' || c > '9') return std::nullopt;
        v = v * 10 + static_cast<unsigned>(c - '0');
    }
    if (v > max_value) return std::nullopt;
    return v;
}

}  // namespace

std::optional<MacAddress> MacAddress::parse(std::string_view text) {
    // Exactly "xx:xx:xx:xx:xx:xx": 17 characters, one separator kind.
    if (text.size() != 17) return std::nullopt;
    const char sep = text[2];
    if (sep != ':' && sep != '-') return std::nullopt;
    MacAddress mac;
    for (std::size_t i = 0; i < 6; ++i) {
        const std::size_t at = i * 3;
        const int hi = hex_value(text[at]);
        const int lo = hex_value(text[at + 1]);
        if (hi < 0 || lo < 0) return std::nullopt;
        if (i < 5 && text[at + 2] != sep) return std::nullopt;
        mac.bytes[i] = static_cast<std::uint8_t>((hi << 4) | lo);
    }
    return mac;
}

std::string MacAddress::to_string() const {
    char buf[18];
    std::snprintf(buf, sizeof buf, "%02x:%02x:%02x:%02x:%02x:%02x", bytes[0], bytes[1], bytes[2], bytes[3],
                  bytes[4], bytes[5]);
    return buf;
}

std::optional<Ipv4Address> Ipv4Address::parse(std::string_view text) {
    std::uint32_t value = 0;
    for (int octet = 0; octet < 4; ++octet) {
        const std::size_t dot = text.find('.');
        const std::string_view part = octet < 3 ? text.substr(0, dot) : text;
        if (octet < 3 && dot == std::string_view::npos) return std::nullopt;
        auto v = parse_decimal(part, 3, 255);
        if (!v) return std::nullopt;
        value = (value << 8) | *v;
        if (octet < 3) text.remove_prefix(dot + 1);
    }
    return Ipv4Address(value);
}

std::string Ipv4Address::to_string() const {
    char buf[16];
    std::snprintf(buf, sizeof buf, "%u.%u.%u.%u", (value >> 24) & 0xff, (value >> 16) & 0xff, (value >> 8) & 0xff,
                  value & 0xff);
    return buf;
}

std::optional<Ipv4Cidr> Ipv4Cidr::parse(std::string_view text) {
    const std::size_t slash = text.find('/');
    if (slash == std::string_view::npos) return std::nullopt;
    auto addr = Ipv4Address::parse(text.substr(0, slash));
    auto len = parse_decimal(text.substr(slash + 1), 2, 32);
    if (!addr || !len) return std::nullopt;
    return Ipv4Cidr{*addr, static_cast<std::uint8_t>(*len)};
}

std::string Ipv4Cidr::to_string() const { return address.to_string() + "/" + std::to_string(prefix_len); }

std::string Ipv4Endpoint::to_string() const { return address.to_string() + ":" + std::to_string(port); }

std::optional<Ipv6Address> Ipv6Address::parse(std::string_view text) {
    // Split into the groups before and after "::" (if any), each group 1..4
    // hex digits; a dotted quad may stand for the last two groups.
    std::array<std::uint16_t, 8> head{};
    std::array<std::uint16_t, 8> tail{};
    std::size_t n_head = 0;
    std::size_t n_tail = 0;
    bool compressed = false;
    if (text.empty()) return std::nullopt;
    if (text.substr(0, 2) == "::") {
        compressed = true;
        text.remove_prefix(2);
    } else if (text[0] == ':') {
        return std::nullopt;
    }
    while (!text.empty()) {
        auto& groups = compressed ? tail : head;
        auto& count = compressed ? n_tail : n_head;
        const std::size_t colon = text.find(':');
        const std::string_view part = text.substr(0, colon);
        if (colon == std::string_view::npos && part.find('.') != std::string_view::npos) {
            auto v4 = Ipv4Address::parse(part);
            if (!v4 || count + 2 > 8) return std::nullopt;
            groups[count++] = static_cast<std::uint16_t>(v4->value >> 16);
            groups[count++] = static_cast<std::uint16_t>(v4->value);
            text = {};
            break;
        }
        if (part.empty() || part.size() > 4 || count >= 8) return std::nullopt;
        std::uint16_t g = 0;
        for (char c : part) {
            const int h = hex_value(c);
            if (h < 0) return std::nullopt;
            g = static_cast<std::uint16_t>((g << 4) | h);
        }
        groups[count++] = g;
        if (colon == std::string_view::npos) {
            text = {};
            break;
        }
        text.remove_prefix(colon + 1);
        if (!text.empty() && text[0] == ':') {
            if (compressed) return std::nullopt;  // a second "::"
            compressed = true;
            text.remove_prefix(1);
        } else if (text.empty()) {
            return std::nullopt;  // a trailing single ':'
        }
    }
    const std::size_t total = n_head + n_tail;
    if (compressed ? total > 7 : total != 8) return std::nullopt;
    std::array<std::uint16_t, 8> all{};
    for (std::size_t i = 0; i < n_head; ++i) all[i] = head[i];
    for (std::size_t i = 0; i < n_tail; ++i) all[8 - n_tail + i] = tail[i];
    return from_groups(all);
}

std::string Ipv6Address::to_string() const {
    if (is_ipv4_mapped()) {
        return "::ffff:" + Ipv4Address(std::uint32_t{group(6)} << 16 | group(7)).to_string();
    }
    // The longest run of zero groups, at least two long (RFC 5952 4.2.2, 4.2.3).
    std::size_t best_at = 8;
    std::size_t best_len = 1;
    for (std::size_t i = 0; i < 8;) {
        if (group(i) != 0) {
            ++i;
            continue;
        }
        std::size_t j = i;
        while (j < 8 && group(j) == 0) ++j;
        if (j - i > best_len) {
            best_at = i;
            best_len = j - i;
        }
        i = j;
    }
    std::string out;
    char buf[8];
    for (std::size_t i = 0; i < 8; ++i) {
        if (i == best_at) {
            out += "::";
            i += best_len - 1;
            continue;
        }
        if (!out.empty() && out.back() != ':') out += ':';
        std::snprintf(buf, sizeof buf, "%x", group(i));
        out += buf;
    }
    return out;
}

std::optional<Ipv6Cidr> Ipv6Cidr::parse(std::string_view text) {
    const std::size_t slash = text.find('/');
    if (slash == std::string_view::npos) return std::nullopt;
    auto addr = Ipv6Address::parse(text.substr(0, slash));
    auto len = parse_decimal(text.substr(slash + 1), 3, 128);
    if (!addr || !len) return std::nullopt;
    return Ipv6Cidr{*addr, static_cast<std::uint8_t>(*len)};
}

std::string Ipv6Cidr::to_string() const { return address.to_string() + "/" + std::to_string(prefix_len); }

bool Ipv6Cidr::contains(const Ipv6Address& a) const { return network() == Ipv6Cidr{a, prefix_len}.network(); }

Ipv6Address Ipv6Cidr::network() const {
    Ipv6Address n = address;
    const std::size_t len = prefix_len > 128 ? 128 : prefix_len;
    for (std::size_t i = 0; i < 16; ++i) {
        const std::size_t bit = i * 8;
        if (bit >= len) {
            n.bytes[i] = 0;
        } else if (bit + 8 > len) {
            n.bytes[i] = static_cast<std::uint8_t>(n.bytes[i] & (0xff << (bit + 8 - len)));
        }
    }
    return n;
}

std::optional<IpAddress> IpAddress::parse(std::string_view text) {
    if (text.find(':') != std::string_view::npos) {
        if (auto a = Ipv6Address::parse(text)) return IpAddress(*a);
        return std::nullopt;
    }
    if (auto a = Ipv4Address::parse(text)) return IpAddress(*a);
    return std::nullopt;
}

std::string IpAddress::to_string() const { return is_ipv4() ? v4_.to_string() : v6_.to_string(); }

std::string IpEndpoint::to_string() const {
    if (address.is_ipv6()) return "[" + address.to_string() + "]:" + std::to_string(port);
    return address.to_string() + ":" + std::to_string(port);
}

}  // namespace tapstack::wire
