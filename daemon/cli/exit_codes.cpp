// Mapping of client errors and stream outcomes to exit statuses and to the
// words of the one-line error message; see exit_codes.hpp.
#include "daemon/cli/exit_codes.hpp"

namespace tapstack::cli {

using client::Error;
using client::ErrorCode;
using client::Outcome;

int exit_code_for(const Error& e) {
    switch (e.kind) {
    case Error::Kind::kUnavailable: return kExitNoDaemon;
    case Error::Kind::kProtocol: return kExitBadRequest;
    case Error::Kind::kSystem: return kExitLocalError;
    case Error::Kind::kUsage: return kExitUsage;
    case Error::Kind::kDaemon: break;
    }
    switch (e.code) {
    case ErrorCode::kRefused: return kExitRefused;
    case ErrorCode::kReset: return kExitReset;
    case ErrorCode::kTimedOut: return kExitTimedOut;
    case ErrorCode::kUnreachable: return kExitUnreachable;
    case ErrorCode::kInUse: return kExitInUse;
    case ErrorCode::kPermission: return kExitPermission;
    case ErrorCode::kNoResources: return kExitNoResources;
    case ErrorCode::kBadRequest:
    case ErrorCode::kNotFound: return kExitBadRequest;
    case ErrorCode::kShuttingDown: return kExitNoDaemon;
    case ErrorCode::kInternal: break;
    }
    return kExitLocalError;
}

int exit_code_for(Outcome o) {
    switch (o) {
    case Outcome::kOpen:
    case Outcome::kOrderly: return kExitOk;
    case Outcome::kReset: return kExitReset;
    case Outcome::kTimedOut: return kExitTimedOut;
    case Outcome::kAborted: return kExitAborted;
    case Outcome::kRefused: return kExitRefused;
    case Outcome::kUnreachable: return kExitUnreachable;
    }
    return kExitLocalError;
}

std::string describe(const Error& e) {
    if (e.kind != Error::Kind::kDaemon) {
        return e.message;
    }
    switch (e.code) {
    case ErrorCode::kRefused: return "connection refused";
    case ErrorCode::kReset: return "connection reset by peer";
    case ErrorCode::kTimedOut: return "connection timed out";
    case ErrorCode::kUnreachable: return "host unreachable";
    case ErrorCode::kInUse: return "address already in use";
    case ErrorCode::kPermission: return "permission denied (" + e.message + ")";
    case ErrorCode::kNoResources: return "out of resources (" + e.message + ")";
    case ErrorCode::kShuttingDown: return "tapstackd is shutting down";
    default: break;
    }
    return "tapstackd: " + e.message;
}

std::string describe(Outcome o) {
    switch (o) {
    case Outcome::kReset: return "connection reset by peer";
    case Outcome::kTimedOut: return "connection timed out";
    case Outcome::kAborted: return "connection aborted";
    case Outcome::kRefused: return "connection refused";
    case Outcome::kUnreachable: return "host unreachable";
    case Outcome::kOpen:
    case Outcome::kOrderly: break;
    }
    return "connection closed";
}

}  // namespace tapstack::cli
