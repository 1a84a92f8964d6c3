// The API's socket file (daemon/api/socket_file.hpp): bound under umask
// 0177 so it never has wider bits than api.socket_mode, given its group
// before its mode, in a directory no other user can tamper with.
#include <doctest/doctest.h>

#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fstream>
#include <optional>
#include <string>

#include "daemon/api/socket_file.hpp"

using namespace tapstack::daemon::api;

namespace {

// The umask as the kernel reports it, read without changing it.
mode_t current_umask() {
    std::ifstream in("/proc/self/status");
    std::string line;
    while (std::getline(in, line)) {
        if (line.rfind("Umask:", 0) == 0) {
            return static_cast<mode_t>(std::stoul(line.substr(6), nullptr, 8));
        }
    }
    FAIL("no Umask line in /proc/self/status");
    return 0;
}

struct TempDir {
    std::string path;
    TempDir() {
        char t[] = "/tmp/tapstack-sockfile-XXXXXX";
        REQUIRE(::mkdtemp(t) != nullptr);
        path = t;
    }
    ~TempDir() {
        std::string cmd = "rm -rf '" + path + "'";
        CHECK(std::system(cmd.c_str()) == 0);
    }
};

struct stat stat_of(const std::string& path) {
    struct stat st {};
    REQUIRE(::lstat(path.c_str(), &st) == 0);
    return st;
}

struct stat dir_stat(mode_t mode, uid_t uid, gid_t gid) {
    struct stat st {};
    st.st_mode = S_IFDIR | mode;
    st.st_uid = uid;
    st.st_gid = gid;
    return st;
}

class UmaskScope {
public:
    explicit UmaskScope(mode_t m) : old_(::umask(m)) {}
    ~UmaskScope() { ::umask(old_); }

private:
    mode_t old_;
};

}  // namespace

TEST_CASE("bind runs under umask 0177: the new socket is 0600 until its mode is set, then exactly socket_mode") {
    TempDir dir;
    UmaskScope loose(0);  // the daemon's own umask may be anything, even 0
    SocketFileSpec spec;
    spec.path = dir.path + "/run/api.sock";
    spec.mode = 0660;
    std::optional<mode_t> mode_after_bind;
    std::optional<mode_t> umask_during_bind;
    std::string error;
    int fd = bind_socket_file(spec, &error, [&] {
        umask_during_bind = current_umask();
        mode_after_bind = stat_of(spec.path).st_mode & 07777;
    });
    REQUIRE_MESSAGE(fd >= 0, error);
    REQUIRE(mode_after_bind.has_value());
    CHECK(*umask_during_bind == kBindUmask);
    CHECK(*mode_after_bind == 0600);  // no moment with group or other bits
    const struct stat st = stat_of(spec.path);
    CHECK(S_ISSOCK(st.st_mode));
    CHECK((st.st_mode & 07777) == 0660);
    CHECK(current_umask() == 0);  // restored
    // The parent the helper created is 0755 whatever the umask was.
    CHECK((stat_of(dir.path + "/run").st_mode & 07777) == 0755);
    ::close(fd);
}

TEST_CASE("socket_group: the file gets the group, and the mode only afterwards") {
    TempDir dir;
    SocketFileSpec spec;
    spec.path = dir.path + "/api.sock";
    spec.mode = 0660;
    // A group other than ours when we may chown to it (root), else our own.
    const gid_t target = ::geteuid() == 0 ? 65534 : ::getegid();
    spec.gid = target;
    std::optional<gid_t> gid_after_bind;
    std::string error;
    int fd = bind_socket_file(spec, &error, [&] { gid_after_bind = stat_of(spec.path).st_gid; });
    REQUIRE_MESSAGE(fd >= 0, error);
    const struct stat st = stat_of(spec.path);
    CHECK(st.st_gid == target);
    CHECK((st.st_mode & 07777) == 0660);
    if (::geteuid() == 0) {
        CHECK(*gid_after_bind != target);  // the group came after bind, while the file was 0600
    }
    ::close(fd);
}

TEST_CASE("a group the daemon may not give is a start error, and no socket file is left behind") {
    if (::geteuid() == 0) {
        MESSAGE("root may give any group; the refusal needs an unprivileged run");
        return;
    }
    TempDir dir;
    SocketFileSpec spec;
    spec.path = dir.path + "/api.sock";
    spec.gid = 0;
    spec.group = "root";
    std::string error;
    CHECK(bind_socket_file(spec, &error) == -1);
    CHECK(error.find("chown to group root: ") == 0);
    struct stat st {};
    CHECK(::lstat(spec.path.c_str(), &st) != 0);
}

