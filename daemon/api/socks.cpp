// SOCKS5 messages (RFC 1928); see socks.hpp. Every check reads only bytes
// that are there; a length field is believed only up to its own maximum.
#include "daemon/api/socks.hpp"

#include <algorithm>

namespace tapstack::daemon::socks {

namespace {

std::uint16_t load_u16(std::span<const std::uint8_t> b, std::size_t at) {
    return static_cast<std::uint16_t>((b[at] << 8) | b[at + 1]);
}

}  // namespace

std::variant<Need, Greeting, Refusal> parse_greeting(std::span<const std::uint8_t> bytes) {
    if (bytes.empty()) {
        return Need{2};
    }
    if (bytes[0] != kVersion) {
        return Refusal{Reply::kGeneralFailure, "not SOCKS version 5"};
    }
    if (bytes.size() < 2) {
        return Need{2};
    }
    const std::size_t methods = bytes[1];
    if (methods == 0) {
        return Refusal{Reply::kGeneralFailure, "greeting offers no method"};
    }
    const std::size_t total = 2 + methods;
    if (bytes.size() < total) {
        return Need{total};
    }
    const auto offered = bytes.subspan(2, methods);
    return Greeting{std::find(offered.begin(), offered.end(), kMethodNoAuthentication) != offered.end(), total};
}

std::variant<Need, Request, Refusal> parse_request(std::span<const std::uint8_t> bytes) {
    // VER CMD RSV ATYP, checked in that order as soon as each is there.
    if (bytes.empty()) {
        return Need{4};
    }
    if (bytes[0] != kVersion) {
        return Refusal{Reply::kGeneralFailure, "request is not SOCKS version 5"};
    }
    if (bytes.size() < 2) {
        return Need{4};
    }
    if (bytes[1] < 1 || bytes[1] > 3) {
        return Refusal{Reply::kCommandNotSupported, "unknown command"};
    }
    if (bytes.size() < 3) {
        return Need{4};
    }
    if (bytes[2] != 0) {
        return Refusal{Reply::kGeneralFailure, "reserved byte is not zero"};
    }
    if (bytes.size() < 4) {
        return Need{4};
    }
    Request r;
    r.command = static_cast<Command>(bytes[1]);
    std::size_t address_len = 0;
    std::size_t address_at = 4;
    switch (bytes[3]) {
    case static_cast<std::uint8_t>(AddressType::kIpv4): address_len = 4; break;
    case static_cast<std::uint8_t>(AddressType::kIpv6): address_len = 16; break;
    case static_cast<std::uint8_t>(AddressType::kDomainName):
        if (bytes.size() < 5) {
            return Need{5};
        }
        address_len = bytes[4];
        address_at = 5;
        if (address_len == 0) {
            return Refusal{Reply::kGeneralFailure, "empty domain name"};
        }
        break;
    default: return Refusal{Reply::kAddressTypeNotSupported, "unknown address type"};
    }
    r.address_type = static_cast<AddressType>(bytes[3]);
    const std::size_t total = address_at + address_len + 2;
    if (bytes.size() < total) {
        return Need{total};
    }
    const auto address = bytes.subspan(address_at, address_len);
    switch (r.address_type) {
    case AddressType::kIpv4:
        r.ipv4 = wire::Ipv4Address::from_octets(address[0], address[1], address[2], address[3]);
        break;
    case AddressType::kIpv6: std::copy(address.begin(), address.end(), r.ipv6.bytes.begin()); break;
    case AddressType::kDomainName: r.domain.assign(address.begin(), address.end()); break;
    }
    r.port = load_u16(bytes, address_at + address_len);
    r.size = total;
    return r;
}

std::string method_selection(std::uint8_t method) {
    return std::string{static_cast<char>(kVersion), static_cast<char>(method)};
}

std::string encode_reply(Reply reply, const wire::IpEndpoint& bound) {
    if (bound.address.is_ipv6()) {
        std::string out{static_cast<char>(kVersion), static_cast<char>(reply), 0,
                        static_cast<char>(AddressType::kIpv6)};
        for (std::uint8_t b : bound.address.ipv6().bytes) out.push_back(static_cast<char>(b));
        out.push_back(static_cast<char>(bound.port >> 8));
        out.push_back(static_cast<char>(bound.port & 0xff));
        return out;
    }
    const std::uint32_t a = bound.address.ipv4().value;
    const std::uint8_t out[10] = {
        kVersion,
        static_cast<std::uint8_t>(reply),
        0,
        static_cast<std::uint8_t>(AddressType::kIpv4),
        static_cast<std::uint8_t>(a >> 24),
        static_cast<std::uint8_t>(a >> 16),
        static_cast<std::uint8_t>(a >> 8),
        static_cast<std::uint8_t>(a),
        static_cast<std::uint8_t>(bound.port >> 8),
        static_cast<std::uint8_t>(bound.port),
    };
    return std::string(reinterpret_cast<const char*>(out), sizeof out);
}

Reply reply_for(client::ErrorCode code) {
    using client::ErrorCode;
    switch (code) {
    case ErrorCode::kRefused: return Reply::kConnectionRefused;
    // A reset before the stream exists is the peer refusing it.
    case ErrorCode::kReset: return Reply::kConnectionRefused;
    case ErrorCode::kUnreachable: return Reply::kHostUnreachable;
    // RFC 1928 has no timeout code; Tor answers a connect that timed out
    // with 0x06 "TTL expired", and so do we.
    case ErrorCode::kTimedOut: return Reply::kTtlExpired;
    case ErrorCode::kPermission: return Reply::kNotAllowed;
    case ErrorCode::kInUse:
    case ErrorCode::kBadRequest:
    case ErrorCode::kNoResources:
    case ErrorCode::kNotFound:
    case ErrorCode::kShuttingDown:
    case ErrorCode::kInternal: break;
    }
    return Reply::kGeneralFailure;
}

}  // namespace tapstack::daemon::socks
