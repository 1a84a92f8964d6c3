// tapstack.h, the C interface: thin wrappers over the C++ client
// (client.hpp), so both speak the protocol through one implementation.
//
// Theory of operation: each function turns its C arguments into the C++
// call, and the Result back into a descriptor or a status plus a filled
// struct tapstack_error. No C++ exception or object crosses the boundary
// (the client library throws none; allocation failure is caught and
// reported as ENOMEM). The C enums mirror client::ErrorCode and
// client::Outcome by name; the static_asserts below keep the counts in step.
#include "daemon/client/tapstack.h"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <new>
#include <optional>
#include <string>
#include <string_view>

#include "daemon/client/client.hpp"
#include "tapstack_version.hpp"

namespace {

using tapstack::client::Error;
using tapstack::client::ErrorCode;
using tapstack::client::Outcome;

static_assert(tapstack::client::kErrorCodeNames.size() == TAPSTACK_CODE_INTERNAL,
              "tapstack_code must name every client::ErrorCode");
static_assert(tapstack::client::kOutcomeNames.size() == TAPSTACK_OUTCOME_UNREACHABLE + 1,
              "tapstack_outcome must name every client::Outcome");

std::string_view path_or_default(const char* socket_path) {
    return socket_path ? std::string_view(socket_path) : std::string_view(TAPSTACK_DEFAULT_SOCKET);
}

template <std::size_t N>
void copy_text(char (&out)[N], std::string_view text) {
    const std::size_t n = std::min(text.size(), N - 1);
    std::memcpy(out, text.data(), n);
    out[n] = '\0';
}

void copy_text(char* out, std::size_t size, std::string_view text) {
    if (out == nullptr || size == 0) {
        return;
    }
    const std::size_t n = std::min(text.size(), size - 1);
    std::memcpy(out, text.data(), n);
    out[n] = '\0';
}

tapstack_code c_code(ErrorCode code) {
    switch (code) {
    case ErrorCode::kRefused: return TAPSTACK_CODE_REFUSED;
    case ErrorCode::kReset: return TAPSTACK_CODE_RESET;
    case ErrorCode::kTimedOut: return TAPSTACK_CODE_TIMED_OUT;
    case ErrorCode::kUnreachable: return TAPSTACK_CODE_UNREACHABLE;
    case ErrorCode::kInUse: return TAPSTACK_CODE_IN_USE;
    case ErrorCode::kBadRequest: return TAPSTACK_CODE_BAD_REQUEST;
    case ErrorCode::kPermission: return TAPSTACK_CODE_PERMISSION;
    case ErrorCode::kNoResources: return TAPSTACK_CODE_NO_RESOURCES;
    case ErrorCode::kNotFound: return TAPSTACK_CODE_NOT_FOUND;
    case ErrorCode::kShuttingDown: return TAPSTACK_CODE_SHUTTING_DOWN;
    case ErrorCode::kInternal: break;
    }
    return TAPSTACK_CODE_INTERNAL;
}

tapstack_outcome c_outcome(Outcome o) {
    switch (o) {
    case Outcome::kOpen: return TAPSTACK_OUTCOME_OPEN;
    case Outcome::kOrderly: return TAPSTACK_OUTCOME_ORDERLY;
    case Outcome::kReset: return TAPSTACK_OUTCOME_RESET;
    case Outcome::kTimedOut: return TAPSTACK_OUTCOME_TIMED_OUT;
    case Outcome::kAborted: return TAPSTACK_OUTCOME_ABORTED;
    case Outcome::kRefused: return TAPSTACK_OUTCOME_REFUSED;
    case Outcome::kUnreachable: return TAPSTACK_OUTCOME_UNREACHABLE;
    }
    return TAPSTACK_OUTCOME_ABORTED;
}

void clear(tapstack_error* error) {
    if (error) {
        error->kind = TAPSTACK_OK;
        error->code = TAPSTACK_CODE_NONE;
        error->sys_errno = 0;
        error->message[0] = '\0';
    }
}

int fail(tapstack_error* error, const Error& e) {
    if (error) {
        switch (e.kind) {
        case Error::Kind::kDaemon: error->kind = TAPSTACK_ERR_DAEMON; break;
        case Error::Kind::kUnavailable: error->kind = TAPSTACK_ERR_UNAVAILABLE; break;
        case Error::Kind::kProtocol: error->kind = TAPSTACK_ERR_PROTOCOL; break;
        case Error::Kind::kSystem: error->kind = TAPSTACK_ERR_SYSTEM; break;
        case Error::Kind::kUsage: error->kind = TAPSTACK_ERR_USAGE; break;
        }
        error->code = e.kind == Error::Kind::kDaemon ? c_code(e.code) : TAPSTACK_CODE_NONE;
        error->sys_errno = e.sys_errno;
        copy_text(error->message, e.message);
    }
    return -1;
}

int usage(tapstack_error* error, std::string message) {
    return fail(error, Error{Error::Kind::kUsage, ErrorCode::kBadRequest, std::move(message)});
}

int out_of_memory(tapstack_error* error) {
    return fail(error, Error{Error::Kind::kSystem, ErrorCode::kInternal, "out of memory", ENOMEM});
}

std::optional<bool> c_switch(int v) {
    if (v < 0) {
        return std::nullopt;
    }
    return v != 0;
}

tapstack::client::StreamOptions cxx_options(const tapstack_options* o) {
    tapstack::client::StreamOptions out;
    if (o) {
        out.timeout_s = o->timeout_s;
        out.nodelay = c_switch(o->nodelay);
        out.keepalive = c_switch(o->keepalive);
    }
    return out;
}

int stream_result(tapstack::client::Result<tapstack::client::Stream>& r, tapstack_stream* stream,
                  tapstack_error* error) {
    if (!r) {
        return fail(error, r.error());
    }
    if (stream) {
        stream->id = r->id;
        copy_text(stream->local, r->local);
        copy_text(stream->remote, r->remote);
    }
    clear(error);
    return r->fd;
}

}  // namespace

