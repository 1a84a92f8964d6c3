// A fake tapstackd for client-library tests: a temporary Unix socket
// served by a thread that answers one scripted reply per connection, in
// order, and records each request line. The server side of each connection
// stays open (write side shut) until the fake is destroyed, so a test can
// read what the client sent after the request line.
#pragma once

#include <doctest/doctest.h>

#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

namespace tapstack::test {

inline std::string read_all(int fd) {
    std::string out;
    char buf[4096];
    for (;;) {
        ssize_t n = ::read(fd, buf, sizeof buf);
        if (n <= 0) {
            return out;
        }
        out.append(buf, static_cast<std::size_t>(n));
    }
}

class FakeDaemon {
public:
    explicit FakeDaemon(std::vector<std::string> replies) : replies_(std::move(replies)) {
        char dir_template[] = "/tmp/tapstack-client-test-XXXXXX";
        REQUIRE(::mkdtemp(dir_template) != nullptr);
        dir_ = dir_template;
        path_ = dir_ + "/api.sock";
        listen_fd_ = ::socket(AF_UNIX, SOCK_STREAM, 0);
        REQUIRE(listen_fd_ >= 0);
        sockaddr_un addr{};
        addr.sun_family = AF_UNIX;
        std::strncpy(addr.sun_path, path_.c_str(), sizeof addr.sun_path - 1);
        REQUIRE(::bind(listen_fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
        REQUIRE(::listen(listen_fd_, 8) == 0);
        thread_ = std::thread([this] { serve(); });
    }
    ~FakeDaemon() {
        join();
        for (int fd : conns_) {
            ::close(fd);
        }
        ::close(listen_fd_);
        ::unlink(path_.c_str());
        ::rmdir(dir_.c_str());
    }
    void join() {
        if (thread_.joinable()) {
            thread_.join();
        }
    }
    const std::string& path() const { return path_; }
    // Valid after join().
    const std::vector<std::string>& requests() const { return requests_; }
    int server_fd(std::size_t i) const { return conns_.at(i); }

private:
    void serve() {
        for (const std::string& reply : replies_) {
            int fd = ::accept(listen_fd_, nullptr, nullptr);
            if (fd < 0) {
                return;
            }
            std::string line;
            char c = 0;
            while (::read(fd, &c, 1) == 1 && c != '\n') {
                line += c;
            }
            requests_.push_back(line);
            std::size_t off = 0;
            while (off < reply.size()) {
                ssize_t n = ::send(fd, reply.data() + off, reply.size() - off, MSG_NOSIGNAL);
                if (n <= 0) {
                    break;
                }
                off += static_cast<std::size_t>(n);
            }
            ::shutdown(fd, SHUT_WR);
            conns_.push_back(fd);
        }
    }

    std::vector<std::string> replies_;
    std::string dir_;
    std::string path_;
    int listen_fd_ = -1;
    std::vector<std::string> requests_;
    std::vector<int> conns_;
    std::thread thread_;
};

}  // namespace tapstack::test
