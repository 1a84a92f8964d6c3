// refuse_ioctl: runs a command with one TUN ioctl refused, as an old kernel
// would refuse it, so the netns tests can prove tapstackd's fallback.
//
//   refuse_ioctl TUNSETOFFLOAD|TUNSETVNETHDRSZ -- COMMAND [ARG...]
//
// A seccomp filter (no_new_privs, inherited across execve) makes
// ioctl(fd, REQUEST, arg) fail with EINVAL, the error a kernel gives for a
// request it does not know; for TUNSETOFFLOAD only with a non-zero arg
// (asking for offloads), so turning them off still works, as it would on
// such a kernel. Everything else is allowed. Test helper only: x86-64 and
// arm64, little-endian.
#include <errno.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/if_tun.h>
#include <linux/seccomp.h>
#include <stddef.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstring>

namespace {

#if defined(__x86_64__)
constexpr unsigned kArch = AUDIT_ARCH_X86_64;
#elif defined(__aarch64__)
constexpr unsigned kArch = AUDIT_ARCH_AARCH64;
#else
#error "refuse_ioctl: unsupported architecture"
#endif

constexpr unsigned kArgLow(int i) { return offsetof(seccomp_data, args) + 8 * static_cast<unsigned>(i); }

}  // namespace

int main(int argc, char** argv) {
    if (argc < 4 || std::strcmp(argv[2], "--") != 0) {
        std::fprintf(stderr, "usage: refuse_ioctl TUNSETOFFLOAD|TUNSETVNETHDRSZ -- COMMAND [ARG...]\n");
        return 2;
    }
    unsigned request = 0;
    bool only_nonzero = false;
    if (std::strcmp(argv[1], "TUNSETOFFLOAD") == 0) {
        request = TUNSETOFFLOAD;
        only_nonzero = true;
    } else if (std::strcmp(argv[1], "TUNSETVNETHDRSZ") == 0) {
        request = TUNSETVNETHDRSZ;
    } else {
        std::fprintf(stderr, "refuse_ioctl: unknown request %s\n", argv[1]);
        return 2;
    }
    const sock_filter filter[] = {
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(seccomp_data, arch)),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, kArch, 1, 0),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(seccomp_data, nr)),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_ioctl, 1, 0),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, kArgLow(1)),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, request, 1, 0),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
        // TUNSETOFFLOAD 0 (offloads off) passes; anything else is refused.
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, kArgLow(2)),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, 0, 0, 2),
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, kArgLow(2) + 4),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, 0, static_cast<std::uint8_t>(only_nonzero ? 1 : 0), 0),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | (EINVAL & SECCOMP_RET_DATA)),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
    };
    const sock_fprog prog{static_cast<unsigned short>(sizeof filter / sizeof filter[0]),
                          const_cast<sock_filter*>(filter)};
    if (::prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0 || ::prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog) != 0) {
        std::perror("refuse_ioctl: seccomp");
        return 1;
    }
    ::execvp(argv[3], argv + 3);
    std::perror("refuse_ioctl: exec");
    return 127;
}