extern "C" {

int tapstack_connect(const char* socket_path, const char* address, uint16_t port, const tapstack_options* options,
                     tapstack_stream* stream, tapstack_error* error) {
    try {
        if (address == nullptr) {
            return usage(error, "no address given");
        }
        auto r = tapstack::client::connect(path_or_default(socket_path), address, port, cxx_options(options));
        return stream_result(r, stream, error);
    } catch (const std::bad_alloc&) {
        return out_of_memory(error);
    }
}

int tapstack_listen(const char* socket_path, uint16_t port, unsigned backlog, tapstack_error* error) {
    try {
        auto r = tapstack::client::listen(path_or_default(socket_path), port, backlog);
        if (!r) {
            return fail(error, r.error());
        }
        clear(error);
        return r->fd;
    } catch (const std::bad_alloc&) {
        return out_of_memory(error);
    }
}

int tapstack_accept(const char* socket_path, uint16_t port, const tapstack_options* options, tapstack_stream* stream,
                    tapstack_error* error) {
    try {
        auto r = tapstack::client::accept(path_or_default(socket_path), port, cxx_options(options));
        return stream_result(r, stream, error);
    } catch (const std::bad_alloc&) {
        return out_of_memory(error);
    }
}

int tapstack_stats(const char* socket_path, tapstack_counter_fn each, void* context, tapstack_error* error) {
    try {
        if (each == nullptr) {
            return usage(error, "no callback given");
        }
        auto r = tapstack::client::stats(path_or_default(socket_path));
        if (!r) {
            return fail(error, r.error());
        }
        clear(error);
        for (const auto& [name, value] : r.value()) {
            if (int stop = each(name.c_str(), value, context); stop != 0) {
                return stop;
            }
        }
        return 0;
    } catch (const std::bad_alloc&) {
        return out_of_memory(error);
    }
}

int tapstack_status(const char* socket_path, uint64_t id, tapstack_outcome* outcome, tapstack_error* error) {
    try {
        auto r = tapstack::client::status(path_or_default(socket_path), id);
        if (!r) {
            return fail(error, r.error());
        }
        if (outcome) {
            *outcome = c_outcome(r->outcome);
        }
        clear(error);
        return 0;
    } catch (const std::bad_alloc&) {
        return out_of_memory(error);
    }
}

int tapstack_hello(const char* socket_path, char* features, size_t features_size, tapstack_error* error) {
    try {
        auto r = tapstack::client::hello(path_or_default(socket_path));
        if (!r) {
            return fail(error, r.error());
        }
        std::string list;
        for (const std::string& f : r->features) {
            list += (list.empty() ? "" : ",") + f;
        }
        copy_text(features, features_size, list);
        clear(error);
        return static_cast<int>(std::min<unsigned>(r->version, 0x7fffffff));
    } catch (const std::bad_alloc&) {
        return out_of_memory(error);
    }
}

const char* tapstack_version(void) { return TAPSTACK_VERSION; }

const char* tapstack_code_name(tapstack_code code) {
    switch (code) {
    case TAPSTACK_CODE_NONE: return "none";
    case TAPSTACK_CODE_REFUSED: return "refused";
    case TAPSTACK_CODE_RESET: return "reset";
    case TAPSTACK_CODE_TIMED_OUT: return "timed-out";
    case TAPSTACK_CODE_UNREACHABLE: return "unreachable";
    case TAPSTACK_CODE_IN_USE: return "in-use";
    case TAPSTACK_CODE_BAD_REQUEST: return "bad-request";
    case TAPSTACK_CODE_PERMISSION: return "permission";
    case TAPSTACK_CODE_NO_RESOURCES: return "no-resources";
    case TAPSTACK_CODE_NOT_FOUND: return "not-found";
    case TAPSTACK_CODE_SHUTTING_DOWN: return "shutting-down";
    case TAPSTACK_CODE_INTERNAL: return "internal";
    }
    return "internal";
}

}  // extern "C"
