// The capture command; see capture.hpp.
#include "daemon/cli/capture.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "daemon/capture/pcapng.hpp"
#include "daemon/cli/exit_codes.hpp"
#include "daemon/client/client.hpp"

namespace tapstack::cli {
namespace {

volatile sig_atomic_t g_stop = 0;

void on_stop_signal(int) { g_stop = 1; }

int fail(const std::string& what, int code) {
    std::fprintf(stderr, "tapstack: capture: %s\n", what.c_str());
    return code;
}

// Writes all of `data`; false with errno set on failure.
bool write_all(int fd, const std::uint8_t* data, std::size_t len) {
    while (len > 0) {
        const ssize_t n = ::write(fd, data, len);
        if (n < 0) {
            if (errno == EINTR) continue;
            return false;
        }
        data += n;
        len -= static_cast<std::size_t>(n);
    }
    return true;
}

}  // namespace

int run_capture(const CommandLine& line) {
    if (!line.args.empty()) {
        std::fprintf(stderr, "tapstack: capture takes no arguments (use -c, -s, -w, -B)\n");
        return kExitUsage;
    }
    const bool to_stdout = !line.output || *line.output == "-";
    if (to_stdout && ::isatty(STDOUT_FILENO) == 1) {
        std::fprintf(stderr,
                     "tapstack: capture: refusing to write pcapng to a terminal; use -w FILE, or pipe it: "
                     "tapstack capture | tcpdump -r -\n");
        return kExitUsage;
    }
    int out = STDOUT_FILENO;
    if (!to_stdout) {
        out = ::open(line.output->c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        if (out < 0) return fail(*line.output + ": " + std::strerror(errno), kExitLocalError);
    }

    // SIGINT/SIGTERM are blocked except inside ppoll(), so one arriving at
    // any moment ends the wait at once.
    struct sigaction sa {};
    sa.sa_handler = on_stop_signal;
    ::sigemptyset(&sa.sa_mask);
    ::sigaction(SIGINT, &sa, nullptr);
    ::sigaction(SIGTERM, &sa, nullptr);
    sigset_t blocked, during_wait;
    ::sigemptyset(&blocked);
    ::sigaddset(&blocked, SIGINT);
    ::sigaddset(&blocked, SIGTERM);
    ::sigprocmask(SIG_BLOCK, &blocked, &during_wait);
    ::sigdelset(&during_wait, SIGINT);
    ::sigdelset(&during_wait, SIGTERM);

    client::CaptureOptions options;
    options.count = line.count;
    options.snaplen = line.snaplen;
    options.buffer = line.buffer_kib * 1024;
    auto cap = client::capture(line.socket_path, options);
    if (!cap) {
        if (!to_stdout) ::close(out);
        return fail(describe(cap.error()), exit_code_for(cap.error()));
    }
    auto field = [&](std::string_view key) {
        auto v = client::find_field(cap->fields, key);
        return v ? std::string(*v) : std::string("?");
    };
    std::fprintf(stderr, "tapstack: capturing on %s (pcapng, snaplen %s)%s\n", field("interface").c_str(),
                 field("snaplen").c_str(), line.count ? "" : "; Ctrl-C stops");

    capture::pcapng::Reader reader;
    std::vector<std::uint8_t> buf(256 * 1024);
    bool shut = false;
    bool consumer_gone = false;
    int code = kExitOk;
    for (;;) {
        if (g_stop && !shut) {
            ::shutdown(cap->fd, SHUT_WR);  // the daemon finishes with its statistics block
            shut = true;
        }
        pollfd p{cap->fd, POLLIN, 0};
        if (::ppoll(&p, 1, nullptr, &during_wait) < 0) {
            if (errno == EINTR) continue;
            code = fail(std::string("poll: ") + std::strerror(errno), kExitLocalError);
            break;
        }
        const ssize_t n = ::read(cap->fd, buf.data(), buf.size());
        if (n < 0) {
            if (errno == EINTR || errno == EAGAIN) continue;
            code = fail(std::string("reading from tapstackd: ") + std::strerror(errno), kExitNoDaemon);
            break;
        }
        if (n == 0) break;
        const auto got = static_cast<std::size_t>(n);
        if (!write_all(out, buf.data(), got)) {
            if (errno == EPIPE) {
                consumer_gone = true;  // e.g. `| tcpdump -c 10` finished: a normal end
            } else {
                code = fail(std::string("writing output: ") + std::strerror(errno), kExitLocalError);
            }
            break;
        }
        if (!reader.feed(std::span<const std::uint8_t>(buf.data(), got))) {
            code = fail("tapstackd sent something that is not pcapng (" + std::string(reader.error()) + ")",
                        kExitBadRequest);
            break;
        }
    }
    ::close(cap->fd);
    if (!to_stdout && ::close(out) != 0 && code == kExitOk) {
        code = fail(*line.output + ": " + std::strerror(errno), kExitLocalError);
    }
    if (code != kExitOk || consumer_gone) return code;
    const auto& stats = reader.statistics();
    if (!stats) {
        return fail("tapstackd ended the capture without its statistics (did it stop?) after " +
                        std::to_string(reader.packets()) + " frames",
                    kExitNoDaemon);
    }
    std::fprintf(stderr,
                 "tapstack: %llu frames captured (%llu received, %llu sent), %llu dropped because this reader "
                 "was too slow\n",
                 static_cast<unsigned long long>(reader.packets()), static_cast<unsigned long long>(reader.inbound()),
                 static_cast<unsigned long long>(reader.outbound()), static_cast<unsigned long long>(stats->dropped));
    return kExitOk;
}

}  // namespace tapstack::cli
