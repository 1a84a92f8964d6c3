/* Compiled as C (not C++): <tapstack.h> must be a valid C header, usable
 * with nothing else included, and every declaration must link. The
 * functions are called from test_c_api.cpp. */
#include "daemon/client/tapstack.h"

#include <string.h>

/* Connects through the C interface, writes `out`, reads back into `in`
 * until EOF or `size` bytes; returns the bytes read, or -1 with `error`. */
long c_connect_and_echo(const char *socket_path, const char *address, uint16_t port, const char *out, char *in,
                        unsigned long size, struct tapstack_error *error);

#include <sys/socket.h>
#include <unistd.h>

long c_connect_and_echo(const char *socket_path, const char *address, uint16_t port, const char *out, char *in,
                        unsigned long size, struct tapstack_error *error) {
    struct tapstack_options options = TAPSTACK_OPTIONS_DEFAULT;
    struct tapstack_stream stream;
    unsigned long got = 0;
    int fd;
    options.nodelay = 1;
    fd = tapstack_connect(socket_path, address, port, &options, &stream, error);
    if (fd < 0) {
        return -1;
    }
    if (write(fd, out, strlen(out)) != (ssize_t)strlen(out)) {
        close(fd);
        return -1;
    }
    shutdown(fd, SHUT_WR);
    while (got < size) {
        ssize_t n = read(fd, in + got, size - got);
        if (n <= 0) {
            break;
        }
        got += (unsigned long)n;
    }
    close(fd);
    return (long)got;
}

/* Every other entry point, so a missing export fails the link. */
int c_touch_every_function(void) {
    struct tapstack_error e;
    enum tapstack_outcome o;
    char features[8];
    int rc = 0;
    rc += tapstack_listen("/nonexistent/tapstack.sock", 7, 0, &e) == -1 && e.kind == TAPSTACK_ERR_UNAVAILABLE;
    rc += tapstack_accept("/nonexistent/tapstack.sock", 7, NULL, NULL, NULL) == -1;
    rc += tapstack_stats("/nonexistent/tapstack.sock", NULL, NULL, &e) == -1 && e.kind == TAPSTACK_ERR_USAGE;
    rc += tapstack_status("/nonexistent/tapstack.sock", 1, &o, &e) == -1;
    rc += tapstack_hello("/nonexistent/tapstack.sock", features, sizeof features, &e) == -1;
    rc += strcmp(tapstack_code_name(TAPSTACK_CODE_TIMED_OUT), "timed-out") == 0;
    rc += tapstack_version()[0] != '\0';
    return rc; /* 7 when every call behaved */
}
