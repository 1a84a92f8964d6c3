// The SOCKS5 wire format (daemon/api/socks.hpp, RFC 1928): greetings and
// requests parsed from a growing prefix (what is complete, how much is
// still needed, what is refused and with which reply code), and the bytes
// of the server's replies.
#include <doctest/doctest.h>

#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "daemon/api/socks.hpp"

using namespace tapstack;
using namespace tapstack::daemon::socks;

namespace {

using Bytes = std::vector<std::uint8_t>;

std::span<const std::uint8_t> first(const Bytes& b, std::size_t n) { return std::span<const std::uint8_t>(b).first(n); }

Bytes ipv4_connect(std::uint8_t a, std::uint8_t b, std::uint8_t c, std::uint8_t d, std::uint16_t port) {
    return {5, 1, 0, 1, a, b, c, d, static_cast<std::uint8_t>(port >> 8), static_cast<std::uint8_t>(port)};
}

// Every proper prefix of a message asks for more, never for less than one
// more byte and never past the message itself: a reader taking exactly
// `total - size` bytes at each step reads the message and nothing after it.
template <typename Parse>
void check_prefixes_need_exactly(const Bytes& message, Parse parse) {
    for (std::size_t n = 0; n < message.size(); ++n) {
        auto r = parse(first(message, n));
        CAPTURE(n);
        REQUIRE(std::holds_alternative<Need>(r));
        CHECK(std::get<Need>(r).total > n);
        CHECK(std::get<Need>(r).total <= message.size());
    }
}

Reply refusal(const std::variant<Need, Request, Refusal>& r) {
    REQUIRE(std::holds_alternative<Refusal>(r));
    CHECK_FALSE(std::get<Refusal>(r).reason.empty());
    return std::get<Refusal>(r).reply;
}

}  // namespace

TEST_CASE("RFC 1928 3: a greeting offering no authentication among other methods is accepted, its size exact") {
    const Bytes g{5, 3, 0x02, 0x00, 0x01, /* the request follows */ 5, 1};
    auto r = parse_greeting(g);
    REQUIRE(std::holds_alternative<Greeting>(r));
    CHECK(std::get<Greeting>(r).offers_no_authentication);
    CHECK(std::get<Greeting>(r).size == 5);
    check_prefixes_need_exactly(Bytes(g.begin(), g.begin() + 5), parse_greeting);
}

TEST_CASE("RFC 1928 3: a greeting without method 0x00 is complete but offers nothing we accept") {
    auto r = parse_greeting(Bytes{5, 2, 0x01, 0x02});
    REQUIRE(std::holds_alternative<Greeting>(r));
    CHECK_FALSE(std::get<Greeting>(r).offers_no_authentication);
    // The longest greeting: 255 methods, none of them 0x00.
    Bytes longest{5, 255};
    for (int i = 1; i <= 255; ++i) longest.push_back(static_cast<std::uint8_t>(i));
    auto l = parse_greeting(longest);
    REQUIRE(std::holds_alternative<Greeting>(l));
    CHECK(std::get<Greeting>(l).size == kMaxGreeting);
    CHECK_FALSE(std::get<Greeting>(l).offers_no_authentication);
}

TEST_CASE("greetings that are not SOCKS5, or offer no method at all, are refused at the first bad byte") {
    CHECK(std::holds_alternative<Refusal>(parse_greeting(Bytes{4})));           // SOCKS4
    CHECK(std::holds_alternative<Refusal>(parse_greeting(Bytes{'G', 'E'})));   // HTTP
    CHECK(std::holds_alternative<Refusal>(parse_greeting(Bytes{5, 0})));
    CHECK(std::holds_alternative<Refusal>(parse_greeting(Bytes{5, 0, 0})));
}

TEST_CASE("RFC 1928 4: an IPv4 CONNECT request decodes address and port; bytes after it are not part of it") {
    Bytes req = ipv4_connect(198, 19, 77, 1, 8000);
    req.insert(req.end(), {'G', 'E', 'T'});
    auto r = parse_request(req);
    REQUIRE(std::holds_alternative<Request>(r));
    const Request& q = std::get<Request>(r);
    CHECK(q.command == Command::kConnect);
    CHECK(q.address_type == AddressType::kIpv4);
    CHECK(q.ipv4 == wire::Ipv4Address::from_octets(198, 19, 77, 1));
    CHECK(q.port == 8000);
    CHECK(q.size == 10);
    check_prefixes_need_exactly(ipv4_connect(10, 0, 0, 1, 1), parse_request);
}

TEST_CASE("RFC 1928 5: domain names and IPv6 addresses are decoded; what the daemon supports is not the parser's call") {
    Bytes name{5, 1, 0, 3, 11};
    for (char c : std::string("example.org")) name.push_back(static_cast<std::uint8_t>(c));
    name.insert(name.end(), {0x01, 0xbb});
    auto n = parse_request(name);
    REQUIRE(std::holds_alternative<Request>(n));
    CHECK(std::get<Request>(n).address_type == AddressType::kDomainName);
    CHECK(std::get<Request>(n).domain == "example.org");
    CHECK(std::get<Request>(n).port == 443);
    CHECK(std::get<Request>(n).size == name.size());
    check_prefixes_need_exactly(name, parse_request);

    Bytes v6{5, 2, 0, 4, 0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 22};
    auto s = parse_request(v6);
    REQUIRE(std::holds_alternative<Request>(s));
    CHECK(std::get<Request>(s).command == Command::kBind);
    CHECK(std::get<Request>(s).address_type == AddressType::kIpv6);
    CHECK(std::get<Request>(s).ipv6.bytes[0] == 0xfd);
    CHECK(std::get<Request>(s).ipv6.bytes[15] == 1);
    CHECK(std::get<Request>(s).port == 22);
    check_prefixes_need_exactly(v6, parse_request);

    // The longest request: a 255-byte name.
    Bytes longest{5, 1, 0, 3, 255};
    longest.resize(5 + 255, 'a');
    longest.insert(longest.end(), {0, 80});
    auto l = parse_request(longest);
    REQUIRE(std::holds_alternative<Request>(l));
    CHECK(std::get<Request>(l).size == kMaxRequest);
}

