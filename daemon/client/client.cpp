// tapstack client library: one Unix connection and one request line per
// call; see client.hpp. Plain POSIX sockets, blocking, EINTR retried.
#include "daemon/client/client.hpp"

#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <optional>
#include <string>
#include <utility>

namespace tapstack::client {
namespace {

constexpr std::size_t kMaxReplyLine = 4096;

Error system_error(std::string what) {
    const int e = errno;
    return Error{Error::Kind::kSystem, ErrorCode::kInternal, what + ": " + std::strerror(e), e};
}

Error protocol_error(std::string what) { return Error{Error::Kind::kProtocol, ErrorCode::kInternal, std::move(what)}; }

std::vector<std::string_view> split(std::string_view line) {
    std::vector<std::string_view> out;
    std::size_t i = 0;
    while (i < line.size()) {
        while (i < line.size() && line[i] == ' ') {
            ++i;
        }
        std::size_t start = i;
        while (i < line.size() && line[i] != ' ') {
            ++i;
        }
        if (i > start) {
            out.push_back(line.substr(start, i - start));
        }
    }
    return out;
}

bool parse_u64(std::string_view text, std::uint64_t* out) {
    if (text.empty()) {
        return false;
    }
    auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), *out);
    return ec == std::errc() && ptr == text.data() + text.size();
}

// "a.b.c.d:port" or "[IPv6]:port": enough shape to catch a confused reply.
bool looks_like_endpoint(std::string_view text) {
    auto colon = text.rfind(':');
    std::uint64_t port = 0;
    if (colon == std::string_view::npos || colon == 0 || !parse_u64(text.substr(colon + 1), &port) || port > 65535) {
        return false;
    }
    const std::string_view host = text.substr(0, colon);
    if (host.front() == '[') {
        return host.size() > 2 && host.back() == ']' && host.find(':') != std::string_view::npos;
    }
    return host.find('.') != std::string_view::npos;
}

// `ERR <code> <message>` -> the daemon's error; nullopt for other lines.
std::optional<Error> parse_err(std::string_view line) {
    if (line.substr(0, 4) != "ERR ") {
        return std::nullopt;
    }
    std::string_view rest = line.substr(4);
    auto sp = rest.find(' ');
    std::string_view code_text = rest.substr(0, sp);
    std::string_view message = sp == std::string_view::npos ? std::string_view{} : rest.substr(sp + 1);
    auto code = parse_error_code(code_text);
    return Error{Error::Kind::kDaemon, code.value_or(ErrorCode::kInternal),
                 message.empty() ? std::string(code_text) : std::string(message)};
}

std::string_view strip_cr(std::string_view line) {
    if (!line.empty() && line.back() == '\r') {
        line.remove_suffix(1);
    }
    return line;
}

class Fd {
public:
    explicit Fd(int fd = -1) : fd_(fd) {}
    ~Fd() {
        if (fd_ >= 0) {
            ::close(fd_);
        }
    }
    Fd(const Fd&) = delete;
    Fd& operator=(const Fd&) = delete;
    Fd& operator=(Fd&& other) noexcept {
        if (this != &other) {
            if (fd_ >= 0) {
                ::close(fd_);
            }
            fd_ = other.release();
        }
        return *this;
    }
    int get() const { return fd_; }
    int release() { return std::exchange(fd_, -1); }

private:
    int fd_;
};

Result<int> dial(std::string_view socket_path) {
    sockaddr_un addr{};
    if (socket_path.empty() || socket_path.size() >= sizeof addr.sun_path) {
        return Error{Error::Kind::kUsage, ErrorCode::kInternal,
                     "socket path \"" + std::string(socket_path) + "\" is empty or too long"};
    }
    addr.sun_family = AF_UNIX;
    std::memcpy(addr.sun_path, socket_path.data(), socket_path.size());
    int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        return system_error("socket");
    }
    while (::connect(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof addr) != 0) {
        if (errno == EINTR) {
            continue;
        }
        const int err = errno;
        Error e{Error::Kind::kUnavailable, ErrorCode::kInternal,
                "cannot reach tapstackd at " + std::string(socket_path) + ": " + std::strerror(err), err};
        ::close(fd);
        return e;
    }
    return fd;
}

