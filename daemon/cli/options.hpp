// The tapstack command line: getopt_long(3) over every argument, then the
// command's own checks.
//
// Flags may come before or after the command and its arguments, short flags
// combine ("-vk") and take their value attached or separate ("-w5", "-w 5"),
// long options take "--socket PATH" or "--socket=PATH", and "--" ends the
// flags. One option string serves every command; a flag given to a command
// it does not belong to is a usage error naming the command it is for. Two
// letters mean different things per command, as in the tools they imitate:
// -w is nc's connect timeout for `connect` and tcpdump's output file for
// `capture`; -s is tcpdump's snap length (capture only).
//
// The API socket: --socket, else $TAPSTACK_SOCKET (when set and not empty),
// else client::kDefaultSocketPath.
//
// parse_command_line() never prints or exits: it returns the parsed
// command or one error line (exit status 2). Pure, unit-tested.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

namespace tapstack::cli {

struct CommandLine {
    enum class Action { kRun, kHelp, kVersion };
    Action action = Action::kRun;
    std::string socket_path;
    std::string command;             // "connect", "listen", "stats", ... ("" only with kHelp/kVersion)
    std::vector<std::string> args;   // the command's operands
    bool verbose = false;            // -v
    bool keep = false;               // -k (listen)
    bool nodelay = false;            // --nodelay (connect, listen)
    bool keepalive = false;          // --keepalive (connect, listen)
    std::uint32_t timeout_s = 0;     // -w (connect)
    bool prometheus = false;         // --prometheus (stats)
    // capture
    std::uint64_t count = 0;         // -c: frames, 0 = until interrupted
    std::optional<std::string> output;  // -w FILE, "-" for stdout
    std::uint32_t snaplen = 0;       // -s: bytes kept of each frame, 0 = the daemon's maximum
    std::uint32_t buffer_kib = 0;    // -B: the daemon's buffer for this capture, 0 = its default
};

struct ParsedCommandLine {
    CommandLine line;
    std::string error;  // empty on success
};

// `args` is argv (args[0] the program name); `env_socket` is
// $TAPSTACK_SOCKET or nullptr.
ParsedCommandLine parse_command_line(std::span<const char* const> args, const char* env_socket);

// The commands, for the usage text and "unknown command" messages.
inline constexpr const char* kCommands[] = {"connect", "listen", "connections", "ss",      "info",
                                            "stats",   "status", "version",     "capture"};

}  // namespace tapstack::cli
