// ApiServer, the stream bridge: a stream's bytes between the application's
// Unix socket and its TCP connection, without a copy in between.
//
// Theory of operation
// -------------------
// There is no staging buffer: TCP's own ring buffers are the only place a
// stream's bytes wait in the daemon.
//   app -> TCP: readv() from the socket straight into the send buffer's free
//     space (TcpStack::send_spans(), up to two runs when it wraps), then
//     send_commit() of exactly what the kernel gave. When the send buffer is
//     full nothing is read: the bytes wait in the socket, the application's
//     writes block, and a closed peer window stops the application.
//   TCP -> app: sendmsg() (writev() with MSG_NOSIGNAL) from the receive
//     buffer's in-order bytes (recv_spans()) straight to the socket, then
//     recv_consume() of exactly what the kernel accepted. An application that
//     does not read fills its socket; the rest stays in TCP's receive buffer
//     and the advertised window closes.
// Control bytes still queued in `outbox` (the OK line, or a SOCKS5 client's
// success reply) go first.
//
// Readiness: `in_ready` says the socket may hold input (set by a readable
// event, cleared by EAGAIN or a short read). Nothing is read before the
// first readable event and nothing is asked of TCP's send buffer while the
// socket holds no bytes (FIONREAD), because asking allocates it: an idle
// stream owns no data buffer at all. Readable is watched only while
// it is clear, reading is still allowed and TCP has send space, so a
// level-triggered poll never spins on input nobody can take. `out_blocked`
// says the last write stopped short; writable is watched only then. New
// TCP data or send space arrives as a TCP event, which steps the client.
//
// Ends, in order (the invariant: every byte the peer sent reaches the
// application, in order, before EOF):
//   * readv() returns 0 (app EOF): everything it wrote is already in TCP, so
//     tcp.shutdown_write() at once (FIN after the queued data);
//   * info().eof (FIN received and every byte before it consumed, i.e.
//     accepted by the socket): shutdown(SHUT_WR) of the socket, so the
//     application reads EOF after all data;
//   * both: tcp.close() (the stack finishes the handshake and TIME-WAIT),
//     outcome "orderly";
//   * the application closed its socket entirely (EOF, then POLLHUP): FIN
//     after queued data, or RST when received data is left unread;
//   * a read or write error (application died): RST, outcome "aborted";
//   * a TCP error (reset, timed out): the stream is *ending*. Nothing can
//     go to the peer any more, but every byte TCP acknowledged and still
//     holds goes to the application first, in order, at the pace the
//     application reads (socket full: wait for writable, go on); what the
//     application still writes is read and dropped so it never blocks on a
//     write while we wait for it to read. Once TCP's buffer is empty the
//     outcome (from the error) is recorded and the socket closed: the
//     application reads every byte, then EOF, and STATUS tells how it
//     ended (STATUS already says so while the bytes are handed over).
//     Bound: the application must take at least one byte per
//     api.request_timeout, or the rest is dropped and counted
//     (api.bytes_undelivered, STATUS `undelivered=`); an application
//     that never reads cannot pin TCP's buffer forever. Nothing new
//     arrives meanwhile (the connection is closed), so the wait is bounded
//     by what was acknowledged.
// Graceful stop (drain()): end_app_input() shuts down the socket's reading
// side, so the application's later writes fail (EPIPE) and reading reaches
// EOF after the bytes it wrote before: FIN follows them, as after its own
// shutdown(SHUT_WR); the peer's bytes keep flowing until its FIN.
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include <cerrno>

#include "daemon/api/api_server_impl.hpp"

