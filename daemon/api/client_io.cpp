// ApiServer, one client's socket: what is watched, the request line,
// control replies and the deadline timer.
//
// Theory of operation
// -------------------
// The socket is level-triggered through uv_poll_t, so a condition that is
// watched must be consumed or unwatched in the same callback or step, or the
// loop would spin. What each phase watches:
//   kRequest     readable: the request line is read right here (no TCP);
//   kReplying    writable while the reply is not fully written, then
//                readable until the application closes (lingering close);
//   kHolding     readable (input is read away and ignored, to see EOF),
//                writable while the OK line waits;
//   kConnecting, kWaiting  RDHUP only, to notice an application that goes
//                away (input stays in the socket until the stream starts);
//   kStreaming   see stream_bridge.cpp (readable while TCP has send space,
//                writable while a write stopped short).
//   kCapturing   readable (to see the reader's EOF: the end of the capture),
//                writable while a write stopped short (capture_client.cpp).
//
// A SOCKS5 client's handshake takes the place of the request line
// (socks_client.cpp), read the same way: exactly its own bytes.
//
// The request line is read without over-reading: MSG_PEEK finds the newline
// and only the line itself is taken, so pipelined stream bytes stay in the
// socket, in order, for the stream. A line is bounded by max_request_line;
// EOF after a partial line still counts as the request.
//
// Control bytes (replies, the OK line of LISTEN and of a stream) go through
// `outbox`, written before any stream data. A reply that ends the client is
// followed by shutdown(SHUT_WR) once fully written; the socket closes when
// the application closes or shuts down its side (anything it still sends
// is read and ignored), or after the request timeout, whichever is first.
//
// The 1 s timer runs only while something needs it: a deadline (request,
// reply, connect/accept, an ending stream's hand-over) or, after EOF, the
// POLLHUP check that tells shutdown(SHUT_WR) from a full close. An idle
// stream has no timer running.
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "daemon/api/api_server_impl.hpp"

