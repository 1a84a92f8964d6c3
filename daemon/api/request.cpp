// Request-line parsing and reply formatting for the Unix-socket API; see
// request.hpp and PROTOCOL.md. Strict on purpose: a request that is not
// exactly understood is refused with a reason rather than guessed at.
// INFO and CONNECTIONS lines are `key=value` fields with fixed names, so
// scripts can pick fields by name and new fields can be added at the end.
#include "daemon/api/request.hpp"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <chrono>
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

// Which options a verb takes.
struct Allowed {
    bool timeout = false;
    bool backlog = false;
    bool stream = false;  // nodelay, keepalive
};

// Parses `key=value` options (and the bare stream flags); each key at most once.
struct Options {
    std::optional<std::uint32_t> timeout_s;
    std::optional<std::uint32_t> backlog;
    StreamOptions stream;
};

// `nodelay`, `nodelay=on`, `nodelay=off` (and the same for keepalive).
std::optional<ParseError> parse_switch(std::string_view key, std::optional<std::string_view> value,
                                       std::optional<bool>* out) {
    if (out->has_value()) {
        return ParseError{std::string(key) + " given twice"};
    }
    if (!value || *value == "on") {
        *out = true;
    } else if (*value == "off") {
        *out = false;
    } else {
        return ParseError{std::string(key) + " " + quote(*value) + " is not on or off"};
    }
    return std::nullopt;
}

std::optional<ParseError> parse_options(std::span<const std::string_view> fields, Allowed allowed, Options* out) {
    for (std::string_view field : fields) {
        auto eq = field.find('=');
        std::string_view key = field.substr(0, eq);
        std::optional<std::string_view> value;
        if (eq != std::string_view::npos) {
            value = field.substr(eq + 1);
        }
        const bool stream_option = key == "nodelay" || key == "keepalive";
        if (stream_option && !allowed.stream) {
            return ParseError{"option " + quote(key) + " is for CONNECT and ACCEPT, not LISTEN"};
        }
        if (stream_option) {
            if (auto err = parse_switch(key, value, key == "nodelay" ? &out->stream.nodelay : &out->stream.keepalive)) {
                return err;
            }
            continue;
        }
        if (!value) {
            return ParseError{"unexpected field " + quote(field)};
        }
        if (allowed.timeout && key == "timeout") {
            if (out->timeout_s) {
                return ParseError{"timeout given twice"};
            }
            auto v = parse_number(*value, 1, kMaxTimeoutSeconds);
            if (!v) {
                return ParseError{"timeout " + quote(*value) + " is not a number of seconds in 1.." +
                                  std::to_string(kMaxTimeoutSeconds)};
            }
            out->timeout_s = static_cast<std::uint32_t>(*v);
        } else if (allowed.backlog && key == "backlog") {
            if (out->backlog) {
                return ParseError{"backlog given twice"};
            }
            auto v = parse_number(*value, 1, kMaxBacklog);
            if (!v) {
                return ParseError{"backlog " + quote(*value) + " is not a number in 1.." + std::to_string(kMaxBacklog)};
            }
            out->backlog = static_cast<std::uint32_t>(*v);
        } else {
            return ParseError{"unknown option " + quote(key)};
        }
    }
    return std::nullopt;
}

// Parses the single <id> argument of STATUS and INFO.
std::variant<std::uint64_t, ParseError> parse_id(std::span<const std::string_view> args, std::string_view usage) {
    if (args.size() != 1) {
        return ParseError{std::string(usage)};
    }
    auto id = parse_number(args[0], 1, UINT64_MAX);
    if (!id) {
        return ParseError{quote(args[0]) + " is not a connection id"};
    }
    return *id;
}

constexpr std::string_view kExpected =
    "(expected CONNECT, LISTEN, ACCEPT, STATUS, INFO, CONNECTIONS, STATS, DAEMON, CAPTURE or HELLO)";