namespace tapstack::daemon {

using api::Phase;
using client::Outcome;

namespace {

// The non-empty spans as an iovec array; returns how many and their total.
template <typename Span>
int to_iovec(const std::array<Span, 2>& spans, iovec (&iov)[2], std::size_t* total) {
    int n = 0;
    *total = 0;
    for (const Span& s : spans) {
        if (!s.empty()) {
            iov[n].iov_base = const_cast<std::uint8_t*>(s.data());
            iov[n].iov_len = s.size();
            *total += s.size();
            ++n;
        }
    }
    return n;
}

}  // namespace

void ApiServer::Impl::start_stream(Client* c) {
    tcp::ConnInfo info = tcp().info(c->conn);
    c->stream_id = next_stream_id++;
    live_streams[c->stream_id] = c;
    c->phase = Phase::kStreaming;
    c->op_deadline = 0;
    // Pipelined bytes or EOF may already wait in the socket: readiness says
    // so at once. Not reading before that keeps an idle stream's send
    // buffer unallocated.
    c->in_ready = false;
    watch(c, 0);
    // The success reply; a SOCKS client's names the stream's local end
    // (BND.ADDR, BND.PORT). Stream bytes follow it on the same connection.
    send_control(c, c->protocol == api::Protocol::kSocks
                        ? socks::encode_reply(socks::Reply::kSucceeded, info.local)
                        : api::format_stream_ok(info.local, info.remote, c->stream_id));
    step_streaming(c);
}

void ApiServer::Impl::fail_stream(Client* c, Outcome outcome, std::string detail) {
    record_outcome(c, outcome, std::move(detail));
    release_conn(c);
    close_client(c);
}

void ApiServer::Impl::pull_from_app(Client* c) {
    tcp::TcpStack& t = tcp();
    // send_spans() makes TCP allocate the send buffer; only ask for it when
    // there are bytes to put there, so a stream that only receives, or only
    // says EOF, never gets one.
    int queued = 0;
    if (::ioctl(c->fd, FIONREAD, &queued) == 0 && queued == 0) {
        std::uint8_t probe = 0;
        ssize_t n = ::recv(c->fd, &probe, 1, MSG_PEEK | MSG_DONTWAIT);
        if (n == 0) {
            note_eof(c);
            return;
        }
        if (n < 0) {
            if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) {
                c->in_ready = false;
            } else {
                c->app_vanished = true;
            }
            return;
        }
    }
    iovec iov[2];
    std::size_t room = 0;
    const int count = to_iovec(t.send_spans(c->conn), iov, &room);
    if (count == 0) {
        if (!c->read_paused) {
            c->read_paused = true;  // TCP's send buffer is full: the bytes wait in the socket
            ++counters.read_stops;
        }
        return;
    }
    c->read_paused = false;
    ssize_t n;
    do {
        n = ::readv(c->fd, iov, count);
    } while (n < 0 && errno == EINTR);
    if (n < 0) {
        if (errno == EAGAIN || errno == EWOULDBLOCK) {
            c->in_ready = false;
        } else {
            c->app_vanished = true;
        }
        return;
    }
    if (n == 0) {
        note_eof(c);
        return;
    }
    const auto got = static_cast<std::size_t>(n);
    t.send_commit(now, c->conn, got);
    counters.bytes_to_tcp += got;
    if (got < room) {
        c->in_ready = false;  // a short read: the socket is empty for now
    }
}

void ApiServer::Impl::push_to_app(Client* c) {
    if (!flush_outbox(c)) {
        return;
    }
    tcp::TcpStack& t = tcp();
    iovec iov[2];
    std::size_t avail = 0;
    const int count = to_iovec(t.recv_spans(c->conn), iov, &avail);
    if (count == 0) {
        return;
    }
    msghdr msg{};
    msg.msg_iov = iov;
    msg.msg_iovlen = static_cast<decltype(msg.msg_iovlen)>(count);
    ssize_t n;
    do {
        n = ::sendmsg(c->fd, &msg, MSG_NOSIGNAL | MSG_DONTWAIT);
    } while (n < 0 && errno == EINTR);
    if (n < 0) {
        if (errno == EAGAIN || errno == EWOULDBLOCK) {
            c->out_blocked = true;
        } else {
            c->app_vanished = true;
        }
        return;
    }
    const auto sent = static_cast<std::size_t>(n);
    t.recv_consume(now, c->conn, sent);
    counters.bytes_to_app += sent;
    if (sent < avail) {
        c->out_blocked = true;  // the socket is full: wait until it is writable
    }
}

void ApiServer::Impl::watch_stream(Client* c) {
    int events = 0;
    if (!c->in_ready && !c->app_eof && !c->app_vanished && !c->tcp_write_shut && !c->read_paused) {
        events |= UV_READABLE;
    }
    if (c->out_blocked) {
        events |= UV_WRITABLE;
    }
    watch(c, events);
    sync_timer(c);
}

