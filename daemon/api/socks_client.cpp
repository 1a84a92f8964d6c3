// ApiServer, a SOCKS5 client's handshake (RFC 1928): greeting, method,
// request, and its CONNECT handed to the same path as the API's.
//
// Theory of operation
// -------------------
// A client accepted on api.socks_socket is in kRequest like any other, with
// the same deadline (api.request_timeout, for the whole handshake), and is
// read here instead of as a request line. Its bytes gather in `line`; the
// parsers (socks.hpp) say how long the current message is, and only that
// many bytes are read, so stream bytes a client sends right behind its
// request stay in the socket for the stream bridge, in order.
//
//   greeting ──no-auth offered──> method 0x00, then the request
//      └──otherwise, or malformed──> method 0xFF, close
//   request ──CONNECT to IPv4──> api::ConnectRequest, dispatched in service()
//      └──other command / address type, malformed──> a failure reply, close
//
// From the ConnectRequest on, the client is an API client: handle() runs
// every check a CONNECT gets, failures come back through reply_failure()
// as the SOCKS reply for the error (socks::reply_for, or the explicit one),
// and success is start_stream()'s reply with BND.ADDR/BND.PORT = the
// stream's local end. Refusals and failures use reply_and_close(): the reply
// is written, the daemon shuts down its side and closes once the client
// does (lingering close), so the client reads the reply, never a reset.
//
// Domain names (ATYP 3) get 0x08 until the daemon has a resolver, IPv6
// destinations (ATYP 4) get 0x08 until it has IPv6; the parser already
// decodes both.
#include <sys/socket.h>

#include <cerrno>
#include <span>

#include "daemon/api/api_server_impl.hpp"

namespace tapstack::daemon {

using api::Phase;

// A handshake refused: the reply for `reply` (or "no acceptable method"
// before the method is chosen), then the lingering close.
void ApiServer::Impl::socks_refuse(Client* c, socks::Reply reply) {
    reply_failure(c, client::ErrorCode::kBadRequest, reply, {});
}

void ApiServer::Impl::read_socks(Client* c) {
    for (;;) {
        const std::span<const std::uint8_t> have(reinterpret_cast<const std::uint8_t*>(c->line.data()),
                                                 c->line.size());
        std::size_t need = 0;
        if (!c->socks_greeted) {
            auto g = socks::parse_greeting(have);
            if (auto* n = std::get_if<socks::Need>(&g)) {
                need = n->total;
            } else if (auto* refusal = std::get_if<socks::Refusal>(&g)) {
                ++counters.socks_refused;
                socks_refuse(c, refusal->reply);
                return;
            } else {
                if (!std::get<socks::Greeting>(g).offers_no_authentication) {
                    ++counters.socks_refused;
                    socks_refuse(c, socks::Reply::kGeneralFailure);
                    return;
                }
                c->line.clear();
                c->socks_greeted = true;
                send_control(c, socks::method_selection(socks::kMethodNoAuthentication));
                if (c->app_vanished) {
                    close_client(c);
                    return;
                }
                if (c->out_blocked) {
                    watch(c, UV_READABLE | UV_WRITABLE);
                }
                continue;
            }
        } else {
            auto q = socks::parse_request(have);
            if (auto* n = std::get_if<socks::Need>(&q)) {
                need = n->total;
            } else if (auto* refusal = std::get_if<socks::Refusal>(&q)) {
                ++counters.socks_refused;
                socks_refuse(c, refusal->reply);
                return;
            } else {
                watch(c, 0);  // the rest of the input belongs to the stream
                const socks::Request request = std::get<socks::Request>(q);
                std::string().swap(c->line);
                socks_request(c, request);
                return;
            }
        }
        // Exactly the rest of the current message, never beyond it.
        const std::size_t want = need - c->line.size();
        ssize_t n = ::recv(c->fd, scratch.data(), want, MSG_DONTWAIT);
        if (n < 0) {
            if (errno == EINTR) {
                continue;
            }
            if (errno == EAGAIN || errno == EWOULDBLOCK) {
                c->in_ready = false;
                return;
            }
            c->app_vanished = true;
            close_client(c);
            return;
        }
        if (n == 0) {
            // Gone in the middle of the handshake: nobody to answer.
            note_eof(c);
            close_client(c);
            return;
        }
        c->line.append(scratch.data(), static_cast<std::size_t>(n));
    }
}

void ApiServer::Impl::socks_request(Client* c, const socks::Request& r) {
    if (r.command != socks::Command::kConnect) {
        ++counters.socks_refused;
        socks_refuse(c, socks::Reply::kCommandNotSupported);  // BIND, UDP ASSOCIATE
        return;
    }
    if (r.address_type == socks::AddressType::kDomainName) {
        ++counters.socks_refused;
        socks_refuse(c, socks::Reply::kAddressTypeNotSupported);  // no resolver
        return;
    }
    const wire::IpAddress target = r.address_type == socks::AddressType::kIpv6
                                       ? wire::IpAddress(wire::Ipv6Address{r.ipv6.bytes})
                                       : wire::IpAddress(r.ipv4);
    if (api::connect_target_error(target, r.port)) {
        // What a CONNECT line is refused for as a bad request.
        ++counters.socks_refused;
        socks_refuse(c, socks::Reply::kGeneralFailure);
        return;
    }
    // The API's CONNECT without options: the config's TCP defaults, TCP's
    // own SYN retries as the limit.
    c->request = api::Request{api::ConnectRequest{target, r.port, 0, {}}};
    c->request_deadline = 0;
    wake(c);
}

}  // namespace tapstack::daemon
