// Whether this build runs under AddressSanitizer / LeakSanitizer: their
// runtimes make system calls of their own after start-up that the sandbox
// must know about (seccomp_filter.cpp, syscall_allowlist.cpp). Release and
// GCC -Werror builds define nothing here.
#pragma once

#if defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(leak_sanitizer)
#define TAPSTACK_SANITIZED 1
#endif
#endif
#if !defined(TAPSTACK_SANITIZED) && defined(__SANITIZE_ADDRESS__)
#define TAPSTACK_SANITIZED 1
#endif