void ApiServer::Impl::step_streaming(Client* c) {
    tcp::TcpStack& t = tcp();
    if (c->ending) {
        step_ending(c);
        return;
    }
    tcp::ConnInfo info = t.info(c->conn);
    if (info.state == tcp::State::kClosed && info.error != tcp::Error::kNone) {
        begin_ending(c, info.error);
        step_ending(c);
        return;
    }
    auto vanished = [&] {
        // The application died: RST toward the peer, nothing left to keep.
        ++counters.app_vanished;
        t.abort(now, c->conn);
        fail_stream(c, Outcome::kAborted, "app-vanished");
    };
    if (c->app_vanished) {
        vanished();
        return;
    }

    // app -> TCP
    if (!c->app_eof && !c->tcp_write_shut && (c->in_ready || c->read_paused)) {
        c->read_paused = false;
        if (c->in_ready) {
            pull_from_app(c);
        }
        if (!c->in_ready && !c->app_eof && t.info(c->conn).send_free == 0) {
            c->read_paused = true;  // watch nothing until TCP frees space
        }
    }
    if (c->app_vanished) {
        vanished();
        return;
    }
    if (c->app_eof && !c->tcp_write_shut) {
        t.shutdown_write(now, c->conn);
        c->tcp_write_shut = true;
    }

    if (c->app_eof && c->app_closed) {
        // Like close() on a kernel socket: FIN after queued data, or RST
        // when received data is left unread.
        info = t.info(c->conn);
        if (info.recv_available > 0) {
            t.abort(now, c->conn);
            fail_stream(c, Outcome::kAborted, "app-closed-unread");
        } else {
            t.close(now, c->conn);
            fail_stream(c, Outcome::kOrderly, "app-closed");
        }
        return;
    }

    // TCP -> app
    if (!c->out_blocked && !c->unix_write_shut) {
        push_to_app(c);
    }
    if (c->app_vanished) {
        vanished();
        return;
    }
    info = t.info(c->conn);
    if (info.eof && !c->unix_write_shut && c->outbox.empty()) {
        c->unix_write_shut = true;
        if (::shutdown(c->fd, SHUT_WR) != 0 && errno != ENOTCONN) {
            vanished();
            return;
        }
    }
    if (c->unix_write_shut && c->tcp_write_shut) {
        // Both directions ended in order; the stack finishes the closing
        // handshake (and TIME-WAIT) on its own.
        t.close(now, c->conn);
        fail_stream(c, Outcome::kOrderly, "closed");
        return;
    }
    watch_stream(c);
}

// ---- a stream whose TCP connection ended abnormally ---------------------------

void ApiServer::Impl::begin_ending(Client* c, tcp::Error error) {
    c->ending = api::outcome_for(error);
    c->ending_detail = api::state_word_of(tcp::to_string(error));
    c->ending_deadline = uv_now(loop) + config.request_timeout_ms;
    c->read_paused = false;
    if (tcp().info(c->conn).recv_available > 0) {
        ++counters.ends_handed_over;
    }
}

void ApiServer::Impl::step_ending(Client* c) {
    tcp::TcpStack& t = tcp();
    if (c->in_ready && !c->app_eof && !c->app_vanished) {
        discard_input(c, 16 * api::kDiscardSize);  // nowhere to send it; keep the writer unblocked
    }
    const std::size_t before = t.info(c->conn).recv_available;
    if (!c->app_vanished && !c->out_blocked && !c->unix_write_shut) {
        push_to_app(c);
    }
    const std::size_t left = t.info(c->conn).recv_available;
    if (left < before) {
        c->ending_deadline = uv_now(loop) + config.request_timeout_ms;  // it is reading: keep going
    }
    if (c->app_vanished) {
        ++counters.app_vanished;
        finish_ending(c);
        return;
    }
    if ((left == 0 && c->outbox.empty()) || uv_now(loop) >= c->ending_deadline) {
        finish_ending(c);
        return;
    }
    int events = 0;
    if (!c->in_ready && !c->app_eof) {
        events |= UV_READABLE;
    }
    if (c->out_blocked) {
        events |= UV_WRITABLE;
    }
    watch(c, events);
    sync_timer(c);  // the deadline needs the tick
    if (c->in_ready && !c->app_eof) {
        wake(c);  // more input than one step reads away
    }
}

// Whatever TCP still holds now is dropped (none when the application took
// everything): counted, and told by STATUS.
void ApiServer::Impl::finish_ending(Client* c) {
    const std::size_t left = tcp().info(c->conn).recv_available;
    tcp().abort(now, c->conn);  // frees the TCB; no RST, the connection is over
    record_outcome(c, *c->ending, c->ending_detail, left);
    release_conn(c);
    close_client(c);
}

void ApiServer::Impl::end_app_input(Client* c) {
    if (c->app_eof || c->app_vanished || c->ending || c->fd < 0) {
        return;
    }
    // Reading then returns what the application wrote before, then EOF.
    if (::shutdown(c->fd, SHUT_RD) != 0 && errno != ENOTCONN) {
        c->app_vanished = true;
    }
    c->in_ready = true;
    c->read_paused = false;
    mark_dirty(c);
}

}  // namespace tapstack::daemon