namespace tapstack::daemon {

using api::Phase;

void ApiServer::Impl::watch(Client* c, int events) {
    if (c->phase == Phase::kClosing || events == c->watched) {
        return;
    }
    if (events == 0) {
        uv_poll_stop(&c->poll);
        c->watched = 0;
        return;
    }
    int rc = uv_poll_start(&c->poll, events, [](uv_poll_t* h, int status, int ev) {
        auto* cl = static_cast<Client*>(h->data);
        cl->server->on_ready(cl, status, ev);
    });
    if (rc == 0) {
        c->watched = events;
        return;
    }
    // The descriptor cannot be watched (it went bad): treat the application
    // as gone rather than wait forever for readiness that never comes.
    c->watched = 0;
    c->app_vanished = true;
    wake(c);
}

void ApiServer::Impl::arm_timer(Client* c) {
    if (c->timer_running || c->phase == Phase::kClosing) {
        return;
    }
    uv_timer_start(
        &c->timer,
        [](uv_timer_t* t) {
            auto* cl = static_cast<Client*>(t->data);
            cl->tick = true;
            cl->server->wake(cl);
        },
        api::kTickMs, api::kTickMs);
    c->timer_running = true;
}

void ApiServer::Impl::stop_timer(Client* c) {
    if (c->timer_running) {
        uv_timer_stop(&c->timer);
        c->timer_running = false;
    }
}

void ApiServer::Impl::sync_timer(Client* c) {
    bool needed = false;
    switch (c->phase) {
    case Phase::kRequest:
    case Phase::kReplying:
    case Phase::kConnecting:
    case Phase::kWaiting: needed = true; break;
    case Phase::kHolding:
    case Phase::kStreaming: needed = (c->app_eof && !c->app_closed) || c->ending.has_value(); break;
    case Phase::kCapturing:  // ends on the reader's EOF or a failed write: no deadline
    case Phase::kClosing: break;
    }
    if (needed) {
        arm_timer(c);
    } else {
        stop_timer(c);
    }
}

void ApiServer::Impl::on_ready(Client* c, int status, int events) {
    if (c->phase == Phase::kClosing) {
        return;
    }
    if (status < 0) {
        // POLLERR: libuv has stopped the handle.
        c->watched = 0;
        c->app_vanished = true;
        if (c->phase == Phase::kRequest || c->phase == Phase::kReplying) {
            close_client(c);
        } else {
            wake(c);
        }
        return;
    }
    if ((events & UV_WRITABLE) != 0) {
        c->out_blocked = false;
    }
    if ((events & UV_READABLE) != 0) {
        c->in_ready = true;
    }
    if ((events & UV_DISCONNECT) != 0) {
        c->hup_seen = true;
    }
    switch (c->phase) {
    case Phase::kRequest:
        if (!c->outbox.empty()) {
            // A SOCKS method selection that did not fit at once.
            if (!c->out_blocked && flush_outbox(c) && c->phase == Phase::kRequest) {
                watch(c, c->watched & ~UV_WRITABLE);
            }
            if (c->app_vanished) {
                close_client(c);
                break;
            }
        }
        if (c->in_ready) {
            read_request(c);
        }
        break;
    case Phase::kReplying: finish_reply(c); break;
    case Phase::kHolding:
        if (c->in_ready) {
            discard_input(c, 16 * api::kDiscardSize);
        }
        if (!c->out_blocked) {
            flush_outbox(c);
        }
        wake(c);  // step_holding() decides what to watch and whether it ends
        break;
    case Phase::kConnecting:
    case Phase::kWaiting:
        if (c->hup_seen) {
            if (api::peer_hung_up(c->fd)) {
                c->app_closed = true;
            }
            watch(c, 0);  // RDHUP stays set: the timer checks POLLHUP from now on
            wake(c);
        }
        break;
    case Phase::kStreaming:
    case Phase::kCapturing:
        // The step does the I/O (it needs TCP); stop watching what fired so
        // the level-triggered poll does not fire again before it runs.
        watch(c, c->watched & ~events);
        wake(c);
        break;
    case Phase::kClosing: break;
    }
}

void ApiServer::Impl::note_eof(Client* c) {
    c->app_eof = true;
    c->in_ready = false;
    if (api::peer_hung_up(c->fd)) {
        c->app_closed = true;
    }
    sync_timer(c);  // keeps checking for POLLHUP
}

void ApiServer::Impl::read_request(Client* c) {
    if (c->protocol == api::Protocol::kSocks) {
        read_socks(c);
        return;
    }
    const std::size_t max_line = std::max<std::size_t>(config.max_request_line, 2);
    for (;;) {
        const std::size_t room = max_line - std::min(max_line, c->line.size());
        ssize_t n = ::recv(c->fd, scratch.data(), std::min(room, scratch.size()), MSG_PEEK | MSG_DONTWAIT);
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
            note_eof(c);
            watch(c, 0);
            // A last line without "\n" still counts as the request.
            if (c->line.empty()) {
                close_client(c);
            } else {
                parse_line(c);
            }
            return;
        }
        const auto len = static_cast<std::size_t>(n);
        const char* nl = static_cast<const char*>(std::memchr(scratch.data(), '\n', len));
        const std::size_t take = nl ? static_cast<std::size_t>(nl - scratch.data()) + 1 : len;
        ssize_t got = ::recv(c->fd, scratch.data(), take, MSG_DONTWAIT);
        if (got != static_cast<ssize_t>(take)) {
            c->app_vanished = true;  // what was peeked must be there
            close_client(c);
            return;
        }
        c->line.append(scratch.data(), nl ? take - 1 : take);
        if (nl) {
            watch(c, 0);  // the rest of the input belongs to the stream, if any
            parse_line(c);
            return;
        }
        if (c->line.size() >= max_line) {
            ++counters.bad_requests;
            reply_error(c, client::ErrorCode::kBadRequest,
                        "request line longer than " + std::to_string(max_line) + " bytes");
            return;
        }
    }
}

