// Fuzz target: the SOCKS5 handshake parsers (daemon/api/socks.hpp), which
// read bytes from any local program on api.socks_socket.
//
// Beyond "no crash": every verdict stays within RFC 1928's bounds; Need
// always asks for more than it has and never past the maximum message; and
// the server's way of reading (at most up to Need.total at a time) reaches
// the same verdict, with the same size, as parsing everything at once, so
// the daemon never reads a byte of the stream behind a request.
#include <cstdint>
#include <cstdlib>
#include <span>
#include <variant>

#include "daemon/api/socks.hpp"

namespace {

namespace socks = tapstack::daemon::socks;

void check(bool ok) {
    if (!ok) std::abort();
}

// The server reads at most Need.total - have bytes at a time, and may get
// fewer: model that on the bytes given, then compare with parsing them all.
template <typename Message, typename Parse>
void incremental(std::span<const std::uint8_t> bytes, Parse parse, std::size_t max) {
    const auto whole = parse(bytes);
    if (const auto* need = std::get_if<socks::Need>(&whole)) {
        check(need->total > bytes.size() && need->total <= max);
    }
    std::size_t have = 0;
    for (;;) {
        const auto step = parse(bytes.first(have));
        if (const auto* need = std::get_if<socks::Need>(&step)) {
            check(need->total > have && need->total <= max);
            if (have == bytes.size()) {
                check(std::get<socks::Need>(whole).total == need->total);
                return;
            }
            have = need->total < bytes.size() ? need->total : bytes.size();
            continue;
        }
        check(step.index() == whole.index());
        if (const auto* done = std::get_if<Message>(&step)) {
            // Never a byte past the message.
            check(done->size == have && done->size <= max);
            check(std::get<Message>(whole).size == done->size);
        } else {
            check(std::get<socks::Refusal>(step).reply == std::get<socks::Refusal>(whole).reply);
        }
        return;
    }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (size > 1024) return 0;
    const std::span<const std::uint8_t> bytes(data, size);
    incremental<socks::Greeting>(bytes, socks::parse_greeting, socks::kMaxGreeting);
    incremental<socks::Request>(bytes, socks::parse_request, socks::kMaxRequest);
    // A greeting followed by a request, as one client sends them.
    const auto g = socks::parse_greeting(bytes);
    if (const auto* greeting = std::get_if<socks::Greeting>(&g)) {
        incremental<socks::Request>(bytes.subspan(greeting->size), socks::parse_request, socks::kMaxRequest);
    }
    return 0;
}
