// Request-line parsing and reply formatting for the Unix-socket API; see
// request.hpp and PROTOCOL.md. Strict on purpose: a request that is not
// exactly understood is refused with a reason rather than guessed at.
#include "daemon/api/request.hpp"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <optional>
#include <span>
#include <vector>

namespace tapstack::daemon::api {
namespace {

std::vector<std::string_view> split_fields(std::string_view line) {
    std::vector<std::string_view> fields;
    std::size_t i = 0;
    while (i < line.size()) {
        while (i < line.size() && (line[i] == ' ' || line[i] == '\t')) {
            ++i;
        }
        std::size_t start = i;
        while (i < line.size() && line[i] != ' ' && line[i] != '\t') {
            ++i;
        }
        if (i > start) {
            fields.push_back(line.substr(start, i - start));
        }
    }
    return fields;
}

std::string upper(std::string_view text) {
    std::string out(text);
    std::transform(out.begin(), out.end(), out.begin(),
                   [](char c) { return static_cast<char>(std::toupper(static_cast<unsigned char>(c))); });
    return out;
}

// Decimal digits only (no sign, no spaces), within [min, max].
std::optional<std::uint64_t> parse_number(std::string_view text, std::uint64_t min, std::uint64_t max) {
    if (text.empty() || text.size() > 20 ||
        !std::all_of(text.begin(), text.end(), [](char c) { return c >= '0' && c <= '9'; })) {
        return std::nullopt;
    }
    std::uint64_t value = 0;
    auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
    if (ec != std::errc() || ptr != text.data() + text.size() || value < min || value > max) {
        return std::nullopt;
    }
    return value;
}

// Shortens and quotes user text for an error message.
std::string quote(std::string_view text) {
    constexpr std::size_t kMax = 40;
    std::string out = "\"";
    for (char c : text.substr(0, kMax)) {
        out += std::isprint(static_cast<unsigned char>(c)) ? c : '?';
    }
    if (text.size() > kMax) {
        out += "...";
    }
    out += '"';
    return out;
}

std::optional<std::uint16_t> parse_port(std::string_view text) {
    auto v = parse_number(text, 1, 65535);
    if (!v) {
        return std::nullopt;
    }
    return static_cast<std::uint16_t>(*v);
}

// Parses `key=value` options; each known key at most once.
struct Options {
    std::optional<std::uint32_t> timeout_s;
    std::optional<std::uint32_t> backlog;
};

std::optional<ParseError> parse_options(std::span<const std::string_view> fields, bool allow_timeout,
                                        bool allow_backlog, Options* out) {
    for (std::string_view field : fields) {
        auto eq = field.find('=');
        if (eq == std::string_view::npos) {
            return ParseError{"unexpected field " + quote(field)};
        }
        std::string_view key = field.substr(0, eq);
        std::string_view value = field.substr(eq + 1);
        if (allow_timeout && key == "timeout") {
            if (out->timeout_s) {
                return ParseError{"timeout given twice"};
            }
            auto v = parse_number(value, 1, kMaxTimeoutSeconds);
            if (!v) {
                return ParseError{"timeout " + quote(value) + " is not a number of seconds in 1.." +
                                  std::to_string(kMaxTimeoutSeconds)};
            }
            out->timeout_s = static_cast<std::uint32_t>(*v);
        } else if (allow_backlog && key == "backlog") {
            if (out->backlog) {
                return ParseError{"backlog given twice"};
            }
            auto v = parse_number(value, 1, kMaxBacklog);
            if (!v) {
                return ParseError{"backlog " + quote(value) + " is not a number in 1.." + std::to_string(kMaxBacklog)};
            }
            out->backlog = static_cast<std::uint32_t>(*v);
        } else {
            return ParseError{"unknown option " + quote(key)};
        }
    }
    return std::nullopt;
}

std::string sanitize_line(std::string_view text) {
    std::string out;
    out.reserve(text.size());
    for (char c : text) {
        out += (c == '\n' || c == '\r' || !std::isprint(static_cast<unsigned char>(c))) ? ' ' : c;
    }
    return out;
}

}  // namespace

std::variant<Request, ParseError> parse_request(std::string_view line) {
    if (!line.empty() && line.back() == '\r') {
        line.remove_suffix(1);
    }
    for (char c : line) {
        if (c != '\t' && !std::isprint(static_cast<unsigned char>(c))) {
            return ParseError{"request contains a control or non-ASCII byte"};
        }
    }
    auto fields = split_fields(line);
    if (fields.empty()) {
        return ParseError{"empty request (expected CONNECT, LISTEN, ACCEPT, STATUS or STATS)"};
    }
    const std::string verb = upper(fields[0]);
    std::span<const std::string_view> args(fields.data() + 1, fields.size() - 1);

    if (verb == "CONNECT") {
        if (args.size() < 2) {
            return ParseError{"usage: CONNECT <ipv4-address> <port> [timeout=<seconds>]"};
        }
        auto address = wire::Ipv4Address::parse(args[0]);
        if (!address) {
            return ParseError{quote(args[0]) + " is not an IPv4 address"};
        }
        if (address->is_unspecified() || address->is_limited_broadcast() || address->is_multicast()) {
            return ParseError{"cannot connect to " + address->to_string()};
        }
        auto port = parse_port(args[1]);
        if (!port) {
            return ParseError{quote(args[1]) + " is not a port in 1..65535"};
        }
        Options options;
        if (auto err = parse_options(args.subspan(2), true, false, &options)) {
            return *err;
        }
        return Request{ConnectRequest{*address, *port, options.timeout_s.value_or(0)}};
    }
    if (verb == "LISTEN" || verb == "ACCEPT") {
        const bool listen = verb == "LISTEN";
        if (args.empty()) {
            return ParseError{listen ? "usage: LISTEN <port> [backlog=<n>]" : "usage: ACCEPT <port> [timeout=<seconds>]"};
        }
        auto port = parse_port(args[0]);
        if (!port) {
            return ParseError{quote(args[0]) + " is not a port in 1..65535"};
        }
        Options options;
        if (auto err = parse_options(args.subspan(1), !listen, listen, &options)) {
            return *err;
        }
        if (listen) {
            return Request{ListenRequest{*port, options.backlog.value_or(0)}};
        }
        return Request{AcceptRequest{*port, options.timeout_s.value_or(0)}};
    }
    if (verb == "STATUS") {
        if (args.size() != 1) {
            return ParseError{"usage: STATUS <id>"};
        }
        auto id = parse_number(args[0], 1, UINT64_MAX);
        if (!id) {
            return ParseError{quote(args[0]) + " is not a connection id"};
        }
        return Request{StatusRequest{*id}};
    }
    if (verb == "STATS") {
        if (!args.empty()) {
            return ParseError{"usage: STATS"};
        }
        return Request{StatsRequest{}};
    }
    return ParseError{"unknown request " + quote(fields[0]) + " (expected CONNECT, LISTEN, ACCEPT, STATUS or STATS)"};
}

std::string format_stream_ok(const wire::Ipv4Endpoint& local, const wire::Ipv4Endpoint& remote, std::uint64_t id) {
    return "OK " + local.to_string() + " " + remote.to_string() + " id=" + std::to_string(id) + "\n";
}

std::string format_listen_ok(const wire::Ipv4Endpoint& local) {
    return "OK " + local.to_string() + " listening\n";
}

std::string format_status_ok(std::uint64_t id, std::string_view state, client::Outcome outcome) {
    std::string word;
    for (char c : state) {
        word += (c == ' ' || c == '\t' || !std::isprint(static_cast<unsigned char>(c))) ? '-' : c;
    }
    return "OK id=" + std::to_string(id) + " outcome=" + std::string(client::to_string(outcome)) +
           " state=" + (word.empty() ? "unknown" : word) + "\n";
}

std::string format_error(client::ErrorCode code, std::string_view message) {
    constexpr std::size_t kMaxMessage = 200;
    return "ERR " + std::string(client::to_string(code)) + " " + sanitize_line(message.substr(0, kMaxMessage)) +
           "\n";
}

}  // namespace tapstack::daemon::api
