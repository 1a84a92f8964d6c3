// The nc-style byte pump; see pump.hpp.
#include "daemon/cli/pump.hpp"

#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <vector>

namespace tapstack::cli {
namespace {

constexpr std::size_t kBufferSize = 256 * 1024;

// A FIFO byte buffer filled by read() and emptied by write().
struct Buffer {
    std::vector<char> bytes = std::vector<char>(kBufferSize);
    std::size_t begin = 0;
    std::size_t end = 0;
    bool empty() const { return begin == end; }
    bool has_room() const { return end < bytes.size() || begin > 0; }
    void compact() {
        if (begin == end) {
            begin = end = 0;
        } else if (end == bytes.size() && begin > 0) {
            std::memmove(bytes.data(), bytes.data() + begin, end - begin);
            end -= begin;
            begin = 0;
        }
    }
};

std::string errno_text(const char* what) { return std::string(what) + ": " + std::strerror(errno); }

}  // namespace

PumpResult pump(int sock, int in_fd, int out_fd, bool* in_eof) {
    int flags = ::fcntl(sock, F_GETFL);
    if (flags >= 0) {
        ::fcntl(sock, F_SETFL, flags | O_NONBLOCK);
    }
    struct stat in_stat {};
    const bool in_is_file =
        ::fstat(in_fd, &in_stat) == 0 && (S_ISREG(in_stat.st_mode) || S_ISBLK(in_stat.st_mode));
    Buffer up;    // stdin -> socket
    Buffer down;  // socket -> stdout
    bool up_shut = false;
    bool sock_eof = false;
    bool sock_hup = false;  // EOF and the other end closed both directions

    for (;;) {
        if (*in_eof && up.empty() && !up_shut) {
            if (::shutdown(sock, SHUT_WR) != 0 && errno != ENOTCONN) {
                return {PumpResult::End::kSocketError, errno_text("shutdown")};
            }
            up_shut = true;
        }
        // After the peer's EOF only a file on stdin is still worth reading.
        const bool in_pending = !up.empty() || (in_is_file && !*in_eof);
        if (sock_eof && down.empty()) {
            if (!in_pending) {
                return {};  // the peer is done and so are we, stdin's EOF or not
            }
            if (sock_hup && in_pending) {
                return {PumpResult::End::kSocketError, "the connection closed before all of stdin was sent"};
            }
        }
        pollfd fds[3] = {};
        nfds_t n = 0;
        int in_i = -1, sock_i = -1, out_i = -1;
        if (!*in_eof && up.has_room() && (!sock_eof || in_is_file)) {
            in_i = static_cast<int>(n);
            fds[n++] = {in_fd, POLLIN, 0};
        }
        short sock_events = 0;
        if (!sock_eof && down.has_room()) {
            sock_events |= POLLIN;
        }
        if (!up.empty()) {
            sock_events |= POLLOUT;
        }
        // After EOF the socket stays in the set even with no events: POLLHUP
        // then says the other end closed entirely (nothing more can be
        // sent), which ends the session even if stdin has not.
        if (sock_events || (sock_eof && !sock_hup)) {
            sock_i = static_cast<int>(n);
            fds[n++] = {sock, sock_events, 0};
        }
        if (!down.empty()) {
            out_i = static_cast<int>(n);
            fds[n++] = {out_fd, POLLOUT, 0};
        }
        if (n == 0) {
            return {};  // nothing can make progress (should not happen)
        }
        if (::poll(fds, n, -1) < 0) {
            if (errno == EINTR) {
                continue;
            }
            return {PumpResult::End::kLocalError, errno_text("poll")};
        }
        if (in_i >= 0 && fds[in_i].revents) {
            up.compact();
            ssize_t r = ::read(in_fd, up.bytes.data() + up.end, up.bytes.size() - up.end);
            if (r > 0) {
                up.end += static_cast<std::size_t>(r);
            } else if (r == 0) {
                *in_eof = true;
            } else if (errno != EINTR && errno != EAGAIN) {
                return {PumpResult::End::kLocalError, errno_text("reading stdin")};
            }
        }
        if (sock_i >= 0 && fds[sock_i].revents) {
            short rev = fds[sock_i].revents;
            if (sock_eof && (rev & POLLHUP)) {
                sock_hup = true;
            }
            if ((rev & (POLLIN | POLLHUP | POLLERR)) && !sock_eof && down.has_room()) {
                down.compact();
                ssize_t r = ::read(sock, down.bytes.data() + down.end, down.bytes.size() - down.end);
                if (r > 0) {
                    down.end += static_cast<std::size_t>(r);
                } else if (r == 0) {
                    sock_eof = true;
                } else if (errno != EINTR && errno != EAGAIN) {
                    return {PumpResult::End::kSocketError, errno_text("read")};
                }
            }
            if ((rev & (POLLOUT | POLLERR | POLLHUP)) && !up.empty()) {
                ssize_t w = ::send(sock, up.bytes.data() + up.begin, up.end - up.begin, MSG_NOSIGNAL);
                if (w > 0) {
                    up.begin += static_cast<std::size_t>(w);
                    up.compact();
                } else if (w < 0 && errno != EINTR && errno != EAGAIN) {
                    return {PumpResult::End::kSocketError, errno_text("write")};
                }
            }
        }
        if (out_i >= 0 && fds[out_i].revents) {
            ssize_t w = ::write(out_fd, down.bytes.data() + down.begin, down.end - down.begin);
            if (w > 0) {
                down.begin += static_cast<std::size_t>(w);
                down.compact();
            } else if (w < 0 && errno != EINTR && errno != EAGAIN) {
                return {PumpResult::End::kLocalError, errno_text("writing stdout")};
            }
        }
    }
}

}  // namespace tapstack::cli
