// enter_sandbox(): the three steps of sandbox.hpp in order, each logged.
#include <spdlog/spdlog.h>
#include <sys/prctl.h>

#include <cerrno>
#include <cstring>
#include <string>

#include "daemon/sandbox/sandbox.hpp"

namespace tapstack::daemon {

bool enter_sandbox(const SecurityConfig& config, std::string* error) {
    std::string summary;
    if (!drop_capabilities(&summary, error)) return false;
    spdlog::info("{}", summary);
    if (!config.seccomp) {
        if (::prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) {
            *error = std::string("no_new_privs: ") + std::strerror(errno);
            return false;
        }
        spdlog::warn("seccomp: no filter (security.seccomp: false): every system call is allowed");
        return true;
    }
    if (!install_syscall_filter(&summary, error)) return false;
    spdlog::info("{}", summary);
    return true;
}

}  // namespace tapstack::daemon
