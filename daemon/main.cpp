// tapstackd: parse options, load the config, set up logging, take the
// socket systemd may have passed, run the loop (which drops privileges once
// the TAP and the API are up: daemon/sandbox/sandbox.hpp).
//
// Exit status: 0 after a clean stop or a valid --check-config; 1 for a bad
// config or a start-up failure (one clear line on stderr); 2 for bad usage.
#include <malloc.h>
#include <spdlog/spdlog.h>
#include <sys/random.h>
#include <sys/resource.h>

#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <span>

#include "daemon/config.hpp"
#include "daemon/logging.hpp"
#include "daemon/options.hpp"
#include "daemon/sandbox/sandbox.hpp"
#include "daemon/service_loop.hpp"
#include "daemon/systemd_notify.hpp"
#include "tapstack_version.hpp"

namespace {

// The per-start 128-bit secret keying ISNs, timestamp offsets, ephemeral
// ports and IPv4 IDs (RFC 6528, RFC 7323, RFC 6056, RFC 7739).
bool draw_secret(tapstack::tcp::Secret* secret, std::string* error) {
    std::uint64_t words[2] = {};
    std::size_t got = 0;
    auto* bytes = reinterpret_cast<unsigned char*>(words);
    while (got < sizeof words) {
        const ssize_t n = getrandom(bytes + got, sizeof words - got, 0);
        if (n < 0) {
            if (errno == EINTR) continue;
            *error = std::strerror(errno);
            return false;
        }
        got += static_cast<std::size_t>(n);
    }
    *secret = tapstack::tcp::Secret(words[0], words[1]);
    return true;
}

// Every API client and every connection handed to an application holds a
// descriptor: lift the soft RLIMIT_NOFILE (often 1024) to the hard limit
// (systemd: LimitNOFILE) so 10,000+ connections are not cut short at
// accept(). Failure is not fatal; the limit in force is logged.
void raise_nofile_limit() {
    rlimit lim{};
    if (getrlimit(RLIMIT_NOFILE, &lim) != 0) {
        spdlog::warn("getrlimit(RLIMIT_NOFILE): {}", std::strerror(errno));
        return;
    }
    const rlim_t before = lim.rlim_cur;
    if (lim.rlim_cur == lim.rlim_max) {
        spdlog::debug("RLIMIT_NOFILE: soft limit {} is already the hard limit", before);
        return;
    }
    lim.rlim_cur = lim.rlim_max;
    if (setrlimit(RLIMIT_NOFILE, &lim) != 0) {
        spdlog::warn("RLIMIT_NOFILE: cannot raise the soft limit {} to the hard limit {}: {}", before, lim.rlim_max,
                     std::strerror(errno));
        return;
    }
    spdlog::debug("RLIMIT_NOFILE: soft limit raised from {} to the hard limit {}", before, lim.rlim_cur);
}

// TCP's buffer rings (64 KiB and more) are allocated on a connection's first
// byte and freed when it goes quiet or the memory budget prunes it. With
// glibc's dynamic mmap threshold the first such free moves every later ring
// into the heap, where freed pages stay resident and a reused chunk touches
// new ones: the daemon's RSS would drift far above the budget
// (tcp.memory_max) the stack accounts for. A fixed threshold keeps each ring
// in its own mapping, whose pages go back to the kernel when it is freed.
void keep_rings_in_own_mappings() {
    constexpr int kRingMmapThreshold = 64 * 1024;
    if (mallopt(M_MMAP_THRESHOLD, kRingMmapThreshold) != 1) spdlog::warn("mallopt(M_MMAP_THRESHOLD) refused");
}

}  // namespace

int main(int argc, char** argv) {
    using tapstack::daemon::Options;
    const auto parsed =
        tapstack::daemon::parse_options(std::span<const char* const>(argv, static_cast<std::size_t>(argc)));
    if (!parsed.error.empty()) {
        std::fprintf(stderr, "tapstackd: %s\n%s", parsed.error.c_str(), tapstack::daemon::usage_text("tapstackd").c_str());
        return 2;
    }
    const Options& opts = parsed.options;
    switch (opts.action) {
    case Options::Action::kHelp:
        std::fputs(tapstack::daemon::usage_text("tapstackd").c_str(), stdout);
        return 0;
    case Options::Action::kVersion:
        std::printf("tapstackd %s\n", TAPSTACK_VERSION);
        return 0;
    case Options::Action::kCheckConfig:
    case Options::Action::kRun:
        break;
    }

    auto loaded = tapstack::daemon::load_config_file(opts.config_path);
    if (!loaded.ok()) {
        for (const auto& e : loaded.errors) std::fprintf(stderr, "%s\n", e.c_str());
        return 1;
    }
    if (opts.action == Options::Action::kCheckConfig) {
        std::printf("%s: ok\n", opts.config_path.c_str());
        return 0;
    }
    tapstack::daemon::Config config = std::move(loaded.config);
    if (opts.log_level) config.log_level = *opts.log_level;
    tapstack::daemon::setup_logging(config.log_level);
    raise_nofile_limit();
    keep_rings_in_own_mappings();

    tapstack::tcp::Secret seed;
    std::string error;
    if (!draw_secret(&seed, &error)) {
        spdlog::error("cannot draw the secret seed from getrandom(): {}", error);
        return 1;
    }
    // Socket activation (tapstackd.socket): serve the socket systemd bound.
    const int passed = tapstack::daemon::take_listen_socket(&error);
    if (passed == -2) {
        spdlog::error("{}", error);
        return 1;
    }
    if (passed >= 0) {
        config.api.listen_fd = passed;
        spdlog::info("API: serving the socket systemd passed (LISTEN_FDS) instead of binding {}",
                     config.api.socket_path);
    }
    tapstack::daemon::ServiceHooks hooks;
    hooks.config_path = opts.config_path;
    hooks.log_level_pinned = opts.log_level.has_value();
    const tapstack::daemon::SecurityConfig security = config.security;
    hooks.started = [security](std::string* why) { return tapstack::daemon::enter_sandbox(security, why); };
    tapstack::daemon::ServiceLoop loop(config, seed, std::move(hooks));
    return loop.run();
}
