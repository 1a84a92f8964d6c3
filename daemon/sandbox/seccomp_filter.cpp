// The seccomp filter (sandbox.hpp, step 3): syscall_allowlist.cpp turned
// into a BPF program with libseccomp, and what happens to everything else.
//
// Theory of operation
// -------------------
// A call on the list is allowed (with its argument rule). Any other call
// is trapped (SECCOMP_RET_TRAP): the kernel does not run it and raises
// SIGSYS, whose handler writes one error line to stderr and sets the
// call's return value to -EPERM, so the caller sees an ordinary EPERM.
//
// Why EPERM and a log line rather than killing the process: a call missing
// from the list is far likelier than an attack (a glibc fallback, an error
// path no test reached), and killing the daemon resets every stream it
// carries, the very loss this project exists to prevent. A refused call
// has no effect either way: the attacker gains nothing from EPERM, and the
// log line (error level, naming the call) makes the refusal as visible as a
// crash would, without the outage. Calls from another architecture's ABI
// (x32, i386 on x86-64) still kill the process (libseccomp's default for a
// foreign architecture): no code of ours makes them.
//
// The handler is async-signal-safe: it reads a table of call names built
// before the filter went in, formats with plain arithmetic (the local time
// from CLOCK_REALTIME and the UTC offset taken at installation) and writes
// once with write(2). It logs at most kLoggedPerCall lines per call number
// so a loop on a refused call cannot flood the journal. Setting the return
// value needs the architecture's register layout (x86-64, arm64); elsewhere
// the filter answers EPERM itself (SCMP_ACT_ERRNO) and asks the kernel to
// log the refusal to the audit log instead (SCMP_FLTATR_CTL_LOG).
#include <errno.h>
#include <fcntl.h>
#include <seccomp.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <ucontext.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <string>

#include "daemon/sandbox/sandbox.hpp"
#include "daemon/sandbox/sanitizer.hpp"
#include "daemon/sandbox/syscall_allowlist.hpp"
#ifdef TAPSTACK_SANITIZED
#include <sanitizer/lsan_interface.h>
#endif

#if defined(__x86_64__) || defined(__aarch64__)
#define TAPSTACK_SECCOMP_TRAP 1
#else
#define TAPSTACK_SECCOMP_TRAP 0
#endif

namespace tapstack::daemon {
namespace {

constexpr int kMaxSyscall = 1024;   // table size; x86-64 and arm64 numbers stay below
constexpr int kLoggedPerCall = 10;  // log lines per call number, then silence

// Filled before the filter is loaded; only read by the handler.
const char* g_names[kMaxSyscall];
std::atomic<int> g_logged[kMaxSyscall];
long g_utc_offset_s = 0;
bool g_journal = false;

// ---- async-signal-safe formatting ---------------------------------------------

struct Line {
    char buf[256];
    std::size_t len = 0;
    void put(const char* s) {
        while (*s != '\0' && len < sizeof buf) buf[len++] = *s++;
    }
    void put_uint(unsigned long v, int width = 0) {
        char digits[24];
        int n = 0;
        do {
            digits[n++] = static_cast<char>('0' + v % 10);
            v /= 10;
        } while (v != 0 && n < 24);
        while (n < width && n < 24) digits[n++] = '0';
        while (n > 0 && len < sizeof buf) buf[len++] = digits[--n];
    }
};

// Days since 1970-01-01 to a civil date (H. Hinnant's algorithm).
void civil_from_days(long z, long* y, unsigned* m, unsigned* d) {
    z += 719468;
    const long era = (z >= 0 ? z : z - 146096) / 146097;
    const auto doe = static_cast<unsigned long>(z - era * 146097);
    const unsigned long yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    const unsigned long doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    const unsigned long mp = (5 * doy + 2) / 153;
    *d = static_cast<unsigned>(doy - (153 * mp + 2) / 5 + 1);
    *m = static_cast<unsigned>(mp < 10 ? mp + 3 : mp - 9);
    *y = static_cast<long>(yoe) + era * 400 + (*m <= 2 ? 1 : 0);
}

// The prefix the daemon's own log lines have (daemon/logging.cpp): a
// priority under the journal, else local time and the level.
void put_prefix(Line& line) {
    if (g_journal) {
        line.put("<3>");
        return;
    }
    timespec ts{};
    clock_gettime(CLOCK_REALTIME, &ts);
    const long local = static_cast<long>(ts.tv_sec) + g_utc_offset_s;
    const long days = local >= 0 ? local / 86400 : (local - 86399) / 86400;
    const long secs = local - days * 86400;
    long y = 0;
    unsigned mo = 0, d = 0;
    civil_from_days(days, &y, &mo, &d);
    line.put_uint(static_cast<unsigned long>(y), 4);
    line.put("-");
    line.put_uint(mo, 2);
    line.put("-");
    line.put_uint(d, 2);
    line.put(" ");
    line.put_uint(static_cast<unsigned long>(secs / 3600), 2);
    line.put(":");
    line.put_uint(static_cast<unsigned long>(secs / 60 % 60), 2);
    line.put(":");
    line.put_uint(static_cast<unsigned long>(secs % 60), 2);
    line.put(".");
    line.put_uint(static_cast<unsigned long>(ts.tv_nsec / 1000000), 3);
    line.put(" error: ");
}

#if TAPSTACK_SECCOMP_TRAP
void on_sigsys(int, siginfo_t* info, void* context) {
    const int saved_errno = errno;
    const int nr = info->si_syscall;
    const bool known = nr >= 0 && nr < kMaxSyscall;
    const int count = known ? g_logged[nr].fetch_add(1, std::memory_order_relaxed) : 0;
    if (count < kLoggedPerCall) {
        Line line;
        put_prefix(line);
        line.put("seccomp: refused system call ");
        line.put(known && g_names[nr] != nullptr ? g_names[nr] : "?");
        line.put(" (");
        line.put_uint(static_cast<unsigned long>(nr < 0 ? 0 : nr));
        line.put("): not on the allow-list (daemon/sandbox/syscall_allowlist.cpp); it fails with EPERM");
        if (count == kLoggedPerCall - 1) line.put("; further refusals of this call are not logged");
        line.put("\n");
        ssize_t ignored = ::write(STDERR_FILENO, line.buf, line.len);
        (void)ignored;
    }
    auto* uc = static_cast<ucontext_t*>(context);
#if defined(__x86_64__)
    uc->uc_mcontext.gregs[REG_RAX] = -EPERM;
#elif defined(__aarch64__)
    uc->uc_mcontext.regs[0] = static_cast<unsigned long long>(-EPERM);
#endif
    errno = saved_errno;
}
#endif

bool add_rule(scmp_filter_ctx ctx, const AllowedSyscall& call, std::string* error) {
    const int nr = seccomp_syscall_resolve_name(call.name);
    if (nr == __NR_SCMP_ERROR) {
        *error = std::string("seccomp: unknown system call \"") + call.name + "\" in the allow-list";
        return false;
    }
    if (nr < 0) return true;  // not a call of this architecture (a pseudo number)
    int rc = 0;
    switch (call.rule) {
    case ArgRule::kAny: rc = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, nr, 0); break;
    case ArgRule::kOwnProcess:
        rc = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, nr, 1, SCMP_A0(SCMP_CMP_EQ, static_cast<scmp_datum_t>(getpid())));
        break;
    case ArgRule::kNoExec:
        rc = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, nr, 1, SCMP_A2(SCMP_CMP_MASKED_EQ, PROT_EXEC, 0));
        break;
    case ArgRule::kIoctl:
        for (unsigned long request : allowed_ioctls()) {
            // The request is an int in the kernel's ioctl(); compare the low 32 bits.
            rc = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, nr, 1, SCMP_A1(SCMP_CMP_MASKED_EQ, 0xffffffffu, request));
            if (rc != 0) break;
        }
        break;
    }
    if (rc != 0) {
        *error = std::string("seccomp: cannot add ") + call.name + ": " + std::strerror(-rc);
        return false;
    }
    return true;
}