std::optional<Error> send_all(int fd, std::string_view text) {
    while (!text.empty()) {
        ssize_t n = ::send(fd, text.data(), text.size(), MSG_NOSIGNAL);
        if (n < 0) {
            if (errno == EINTR) {
                continue;
            }
            return system_error("sending the request");
        }
        text.remove_prefix(static_cast<std::size_t>(n));
    }
    return std::nullopt;
}

// Reads one line byte by byte so nothing after "\n" is consumed.
Result<std::string> read_line(int fd) {
    std::string line;
    for (;;) {
        char c = 0;
        ssize_t n = ::read(fd, &c, 1);
        if (n < 0) {
            if (errno == EINTR) {
                continue;
            }
            return system_error("reading the reply");
        }
        if (n == 0) {
            return protocol_error(line.empty() ? "tapstackd closed the connection without a reply"
                                               : "tapstackd's reply ended without a newline");
        }
        if (c == '\n') {
            return std::string(strip_cr(line));
        }
        if (line.size() >= kMaxReplyLine) {
            return protocol_error("tapstackd's reply line is too long");
        }
        line += c;
    }
}

// Dials, sends `request` and reads the first reply line; on success the
// connection is returned through *fd.
Result<std::string> exchange(std::string_view socket_path, const std::string& request, Fd* fd) {
    auto dialed = dial(socket_path);
    if (!dialed) {
        return dialed.error();
    }
    Fd conn(dialed.value());
    if (auto e = send_all(conn.get(), request)) {
        return *e;
    }
    auto line = read_line(conn.get());
    if (!line) {
        return line.error();
    }
    *fd = Fd(conn.release());
    return line;
}

std::string timeout_option(std::uint32_t timeout_s) {
    return timeout_s ? " timeout=" + std::to_string(timeout_s) : std::string();
}

// " timeout=5 nodelay keepalive=off": only what differs from the defaults.
std::string stream_options(const StreamOptions& o) {
    std::string out = timeout_option(o.timeout_s);
    auto flag = [&out](std::string_view name, std::optional<bool> v) {
        if (v) {
            out += ' ';
            out += name;
            out += *v ? "" : "=off";
        }
    };
    flag("nodelay", o.nodelay);
    flag("keepalive", o.keepalive);
    return out;
}

// A row must say which stream it is; the rest is optional for a reader.
bool has_identity(const Fields& f) {
    std::uint64_t id = 0;
    auto id_text = find_field(f, "id");
    return id_text && parse_u64(*id_text, &id) && id != 0 && find_field(f, "state") && find_field(f, "local") &&
           find_field(f, "remote");
}

// Reads body lines up to END; `each` takes one line.
template <class Each>
std::optional<Error> read_body(int fd, Each each) {
    for (;;) {
        auto body = read_line(fd);
        if (!body) {
            return body.error();
        }
        if (body.value() == kListEnd) {
            return std::nullopt;
        }
        if (auto e = each(body.value())) {
            return e;
        }
    }
}

Result<Stream> stream_request(std::string_view socket_path, const std::string& request) {
    Fd fd;
    auto line = exchange(socket_path, request, &fd);
    if (!line) {
        return line.error();
    }
    auto reply = parse_stream_reply(line.value());
    if (!reply) {
        return reply.error();
    }
    return Stream{fd.release(), reply->id, std::move(reply->local), std::move(reply->remote)};
}

}  // namespace

Result<StreamReply> parse_stream_reply(std::string_view line) {
    line = strip_cr(line);
    if (auto e = parse_err(line)) {
        return *e;
    }
    auto f = split(line);
    std::uint64_t id = 0;
    if (f.size() != 4 || f[0] != "OK" || !looks_like_endpoint(f[1]) || !looks_like_endpoint(f[2]) ||
        f[3].substr(0, 3) != "id=" || !parse_u64(f[3].substr(3), &id) || id == 0) {
        return protocol_error("unexpected reply from tapstackd: \"" + std::string(line) + "\"");
    }
    return StreamReply{std::string(f[1]), std::string(f[2]), id};
}