// `key=value` fields where each key may appear once and takes a number in
// [min, max]; `out` is indexed like `keys`.
struct NumberOption {
    std::string_view key;
    std::uint64_t min;
    std::uint64_t max;
    std::string_view what;  // "a number of frames (1..)" for the message
};
std::optional<ParseError> parse_number_options(std::span<const std::string_view> fields,
                                               std::span<const NumberOption> keys,
                                               std::span<std::optional<std::uint64_t>> out) {
    for (std::string_view field : fields) {
        const auto eq = field.find('=');
        const std::string_view key = field.substr(0, eq);
        std::size_t i = 0;
        while (i < keys.size() && keys[i].key != key) ++i;
        if (i == keys.size()) {
            return ParseError{"unknown option " + quote(key)};
        }
        if (eq == std::string_view::npos) {
            return ParseError{std::string(key) + " needs a value"};
        }
        if (out[i]) {
            return ParseError{std::string(key) + " given twice"};
        }
        const std::string_view value = field.substr(eq + 1);
        out[i] = parse_number(value, keys[i].min, keys[i].max);
        if (!out[i]) {
            return ParseError{std::string(key) + " " + quote(value) + " is not " + std::string(keys[i].what)};
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
        return ParseError{"empty request " + std::string(kExpected)};
    }
    const std::string verb = upper(fields[0]);
    std::span<const std::string_view> args(fields.data() + 1, fields.size() - 1);

    if (verb == "CONNECT") {
        if (args.size() < 2) {
            return ParseError{
                "usage: CONNECT <address> <port> [timeout=<seconds>] [nodelay[=on|off]] [keepalive[=on|off]]"};
        }
        std::string_view text = args[0];
        if (text.size() >= 2 && text.front() == '[' && text.back() == ']') text = text.substr(1, text.size() - 2);
        auto address = wire::IpAddress::parse(text);
        if (!address) {
            return ParseError{quote(args[0]) + " is not an IPv4 or IPv6 address"};
        }
        if (auto why = connect_target_error(*address, 1)) {
            return ParseError{*why};
        }
        auto port = parse_port(args[1]);
        if (!port) {
            return ParseError{quote(args[1]) + " is not a port in 1..65535"};
        }
        Options options;
        if (auto err = parse_options(args.subspan(2), Allowed{.timeout = true, .stream = true}, &options)) {
            return *err;
        }
        return Request{ConnectRequest{*address, *port, options.timeout_s.value_or(0), options.stream}};
    }
    if (verb == "LISTEN" || verb == "ACCEPT") {
        const bool listen = verb == "LISTEN";
        if (args.empty()) {
            return ParseError{listen ? "usage: LISTEN <port> [backlog=<n>] [family=4|6]"
                                     : "usage: ACCEPT <port> [timeout=<seconds>] [nodelay[=on|off]] "
                                       "[keepalive[=on|off]]"};
        }
        auto port = parse_port(args[0]);
        if (!port) {
            return ParseError{quote(args[0]) + " is not a port in 1..65535"};
        }
        Options options;
        // Stream options belong to the connection ACCEPT hands out, not to
        // the listener a LISTEN holds.
        auto rest = args.subspan(1);
        tcp::ListenFamily family = tcp::ListenFamily::kBoth;
        std::vector<std::string_view> others;
        for (std::string_view a : rest) {
            if (listen && a.starts_with("family=")) {
                if (a == "family=4") {
                    family = tcp::ListenFamily::kIpv4;
                } else if (a == "family=6") {
                    family = tcp::ListenFamily::kIpv6;
                } else {
                    return ParseError{quote(a) + ": family is 4 or 6"};
                }
            } else {
                others.push_back(a);
            }
        }
        const Allowed allowed = listen ? Allowed{.backlog = true} : Allowed{.timeout = true, .stream = true};
        if (auto err = parse_options(others, allowed, &options)) {
            return *err;
        }
        if (listen) {
            return Request{ListenRequest{*port, options.backlog.value_or(0), family}};
        }
        return Request{AcceptRequest{*port, options.timeout_s.value_or(0), options.stream}};
    }
    if (verb == "STATUS" || verb == "INFO") {
        const bool status = verb == "STATUS";
        auto id = parse_id(args, status ? "usage: STATUS <id>" : "usage: INFO <id>");
        if (auto* e = std::get_if<ParseError>(&id)) {
            return *e;
        }
        const std::uint64_t n = std::get<std::uint64_t>(id);
        return status ? Request{StatusRequest{n}} : Request{InfoRequest{n}};
    }
    if (verb == "CONNECTIONS") {
        if (!args.empty()) {
            return ParseError{"usage: CONNECTIONS"};
        }
        return Request{ConnectionsRequest{}};
    }
    if (verb == "STATS") {
        StatsRequest r;
        if (args.size() == 1 && args[0] == "format=prometheus") {
            r.format = StatsRequest::Format::kPrometheus;
        } else if (!(args.empty() || (args.size() == 1 && args[0] == "format=text"))) {
            return ParseError{"usage: STATS [format=text|prometheus]"};
        }
        return Request{r};
    }
    if (verb == "DAEMON") {
        if (!args.empty()) {
            return ParseError{"usage: DAEMON"};
        }
        return Request{DaemonRequest{}};
    }
    if (verb == "CAPTURE") {
        static constexpr NumberOption kKeys[] = {
            {"count", 1, UINT64_MAX >> 1, "a number of frames (at least 1)"},
            {"snaplen", 0, kMaxSnaplen, "a snap length in 0..262144 (0: whole frames)"},
            {"buffer", kMinCaptureBuffer, kMaxCaptureBuffer, "a buffer size in bytes, 65536..67108864"},
        };
        std::optional<std::uint64_t> values[3];
        if (auto err = parse_number_options(args, kKeys, values)) {
            return *err;
        }
        return Request{CaptureRequest{values[0].value_or(0), static_cast<std::uint32_t>(values[1].value_or(0)),
                                      static_cast<std::uint32_t>(values[2].value_or(0))}};
    }
    if (verb == "HELLO") {
        if (!args.empty()) {
            return ParseError{"usage: HELLO"};
        }
        return Request{HelloRequest{}};
    }
    return ParseError{"unknown request " + quote(fields[0]) + " " + std::string(kExpected)};
}

std::optional<std::string> connect_target_error(const wire::IpAddress& address, std::uint16_t port) {
    if (address.is_unspecified() || address.is_limited_broadcast() || address.is_multicast() ||
        (address.is_ipv6() && (address.ipv6().is_loopback() || address.ipv6().is_ipv4_mapped()))) {
        return "cannot connect to " + address.to_string();
    }
    if (port == 0) {
        return std::string("port 0 is not a port in 1..65535");
    }
    return std::nullopt;
}

std::string format_stream_ok(const wire::IpEndpoint& local, const wire::IpEndpoint& remote, std::uint64_t id) {
    return "OK " + local.to_string() + " " + remote.to_string() + " id=" + std::to_string(id) + "\n";
}

std::string format_listen_ok(const wire::IpEndpoint& local) {
    return "OK " + local.to_string() + " listening\n";
}

std::string format_status_ok(std::uint64_t id, std::string_view state, client::Outcome outcome, std::uint32_t uid,
                             std::uint64_t undelivered) {
    std::string word;
    for (char c : state) {
        word += (c == ' ' || c == '\t' || !std::isprint(static_cast<unsigned char>(c))) ? '-' : c;
    }
    std::string out = "OK id=" + std::to_string(id) + " outcome=" + std::string(client::to_string(outcome)) +
                      " state=" + (word.empty() ? "unknown" : word);
    if (undelivered > 0) {
        out += " undelivered=" + std::to_string(undelivered);
    }
    return out + " uid=" + std::to_string(uid) + "\n";
}

std::string format_hello_ok(std::string_view daemon_version, std::string_view features) {
    return "OK HELLO version=" + std::to_string(client::kProtocolVersion) + " daemon=" + std::string(daemon_version) +
           " features=" + std::string(features) + "\n";
}

std::string format_error(client::ErrorCode code, std::string_view message) {
    constexpr std::size_t kMaxMessage = 200;
    return "ERR " + std::string(client::to_string(code)) + " " + sanitize_line(message.substr(0, kMaxMessage)) +
           "\n";
}

namespace {

// "key=value" fields of INFO and CONNECTIONS lines, appended in order.
class Fields {
public:
    Fields& add(std::string_view key, std::string_view value) {
        if (!out_.empty()) {
            out_ += ' ';
        }
        out_.append(key);
        out_ += '=';
        out_.append(value);
        return *this;
    }
    Fields& add(std::string_view key, std::uint64_t value) { return add(key, std::to_string(value)); }
    Fields& add_switch(std::string_view key, bool on) { return add(key, on ? "on" : "off"); }
    Fields& add_us(std::string_view key, Duration d) {
        return add(key, static_cast<std::uint64_t>(std::max<std::int64_t>(
                            0, std::chrono::duration_cast<std::chrono::microseconds>(d).count())));
    }
    Fields& add_ms(std::string_view key, Duration d) {
        return add(key, static_cast<std::uint64_t>(std::max<std::int64_t>(
                            0, std::chrono::duration_cast<std::chrono::milliseconds>(d).count())));
    }
    std::string take() { return std::move(out_); }

private:
    std::string out_;
};

// A word without blanks for a field value.
std::string one_word(std::string_view text) {
    std::string word;
    for (char c : text) {
        word += (c == ' ' || c == '\t' || c == '=' || !std::isprint(static_cast<unsigned char>(c))) ? '-' : c;
    }
    return word.empty() ? "unknown" : word;
}

// The fields INFO and CONNECTIONS share, in the same order.
void add_common(Fields& f, std::uint64_t id, std::string_view state, const tcp::ConnInfo& info) {
    f.add("id", id).add("state", one_word(state)).add("local", info.local.to_string()).add("remote",
                                                                                            info.remote.to_string());
}

// ssthresh before the first loss is "infinite" (RFC 5681 3.1).
std::string ssthresh_text(std::uint32_t ssthresh) {
    return ssthresh == 0xffffffffu ? std::string("inf") : std::to_string(ssthresh);
}

}  // namespace

std::string format_info_ok(std::uint64_t id, std::string_view state, const tcp::ConnInfo& info,
                           const tcp::ConnStats& st, std::uint32_t uid) {
    Fields f;
    add_common(f, id, state, info);
    f.add("cc", st.congestion_control.empty() ? std::string_view("unknown") : st.congestion_control)
        .add_us("srtt_us", st.srtt)
        .add_us("rttvar_us", st.rttvar)
        .add_ms("rto_ms", st.rto)
        .add("mss", st.snd_mss)
        .add("cwnd", st.cwnd)
        .add("ssthresh", ssthresh_text(st.ssthresh))
        .add("in_flight", st.bytes_in_flight)
        .add("snd_wnd", st.snd_wnd)
        .add("rcv_wnd", st.rcv_wnd)
        .add("rcv_buffer", st.rcv_buffer)
        .add("memory", info.memory)
        .add("send_queued", info.send_queued)
        .add("recv_queued", info.recv_available)
        .add("bytes_sent", st.bytes_sent)
        .add("bytes_acked", st.bytes_acked)
        .add("bytes_received", st.bytes_received)
        .add("segments_sent", st.segments_sent)
        .add("segments_received", st.segments_received)
        .add("retransmissions", st.retransmissions)
        .add("rto_expiries", st.rto_expiries)
        .add("fast_retransmits", st.fast_retransmits)
        .add("sack_recoveries", st.sack_recoveries)
        .add("dup_segments", st.dup_segments_received)
        .add("ooo_segments", st.ooo_segments_received)
        .add("paws_rejected", st.paws_rejected)
        .add_switch("timestamps", st.timestamps)
        .add_switch("sack", st.sack)
        .add_switch("wscale", st.window_scaling)
        .add_switch("nodelay", st.no_delay)
        .add_switch("keepalive", st.keepalive)
        .add_switch("recovery", st.in_recovery)
        .add("uid", uid);
    return "OK " + f.take() + "\n";
}

std::string format_connection_line(std::uint64_t id, std::string_view state, const tcp::ConnInfo& info,
                                   const tcp::ConnStats& st, std::uint32_t uid) {
    Fields f;
    add_common(f, id, state, info);
    f.add_us("srtt_us", st.srtt)
        .add_ms("rto_ms", st.rto)
        .add("cwnd", st.cwnd)
        .add("in_flight", st.bytes_in_flight)
        .add("retransmissions", st.retransmissions)
        .add("send_queued", info.send_queued)
        .add("recv_queued", info.recv_available)
        .add("uid", uid);
    return f.take() + "\n";
}

}  // namespace tapstack::daemon::api