void prepare_handler_state() {
    for (int nr = 0; nr < kMaxSyscall; ++nr) {
        if (g_names[nr] == nullptr) g_names[nr] = seccomp_syscall_resolve_num_arch(SCMP_ARCH_NATIVE, nr);
    }
    const std::time_t now = std::time(nullptr);
    std::tm local{};
    if (localtime_r(&now, &local) != nullptr) g_utc_offset_s = local.tm_gmtoff;
    g_journal = std::getenv("JOURNAL_STREAM") != nullptr;
}

}  // namespace

bool install_syscall_filter(std::string* summary, std::string* error) {
    if (::prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) {
        *error = std::string("no_new_privs: ") + std::strerror(errno);
        return false;
    }
#if TAPSTACK_SECCOMP_TRAP
    const std::uint32_t refuse = SCMP_ACT_TRAP;
#else
    const std::uint32_t refuse = SCMP_ACT_ERRNO(EPERM);
#endif
    scmp_filter_ctx ctx = seccomp_init(refuse);
    if (ctx == nullptr) {
        *error = "seccomp: cannot create a filter (seccomp_init)";
        return false;
    }
    bool ok = seccomp_attr_set(ctx, SCMP_FLTATR_CTL_TSYNC, 1) == 0;
#if !TAPSTACK_SECCOMP_TRAP
    ok = ok && seccomp_attr_set(ctx, SCMP_FLTATR_CTL_LOG, 1) == 0;
#endif
    if (!ok) {
        *error = "seccomp: cannot set the filter's attributes";
        seccomp_release(ctx);
        return false;
    }
    std::size_t allowed = 0;
    for (const AllowedSyscall& call : syscall_allowlist()) {
        if (!add_rule(ctx, call, error)) {
            seccomp_release(ctx);
            return false;
        }
        ++allowed;
    }
    prepare_handler_state();
#if TAPSTACK_SECCOMP_TRAP
    struct sigaction sa {};
    sa.sa_sigaction = on_sigsys;
    sa.sa_flags = SA_SIGINFO | SA_NODEFER;
    sigemptyset(&sa.sa_mask);
    sigset_t sys{};
    sigemptyset(&sys);
    sigaddset(&sys, SIGSYS);
    if (::sigaction(SIGSYS, &sa, nullptr) != 0 || ::sigprocmask(SIG_UNBLOCK, &sys, nullptr) != 0) {
        *error = std::string("seccomp: cannot install the SIGSYS handler: ") + std::strerror(errno);
        seccomp_release(ctx);
        return false;
    }
#endif
#ifdef TAPSTACK_SANITIZED
    // Sanitizer builds: LeakSanitizer's end-of-process check stops the
    // process with ptrace from a cloned task, which the filter refuses, and
    // would then fail the exit. Check for leaks now instead; the exit check
    // is then skipped (lsan_interface.h).
    __lsan_do_leak_check();
#endif
    const int rc = seccomp_load(ctx);
    seccomp_release(ctx);
    if (rc != 0) {
        *error = std::string("seccomp: cannot load the filter: ") + std::strerror(-rc);
        return false;
    }
    // Worded so that no test or log search mistakes it for a refusal.
    *summary = "seccomp: allow-list of " + std::to_string(allowed) +
               " system calls installed; any other call fails with EPERM and is logged" +
               (TAPSTACK_SECCOMP_TRAP ? "" : " to the kernel's audit log");
    return true;
}

}  // namespace tapstack::daemon
