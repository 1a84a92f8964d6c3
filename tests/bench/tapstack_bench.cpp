// tapstack_bench: the application side of tests/bench/throughput.py.
//
// One program for both ends of every measured path, so that the only thing
// that differs between "tapstack", "pasta" and "Linux" is the path itself:
//   * `--socket PATH`: streams come from tapstackd through the client library
//     (daemon/client/client.hpp): CONNECT, or LISTEN + ACCEPT;
//   * `--kernel`: the same streams from the kernel's own TCP (socket(2)).
//
// Clients (measure, print one JSON line on stdout, exit 0; errors: one line
// on stderr, exit 1):
//   send ADDR PORT --bytes N [--streams K] [--max-seconds T]
//       K streams (one thread each) write N bytes in all, half-close, and
//       read back the byte count the `sink` server saw, so "bytes" is what
//       arrived. With T, writing stops after T seconds: "complete":false.
//   recv ADDR PORT --bytes N [--streams K] [--max-seconds T]
//       K streams each send one byte ("go"), then read from a `source`
//       server until EOF (N/K bytes each). The go byte is what iperf3's
//       control exchange does before a reverse test; pasta (2023-03-09)
//       delivers nothing to the host side of a connection whose namespace
//       side sends first, before the host side has sent a byte.
//   pingpong ADDR PORT --rounds M
//       One stream, nodelay, 1 byte out and 1 byte back M times (after 100
//       warm-up rounds); p50/p99/mean round trip in microseconds.
//   crr ADDR PORT [--count N] [--max-seconds T]
//       Sequential: connect, 100-byte request, 100-byte response, EOF,
//       close; until N connections or T seconds; connections per second.
//   hold ADDR PORT --count N
//       Opens N streams one after another and prints the time it took; then
//       holds them until stdin reaches EOF or SIGTERM/SIGINT arrives.
// Server (runs until killed; one poll(2) loop, an acceptor thread feeds it):
//   serve PORT --mode sink|source|echo|crr|hold [--bytes N] [--bind ADDR]
//       sink: read to EOF, answer the byte count as "N\n", close;
//       source: wait for the go byte, write N bytes, half-close, read to
//       EOF, close;
//       echo: write back what arrives; crr: read 100 bytes, write 100, close;
//       hold: read and discard until EOF.
//
// Non-goals: no data verification beyond byte counts (the conformance tests
// do that), no pipelining in crr, IPv4 only. Not a test: it asserts nothing.
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "daemon/client/client.hpp"

