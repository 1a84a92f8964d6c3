// The API's socket file: a listening AF_UNIX socket at a path, created so
// that at no moment it grants more than api.socket_mode and api.socket_group
// say, in a directory no other user can tamper with.
//
// Theory of operation
// -------------------
// Who may use the API is decided by the file's permission bits and group,
// so the file must never exist with wider bits, even briefly:
//   1. the parent directory is created if missing (mode 0755), then it and
//      every directory above it are checked: each must be owned by root or
//      the daemon's user, and writable by others (or by a group other than
//      root's or the daemon's) only with the sticky bit, or another user
//      could rename the socket away and put their own in its place;
//   2. a stale socket file of an earlier run is removed (a path that is not a
//      socket, or a socket another process still serves, is an error);
//   3. bind() runs under umask 0177, so the new file is 0600 (owner only);
//   4. lchown() gives it api.socket_group (while it is still 0600, so the
//      group never sees bits meant for another group), then chmod() sets
//      api.socket_mode.
// The umask is process-wide; the daemon binds before any other thread could
// create files, and the previous umask is restored at once.
//
// Non-goals: fchmod() on the socket (Linux ignores it for the file of a
// bound AF_UNIX socket); abstract sockets (no permission bits at all).
#pragma once

#include <sys/stat.h>
#include <sys/types.h>

#include <cstdint>
#include <functional>
#include <optional>
#include <string>

namespace tapstack::daemon::api {

struct SocketFileSpec {
    std::string path;
    std::uint32_t mode = 0660;
    std::optional<std::uint32_t> gid;  // nullopt: the daemon's group (or the directory's, if setgid)
    std::string group;                 // as configured, for messages
    int backlog = 128;
};

// The umask bind() runs under: owner read and write only.
inline constexpr mode_t kBindUmask = 0177;

// Why a directory on the socket's path is unsafe for the daemon with
// `euid`/`egid`, or nullopt. `st` is the directory's stat().
std::optional<std::string> directory_problem(const struct stat& st, uid_t euid, gid_t egid);

// Checks `dir` and every directory above it (after resolving symbolic
// links); the first problem as "DIR: reason", or nullopt.
std::optional<std::string> check_socket_directory(const std::string& dir, uid_t euid, gid_t egid);

// A warning for a mode that lets every local user use the API, or nullopt.
std::optional<std::string> socket_mode_warning(std::uint32_t mode);

// True when a process accepts connections on the socket at `path`.
bool socket_in_use(const std::string& path);

// Steps 1-4 above, then listen(). Returns the non-blocking, close-on-exec
// listening descriptor, or -1 with a one-line reason in *error.
// `after_bind` (tests) runs right after bind(), before the umask is
// restored and before lchown()/chmod().
int bind_socket_file(const SocketFileSpec& spec, std::string* error,
                     const std::function<void()>& after_bind = {});

}  // namespace tapstack::daemon::api
