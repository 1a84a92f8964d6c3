// SOCKS5 (RFC 1928) on the wire: the client's two messages, parsed
// incrementally, and the server's two replies.
//
// Theory of operation
// -------------------
// A SOCKS client sends a greeting (VER NMETHODS METHODS...), the server
// picks a method (VER METHOD), the client sends one request (VER CMD RSV
// ATYP DST.ADDR DST.PORT) and the server answers (VER REP RSV ATYP
// BND.ADDR BND.PORT); after a success reply the connection is the byte
// stream. Both client messages have a length that their own first bytes
// give, and the stream may follow the request at once, so the parsers work
// on a growing prefix and, while it is incomplete, say how many bytes the
// message needs in all (`Need::total`). A reader takes exactly that many
// and never a byte of what follows. Bounds: a greeting is at most 257
// bytes, a request at most 262 (a 255-byte domain name).
//
// The parsers decode everything RFC 1928 defines (IPv4, domain names and
// IPv6 destinations, the three commands) and refuse only what is malformed
// or unknown; which destinations the daemon can reach is the server's
// decision (api/socks_client.cpp), so IPv6 or a resolver later changes
// nothing here.
//
// Pure functions on bytes: no I/O, no libuv; unit-tested and fuzzed.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <variant>

#include "daemon/client/protocol.hpp"
#include "stack/wire/addresses.hpp"

namespace tapstack::daemon::socks {

inline constexpr std::uint8_t kVersion = 5;
inline constexpr std::uint8_t kMethodNoAuthentication = 0x00;
inline constexpr std::uint8_t kMethodNoAcceptable = 0xff;
inline constexpr std::size_t kMaxGreeting = 2 + 255;
inline constexpr std::size_t kMaxRequest = 4 + 1 + 255 + 2;

// REP of a reply (RFC 1928 section 6).
enum class Reply : std::uint8_t {
    kSucceeded = 0x00,
    kGeneralFailure = 0x01,
    kNotAllowed = 0x02,          // connection not allowed by ruleset
    kNetworkUnreachable = 0x03,
    kHostUnreachable = 0x04,
    kConnectionRefused = 0x05,
    kTtlExpired = 0x06,          // our answer to a connect that timed out
    kCommandNotSupported = 0x07,
    kAddressTypeNotSupported = 0x08,
};

enum class Command : std::uint8_t { kConnect = 0x01, kBind = 0x02, kUdpAssociate = 0x03 };
enum class AddressType : std::uint8_t { kIpv4 = 0x01, kDomainName = 0x03, kIpv6 = 0x04 };

// The message is incomplete: it needs `total` bytes in all (more than it has).
struct Need {
    std::size_t total = 0;
};

// The message is malformed or asks for something RFC 1928 does not define:
// the reply code to send (in the request stage) and why, for counters and logs.
struct Refusal {
    Reply reply = Reply::kGeneralFailure;
    std::string_view reason;
};

struct Greeting {
    bool offers_no_authentication = false;  // method 0x00 among METHODS
    std::size_t size = 0;                   // bytes of the greeting
};

struct Ipv6Bytes {
    std::array<std::uint8_t, 16> bytes{};
};

struct Request {
    Command command = Command::kConnect;
    AddressType address_type = AddressType::kIpv4;
    wire::Ipv4Address ipv4;  // kIpv4
    std::string domain;      // kDomainName: 1..255 bytes as sent
    Ipv6Bytes ipv6;          // kIpv6
    std::uint16_t port = 0;
    std::size_t size = 0;    // bytes of the request
};

std::variant<Need, Greeting, Refusal> parse_greeting(std::span<const std::uint8_t> bytes);
std::variant<Need, Request, Refusal> parse_request(std::span<const std::uint8_t> bytes);

// VER METHOD.
std::string method_selection(std::uint8_t method);
// VER REP RSV ATYP BND.ADDR BND.PORT: ATYP 1 with an IPv4 bound address
// (0.0.0.0:0 for failures, which RFC 1928 leaves unspecified), ATYP 4 with
// an IPv6 one.
std::string encode_reply(Reply reply, const wire::IpEndpoint& bound = {});

// The reply for an API error code (the API's CONNECT path reports failures
// as error codes; see PROTOCOL.md's SOCKS5 section for the table).
Reply reply_for(client::ErrorCode code);

}  // namespace tapstack::daemon::socks