namespace {

using Clock = std::chrono::steady_clock;
constexpr std::size_t kChunk = 256 * 1024;
constexpr std::size_t kCrrMessage = 100;
constexpr int kWarmupRounds = 100;

struct Options {
    std::string command;
    std::string socket_path;  // empty: --kernel
    bool kernel = false;
    std::string address;
    std::uint16_t port = 0;
    std::uint64_t bytes = 0;
    unsigned streams = 1;
    double max_seconds = 0;  // 0: no cap
    std::uint64_t rounds = 10000;
    std::uint64_t count = 0;
    std::string mode;
    std::string bind_address = "0.0.0.0";
};

[[noreturn]] void fail(const std::string& message) {
    std::fprintf(stderr, "tapstack_bench: %s\n", message.c_str());
    std::exit(1);
}

std::string errno_text(const char* what) { return std::string(what) + ": " + std::strerror(errno); }

double seconds_since(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }

const char* pattern_chunk() {
    static const std::vector<char> chunk = [] {
        std::vector<char> c(kChunk);
        for (std::size_t i = 0; i < c.size(); ++i) {
            c[i] = static_cast<char>('a' + i % 26);
        }
        return c;
    }();
    return chunk.data();
}

// The soft limit of open files up to the hard limit: `hold` and `serve`
// keep 10,000 streams open.
void raise_nofile_limit() {
    rlimit rl{};
    if (::getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        ::setrlimit(RLIMIT_NOFILE, &rl);
    }
}

// ---- opening streams -------------------------------------------------------

// An IPv4 or IPv6 socket address for `address`:`port`; fails on anything else.
struct SockAddr {
    sockaddr_storage storage{};
    socklen_t len = 0;
    int family = AF_INET;
    const sockaddr* get() const { return reinterpret_cast<const sockaddr*>(&storage); }  // NOLINT: the sockets API
};

SockAddr socket_address(const std::string& address, std::uint16_t port) {
    SockAddr a;
    if (address.find(':') != std::string::npos) {
        auto* sa6 = reinterpret_cast<sockaddr_in6*>(&a.storage);  // NOLINT: the sockets API
        sa6->sin6_family = AF_INET6;
        sa6->sin6_port = htons(port);
        if (::inet_pton(AF_INET6, address.c_str(), &sa6->sin6_addr) != 1) {
            fail("not an IPv6 address: " + address);
        }
        a.len = sizeof(sockaddr_in6);
        a.family = AF_INET6;
        return a;
    }
    auto* sa = reinterpret_cast<sockaddr_in*>(&a.storage);  // NOLINT: the sockets API
    sa->sin_family = AF_INET;
    sa->sin_port = htons(port);
    if (::inet_pton(AF_INET, address.c_str(), &sa->sin_addr) != 1) {
        fail("not an IPv4 address: " + address);
    }
    a.len = sizeof(sockaddr_in);
    return a;
}

int kernel_connect(const Options& o, bool nodelay) {
    const SockAddr sa = socket_address(o.address, o.port);
    int fd = ::socket(sa.family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        fail(errno_text("socket"));
    }
    int one = 1;
    if (nodelay) {
        ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    }
    if (::connect(fd, sa.get(), sa.len) != 0) {
        std::string msg = errno_text("connect");
        ::close(fd);
        fail(msg + " (" + o.address + ":" + std::to_string(o.port) + ")");
    }
    return fd;
}

// A connected stream's fd, from the kernel or from tapstackd.
int open_stream(const Options& o, bool nodelay) {
    if (o.kernel) {
        return kernel_connect(o, nodelay);
    }
    tapstack::client::StreamOptions so;
    if (nodelay) {
        so.nodelay = true;
    }
    so.timeout_s = 30;
    auto r = tapstack::client::connect(o.socket_path, o.address, o.port, so);
    if (!r) {
        fail("connect " + o.address + ":" + std::to_string(o.port) + ": " + r.error().message);
    }
    return r.value().fd;
}

bool write_all(int fd, const char* data, std::size_t len) {
    while (len > 0) {
        ssize_t n = ::write(fd, data, len);
        if (n < 0) {
            if (errno == EINTR) {
                continue;
            }
            return false;
        }
        data += n;
        len -= static_cast<std::size_t>(n);
    }
    return true;
}

// Reads exactly `len` bytes; false on EOF or error first.
bool read_exact(int fd, char* data, std::size_t len) {
    while (len > 0) {
        ssize_t n = ::read(fd, data, len);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n <= 0) {
            return false;
        }
        data += n;
        len -= static_cast<std::size_t>(n);
    }
    return true;
}

// Waits up to `timeout_ms` for fd to become readable; false on timeout.
bool wait_readable(int fd, int timeout_ms) {
    pollfd p{fd, POLLIN, 0};
    for (;;) {
        int r = ::poll(&p, 1, timeout_ms);
        if (r < 0 && errno == EINTR) {
            continue;
        }
        return r > 0;
    }
}

// ---- bulk transfers (send, recv) --------------------------------------------

struct StreamResult {
    std::uint64_t bytes = 0;  // arrived at the receiver
    bool complete = false;
    double end_s = 0;         // since the common start
    std::string error;
};

std::uint64_t share(std::uint64_t total, unsigned streams, unsigned i) {
    std::uint64_t base = total / streams;
    return i + 1 == streams ? total - base * (streams - 1) : base;
}