void ApiServer::Impl::parse_line(Client* c) {
    auto parsed = api::parse_request(c->line);
    std::string().swap(c->line);
    if (auto* err = std::get_if<api::ParseError>(&parsed)) {
        ++counters.bad_requests;
        reply_error(c, client::ErrorCode::kBadRequest, err->reason);
        return;
    }
    c->request = std::get<api::Request>(parsed);
    c->request_deadline = 0;
    wake(c);
}

void ApiServer::Impl::discard_input(Client* c, std::size_t limit) {
    std::size_t total = 0;
    while (c->fd >= 0 && total < limit && !c->app_eof && !c->app_vanished) {
        ssize_t n = ::recv(c->fd, scratch.data(), scratch.size(), MSG_DONTWAIT);
        if (n > 0) {
            total += static_cast<std::size_t>(n);
            continue;
        }
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n == 0) {
            note_eof(c);
        } else if (errno == EAGAIN || errno == EWOULDBLOCK) {
            c->in_ready = false;
        } else {
            c->app_vanished = true;
        }
        return;
    }
}

bool ApiServer::Impl::flush_outbox(Client* c) {
    while (c->outbox_sent < c->outbox.size()) {
        ssize_t n = ::send(c->fd, c->outbox.data() + c->outbox_sent, c->outbox.size() - c->outbox_sent,
                           MSG_NOSIGNAL | MSG_DONTWAIT);
        if (n >= 0) {
            c->outbox_sent += static_cast<std::size_t>(n);
            continue;
        }
        if (errno == EINTR) {
            continue;
        }
        if (errno == EAGAIN || errno == EWOULDBLOCK) {
            c->out_blocked = true;
        } else {
            c->app_vanished = true;
        }
        return false;
    }
    std::string().swap(c->outbox);
    c->outbox_sent = 0;
    return true;
}

void ApiServer::Impl::send_control(Client* c, std::string text) {
    c->outbox += text;
    if (!c->out_blocked) {
        flush_outbox(c);
    }
}

void ApiServer::Impl::reply_and_close(Client* c, std::string text) {
    if (c->phase == Phase::kClosing) {
        return;
    }
    detach_from_listener(c);
    c->phase = Phase::kReplying;
    c->request_deadline = uv_now(loop) + config.request_timeout_ms;
    sync_timer(c);
    c->outbox += text;
    finish_reply(c);
}

void ApiServer::Impl::finish_reply(Client* c) {
    if (!c->unix_write_shut) {
        if (c->out_blocked || !flush_outbox(c)) {
            if (c->app_vanished) {
                close_client(c);
            } else {
                watch(c, UV_WRITABLE);
            }
            return;
        }
        c->unix_write_shut = true;
        if (::shutdown(c->fd, SHUT_WR) != 0) {
            close_client(c);
            return;
        }
    }
    // Lingering close: the application reads the reply, then EOF; its side
    // stays open until it closes or shuts down writing (or the reply
    // deadline passes), so a request it is still writing (a client over
    // max_clients, a request after a pipelined one) never meets a closed
    // socket and EPIPE. What it sends meanwhile is ignored.
    discard_input(c, 16 * api::kDiscardSize);
    if (c->app_eof || c->app_vanished) {
        close_client(c);
        return;
    }
    watch(c, UV_READABLE);
}

void ApiServer::Impl::reply_error(Client* c, client::ErrorCode code, std::string_view message) {
    reply_failure(c, code, socks::reply_for(code), message);
}

void ApiServer::Impl::reply_failure(Client* c, client::ErrorCode code, socks::Reply socks,
                                    std::string_view message) {
    std::string().swap(c->line);
    reply_and_close(c, failure_text(c, code, socks, message));
}

std::string ApiServer::Impl::failure_text(const Client* c, client::ErrorCode code, socks::Reply socks,
                                          std::string_view message) const {
    if (c->protocol == api::Protocol::kLine) {
        return api::format_error(code, message);
    }
    // Before the method is chosen the only reply a SOCKS client can read is
    // a method selection; "no acceptable method" is the refusal there.
    return c->socks_greeted ? socks::encode_reply(socks) : socks::method_selection(socks::kMethodNoAcceptable);
}

}  // namespace tapstack::daemon
