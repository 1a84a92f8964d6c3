// Pump: moves bytes between stdin/stdout and one stream socket, like nc.
//
// stdin -> socket until stdin's EOF, then shutdown(SHUT_WR) (the daemon
// turns that into a FIN after all queued data); socket -> stdout until the
// socket's EOF, every byte written out before returning. Returns once the
// socket reached EOF, stdout has everything and whatever was already read
// from stdin has been sent -- whether or not stdin itself has ended, as
// OpenBSD's `nc -l` does: `tapstack listen 9 > file` ends when the peer has
// sent the file and closed, with a terminal or an open pipe on stdin.
// From the socket's EOF on, a terminal, pipe or socket on stdin is not read
// any more. One deliberate difference: a regular file (or block device) on
// stdin is still sent to its end and half-closed first, because it has an
// end and waiting for it cannot hang, where nc cuts it short (measured:
// `nc -l < 20MB-file` sends 16 KiB to a peer that half-closed at once).
// If the other end closed the socket entirely (POLLHUP) while stdin still
// had bytes to send, or a write to the socket fails, that is a kSocketError.
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