void send_stream(const Options& o, unsigned i, Clock::time_point t0, StreamResult* out) {
    const std::uint64_t want = share(o.bytes, o.streams, i);
    int fd = open_stream(o, false);
    std::uint64_t sent = 0;
    bool capped = false;
    const char* chunk = pattern_chunk();
    while (sent < want) {
        if (o.max_seconds > 0 && seconds_since(t0) > o.max_seconds) {
            capped = true;
            break;
        }
        std::size_t n = static_cast<std::size_t>(std::min<std::uint64_t>(kChunk, want - sent));
        if (!write_all(fd, chunk, n)) {
            out->error = errno_text("write");
            ::close(fd);
            return;
        }
        sent += n;
    }
    ::shutdown(fd, SHUT_WR);
    // The sink answers "<bytes>\n" after our EOF: the bytes that arrived.
    // A capped run may still have megabytes in flight; bound the wait.
    std::string reply;
    char buf[64];
    const int wait_ms = o.max_seconds > 0 ? 60000 : 600000;
    for (;;) {
        if (!wait_readable(fd, wait_ms)) {
            out->error = "no byte count from the sink";
            break;
        }
        ssize_t n = ::read(fd, buf, sizeof buf);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n <= 0) {
            break;
        }
        reply.append(buf, static_cast<std::size_t>(n));
    }
    out->end_s = seconds_since(t0);
    ::close(fd);
    if (out->error.empty()) {
        if (reply.empty() || reply.back() != '\n') {
            out->error = "sink closed without a byte count";
            return;
        }
        out->bytes = std::strtoull(reply.c_str(), nullptr, 10);
        out->complete = !capped && out->bytes == want;
        if (!capped && out->bytes != want) {
            out->error = "sink got " + std::to_string(out->bytes) + " of " + std::to_string(want) + " bytes";
        }
    }
}

void recv_stream(const Options& o, unsigned i, Clock::time_point t0, StreamResult* out) {
    const std::uint64_t want = share(o.bytes, o.streams, i);
    int fd = open_stream(o, false);
    if (!write_all(fd, "g", 1)) {
        out->error = errno_text("write go byte");
        ::close(fd);
        return;
    }
    std::vector<char> buf(kChunk);
    std::uint64_t got = 0;
    bool capped = false;
    for (;;) {
        if (o.max_seconds > 0) {
            double left = o.max_seconds - seconds_since(t0);
            if (left <= 0 || !wait_readable(fd, static_cast<int>(left * 1000) + 1)) {
                capped = true;
                break;
            }
        }
        ssize_t n = ::read(fd, buf.data(), buf.size());
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n < 0) {
            out->error = errno_text("read");
            break;
        }
        if (n == 0) {
            break;
        }
        got += static_cast<std::uint64_t>(n);
    }
    out->end_s = seconds_since(t0);
    out->bytes = got;
    out->complete = !capped && got == want;
    if (!capped && out->error.empty() && got != want) {
        out->error = "got " + std::to_string(got) + " of " + std::to_string(want) + " bytes before EOF";
    }
    ::close(fd);
}