Result<std::string> parse_listen_reply(std::string_view line) {
    line = strip_cr(line);
    if (auto e = parse_err(line)) {
        return *e;
    }
    auto f = split(line);
    if (f.size() != 3 || f[0] != "OK" || !looks_like_endpoint(f[1]) || f[2] != "listening") {
        return protocol_error("unexpected reply from tapstackd: \"" + std::string(line) + "\"");
    }
    return std::string(f[1]);
}

Result<Status> parse_status_reply(std::string_view line) {
    line = strip_cr(line);
    if (auto e = parse_err(line)) {
        return *e;
    }
    auto f = split(line);
    Status s;
    bool have_id = false;
    bool have_outcome = false;
    if (f.empty() || f[0] != "OK") {
        return protocol_error("unexpected reply from tapstackd: \"" + std::string(line) + "\"");
    }
    for (std::size_t i = 1; i < f.size(); ++i) {
        auto eq = f[i].find('=');
        if (eq == std::string_view::npos) {
            return protocol_error("unexpected field \"" + std::string(f[i]) + "\" in STATUS reply");
        }
        std::string_view key = f[i].substr(0, eq);
        std::string_view value = f[i].substr(eq + 1);
        if (key == "id") {
            have_id = parse_u64(value, &s.id);
        } else if (key == "outcome") {
            auto o = parse_outcome(value);
            have_outcome = o.has_value();
            s.outcome = o.value_or(Outcome::kOpen);
        } else if (key == "state") {
            s.state = std::string(value);
        } else if (key == "undelivered" && !parse_u64(value, &s.undelivered)) {
            return protocol_error("bad undelivered= in STATUS reply: \"" + std::string(line) + "\"");
        }  // unknown keys: newer daemons may add some
    }
    if (!have_id || !have_outcome) {
        return protocol_error("STATUS reply lacks a valid id or outcome: \"" + std::string(line) + "\"");
    }
    return s;
}

Result<Counter> parse_counter_line(std::string_view line) {
    line = strip_cr(line);
    auto f = split(line);
    std::uint64_t value = 0;
    if (f.size() != 2 || !parse_u64(f[1], &value)) {
        return protocol_error("bad STATS line \"" + std::string(line) + "\"");
    }
    return Counter{std::string(f[0]), value};
}

std::optional<std::string_view> find_field(const Fields& fields, std::string_view key) {
    for (const auto& [k, v] : fields) {
        if (k == key) {
            return std::string_view(v);
        }
    }
    return std::nullopt;
}

namespace {

// "key=value key=value ...": every field has a non-empty key and an '='.
Result<Fields> split_key_values(std::string_view text) {
    Fields out;
    for (std::string_view f : split(text)) {
        auto eq = f.find('=');
        if (eq == std::string_view::npos || eq == 0) {
            return protocol_error("bad field \"" + std::string(f) + "\" in \"" + std::string(text) + "\"");
        }
        out.emplace_back(std::string(f.substr(0, eq)), std::string(f.substr(eq + 1)));
    }
    return out;
}

}  // namespace

Result<Fields> parse_ok_fields(std::string_view line, std::string_view what, std::string_view word) {
    line = strip_cr(line);
    if (auto e = parse_err(line)) {
        return *e;
    }
    std::string_view rest = line.substr(std::min<std::size_t>(3, line.size()));
    const bool word_ok = word.empty() || (rest.substr(0, word.size()) == word &&
                                          (rest.size() == word.size() || rest[word.size()] == ' '));
    if (line.substr(0, 3) != "OK " || !word_ok) {
        return protocol_error("unexpected " + std::string(what) + " reply from tapstackd: \"" + std::string(line) +
                              "\"");
    }
    return split_key_values(rest.substr(word.size()));
}

Result<Fields> parse_fields(std::string_view text) {
    text = strip_cr(text);
    auto parsed = split_key_values(text);
    if (!parsed) {
        return parsed.error();
    }
    Fields out = std::move(parsed.value());
    if (!has_identity(out)) {
        return protocol_error("line lacks id, state, local or remote: \"" + std::string(text) + "\"");
    }
    return out;
}

Result<Fields> parse_info_reply(std::string_view line) {
    line = strip_cr(line);
    if (auto e = parse_err(line)) {
        return *e;
    }
    if (line.substr(0, 3) != "OK ") {
        return protocol_error("unexpected reply from tapstackd: \"" + std::string(line) + "\"");
    }
    return parse_fields(line.substr(3));
}

