// The system calls a running tapstackd may make: the one list
// (syscall_allowlist.cpp) that seccomp_filter.cpp turns into a filter.
//
// A name the running kernel's architecture does not have (epoll_wait on
// arm64, say) is skipped when the filter is built; a name libseccomp does
// not know at all is a build-time mistake and fails the filter's
// installation, so a typo cannot silently forbid a call.
#pragma once

#include <cstdint>
#include <span>

namespace tapstack::daemon {

// Argument conditions beyond the call's name.
enum class ArgRule : std::uint8_t {
    kAny,         // any arguments
    kIoctl,       // ioctl(): only the requests in syscall_allowlist.cpp (no TUNSET*, SIOCSIF*)
    kOwnProcess,  // tgkill(): only this process (abort(), raise())
    kNoExec,      // mmap(): never PROT_EXEC (no code is made at run time)
};

struct AllowedSyscall {
    const char* name;
    ArgRule rule = ArgRule::kAny;
};

std::span<const AllowedSyscall> syscall_allowlist();

// The ioctl() requests ArgRule::kIoctl lets through.
std::span<const unsigned long> allowed_ioctls();

}  // namespace tapstack::daemon
