// Least privilege for a running tapstackd: no capabilities, no new
// privileges, and a seccomp allow-list of the system calls it uses.
//
// Theory of operation
// -------------------
// The daemon needs privilege only to set itself up: CAP_NET_ADMIN to create
// the TAP, set its MTU, bring it up and address the host side. Everything
// after that (frames on an open descriptor, Unix-socket clients, timers,
// re-reading the config file) needs none. So once the TAP is configured and
// the API socket accepts, enter_sandbox() gives up, in this order:
//   1. the capability bounding set (only possible while CAP_SETPCAP is
//      effective, i.e. when started as root; otherwise it is left and the
//      log says so: with no_new_privs nothing can use it), the ambient set,
//      then the effective, permitted and inheritable sets (libcap-ng), and
//      checks /proc/self/status that they read 0;
//   2. PR_SET_NO_NEW_PRIVS: no execve() can grant privilege again;
//   3. with SecurityConfig::seccomp, the filter of syscall_allowlist.cpp
//      (seccomp_filter.cpp): every other system call fails with EPERM and
//      leaves one error line in the log.
// Each step that fails is an error: a daemon that promised to drop its
// privileges and could not stops rather than run with them.
//
// Threads: the filter is synchronized to every thread (TSYNC); the daemon
// runs one. Non-goals: a separate privileged helper process, Landlock.
#pragma once

#include <string>

namespace tapstack::daemon {

struct SecurityConfig {
    bool seccomp = true;  // security.seccomp: install the system call allow-list
};

// Steps 1-3 above. Logs one line per step (what was dropped, what was
// installed). False with a one-line *error when a step failed.
bool enter_sandbox(const SecurityConfig& config, std::string* error);

// Step 1 alone. *summary: one line naming what was dropped.
bool drop_capabilities(std::string* summary, std::string* error);

// Step 3 alone (sets no_new_privs too, which seccomp requires without
// CAP_SYS_ADMIN). *summary: one line describing the filter. Also used by
// the test program that checks refusals (tests/unit/sandbox).
bool install_syscall_filter(std::string* summary, std::string* error);

}  // namespace tapstack::daemon