TEST_CASE("directory checks: other users' directories and writable ones without sticky bit are unsafe") {
    const uid_t me = 1000;
    const gid_t my_group = 1000;
    CHECK_FALSE(directory_problem(dir_stat(0755, 0, 0), me, my_group).has_value());
    CHECK_FALSE(directory_problem(dir_stat(0700, me, my_group), me, my_group).has_value());
    CHECK_FALSE(directory_problem(dir_stat(01777, 0, 0), me, my_group).has_value());  // /tmp
    CHECK_FALSE(directory_problem(dir_stat(0775, 0, my_group), me, my_group).has_value());
    CHECK_FALSE(directory_problem(dir_stat(0775, 0, 0), me, my_group).has_value());
    auto p = directory_problem(dir_stat(0777, 0, 0), me, my_group);
    REQUIRE(p.has_value());
    CHECK(*p == "is writable by every user (mode 0777) without the sticky bit: anyone could replace the socket");
    p = directory_problem(dir_stat(0755, 4242, 0), me, my_group);
    REQUIRE(p.has_value());
    CHECK(*p == "is owned by uid 4242, neither root nor the daemon's user: that user could replace the socket");
    p = directory_problem(dir_stat(0775, 0, 4242), me, my_group);
    REQUIRE(p.has_value());
    CHECK(p->find("writable by group 4242") != std::string::npos);
    struct stat file {};
    file.st_mode = S_IFREG | 0644;
    CHECK(directory_problem(file, me, my_group) == "is not a directory");
}

TEST_CASE("check_socket_directory walks up: an unsafe directory above the socket's is found and named") {
    TempDir dir;
    const std::string inner = dir.path + "/a/b";
    REQUIRE(::mkdir((dir.path + "/a").c_str(), 0755) == 0);
    REQUIRE(::mkdir(inner.c_str(), 0755) == 0);
    CHECK_FALSE(check_socket_directory(inner, ::geteuid(), ::getegid()).has_value());
    REQUIRE(::chmod((dir.path + "/a").c_str(), 0777) == 0);
    auto p = check_socket_directory(inner, ::geteuid(), ::getegid());
    REQUIRE(p.has_value());
    CHECK(p->find("directory " + dir.path + "/a is writable by every user") == 0);
    REQUIRE(::chmod((dir.path + "/a").c_str(), 01777) == 0);
    CHECK_FALSE(check_socket_directory(inner, ::geteuid(), ::getegid()).has_value());
}

TEST_CASE("bind_socket_file refuses an unsafe directory and creates nothing there") {
    TempDir dir;
    REQUIRE(::chmod(dir.path.c_str(), 0777) == 0);
    SocketFileSpec spec;
    spec.path = dir.path + "/api.sock";
    std::string error;
    CHECK(bind_socket_file(spec, &error) == -1);
    CHECK(error == "directory " + dir.path +
                       " is writable by every user (mode 0777) without the sticky bit: anyone could replace the "
                       "socket");
    struct stat st {};
    CHECK(::lstat(spec.path.c_str(), &st) != 0);
    if (::geteuid() == 0) {
        REQUIRE(::chmod(dir.path.c_str(), 0755) == 0);
        REQUIRE(::chown(dir.path.c_str(), 65534, 65534) == 0);
        CHECK(bind_socket_file(spec, &error) == -1);
        CHECK(error.find("is owned by uid 65534") != std::string::npos);
    }
}

TEST_CASE("an existing path: a stale socket is replaced, a file or a served socket is refused") {
    TempDir dir;
    SocketFileSpec spec;
    spec.path = dir.path + "/api.sock";
    std::string error;
    int first = bind_socket_file(spec, &error);
    REQUIRE_MESSAGE(first >= 0, error);
    CHECK(socket_in_use(spec.path));
    CHECK(bind_socket_file(spec, &error) == -1);
    CHECK(error == "another process is serving this socket");
    ::close(first);  // stale now: the file stays, nobody serves it
    CHECK_FALSE(socket_in_use(spec.path));
    int second = bind_socket_file(spec, &error);
    CHECK_MESSAGE(second >= 0, error);
    ::close(second);
    ::unlink(spec.path.c_str());
    { std::ofstream(spec.path) << "not a socket"; }
    CHECK(bind_socket_file(spec, &error) == -1);
    CHECK(error == "exists and is not a socket");
}

TEST_CASE("a world-writable socket mode is warned about; group and owner modes are not") {
    CHECK(socket_mode_warning(0666).has_value());
    CHECK(socket_mode_warning(0662).has_value());
    CHECK(socket_mode_warning(0666)->find("api.socket_mode 0666 lets every local user use the API") == 0);
    CHECK_FALSE(socket_mode_warning(0660).has_value());
    CHECK_FALSE(socket_mode_warning(0600).has_value());
    CHECK_FALSE(socket_mode_warning(0664).has_value());  // read alone does not allow connect()
}
