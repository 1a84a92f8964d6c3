// Pump: moves bytes between stdin/stdout and one stream socket, like nc.
//
// stdin -> socket until stdin's EOF, then shutdown(SHUT_WR) (the daemon
// turns that into a FIN after all queued data); socket -> stdout until the
// socket's EOF, every byte written out before returning. Returns once the
// socket reached EOF and stdout has everything, and stdin is done too
// (EOF read and all of it sent) -- unless stdin is a terminal, where the
// socket's EOF ends the session at once. If the other end closed the socket
// entirely (POLLHUP) before stdin was all sent, that is a kSocketError.
//
// One poll() loop, 256 KiB buffers each way, the socket non-blocking.
// Nothing here knows about tapstack: the caller interprets the end.
#pragma once

#include <string>

namespace tapstack::cli {

struct PumpResult {
    enum class End {
        kDone,         // socket EOF seen, everything written
        kSocketError,  // read/write on the socket failed (ECONNRESET, EPIPE)
        kLocalError,   // stdin or stdout failed
    };
    End end = End::kDone;
    std::string message;  // for errors
};

// `in_fd`/`out_fd` are normally 0/1. `in_eof` carries stdin's EOF across
// several connections (listen -k): once set, later pumps half-close at once.
PumpResult pump(int sock, int in_fd, int out_fd, bool* in_eof);

}  // namespace tapstack::cli
