// The API's socket file; see socket_file.hpp.
#include "daemon/api/socket_file.hpp"

#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <system_error>

namespace tapstack::daemon::api {
namespace {

std::string octal(std::uint32_t mode) {
    char buf[8];
    std::snprintf(buf, sizeof buf, "%04o", mode & 07777u);
    return buf;
}

class UmaskGuard {
public:
    explicit UmaskGuard(mode_t mask) : old_(::umask(mask)) {}
    ~UmaskGuard() { ::umask(old_); }
    UmaskGuard(const UmaskGuard&) = delete;
    UmaskGuard& operator=(const UmaskGuard&) = delete;

private:
    mode_t old_;
};

sockaddr_un address_of(const std::string& path) {
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::memcpy(addr.sun_path, path.c_str(), path.size() + 1);
    return addr;
}

}  // namespace

std::optional<std::string> directory_problem(const struct stat& st, uid_t euid, gid_t egid) {
    if (!S_ISDIR(st.st_mode)) {
        return std::string("is not a directory");
    }
    if (st.st_uid != 0 && st.st_uid != euid) {
        return "is owned by uid " + std::to_string(st.st_uid) +
               ", neither root nor the daemon's user: that user could replace the socket";
    }
    const bool sticky = (st.st_mode & S_ISVTX) != 0;
    if ((st.st_mode & S_IWOTH) != 0 && !sticky) {
        return "is writable by every user (mode " + octal(st.st_mode) +
               ") without the sticky bit: anyone could replace the socket";
    }
    if ((st.st_mode & S_IWGRP) != 0 && !sticky && st.st_gid != 0 && st.st_gid != egid) {
        return "is writable by group " + std::to_string(st.st_gid) + " (mode " + octal(st.st_mode) +
               ") without the sticky bit: its members could replace the socket";
    }
    return std::nullopt;
}

std::optional<std::string> check_socket_directory(const std::string& dir, uid_t euid, gid_t egid) {
    char resolved[PATH_MAX];
    if (::realpath(dir.c_str(), resolved) == nullptr) {
        return dir + ": " + std::strerror(errno);
    }
    std::filesystem::path d(resolved);
    for (;;) {
        struct stat st {};
        if (::stat(d.c_str(), &st) != 0) {
            return d.string() + ": " + std::strerror(errno);
        }
        if (auto problem = directory_problem(st, euid, egid)) {
            return "directory " + d.string() + " " + *problem;
        }
        if (d == d.root_path() || !d.has_parent_path() || d.parent_path() == d) {
            return std::nullopt;
        }
        d = d.parent_path();
    }
}

std::optional<std::string> socket_mode_warning(std::uint32_t mode) {
    if ((mode & S_IWOTH) == 0) {
        return std::nullopt;
    }
    return "api.socket_mode " + octal(mode) +
           " lets every local user use the API: each may open TCP connections from the daemon's address "
           "(limit where with api.connect_deny) and hold ports; prefer 0660 with api.socket_group";
}

bool socket_in_use(const std::string& path) {
    int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        return false;
    }
    sockaddr_un addr = address_of(path);
    bool in_use = ::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
    ::close(fd);
    return in_use;
}

int bind_socket_file(const SocketFileSpec& spec, std::string* error, const std::function<void()>& after_bind) {
    namespace fs = std::filesystem;
    const std::string& path = spec.path;
    int fd = -1;
    auto fail = [&](std::string why) {
        if (fd >= 0) {
            ::close(fd);
        }
        if (error) {
            *error = std::move(why);
        }
        return -1;
    };
    if (path.empty() || path.size() >= sizeof(sockaddr_un{}.sun_path)) {
        return fail("path is empty or longer than " + std::to_string(sizeof(sockaddr_un{}.sun_path) - 1) + " bytes");
    }
    fs::path parent = fs::path(path).parent_path();
    if (parent.empty()) {
        parent = ".";
    }
    {
        std::error_code ec;
        UmaskGuard mask(022);  // a directory we create is 0755
        fs::create_directories(parent, ec);
        if (ec) {
            return fail("cannot create " + parent.string() + ": " + ec.message());
        }
    }
    if (auto problem = check_socket_directory(parent.string(), ::geteuid(), ::getegid())) {
        return fail(*problem);
    }
    struct stat st {};
    if (::lstat(path.c_str(), &st) == 0) {
        if (!S_ISSOCK(st.st_mode)) {
            return fail("exists and is not a socket");
        }
        if (socket_in_use(path)) {
            return fail("another process is serving this socket");
        }
        ::unlink(path.c_str());  // stale socket from an earlier run
    }
    fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        return fail(std::string("socket: ") + std::strerror(errno));
    }
    sockaddr_un addr = address_of(path);
    {
        UmaskGuard mask(kBindUmask);
        if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
            return fail(std::string("bind: ") + std::strerror(errno));
        }
        if (after_bind) {
            after_bind();
        }
    }
    auto fail_bound = [&](std::string why) {
        ::unlink(path.c_str());
        return fail(std::move(why));
    };
    if (spec.gid && ::lchown(path.c_str(), static_cast<uid_t>(-1), static_cast<gid_t>(*spec.gid)) != 0) {
        const std::string group = spec.group.empty() ? std::to_string(*spec.gid) : spec.group;
        return fail_bound("chown to group " + group + ": " + std::strerror(errno));
    }
    if (::chmod(path.c_str(), static_cast<mode_t>(spec.mode)) != 0) {
        return fail_bound(std::string("chmod: ") + std::strerror(errno));
    }
    if (::listen(fd, spec.backlog) != 0) {
        return fail_bound(std::string("listen: ") + std::strerror(errno));
    }
    return fd;
}

}  // namespace tapstack::daemon::api
