/* tapstack.h: the C interface of libtapstack, TCP streams from tapstackd as
 * plain file descriptors (pkg-config tapstack; C99 or later, or C++).
 *
 * Every call opens one Unix connection to the daemon's API socket
 * (daemon/api/PROTOCOL.md, man tapstack-api(7)), sends one request and reads
 * the reply without reading a byte past it. What comes back:
 *   - tapstack_connect(), tapstack_accept(): a descriptor that IS the TCP
 *     byte stream: read(), write(), shutdown(fd, SHUT_WR) for a half-close,
 *     close(). EOF means the stream ended; tapstack_status() with the
 *     stream's id tells an orderly end from a reset or a timeout.
 *   - tapstack_listen(): a descriptor that holds the port open (connections
 *     arriving between two accepts wait in the backlog) until closed.
 * The caller owns every descriptor returned. Calls block; nothing here
 * starts a thread or installs a signal handler (the calls themselves never
 * raise SIGPIPE; writes to a stream descriptor may: ignore SIGPIPE or use
 * send() with MSG_NOSIGNAL).
 *
 * socket_path NULL means TAPSTACK_DEFAULT_SOCKET. `error` may be NULL; when
 * given it is filled on failure (kind TAPSTACK_ERR_*) and cleared (kind
 * TAPSTACK_OK) on success. Strings written into the structs are always
 * NUL-terminated and cut to fit.
 */
#ifndef TAPSTACK_H
#define TAPSTACK_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#ifndef TAPSTACK_API
#define TAPSTACK_API __attribute__((visibility("default")))
#endif

#define TAPSTACK_DEFAULT_SOCKET "/run/tapstack/tapstack.sock"

/* What went wrong, in general. */
enum tapstack_error_kind {
    TAPSTACK_OK = 0,
    TAPSTACK_ERR_DAEMON = 1,      /* the daemon refused: `code` says why */
    TAPSTACK_ERR_UNAVAILABLE = 2, /* the daemon's socket cannot be reached */
    TAPSTACK_ERR_PROTOCOL = 3,    /* a reply that was not understood, or the daemon hung up */
    TAPSTACK_ERR_SYSTEM = 4,      /* a local system call failed (sys_errno) */
    TAPSTACK_ERR_USAGE = 5        /* bad arguments */
};

/* The daemon's `ERR <code>` words (PROTOCOL.md, "Error codes"). */
enum tapstack_code {
    TAPSTACK_CODE_NONE = 0,
    TAPSTACK_CODE_REFUSED = 1,       /* "refused": the peer answered the SYN with RST */
    TAPSTACK_CODE_RESET = 2,         /* "reset" */
    TAPSTACK_CODE_TIMED_OUT = 3,     /* "timed-out" */
    TAPSTACK_CODE_UNREACHABLE = 4,   /* "unreachable": no ARP answer, or no route */
    TAPSTACK_CODE_IN_USE = 5,        /* "in-use" */
    TAPSTACK_CODE_BAD_REQUEST = 6,   /* "bad-request" */
    TAPSTACK_CODE_PERMISSION = 7,    /* "permission" */
    TAPSTACK_CODE_NO_RESOURCES = 8,  /* "no-resources" */
    TAPSTACK_CODE_NOT_FOUND = 9,     /* "not-found" */
    TAPSTACK_CODE_SHUTTING_DOWN = 10, /* "shutting-down" */
    TAPSTACK_CODE_INTERNAL = 11      /* "internal", or a word this library does not know */
};

struct tapstack_error {
    enum tapstack_error_kind kind;
    enum tapstack_code code; /* for TAPSTACK_ERR_DAEMON */
    int sys_errno;           /* for TAPSTACK_ERR_SYSTEM and TAPSTACK_ERR_UNAVAILABLE, else 0 */
    char message[256];       /* one line for people */
};

/* How a stream ended (STATUS). */
enum tapstack_outcome {
    TAPSTACK_OUTCOME_OPEN = 0,
    TAPSTACK_OUTCOME_ORDERLY = 1,
    TAPSTACK_OUTCOME_RESET = 2,
    TAPSTACK_OUTCOME_TIMED_OUT = 3,
    TAPSTACK_OUTCOME_ABORTED = 4,
    TAPSTACK_OUTCOME_REFUSED = 5,
    TAPSTACK_OUTCOME_UNREACHABLE = 6
};

/* Filled by connect and accept (may be NULL). */
struct tapstack_stream {
    uint64_t id;     /* for tapstack_status() */
    char local[64];  /* "198.19.77.2:49152" or "[fd3e:dfa0:4efb:77::2]:49152" */
    char remote[64]; /* "198.19.77.1:80" or "[fd3e:dfa0:4efb:77::1]:80" */
};

/* Options of connect and accept (NULL: all defaults). */
struct tapstack_options {
    unsigned timeout_s; /* 0: connect: TCP's own retries decide; accept: wait as long as it takes */
    int nodelay;        /* -1: the daemon's tcp.no_delay; 0: Nagle on; 1: Nagle off */
    int keepalive;      /* -1: the daemon's tcp.keepalive; 0: off; 1: on */
};
#define TAPSTACK_OPTIONS_DEFAULT {0, -1, -1}

/* CONNECT address port: the stream's descriptor, or -1. */
TAPSTACK_API int tapstack_connect(const char *socket_path, const char *address, uint16_t port,
                                  const struct tapstack_options *options, struct tapstack_stream *stream,
                                  struct tapstack_error *error);

/* LISTEN port (backlog 0: the daemon's tcp.backlog): the holder's
 * descriptor, or -1. Close it to stop listening. */
TAPSTACK_API int tapstack_listen(const char *socket_path, uint16_t port, unsigned backlog,
                                 struct tapstack_error *error);

/* ACCEPT port: waits for the next connection on the port (held by a listen,
 * or only while this call waits), returns its stream's descriptor, or -1. */
TAPSTACK_API int tapstack_accept(const char *socket_path, uint16_t port, const struct tapstack_options *options,
                                 struct tapstack_stream *stream, struct tapstack_error *error);

/* STATS: calls each(name, value, context) once per counter, in the daemon's
 * order. Returns 0 after the last counter, the callback's value when it
 * returned non-zero (and was called no more), or -1 on error. */
typedef int (*tapstack_counter_fn)(const char *name, uint64_t value, void *context);
TAPSTACK_API int tapstack_stats(const char *socket_path, tapstack_counter_fn each, void *context,
                                struct tapstack_error *error);

/* STATUS id: how the stream ended (or TAPSTACK_OUTCOME_OPEN). 0 or -1. */
TAPSTACK_API int tapstack_status(const char *socket_path, uint64_t id, enum tapstack_outcome *outcome,
                                 struct tapstack_error *error);

/* HELLO: the protocol version (>= 1) and the features, comma-separated
 * ("connect,listen,...,socks"), into features[features_size] (may be NULL
 * with size 0). Returns the version, or -1. */
TAPSTACK_API int tapstack_hello(const char *socket_path, char *features, size_t features_size,
                                struct tapstack_error *error);

/* The library's version, "0.1.0". */
TAPSTACK_API const char *tapstack_version(void);

/* The wire word of a code ("refused"), for messages. */
TAPSTACK_API const char *tapstack_code_name(enum tapstack_code code);

#ifdef __cplusplus
}
#endif

#endif /* TAPSTACK_H */