TEST_CASE("RFC 1928 4/6: bad requests get their reply code as soon as the offending byte is there") {
    CHECK(refusal(parse_request(Bytes{4})) == Reply::kGeneralFailure);             // VER
    CHECK(refusal(parse_request(Bytes{5, 0})) == Reply::kCommandNotSupported);      // CMD 0
    CHECK(refusal(parse_request(Bytes{5, 4})) == Reply::kCommandNotSupported);      // CMD 4
    CHECK(refusal(parse_request(Bytes{5, 0xf0})) == Reply::kCommandNotSupported);   // Tor's RESOLVE
    CHECK(refusal(parse_request(Bytes{5, 1, 1})) == Reply::kGeneralFailure);        // RSV
    CHECK(refusal(parse_request(Bytes{5, 1, 0, 2})) == Reply::kAddressTypeNotSupported);
    CHECK(refusal(parse_request(Bytes{5, 1, 0, 0xff})) == Reply::kAddressTypeNotSupported);
    CHECK(refusal(parse_request(Bytes{5, 1, 0, 3, 0})) == Reply::kGeneralFailure);  // empty name
    // BIND and UDP ASSOCIATE are RFC 1928 commands: decoded, refused by the server.
    CHECK(std::holds_alternative<Request>(parse_request(Bytes{5, 3, 0, 1, 0, 0, 0, 0, 0, 0})));
}

TEST_CASE("replies: the method selection and VER REP RSV ATYP BND.ADDR BND.PORT in network order") {
    CHECK(method_selection(kMethodNoAuthentication) == std::string("\x05\x00", 2));
    CHECK(method_selection(kMethodNoAcceptable) == std::string("\x05\xff", 2));
    const wire::IpEndpoint bound{wire::Ipv4Address::from_octets(198, 19, 77, 2), 49731};
    CHECK(encode_reply(Reply::kSucceeded, bound) == std::string("\x05\x00\x00\x01\xc6\x13\x4d\x02\xc2\x43", 10));
    CHECK(encode_reply(Reply::kConnectionRefused) == std::string("\x05\x05\x00\x01\x00\x00\x00\x00\x00\x00", 10));
    // ATYP 4: a 16-byte IPv6 BND.ADDR.
    const wire::IpEndpoint bound6{*wire::Ipv6Address::parse("fd00::2"), 0xc243};
    CHECK(encode_reply(Reply::kSucceeded, bound6) ==
          std::string("\x05\x00\x00\x04\xfd\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x02\xc2\x43", 22));
}

TEST_CASE("API error codes map to RFC 1928 replies: refused 5, unreachable 4, timed out 6, permission 2, else 1") {
    using client::ErrorCode;
    CHECK(reply_for(ErrorCode::kRefused) == Reply::kConnectionRefused);
    CHECK(reply_for(ErrorCode::kReset) == Reply::kConnectionRefused);
    CHECK(reply_for(ErrorCode::kUnreachable) == Reply::kHostUnreachable);
    CHECK(reply_for(ErrorCode::kTimedOut) == Reply::kTtlExpired);
    CHECK(reply_for(ErrorCode::kPermission) == Reply::kNotAllowed);
    for (ErrorCode c : {ErrorCode::kInUse, ErrorCode::kBadRequest, ErrorCode::kNoResources, ErrorCode::kNotFound,
                        ErrorCode::kShuttingDown, ErrorCode::kInternal}) {
        CHECK(reply_for(c) == Reply::kGeneralFailure);
    }
}

TEST_CASE("random bytes: every answer stays within the bounds, and feeding by Need reads a message exactly") {
    std::mt19937 rng(1928);
    for (int round = 0; round < 20000; ++round) {
        Bytes b(rng() % 300);
        for (auto& x : b) x = static_cast<std::uint8_t>(rng() % 4 == 0 ? rng() % 6 : rng());
        if (!b.empty() && rng() % 2) b[0] = 5;
        auto g = parse_greeting(b);
        if (auto* n = std::get_if<Need>(&g)) {
            CHECK(n->total > b.size());
            CHECK(n->total <= kMaxGreeting);
        } else if (auto* ok = std::get_if<Greeting>(&g)) {
            CHECK(ok->size <= b.size());
            CHECK(ok->size <= kMaxGreeting);
        }
        auto r = parse_request(b);
        if (auto* n = std::get_if<Need>(&r)) {
            CHECK(n->total > b.size());
            CHECK(n->total <= kMaxRequest);
        } else if (auto* ok = std::get_if<Request>(&r)) {
            CHECK(ok->size <= b.size());
            CHECK(ok->size <= kMaxRequest);
            // The same verdict when the message arrives in the pieces Need asks for.
            Bytes fed;
            for (;;) {
                auto step = parse_request(fed);
                if (auto* more = std::get_if<Need>(&step)) {
                    REQUIRE(more->total <= b.size());
                    fed.assign(b.begin(), b.begin() + static_cast<std::ptrdiff_t>(more->total));
                    continue;
                }
                REQUIRE(std::holds_alternative<Request>(step));
                CHECK(std::get<Request>(step).size == ok->size);
                CHECK(fed.size() == ok->size);
                break;
            }
        }
    }
}
