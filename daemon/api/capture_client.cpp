// ApiServer, CAPTURE: one client's live packet capture.
//
// Theory of operation
// -------------------
// CAPTURE is for root and the daemon's own user (SO_PEERCRED), as tcpdump
// on the TAP would be: a capture shows every connection's data, whoever's
// it is. It opens a Session in the capture hub (daemon/capture/), replies
// one OK line and then streams the session's pcapng bytes on the same Unix
// connection. The hub appends frames as the port sees them; this side
// writes what the socket accepts, non-blocking, when the hub says there is
// something new or the socket became writable again. A reader that falls
// behind by more than the session's buffer loses frames (counted by the
// hub, shown in the final statistics block); nothing here ever waits.
//
// Ends: the count is reached, or the reader shuts down its side (EOF):
// the statistics block is appended, everything pending is written, then
// the connection is closed like a reply (shutdown, lingering close). A
// reader that vanishes (a write fails) just ends the session.
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>

#include "daemon/api/api_server_impl.hpp"

namespace tapstack::daemon {

using api::Phase;

void ApiServer::Impl::handle(Client* c, const api::CaptureRequest& r) {
    if (!capture_hub) {
        reply_error(c, client::ErrorCode::kInternal, "packet capture is not available in this daemon");
        return;
    }
    if (!privileged(c)) {
        reply_error(c, client::ErrorCode::kPermission,
                    "capture needs root or the daemon's user (it shows every connection's data)");
        return;
    }
    capture::Session* s = capture_hub->open({r.count, r.snaplen, r.buffer}, c->key);
    if (s == nullptr) {
        reply_error(c, client::ErrorCode::kNoResources,
                    "too many captures running (at most " + std::to_string(capture::kMaxSessions) + ")");
        return;
    }
    c->capture = s;
    c->phase = Phase::kCapturing;
    c->in_ready = true;  // what the reader sends is read away; its EOF ends the capture
    const capture::SessionOptions& o = s->options();
    send_control(c, "OK capture format=pcapng linktype=ethernet interface=" +
                        (config.interface_name.empty() ? std::string("-") : config.interface_name) +
                        " snaplen=" + std::to_string(o.snaplen) +
                        " buffer=" + std::to_string(o.buffer) + " count=" + std::to_string(o.count) + "\n");
    step_capturing(c);
}

void ApiServer::Impl::on_capture_data(capture::Session& s) {
    if (auto it = clients.find(s.owner); it != clients.end()) wake(it->second.get());
}

void ApiServer::Impl::write_capture(Client* c) {
    if (c->out_blocked || (!c->outbox.empty() && !flush_outbox(c))) return;
    for (;;) {
        const std::span<const std::uint8_t> bytes = c->capture->pending();
        if (bytes.empty()) return;
        const ssize_t n = ::send(c->fd, bytes.data(), bytes.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
        if (n > 0) {
            c->capture->consume(static_cast<std::size_t>(n));
            continue;
        }
        if (n < 0 && errno == EINTR) continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            c->out_blocked = true;
        } else {
            c->app_vanished = true;
        }
        return;
    }
}

void ApiServer::Impl::step_capturing(Client* c) {
    if (c->in_ready && !c->app_eof) discard_input(c, 16 * api::kDiscardSize);
    if (c->app_vanished) {
        close_client(c);
        return;
    }
    capture::Session& s = *c->capture;
    if ((c->app_eof || s.done()) && !s.finished()) s.finish(capture::CaptureHub::wall_clock_ns());
    write_capture(c);
    if (c->app_vanished) {
        close_client(c);
        return;
    }
    if (s.finished() && s.pending().empty() && c->outbox.empty()) {
        end_capture(c);
        reply_and_close(c, std::string());
        return;
    }
    int events = 0;
    if (!c->app_eof && !c->in_ready) events |= UV_READABLE;
    if (c->out_blocked) events |= UV_WRITABLE;
    watch(c, events);
    if (c->in_ready && !c->app_eof) wake(c);  // more input than one step reads away
}

void ApiServer::Impl::end_capture(Client* c) {
    if (c->capture == nullptr) return;
    capture_hub->close(c->capture);
    c->capture = nullptr;
}

}  // namespace tapstack::daemon