int run_bulk(const Options& o, bool sending) {
    if (o.bytes == 0 || o.streams == 0 || o.streams > 64) {
        fail("--bytes must be > 0 and --streams within 1..64");
    }
    std::vector<StreamResult> results(o.streams);
    std::vector<std::thread> threads;
    const auto t0 = Clock::now();
    for (unsigned i = 0; i < o.streams; ++i) {
        threads.emplace_back(sending ? send_stream : recv_stream, std::cref(o), i, t0, &results[i]);
    }
    for (auto& t : threads) {
        t.join();
    }
    std::uint64_t bytes = 0;
    double seconds = 0;
    bool complete = true;
    for (const auto& r : results) {
        if (!r.error.empty()) {
            fail(r.error);
        }
        bytes += r.bytes;
        seconds = std::max(seconds, r.end_s);
        complete = complete && r.complete;
    }
    rusage ru{};
    ::getrusage(RUSAGE_SELF, &ru);
    double cpu = static_cast<double>(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
                 static_cast<double>(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
    std::printf("{\"bytes\": %llu, \"seconds\": %.6f, \"complete\": %s, \"cpu_seconds\": %.3f}\n",
                static_cast<unsigned long long>(bytes), seconds, complete ? "true" : "false", cpu);
    return 0;
}

// ---- latency, connection rate, idle connections ------------------------------

double percentile(std::vector<double> v, double p) {
    if (v.empty()) {
        return 0;
    }
    std::sort(v.begin(), v.end());
    auto idx = static_cast<std::size_t>(p * static_cast<double>(v.size() - 1) + 0.5);
    return v[std::min(idx, v.size() - 1)];
}

double mean(const std::vector<double>& v) {
    double s = 0;
    for (double x : v) {
        s += x;
    }
    return v.empty() ? 0 : s / static_cast<double>(v.size());
}

int run_pingpong(const Options& o) {
    int fd = open_stream(o, true);
    std::vector<double> rtt_us;
    rtt_us.reserve(o.rounds);
    char byte = 'x';
    for (std::uint64_t i = 0; i < o.rounds + kWarmupRounds; ++i) {
        auto t = Clock::now();
        if (!write_all(fd, &byte, 1) || !read_exact(fd, &byte, 1)) {
            fail("ping-pong round " + std::to_string(i) + ": the stream ended");
        }
        if (i >= kWarmupRounds) {
            rtt_us.push_back(std::chrono::duration<double, std::micro>(Clock::now() - t).count());
        }
    }
    ::close(fd);
    std::printf("{\"rounds\": %llu, \"p50_us\": %.1f, \"p99_us\": %.1f, \"mean_us\": %.1f}\n",
                static_cast<unsigned long long>(o.rounds), percentile(rtt_us, 0.5), percentile(rtt_us, 0.99),
                mean(rtt_us));
    return 0;
}

int run_crr(const Options& o) {
    if (o.count == 0 && o.max_seconds <= 0) {
        fail("crr needs --count or --max-seconds");
    }
    std::vector<char> request(kCrrMessage, 'q');
    std::vector<char> response(kCrrMessage);
    std::vector<double> conn_us;
    const auto t0 = Clock::now();
    std::uint64_t done = 0;
    while ((o.count == 0 || done < o.count) && (o.max_seconds <= 0 || seconds_since(t0) < o.max_seconds)) {
        auto t = Clock::now();
        int fd = open_stream(o, true);
        if (!write_all(fd, request.data(), request.size()) || !read_exact(fd, response.data(), response.size())) {
            fail("connection " + std::to_string(done) + ": no full response");
        }
        // The server closes after its response; wait for that EOF so the
        // server, not us, ends up in TIME-WAIT.
        char extra;
        if (::read(fd, &extra, 1) != 0) {
            fail("connection " + std::to_string(done) + ": more than " + std::to_string(kCrrMessage) + " bytes");
        }
        ::close(fd);
        conn_us.push_back(std::chrono::duration<double, std::micro>(Clock::now() - t).count());
        ++done;
    }
    double secs = seconds_since(t0);
    std::printf("{\"connections\": %llu, \"seconds\": %.6f, \"per_second\": %.1f, \"p50_us\": %.1f, \"p99_us\": %.1f}\n",
                static_cast<unsigned long long>(done), secs, static_cast<double>(done) / secs,
                percentile(conn_us, 0.5), percentile(conn_us, 0.99));
    return 0;
}

std::atomic<bool> g_stop{false};
void on_stop_signal(int) { g_stop = true; }

int run_hold(const Options& o) {
    if (o.count == 0) {
        fail("hold needs --count");
    }
    raise_nofile_limit();
    std::vector<int> fds;
    fds.reserve(o.count);
    const auto t0 = Clock::now();
    for (std::uint64_t i = 0; i < o.count; ++i) {
        fds.push_back(open_stream(o, false));
    }
    double secs = seconds_since(t0);
    std::printf("{\"connections\": %zu, \"open_seconds\": %.6f}\n", fds.size(), secs);
    std::fflush(stdout);
    struct sigaction sa {};
    sa.sa_handler = on_stop_signal;
    ::sigaction(SIGTERM, &sa, nullptr);
    ::sigaction(SIGINT, &sa, nullptr);
    char buf[256];
    while (!g_stop) {
        pollfd p{STDIN_FILENO, POLLIN, 0};
        int r = ::poll(&p, 1, 200);
        if (r > 0) {
            ssize_t n = ::read(STDIN_FILENO, buf, sizeof buf);
            if (n <= 0) {
                break;
            }
        }
    }
    for (int fd : fds) {
        ::close(fd);
    }
    return 0;
}

// ---- the server ---------------------------------------------------------------

enum class Mode : std::uint8_t { kSink, kSource, kEcho, kCrr, kHold };

std::optional<Mode> parse_mode(std::string_view m) {
    if (m == "sink") return Mode::kSink;
    if (m == "source") return Mode::kSource;
    if (m == "echo") return Mode::kEcho;
    if (m == "crr") return Mode::kCrr;
    if (m == "hold") return Mode::kHold;
    return std::nullopt;
}

struct Conn {
    int fd = -1;
    std::uint64_t count = 0;     // sink: bytes read; source: bytes written; crr: request bytes
    std::string pending;         // echo: bytes read, not yet written back
    bool source_go = false;      // source: the go byte arrived
    bool source_done = false;    // source: all written, half-closed
};

// Blocking accepts on their own thread; each accepted fd goes to the poll
// loop through a pipe, so the loop never blocks in accept.
void acceptor(const Options& o, int pipe_w) {
    int listen_fd = -1;
    tapstack::client::Listener holder;
    if (o.kernel) {
        const SockAddr sa = socket_address(o.bind_address, o.port);
        listen_fd = ::socket(sa.family, SOCK_STREAM | SOCK_CLOEXEC, 0);
        int one = 1;
        ::setsockopt(listen_fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
        if (::bind(listen_fd, sa.get(), sa.len) != 0 ||
            ::listen(listen_fd, 4096) != 0) {
            fail(errno_text("bind/listen"));
        }
    } else {
        auto r = tapstack::client::listen(o.socket_path, o.port, 1024);
        if (!r) {
            fail("listen " + std::to_string(o.port) + ": " + r.error().message);
        }
        holder = r.value();
    }
    for (;;) {
        int fd = -1;
        if (o.kernel) {
            fd = ::accept4(listen_fd, nullptr, nullptr, SOCK_CLOEXEC);
            if (fd < 0) {
                if (errno == EINTR || errno == ECONNABORTED) {
                    continue;
                }
                fail(errno_text("accept"));
            }
            int one = 1;
            ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        } else {
            tapstack::client::StreamOptions so;
            so.nodelay = true;
            auto r = tapstack::client::accept(holder, so);
            if (!r) {
                fail("accept: " + r.error().message);
            }
            fd = r.value().fd;
        }
        if (!write_all(pipe_w, reinterpret_cast<const char*>(&fd), sizeof fd)) {  // NOLINT: an int through a pipe
            fail(errno_text("pipe"));
        }
    }
}

int run_serve(const Options& o) {
    auto mode = parse_mode(o.mode);
    if (!mode) {
        fail("--mode must be sink, source, echo, crr or hold");
    }
    if (*mode == Mode::kSource && o.bytes == 0) {
        fail("--mode source needs --bytes (per connection)");
    }
    raise_nofile_limit();
    int p[2];
    if (::pipe2(p, O_CLOEXEC) != 0) {
        fail(errno_text("pipe"));
    }
    std::thread(acceptor, std::cref(o), p[1]).detach();
    std::vector<Conn> conns;
    std::vector<pollfd> pfds;
    std::vector<char> buf(kChunk);
    const char* chunk = pattern_chunk();
    for (;;) {
        pfds.assign(1, pollfd{p[0], POLLIN, 0});
        for (const auto& c : conns) {
            short ev = POLLIN;
            if ((*mode == Mode::kSource && c.source_go && !c.source_done) || !c.pending.empty()) {
                ev = POLLOUT;
            }
            pfds.push_back(pollfd{c.fd, ev, 0});
        }
        if (::poll(pfds.data(), pfds.size(), -1) < 0) {
            if (errno == EINTR) {
                continue;
            }
            fail(errno_text("poll"));
        }
        std::vector<bool> closing(conns.size(), false);
        for (std::size_t i = 0; i < conns.size(); ++i) {
            short re = pfds[i + 1].revents;
            if (re == 0) {
                continue;
            }
            Conn& c = conns[i];
            if (*mode == Mode::kSource && !c.source_go) {
                char go;
                auto n = ::read(c.fd, &go, 1);
                if (n == 1) {
                    c.source_go = true;
                } else if (n == 0 || (errno != EAGAIN && errno != EINTR)) {
                    closing[i] = true;
                }
                continue;
            }
            if (*mode == Mode::kSource && !c.source_done) {
                while (c.count < o.bytes) {
                    auto n = ::write(c.fd, chunk, static_cast<std::size_t>(std::min<std::uint64_t>(kChunk, o.bytes - c.count)));
                    if (n <= 0) {
                        closing[i] = n < 0 && errno != EAGAIN && errno != EINTR;
                        break;
                    }
                    c.count += static_cast<std::uint64_t>(n);
                }
                if (c.count == o.bytes) {
                    ::shutdown(c.fd, SHUT_WR);
                    c.source_done = true;
                }
                continue;
            }
            if (!c.pending.empty()) {
                auto n = ::write(c.fd, c.pending.data(), c.pending.size());
                if (n > 0) {
                    c.pending.erase(0, static_cast<std::size_t>(n));
                } else if (n < 0 && errno != EAGAIN && errno != EINTR) {
                    closing[i] = true;
                }
                continue;
            }
            for (;;) {
                auto n = ::read(c.fd, buf.data(), buf.size());
                if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
                    break;
                }
                if (n <= 0) {
                    if (*mode == Mode::kSink && n == 0) {
                        std::string reply = std::to_string(c.count) + "\n";
                        write_all(c.fd, reply.data(), reply.size());
                    }
                    closing[i] = true;
                    break;
                }
                auto len = static_cast<std::size_t>(n);
                c.count += len;
                if (*mode == Mode::kEcho) {
                    auto w = ::write(c.fd, buf.data(), len);
                    std::size_t done = w > 0 ? static_cast<std::size_t>(w) : 0;
                    if (done < len) {
                        c.pending.assign(buf.data() + done, len - done);
                        break;
                    }
                } else if (*mode == Mode::kCrr && c.count >= kCrrMessage) {
                    std::vector<char> response(kCrrMessage, 'r');
                    write_all(c.fd, response.data(), response.size());
                    closing[i] = true;  // the server closes first (see run_crr)
                    break;
                }
            }
        }
        for (std::size_t i = conns.size(); i-- > 0;) {
            if (closing[i]) {
                ::close(conns[i].fd);
                conns[i] = conns.back();
                conns.pop_back();
            }
        }
        if (pfds[0].revents != 0) {
            int fd = -1;
            if (::read(p[0], &fd, sizeof fd) == static_cast<ssize_t>(sizeof fd)) {
                ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) | O_NONBLOCK);
                conns.push_back(Conn{fd, 0, {}, false, false});
            }
        }
    }
}

