// THE allow-list: every system call tapstackd makes after start-up, grouped
// by who makes it and why. Anything not here fails with EPERM and is logged
// ("seccomp: refused system call NAME"; see seccomp_filter.cpp).
//
// How the list was made, and how to extend it: run the daemon under
//   strace -f -c -o calls.txt build/daemon/tapstackd --config FILE
// through the whole netns suite and a loaded transfer (SIGHUP, SIGUSR1,
// SIGTERM included), with `security.seccomp: false`, and take the calls
// made after the "capabilities: dropped" log line. A feature that makes a
// new call adds it here, in its group, with the reason; the netns suite
// runs every daemon with the filter on, so a missing entry shows up there
// as a "seccomp: refused" line and a failing test.
//
// Start-up calls (TAP ioctls, AF_INET socket, bind, listen, setrlimit,
// getrandom, mkdir, chmod) are deliberately absent: the filter is installed
// after them. So are exec, fork/clone, ptrace, mount, module, bpf, keyctl
// and every other call a parser bug could want.
#include "daemon/sandbox/syscall_allowlist.hpp"

#include <sys/ioctl.h>
#include <termios.h>

#include <array>

namespace tapstack::daemon {

namespace {

constexpr std::array kAllowed = {
    // ---- The event loop (libuv): readiness, timers, signals ----------------
    // epoll_pwait on current libuv, epoll_wait on older builds and other
    // architectures; the signal pipe is read and written with read/write.
    AllowedSyscall{"epoll_wait"},
    AllowedSyscall{"epoll_pwait"},
    AllowedSyscall{"epoll_pwait2"},
    AllowedSyscall{"epoll_ctl"},
    AllowedSyscall{"clock_gettime"},  // uv_hrtime/uv_now when the vDSO cannot answer
    AllowedSyscall{"clock_getres"},
    AllowedSyscall{"gettimeofday"},
    AllowedSyscall{"rt_sigaction"},
    AllowedSyscall{"rt_sigprocmask"},
    AllowedSyscall{"rt_sigreturn"},  // end of every signal handler, the SIGSYS one included
    AllowedSyscall{"restart_syscall"},

    // ---- Descriptors: the TAP, API clients, the signal pipe ------------------
    AllowedSyscall{"read"},
    AllowedSyscall{"write"},  // also the log (stderr) and the SIGSYS handler's line
    AllowedSyscall{"readv"},  // stream bytes straight into TCP's ring (stream_bridge.cpp)
    AllowedSyscall{"writev"},
    AllowedSyscall{"close"},
    AllowedSyscall{"fcntl"},          // O_NONBLOCK / FD_CLOEXEC on new descriptors
    AllowedSyscall{"ioctl", ArgRule::kIoctl},  // FIONREAD, FIONBIO, FIOCLEX (list below)
    AllowedSyscall{"poll"},           // peer_hung_up(): a zero-timeout POLLHUP check
    AllowedSyscall{"ppoll"},

    // ---- The API's Unix sockets ----------------------------------------------
    AllowedSyscall{"accept4"},
    AllowedSyscall{"recvfrom"},
    AllowedSyscall{"recvmsg"},
    AllowedSyscall{"sendto"},
    AllowedSyscall{"sendmsg"},  // also sd_notify()
    AllowedSyscall{"shutdown"},
    AllowedSyscall{"getsockopt"},  // SO_PEERCRED of a new client, SO_ERROR
    AllowedSyscall{"setsockopt"},  // sd_notify() raising its socket's SO_SNDBUF
    AllowedSyscall{"getsockname"},
    AllowedSyscall{"getpeername"},
    // sd_notify() opens one AF_UNIX datagram socket per message; no other
    // family may be opened once running (the AF_INET one for interface
    // ioctls is closed by then).
    AllowedSyscall{"socket", ArgRule::kUnixSocket},

    // ---- Files: SIGHUP re-reads the config; stop removes the API socket ------
    AllowedSyscall{"openat"},
    AllowedSyscall{"newfstatat"},
    AllowedSyscall{"fstat"},
    AllowedSyscall{"statx"},
    AllowedSyscall{"lseek"},
    AllowedSyscall{"unlink"},
    AllowedSyscall{"unlinkat"},

    // ---- Memory (glibc malloc, C++ containers) -------------------------------
    AllowedSyscall{"brk"},
    AllowedSyscall{"mmap", ArgRule::kNoExec},
    AllowedSyscall{"mprotect", ArgRule::kNoExec},
    AllowedSyscall{"munmap"},
    AllowedSyscall{"mremap"},
    AllowedSyscall{"madvise"},  // malloc giving pages back

    // ---- The process itself --------------------------------------------------
    AllowedSyscall{"getpid"},
    AllowedSyscall{"gettid"},
    AllowedSyscall{"getuid"},  // sd_notify(), the CLI-style uid checks
    AllowedSyscall{"geteuid"},
    AllowedSyscall{"getgid"},
    AllowedSyscall{"getegid"},
    AllowedSyscall{"tgkill", ArgRule::kOwnProcess},  // abort() and raise(): fail loudly, never hang
    AllowedSyscall{"futex"},                         // glibc and libstdc++ locks
    AllowedSyscall{"sched_yield"},
    AllowedSyscall{"exit"},
    AllowedSyscall{"exit_group"},
};

constexpr std::array kIoctls = {
    static_cast<unsigned long>(FIONREAD),  // bytes a client's socket still holds (stream_bridge.cpp)
    static_cast<unsigned long>(FIONBIO),   // libuv's way to set O_NONBLOCK
    static_cast<unsigned long>(FIOCLEX),   // libuv's way to set FD_CLOEXEC
    static_cast<unsigned long>(FIONCLEX),
    static_cast<unsigned long>(TCGETS),    // isatty() of stderr (the log's colours)
};

}  // namespace

std::span<const AllowedSyscall> syscall_allowlist() { return kAllowed; }

std::span<const unsigned long> allowed_ioctls() { return kIoctls; }

}  // namespace tapstack::daemon
