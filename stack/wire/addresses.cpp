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

}  // namespace tapstack::wire
