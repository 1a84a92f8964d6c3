// Fuzz target: every parser of the Unix-socket API's text lines.
//
// The daemon parses request lines from any local application
// (parse_request); the client library parses the daemon's replies, and
// `tapstack capture` walks the pcapng stream of a CAPTURE. None may crash,
// hang or accept a line it cannot represent, whatever the bytes.
#include <cstdint>
#include <span>
#include <string_view>
#include <variant>

#include "daemon/api/request.hpp"
#include "daemon/capture/pcapng.hpp"
#include "daemon/client/client.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (size > 4096) return 0;
    const std::string_view line(reinterpret_cast<const char*>(data), size);
    (void)tapstack::daemon::api::parse_request(line);
    namespace c = tapstack::client;
    (void)c::parse_stream_reply(line);
    (void)c::parse_listen_reply(line);
    (void)c::parse_status_reply(line);
    (void)c::parse_counter_line(line);
    (void)c::parse_fields(line);
    (void)c::parse_info_reply(line);
    (void)c::parse_ok_fields(line, "DAEMON");
    (void)c::parse_ok_fields(line, "CAPTURE", "capture");
    tapstack::capture::pcapng::Reader reader;
    (void)reader.feed(std::span<const std::uint8_t>(data, size));
    (void)c::parse_hello_reply(line);
    return 0;
}
