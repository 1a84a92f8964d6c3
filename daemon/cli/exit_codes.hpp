// Exit statuses of the `tapstack` command, one per kind of failure, so
// scripts and tests can tell a refused connection from a reset or a
// timeout. Documented in `tapstack --help` and daemon/api/PROTOCOL.md;
// the numbers are an interface: never renumber, only add.
#pragma once

#include <string>

#include "daemon/client/client.hpp"

namespace tapstack::cli {

enum ExitCode : int {
    kExitOk = 0,
    kExitLocalError = 1,    // stdin/stdout or another local failure
    kExitUsage = 2,         // bad command line
    kExitNoDaemon = 3,      // tapstackd not reachable, or it went away / stopped
    kExitRefused = 4,       // connection refused
    kExitReset = 5,         // connection reset by peer
    kExitTimedOut = 6,      // connection timed out (connect or a vanished peer)
    kExitUnreachable = 7,   // host unreachable (no ARP answer)
    kExitInUse = 8,         // port already in use
    kExitPermission = 9,    // permission denied
    kExitNoResources = 10,  // daemon out of connections/ports/clients
    kExitBadRequest = 11,   // the daemon rejected the request, or protocol error
    kExitAborted = 12,      // the connection was aborted (e.g. daemon stopping)
};

int exit_code_for(const client::Error& e);
int exit_code_for(client::Outcome o);
// "connection refused", ... for an error line.
std::string describe(const client::Error& e);
std::string describe(client::Outcome o);

}  // namespace tapstack::cli
