// Scalar parsers for the config file; see config_values.hpp.
#include "daemon/config_values.hpp"

#include <limits>

#include "daemon/config.hpp"

namespace tapstack::daemon {
namespace {

// Splits "123abc" into the leading digits and the rest.
std::pair<std::string_view, std::string_view> split_number(std::string_view text) {
    std::size_t i = 0;
    while (i < text.size() && text[i] >= '0' && text[i] <= '9') ++i;
    return {text.substr(0, i), text.substr(i)};
}

std::optional<std::uint64_t> digits_value(std::string_view digits) {
    if (digits.empty() || digits.size() > 19) return std::nullopt;  // 19 digits always fit in 64 bits
    std::uint64_t v = 0;
    for (char c : digits) {
        if (c < '0' || c > '9') return std::nullopt;
        v = v * 10 + static_cast<std::uint64_t>(c - '0');
    }
    return v;
}

}  // namespace

std::optional<std::uint64_t> parse_uint(std::string_view text, std::uint64_t min, std::uint64_t max) {
    auto v = digits_value(text);
    if (!v || *v < min || *v > max) return std::nullopt;
    return v;
}

std::optional<std::uint64_t> parse_size(std::string_view text) {
    auto [digits, unit] = split_number(text);
    auto v = digits_value(digits);
    if (!v) return std::nullopt;
    unsigned shift = 0;
    if (unit.empty()) shift = 0;
    else if (unit == "KiB") shift = 10;
    else if (unit == "MiB") shift = 20;
    else if (unit == "GiB") shift = 30;
    else return std::nullopt;
    if (*v > (std::numeric_limits<std::uint64_t>::max() >> shift)) return std::nullopt;
    return *v << shift;
}

std::optional<Duration> parse_duration(std::string_view text) {
    auto [digits, unit] = split_number(text);
    auto v = digits_value(digits);
    // Bounded to a day so the conversion to nanoseconds can never overflow.
    constexpr std::uint64_t kMaxMs = 24ull * 3600 * 1000;
    if (!v) return std::nullopt;
    std::uint64_t ms = 0;
    if (unit == "ms") ms = *v;
    else if (unit == "s" && *v <= kMaxMs / 1000) ms = *v * 1000;
    else if (unit == "m" && *v <= kMaxMs / 60000) ms = *v * 60000;
    else return std::nullopt;
    if (ms > kMaxMs) return std::nullopt;
    return milliseconds(static_cast<std::int64_t>(ms));
}

std::optional<std::pair<std::uint16_t, std::uint16_t>> parse_port_range(std::string_view text) {
    const std::size_t dash = text.find('-');
    if (dash == std::string_view::npos) return std::nullopt;
    auto lo = parse_uint(text.substr(0, dash), 1, 65535);
    auto hi = parse_uint(text.substr(dash + 1), 1, 65535);
    if (!lo || !hi || *lo > *hi) return std::nullopt;
    return std::pair{static_cast<std::uint16_t>(*lo), static_cast<std::uint16_t>(*hi)};
}

std::optional<std::uint32_t> parse_mode(std::string_view text) {
    if (text.empty() || text.size() > 4) return std::nullopt;
    std::uint32_t v = 0;
    for (char c : text) {
        if (c < '0' || c > '7') return std::nullopt;
        v = v * 8 + static_cast<std::uint32_t>(c - '0');
    }
    if (v > 0777) return std::nullopt;
    return v;
}

std::optional<double> parse_percent(std::string_view text) {
    auto [whole, rest] = split_number(text);
    auto w = digits_value(whole);
    if (!w || whole.size() > 3) return std::nullopt;
    double value = static_cast<double>(*w);
    if (!rest.empty()) {
        if (rest[0] != '.') return std::nullopt;
        auto [frac, tail] = split_number(rest.substr(1));
        if (frac.empty() || frac.size() > 6 || !tail.empty()) return std::nullopt;
        double scale = 1;
        for (char c : frac) {
            scale /= 10;
            value += scale * (c - '0');
        }
    }
    if (value > 100) return std::nullopt;
    return value;
}

std::optional<bool> parse_bool(std::string_view text) {
    if (text == "true") return true;
    if (text == "false") return false;
    return std::nullopt;
}

bool valid_interface_name(std::string_view text) {
    if (text.empty() || text.size() > 15 || text == "." || text == "..") return false;
    for (char c : text) {
        const auto u = static_cast<unsigned char>(c);
        if (c == '/' || c == ':' || c == ',' || u <= 0x20 || u >= 0x7f) return false;
    }
    return true;
}

std::optional<std::string_view> parse_log_level(std::string_view text) {
    for (const auto& [alias, name] : kLogLevelAliases) {
        if (text == alias) return name;
    }
    for (std::string_view l : kLogLevels) {
        if (text == l) return l;
    }
    return std::nullopt;
}

std::string log_level_names() {
    std::string out;
    for (std::string_view l : kLogLevels) {
        if (!out.empty()) out += ", ";
        out += l;
        for (const auto& [alias, name] : kLogLevelAliases) {
            if (name == l) out += " (or " + std::string(alias) + ")";
        }
    }
    return out;
}

}  // namespace tapstack::daemon