bool Hello::has(std::string_view feature) const {
    for (const std::string& f : features) {
        if (f == feature) {
            return true;
        }
    }
    return false;
}

Result<Hello> parse_hello_reply(std::string_view line) {
    line = strip_cr(line);
    if (auto e = parse_err(line)) {
        return *e;
    }
    auto f = split(line);
    if (f.size() < 2 || f[0] != "OK" || f[1] != "HELLO") {
        return protocol_error("unexpected reply from tapstackd: \"" + std::string(line) + "\"");
    }
    Hello h;
    bool have_version = false;
    bool have_features = false;
    for (std::size_t i = 2; i < f.size(); ++i) {
        auto eq = f[i].find('=');
        if (eq == std::string_view::npos || eq == 0) {
            return protocol_error("bad field \"" + std::string(f[i]) + "\" in HELLO reply");
        }
        std::string_view key = f[i].substr(0, eq);
        std::string_view value = f[i].substr(eq + 1);
        if (key == "version") {
            std::uint64_t v = 0;
            have_version = parse_u64(value, &v) && v > 0 && v <= 0xffffffffu;
            h.version = static_cast<unsigned>(v);
        } else if (key == "daemon") {
            h.daemon = std::string(value);
        } else if (key == "features") {
            have_features = true;
            std::size_t start = 0;
            while (start <= value.size()) {
                auto comma = value.find(',', start);
                std::string_view word = value.substr(start, comma == std::string_view::npos ? value.npos : comma - start);
                if (!word.empty()) {
                    h.features.emplace_back(word);
                }
                if (comma == std::string_view::npos) {
                    break;
                }
                start = comma + 1;
            }
        }  // unknown keys: newer daemons may add some
    }
    if (!have_version || !have_features) {
        return protocol_error("HELLO reply lacks a valid version or features: \"" + std::string(line) + "\"");
    }
    return h;
}

Result<Hello> hello(std::string_view socket_path) {
    Fd fd;
    auto line = exchange(socket_path, "HELLO\n", &fd);
    if (!line) {
        return line.error();
    }
    return parse_hello_reply(line.value());
}

Result<Stream> connect(std::string_view socket_path, std::string_view address, std::uint16_t port,
                       std::uint32_t timeout_s) {
    return connect(socket_path, address, port, StreamOptions{timeout_s, std::nullopt, std::nullopt});
}

Result<Stream> connect(std::string_view socket_path, std::string_view address, std::uint16_t port,
                       const StreamOptions& options) {
    if (address.empty() || address.find_first_of(" \t\r\n") != std::string_view::npos) {
        return Error{Error::Kind::kUsage, ErrorCode::kBadRequest, "\"" + std::string(address) + "\" is not an address"};
    }
    return stream_request(socket_path, "CONNECT " + std::string(address) + " " + std::to_string(port) +
                                           stream_options(options) + "\n");
}

Result<Listener> listen(std::string_view socket_path, std::uint16_t port, std::uint32_t backlog) {
    Fd fd;
    std::string request = "LISTEN " + std::to_string(port);
    if (backlog) {
        request += " backlog=" + std::to_string(backlog);
    }
    auto line = exchange(socket_path, request + "\n", &fd);
    if (!line) {
        return line.error();
    }
    auto local = parse_listen_reply(line.value());
    if (!local) {
        return local.error();
    }
    return Listener{fd.release(), std::string(socket_path), port, std::move(local.value())};
}

Result<Stream> accept(const Listener& listener, std::uint32_t timeout_s) {
    return accept(listener.socket_path, listener.port, timeout_s);
}

Result<Stream> accept(std::string_view socket_path, std::uint16_t port, std::uint32_t timeout_s) {
    return accept(socket_path, port, StreamOptions{timeout_s, std::nullopt, std::nullopt});
}

Result<Stream> accept(const Listener& listener, const StreamOptions& options) {
    return accept(listener.socket_path, listener.port, options);
}

Result<Stream> accept(std::string_view socket_path, std::uint16_t port, const StreamOptions& options) {
    return stream_request(socket_path, "ACCEPT " + std::to_string(port) + stream_options(options) + "\n");
}