// ---- command line ---------------------------------------------------------------

[[noreturn]] void usage() {
    std::fprintf(stderr,
                 "usage: tapstack_bench (--socket PATH | --kernel) COMMAND ...\n"
                 "  send|recv ADDR PORT --bytes N [--streams K] [--max-seconds T]\n"
                 "  pingpong ADDR PORT [--rounds M]\n"
                 "  crr ADDR PORT [--count N] [--max-seconds T]\n"
                 "  hold ADDR PORT --count N\n"
                 "  serve PORT --mode sink|source|echo|crr|hold [--bytes N] [--bind ADDR]\n");
    std::exit(2);
}

std::uint64_t parse_u64(const char* s) {
    char* end = nullptr;
    errno = 0;
    auto v = std::strtoull(s, &end, 10);
    if (errno != 0 || end == s || *end != '\0') {
        usage();
    }
    return v;
}

Options parse(int argc, char** argv) {
    Options o;
    std::vector<std::string> positional;
    for (int i = 1; i < argc; ++i) {
        std::string_view a = argv[i];
        auto value = [&]() -> const char* {
            if (i + 1 >= argc) {
                usage();
            }
            return argv[++i];
        };
        if (a == "--socket") {
            o.socket_path = value();
        } else if (a == "--kernel") {
            o.kernel = true;
        } else if (a == "--bytes") {
            o.bytes = parse_u64(value());
        } else if (a == "--streams") {
            o.streams = static_cast<unsigned>(parse_u64(value()));
        } else if (a == "--max-seconds") {
            o.max_seconds = std::atof(value());
        } else if (a == "--rounds") {
            o.rounds = parse_u64(value());
        } else if (a == "--count") {
            o.count = parse_u64(value());
        } else if (a == "--mode") {
            o.mode = value();
        } else if (a == "--bind") {
            o.bind_address = value();
        } else if (a.starts_with("--")) {
            usage();
        } else {
            positional.emplace_back(a);
        }
    }
    if (positional.empty() || o.kernel == !o.socket_path.empty()) {
        usage();
    }
    o.command = positional[0];
    const bool server = o.command == "serve";
    if (positional.size() != (server ? 2u : 3u)) {
        usage();
    }
    if (!server) {
        o.address = positional[1];
    }
    auto port = parse_u64(positional.back().c_str());
    if (port == 0 || port > 65535) {
        usage();
    }
    o.port = static_cast<std::uint16_t>(port);
    return o;
}

}  // namespace

int main(int argc, char** argv) {
    ::signal(SIGPIPE, SIG_IGN);
    Options o = parse(argc, argv);
    if (o.command == "send") return run_bulk(o, true);
    if (o.command == "recv") return run_bulk(o, false);
    if (o.command == "pingpong") return run_pingpong(o);
    if (o.command == "crr") return run_crr(o);
    if (o.command == "hold") return run_hold(o);
    if (o.command == "serve") return run_serve(o);
    usage();
}
