// `tapstack capture`: the daemon's live packet capture (CAPTURE) to a file
// or stdout, as pcapng that tcpdump, tshark and Wireshark read.
//
// Theory of operation
// -------------------
// One CAPTURE request; its stream is copied to the output as it arrives
// (blocking writes: a slow consumer such as `| tcpdump -r -` makes this
// reader slow, and then the daemon drops frames for this capture rather
// than slow the stack). A pcapng reader (daemon/capture/pcapng.hpp) walks
// the copy to count frames per direction. SIGINT/SIGTERM end the capture
// in order: the socket's write side is shut down, the daemon appends its
// statistics block (frames seen, dropped, delivered) and closes, and the
// summary goes to stderr, as tcpdump prints one. -c COUNT ends it the same
// way once the daemon delivered COUNT frames. A consumer that goes away
// (EPIPE on stdout) ends it quietly.
//
// pcapng is binary: without -w, stdout must not be a terminal.
#pragma once

#include "daemon/cli/options.hpp"

namespace tapstack::cli {

int run_capture(const CommandLine& line);

}  // namespace tapstack::cli