Result<Fields> info(std::string_view socket_path, std::uint64_t id) {
    Fd fd;
    auto line = exchange(socket_path, "INFO " + std::to_string(id) + "\n", &fd);
    if (!line) {
        return line.error();
    }
    return parse_info_reply(line.value());
}

Result<std::vector<Fields>> connections(std::string_view socket_path) {
    Fd fd;
    auto line = exchange(socket_path, "CONNECTIONS\n", &fd);
    if (!line) {
        return line.error();
    }
    if (auto e = parse_err(line.value())) {
        return *e;
    }
    if (line.value() != "OK connections") {
        return protocol_error("unexpected reply from tapstackd: \"" + line.value() + "\"");
    }
    std::vector<Fields> rows;
    auto e = read_body(fd.get(), [&rows](const std::string& body) -> std::optional<Error> {
        auto row = parse_fields(body);
        if (!row) {
            return row.error();
        }
        rows.push_back(std::move(row.value()));
        return std::nullopt;
    });
    if (e) {
        return *e;
    }
    return rows;
}

Result<Status> status(std::string_view socket_path, std::uint64_t id) {
    Fd fd;
    auto line = exchange(socket_path, "STATUS " + std::to_string(id) + "\n", &fd);
    if (!line) {
        return line.error();
    }
    return parse_status_reply(line.value());
}

Result<std::vector<Counter>> stats(std::string_view socket_path) {
    Fd fd;
    auto line = exchange(socket_path, "STATS\n", &fd);
    if (!line) {
        return line.error();
    }
    if (auto e = parse_err(line.value())) {
        return *e;
    }
    if (line.value() != "OK stats") {
        return protocol_error("unexpected reply from tapstackd: \"" + line.value() + "\"");
    }
    std::vector<Counter> out;
    for (;;) {
        auto body = read_line(fd.get());
        if (!body) {
            return body.error();
        }
        if (body.value() == kStatsEnd) {
            return out;
        }
        auto c = parse_counter_line(body.value());
        if (!c) {
            return c.error();
        }
        out.push_back(std::move(c.value()));
    }
}

Result<std::string> stats_prometheus(std::string_view socket_path) {
    Fd fd;
    auto line = exchange(socket_path, "STATS format=prometheus\n", &fd);
    if (!line) {
        return line.error();
    }
    if (auto e = parse_err(line.value())) {
        return *e;
    }
    if (line.value() != "OK stats format=prometheus") {
        return protocol_error("unexpected reply from tapstackd: \"" + line.value() + "\"");
    }
    std::string out;
    auto e = read_body(fd.get(), [&out](const std::string& body) -> std::optional<Error> {
        out += body;
        out += '\n';
        return std::nullopt;
    });
    if (e) {
        return *e;
    }
    return out;
}

Result<Fields> daemon_status(std::string_view socket_path) {
    Fd fd;
    auto line = exchange(socket_path, "DAEMON\n", &fd);
    if (!line) {
        return line.error();
    }
    auto fields = parse_ok_fields(line.value(), "DAEMON");
    if (fields && !find_field(fields.value(), "version")) {
        return protocol_error("DAEMON reply without a version: \"" + line.value() + "\"");
    }
    return fields;
}

Result<Capture> capture(std::string_view socket_path, const CaptureOptions& options) {
    std::string request = "CAPTURE";
    if (options.count) {
        request += " count=" + std::to_string(options.count);
    }
    if (options.snaplen) {
        request += " snaplen=" + std::to_string(options.snaplen);
    }
    if (options.buffer) {
        request += " buffer=" + std::to_string(options.buffer);
    }
    Fd fd;
    auto line = exchange(socket_path, request + "\n", &fd);
    if (!line) {
        return line.error();
    }
    auto fields = parse_ok_fields(line.value(), "CAPTURE", "capture");
    if (!fields) {
        return fields.error();
    }
    auto format = find_field(fields.value(), "format");
    if (!format || *format != "pcapng") {
        return protocol_error("CAPTURE reply is not a pcapng stream: \"" + line.value() + "\"");
    }
    return Capture{fd.release(), std::move(fields.value())};
}

}  // namespace tapstack::client
