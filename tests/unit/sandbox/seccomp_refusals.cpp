// The daemon's sandbox refuses what it must and allows what it needs:
// this program enters the very same sandbox (drop_capabilities() and
// install_syscall_filter() from daemon/sandbox, linked as tapstackd links
// them), then makes calls a compromised daemon would want and calls the
// daemon makes, and checks each result and the log lines the filter wrote.
//
// Proves: socket(AF_NETLINK) / socket(AF_INET) / mount / ptrace / execve /
// a TAP ioctl fail with EPERM (not a crash); each refusal logs one
// "seccomp: refused system call NAME (NR)" error line, at most 10 per call;
// no socket() at all; reads, writes, the daemon's ioctls and files still work; afterwards
// /proc/self/status shows Seccomp: 2, NoNewPrivs: 1 and no capability.
//
// No test framework on purpose: after the filter is in, only calls on the
// allow-list work, so this reports with write() and exits with _exit()
// (no atexit handlers, no leak checker, which would need ptrace).
//
// Each forbidden call is made so that, should the filter let it through,
// it fails harmlessly with another error (a missing path, a bad request, a
// read-only query) and the check fails: the test never mounts, execs or
// reconfigures anything on the machine it runs on.
#include <fcntl.h>
#include <linux/if_tun.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/ptrace.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

#include "daemon/sandbox/sandbox.hpp"

namespace {

int failures = 0;

void say(const std::string& s) {
    ssize_t ignored = ::write(STDOUT_FILENO, s.data(), s.size());
    (void)ignored;
}

void check(bool ok, const std::string& what) {
    say(std::string(ok ? "ok   " : "FAIL ") + what + "\n");
    if (!ok) ++failures;
}

// A call that must be refused: -1 with EPERM.
void refused(long rc, int err, const std::string& what) {
    check(rc == -1 && err == EPERM,
          what + " is refused with EPERM (got " + std::to_string(rc) + ", " + std::strerror(err) + ")");
}

std::string read_all(const char* path) {
    std::string out;
    const int fd = ::open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return out;
    char buf[4096];
    ssize_t n = 0;
    while ((n = ::read(fd, buf, sizeof buf)) > 0) out.append(buf, static_cast<std::size_t>(n));
    ::close(fd);
    return out;
}

std::size_t count(const std::string& text, const std::string& needle) {
    std::size_t n = 0;
    for (std::size_t at = text.find(needle); at != std::string::npos; at = text.find(needle, at + 1)) ++n;
    return n;
}

}  // namespace

int main(int argc, char** argv) {
    if (argc != 2) {
        std::fprintf(stderr, "usage: %s LOGFILE (stderr is redirected there)\n", argv[0]);
        return 2;
    }
    const char* log_path = argv[1];
    // The filter's log lines go to stderr, as the daemon's do: into a file here.
    const int log_fd = ::open(log_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (log_fd < 0 || ::dup2(log_fd, STDERR_FILENO) < 0) {
        std::perror(log_path);
        return 2;
    }
    ::unsetenv("JOURNAL_STREAM");  // the terminal log format, checked below
    const int tun = ::open("/dev/net/tun", O_RDWR | O_CLOEXEC);
    int pair[2];
    if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, pair) != 0) {
        std::perror("socketpair");
        return 2;
    }
    const int unix_fd = pair[0];
    const int unix_peer = pair[1];

    std::string summary, error;
    if (!tapstack::daemon::drop_capabilities(&summary, &error) ||
        !tapstack::daemon::install_syscall_filter(&summary, &error)) {
        std::fprintf(stdout, "FAIL entering the sandbox: %s\n", error.c_str());
        return 1;
    }
    say("sandbox: " + summary + "\n");

    errno = 0;
    long rc = ::socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, 0);
    refused(rc, errno, "socket(AF_NETLINK)");
    errno = 0;
    rc = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    refused(rc, errno, "socket(AF_INET)");
    errno = 0;
    rc = ::mount("none", "/nonexistent/tapstack-probe", "tapstack-no-such-fs", 0, nullptr);
    refused(rc, errno, "mount()");
    constexpr auto kBadRequest = static_cast<__ptrace_request>(0x7fff);
    errno = 0;
    rc = ::ptrace(kBadRequest, 0, nullptr, nullptr);
    refused(rc, errno, "ptrace()");
    char* const exec_argv[] = {const_cast<char*>("/nonexistent/tapstack-probe"), nullptr};
    errno = 0;
    rc = ::execve(exec_argv[0], exec_argv, environ);
    refused(rc, errno, "execve()");
    if (tun >= 0) {
        unsigned int features = 0;
        errno = 0;
        rc = ::ioctl(tun, TUNGETFEATURES, &features);
        refused(rc, errno, "ioctl(TUNGETFEATURES) on /dev/net/tun");
    }
    for (int i = 0; i < 12; ++i) {
        errno = 0;
        rc = ::ptrace(kBadRequest, 0, nullptr, nullptr);
    }
    refused(rc, errno, "ptrace() the 13th time");

    errno = 0;
    rc = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    refused(rc, errno, "socket(AF_UNIX) (every socket the daemon needs is open before the filter)");

    // What the daemon does keeps working: I/O on descriptors opened before.
    check(::write(unix_fd, "x", 1) == 1, "write() on a socket opened before works");
    char byte = 0;
    check(::read(unix_peer, &byte, 1) == 1 && byte == 'x', "read() works");
    int nb = 1;
    check(::ioctl(unix_fd, FIONBIO, &nb) == 0, "ioctl(FIONBIO) is allowed");
    int queued = -1;
    check(::ioctl(unix_peer, FIONREAD, &queued) == 0 && queued == 0, "ioctl(FIONREAD) is allowed");
    const std::string status = read_all("/proc/self/status");
    check(!status.empty(), "open()/read() of a file work (SIGHUP re-reads the config file)");
    check(status.find("\nSeccomp:\t2\n") != std::string::npos, "/proc/self/status: Seccomp: 2 (filter mode)");
    check(status.find("\nNoNewPrivs:\t1\n") != std::string::npos, "/proc/self/status: NoNewPrivs: 1");
    check(status.find("\nCapEff:\t0000000000000000\n") != std::string::npos &&
              status.find("\nCapPrm:\t0000000000000000\n") != std::string::npos,
          "/proc/self/status: CapEff and CapPrm are 0");

    const std::string log = read_all(log_path);
    check(count(log, "seccomp: refused system call socket (") == 3, "one log line per refused socket()");
    check(count(log, "seccomp: refused system call mount (") == 1, "a log line for mount()");
    check(count(log, "seccomp: refused system call execve (") == 1, "a log line for execve()");
    check(tun < 0 || count(log, "seccomp: refused system call ioctl (") == 1, "a log line for the TAP ioctl");
    check(count(log, "seccomp: refused system call ptrace (") == 10, "at most 10 log lines per call");
    check(count(log, "further refusals of this call are not logged") == 1, "the 10th says the rest are not logged");
    check(count(log, " error: seccomp: refused") == count(log, "seccomp: refused"),
          "each line has the daemon's log prefix and level");
    say(failures == 0 ? "PASS\n" : "FAILED\n");
    ::_exit(failures == 0 ? 0 : 1);
}
