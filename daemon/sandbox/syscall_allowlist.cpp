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
// after them. So are socket(), exec, fork/clone, ptrace, mount, module,
// bpf, keyctl and every other call a parser bug could want. A few entries
// name a call's twin on another architecture (arm64 has epoll_pwait, ppoll
// and unlinkat only); names the running architecture lacks are skipped.
#include "daemon/sandbox/syscall_allowlist.hpp"

#include <sys/ioctl.h>

#include <array>

#include "daemon/sandbox/sanitizer.hpp"

namespace tapstack::daemon {

namespace {

constexpr std::array kAllowed = {
    // ---- The event loop (libuv): readiness, timers, signals ----------------
    AllowedSyscall{"epoll_wait"},
    AllowedSyscall{"epoll_pwait"},  // arm64 has no epoll_wait
    AllowedSyscall{"epoll_ctl"},
    // uv_hrtime()/uv_now() and the log's timestamps: the vDSO answers these
    // without a system call, unless the machine's clock source cannot be
    // read from user space (some VMs); then glibc makes the call.
    AllowedSyscall{"clock_gettime"},
    AllowedSyscall{"rt_sigaction"},
    AllowedSyscall{"rt_sigprocmask"},  // libuv around its signal handler
    AllowedSyscall{"rt_sigreturn"},    // end of every signal handler, the SIGSYS one included

    // ---- Descriptors: the TAP, API clients, libuv's signal pipe, the log -----
    AllowedSyscall{"read"},    // signal pipe; SIGHUP's config file
    AllowedSyscall{"write"},   // signal pipe; the log (stderr), the SIGSYS handler's line
    AllowedSyscall{"readv"},   // TAP frames; stream bytes straight into TCP's ring (stream_bridge.cpp)
    AllowedSyscall{"writev"},  // TAP frames
    AllowedSyscall{"close"},
    AllowedSyscall{"ioctl", ArgRule::kIoctl},  // FIONREAD, FIONBIO (list below)
    AllowedSyscall{"poll"},                    // peer_hung_up(): a zero-timeout POLLHUP check
    AllowedSyscall{"ppoll"},                   // the same on arm64, which has no poll

    // ---- The API's Unix sockets and sd_notify ---------------------------------
    // No socket() at all: the API's listening socket and the notification
    // socket are opened before the filter (systemd_notify.hpp), and the
    // AF_INET socket for interface ioctls is closed by then.
    AllowedSyscall{"accept4"},
    AllowedSyscall{"recvfrom"},    // request lines (MSG_PEEK, then exactly one line)
    AllowedSyscall{"sendto"},      // replies; READY=1, STATUS=, WATCHDOG=1 ...
    AllowedSyscall{"sendmsg"},     // stream bytes from TCP's ring (two runs at most)
    AllowedSyscall{"shutdown"},    // EOF toward an application
    AllowedSyscall{"getsockopt"},  // SO_PEERCRED of a new client

    // ---- Files: SIGHUP re-reads the config; a stop removes the API socket ----
    AllowedSyscall{"openat"},
    AllowedSyscall{"newfstatat"},  // fstat() of the config file, lstat() of the socket
    AllowedSyscall{"unlink"},
    AllowedSyscall{"unlinkat"},  // arm64 has no unlink

    // ---- Memory (glibc malloc: the heap, and mmap for large blocks) ---------
    AllowedSyscall{"brk"},
    AllowedSyscall{"mmap", ArgRule::kNoExec},
    AllowedSyscall{"munmap"},
    // Not mremap or madvise: with one thread glibc gives memory back with
    // brk and munmap (checked with 17,500 API clients connected).

    // ---- The process itself --------------------------------------------------
    AllowedSyscall{"futex"},    // glibc and libstdc++ locks (spdlog's logger mutex)
    AllowedSyscall{"geteuid"},  // may_bind(): the daemon's own uid may hold ports below 1024
    // abort() (a failed assertion) signals this process: die with SIGABRT
    // and a core, not with an EPERM loop.
    AllowedSyscall{"getpid"},
    AllowedSyscall{"tgkill", ArgRule::kOwnProcess},
    AllowedSyscall{"exit_group"},
#ifdef TAPSTACK_SANITIZED
    // ---- Sanitizer builds only ---------------------------------------------
    // ASan checks the signal stack before every call that does not return
    // (exit, _exit, throw) and names the thread in its reports.
    AllowedSyscall{"sigaltstack"},
    AllowedSyscall{"gettid"},
#endif
};

constexpr std::array kIoctls = {
    static_cast<unsigned long>(FIONREAD),  // bytes a client's socket still holds (stream_bridge.cpp)
    static_cast<unsigned long>(FIONBIO),   // libuv's way to set O_NONBLOCK on an accepted client
};

}  // namespace

std::span<const AllowedSyscall> syscall_allowlist() { return kAllowed; }

std::span<const unsigned long> allowed_ioctls() { return kIoctls; }

}  // namespace tapstack::daemon
