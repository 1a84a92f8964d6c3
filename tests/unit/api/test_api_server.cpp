// The ApiServer in one process, without a TAP: a libuv loop drives the
// daemon's Interface ("A", 10.0.0.2) and the server; a second Interface
// ("B", 10.0.0.1) plays the remote peer, its TCP driven directly; frames
// cross between them through in-memory queues. Applications are threads
// using the client library (blocking) on a temporary API socket.
//
// This puts the API's data paths under the sanitizers of the unit suite:
// CONNECT/ACCEPT/LISTEN streams both ways with half-close, STATUS after an
// orderly end and after a reset, backpressure toward a peer while the
// application does not read, an application that vanishes (RST at the
// peer), and the one-line errors. Then how streams end when TCP ends them
// (reset after FIN, in one batch or two; retransmission and keepalive
// timeouts; a reset while queued for ACCEPT; an application that stops
// reading after the end) and the graceful stop (drain()): every byte TCP
// acknowledged reaches the application before EOF, then STATUS says how.
// Last, a SOCKS5 client's stream and its failure replies on the second socket.
#include <doctest/doctest.h>

#include <signal.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>
#include <uv.h>

#include <algorithm>
#include <map>
#include <atomic>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <functional>
#include <string>
#include <thread>
#include <vector>

#include "daemon/api/api_server.hpp"
#include "daemon/capture/pcapng.hpp"
#include "daemon/client/client.hpp"
#include "stack/iface/interface.hpp"
#include "stack/wire/ethernet.hpp"
#include "stack/wire/ipv4.hpp"
#include "stack/wire/tcp_header.hpp"
#include "tapstack_version.hpp"

using namespace tapstack;

namespace {

using Frame = std::vector<std::uint8_t>;

struct QueueSink : iface::FrameSink {
    std::deque<Frame>* queue;
    explicit QueueSink(std::deque<Frame>* q) : queue(q) {}
    bool transmit(std::span<const std::uint8_t> frame) override {
        queue->emplace_back(frame.begin(), frame.end());
        return true;
    }
};

iface::InterfaceConfig iface_config(std::uint8_t last_octet,
                                    const std::function<void(tcp::TcpConfig&)>& tune = {}) {
    iface::InterfaceConfig c;
    c.mac = wire::MacAddress{{0x02, 0, 0, 0, 0, last_octet}};
    c.address = wire::Ipv4Cidr{wire::Ipv4Address::from_octets(10, 0, 0, last_octet), 24};
    c.tcp.msl = milliseconds(100);
    c.tcp.initial_rto = milliseconds(200);
    c.tcp.min_rto = milliseconds(50);
    c.tcp.max_rto = seconds(1);
    c.tcp.max_retransmits = 4;
    if (tune) {
        tune(c.tcp);
    }
    return c;
}

Instant clock_now() {
    return instant_from_ns(static_cast<std::int64_t>(uv_hrtime()));
}

std::string temp_socket_path() {
    char dir[] = "/tmp/tapstack-api-test-XXXXXX";
    REQUIRE(::mkdtemp(dir) != nullptr);
    return std::string(dir) + "/run/api.sock";
}

// The daemon side (loop, interface A, API server) plus the peer B.
struct World {
    uv_loop_t loop{};
    std::deque<Frame> a_to_b;
    std::deque<Frame> b_to_a;
    QueueSink sink_a{&a_to_b};
    QueueSink sink_b{&b_to_a};
    iface::Interface a;  // the daemon's (its TCP tuned by the constructor's argument)
    iface::Interface b{iface_config(1), sink_b, 2};
    std::string socket_path = temp_socket_path();
    std::string socks_path = socket_path.substr(0, socket_path.rfind('/')) + "/socks.sock";
    std::unique_ptr<daemon::ApiServer> api;
    bool link_down = false;  // frames in either direction are lost (a peer that went silent)
    drivers::FrameTap* tap = nullptr;  // the capture hub while a CAPTURE runs (the port's place)

    explicit World(const std::function<void(tcp::TcpConfig&)>& tune_daemon = {})
        : a(iface_config(2, tune_daemon), sink_a, 1) {
        // As tapstackd does: writes to a vanished application must fail
        // with EPIPE, not kill the process.
        ::signal(SIGPIPE, SIG_IGN);
        REQUIRE(uv_loop_init(&loop) == 0);
        daemon::ApiServerConfig cfg;
        cfg.socket_path = socket_path;
        cfg.socks_socket_path = socks_path;
        cfg.request_timeout_ms = 2000;
        cfg.attach_frame_tap = [this](drivers::FrameTap* t) { tap = t; };
        cfg.interface_name = "test0";
        api = std::make_unique<daemon::ApiServer>(&loop, a, cfg, [] {});
        std::string error;
        REQUIRE_MESSAGE(api->start(&error), error);
    }
    ~World() {
        api->stop();
        uv_run(&loop, UV_RUN_DEFAULT);
        api.reset();
        uv_loop_close(&loop);
        std::string dir = socket_path.substr(0, socket_path.rfind('/'));
        ::rmdir(dir.c_str());
        ::rmdir(dir.substr(0, dir.rfind('/')).c_str());
    }

    // One turn: libuv I/O, the API, both stacks, the wire.
    void turn() {
        uv_run(&loop, UV_RUN_NOWAIT);
        Instant now = clock_now();
        a.poll(now);
        api->service(now);
        a.poll(now);
        b.poll(now);
        for (int i = 0; i < 4 && (!a_to_b.empty() || !b_to_a.empty()); ++i) {
            if (link_down) {
                a_to_b.clear();
                b_to_a.clear();
                break;
            }
            while (!a_to_b.empty()) {
                Frame f = std::move(a_to_b.front());
                a_to_b.pop_front();
                b.receive_frame(now, f);
            }
            while (!b_to_a.empty()) {
                Frame f = std::move(b_to_a.front());
                b_to_a.pop_front();
                a.receive_frame(now, f);
            }
            a.poll(now);
            api->service(now);
            a.poll(now);
            b.poll(now);
        }
    }

    // Turns until `done` (checked between turns), at most `limit`.
    bool run_until(const std::function<bool()>& done, std::chrono::milliseconds limit = std::chrono::seconds(10)) {
        auto deadline = std::chrono::steady_clock::now() + limit;
        while (!done()) {
            if (std::chrono::steady_clock::now() > deadline) {
                return false;
            }
            turn();
            std::this_thread::sleep_for(std::chrono::microseconds(200));
        }
        return true;
    }

    tcp::TcpStack& peer() { return b.tcp(); }

    // Joins an application thread; if the test already failed, first
    // closes every API connection so a blocked thread wakes up.
    void join(std::thread& app, bool ok) {
        if (!ok) {
            api->stop();
            for (int i = 0; i < 100; ++i) {
                uv_run(&loop, UV_RUN_NOWAIT);
            }
        }
        app.join();
    }
};

std::string pattern(std::size_t n, unsigned seed) {
    std::string s(n, '\0');
    for (std::size_t i = 0; i < n; ++i) {
        s[i] = static_cast<char>((i * 131 + seed + i / 997) % 251);
    }
    return s;
}

std::string read_all(int fd) {
    std::string out;
    char buf[65536];
    for (;;) {
        ssize_t n = ::read(fd, buf, sizeof buf);
        if (n <= 0) {
            return out;
        }
        out.append(buf, static_cast<std::size_t>(n));
    }
}

int dial(const std::string& path) {
    int fd = ::socket(AF_UNIX, SOCK_STREAM, 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::memcpy(addr.sun_path, path.c_str(), path.size() + 1);
    if (fd >= 0 && ::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
        ::close(fd);
        return -1;
    }
    return fd;
}

std::string read_exact(int fd, std::size_t n) {
    std::string out(n, '\0');
    std::size_t got = 0;
    while (got < n) {
        ssize_t r = ::read(fd, out.data() + got, n - got);
        if (r <= 0) {
            break;
        }
        got += static_cast<std::size_t>(r);
    }
    out.resize(got);
    return out;
}

// VER CMD RSV ATYP(IPv4) DST.ADDR DST.PORT.
std::string socks_connect_request(std::uint8_t a, std::uint8_t b, std::uint8_t c, std::uint8_t d, std::uint16_t port) {
    const char bytes[] = {5, 1, 0, 1, static_cast<char>(a), static_cast<char>(b), static_cast<char>(c),
                          static_cast<char>(d), static_cast<char>(port >> 8), static_cast<char>(port & 0xff)};
    return std::string(bytes, sizeof bytes);
}

const std::string kSocksGreeting("\x05\x01\x00", 3);

bool write_all(int fd, const std::string& data) {
    std::size_t off = 0;
    while (off < data.size()) {
        ssize_t n = ::send(fd, data.data() + off, data.size() - off, MSG_NOSIGNAL);
        if (n <= 0) {
            return false;
        }
        off += static_cast<std::size_t>(n);
    }
    return true;
}

// The peer's side of one connection: sends `out`, then FIN; collects what
// arrives until EOF.
struct PeerStream {
    tcp::ConnId conn;
    std::string out;
    std::size_t sent = 0;
    bool fin_sent = false;
    std::string in;

    void pump(tcp::TcpStack& t) {
        if (!conn.valid()) {
            return;
        }
        Instant now = clock_now();
        std::uint8_t buf[16384];
        for (;;) {
            std::size_t n = t.recv(now, conn, buf);
            if (n == 0) {
                break;
            }
            in.append(reinterpret_cast<const char*>(buf), n);
        }
        if (sent < out.size()) {
            sent += t.send(now, conn,
                           std::span<const std::uint8_t>(reinterpret_cast<const std::uint8_t*>(out.data()) + sent,
                                                         out.size() - sent));
        }
        if (sent == out.size() && !fin_sent) {
            t.shutdown_write(now, conn);
            fin_sent = true;
        }
    }
    bool done(tcp::TcpStack& t) const { return fin_sent && t.info(conn).eof; }
};

}  // namespace

TEST_CASE("CONNECT: data both ways with half-close, every byte before EOF, STATUS says orderly") {
    World w;
    tcp::ListenerId l;
    REQUIRE(w.peer().listen(80, 0, &l) == tcp::Error::kNone);
    const std::string request = pattern(300000, 1);
    PeerStream peer;
    peer.out = pattern(700001, 2);

    std::atomic<bool> finished{false};
    client::Result<client::Stream> stream = client::Error{};
    std::string got;
    client::Result<client::Status> status = client::Error{};
    std::thread app([&] {
        stream = client::connect(w.socket_path, "10.0.0.1", 80);
        if (stream) {
            write_all(stream->fd, request);
            ::shutdown(stream->fd, SHUT_WR);
            got = read_all(stream->fd);
            ::close(stream->fd);
            status = client::status(w.socket_path, stream->id);
        }
        finished = true;
    });
    bool ok = w.run_until([&] {
        if (!peer.conn.valid()) {
            peer.conn = w.peer().accept(l);
        }
        peer.pump(w.peer());
        return finished.load();
    });
    w.join(app, ok);
    REQUIRE(ok);
    REQUIRE(stream.ok());
    CHECK(stream->local.rfind("10.0.0.2:", 0) == 0);
    CHECK(stream->remote == "10.0.0.1:80");
    CHECK(got == peer.out);
    w.run_until([&] {
        peer.pump(w.peer());
        return peer.in.size() >= request.size() && w.peer().info(peer.conn).eof;
    });
    CHECK(peer.in == request);
    REQUIRE(status.ok());
    CHECK((status->outcome == client::Outcome::kOrderly || status->outcome == client::Outcome::kOpen));
    w.peer().close(clock_now(), peer.conn);
}

TEST_CASE("LISTEN holds the port: a peer connecting before ACCEPT is queued, then ACCEPT becomes its stream") {
    World w;
    client::Result<client::Listener> listener = client::Error{};
    std::atomic<bool> listening{false};
    std::atomic<bool> go_accept{false};
    std::atomic<bool> finished{false};
    std::string got;
    std::thread app([&] {
        listener = client::listen(w.socket_path, 7);
        listening = true;
        if (!listener) {
            finished = true;
            return;
        }
        while (!go_accept) {
            std::this_thread::sleep_for(std::chrono::milliseconds(1));
        }
        auto s = client::accept(listener.value());
        if (s) {
            write_all(s->fd, "pong");
            ::shutdown(s->fd, SHUT_WR);
            got = read_all(s->fd);
            ::close(s->fd);
        }
        ::close(listener->fd);
        finished = true;
    });
    REQUIRE(w.run_until([&] { return listening.load(); }));
    REQUIRE(listener.ok());
    CHECK(listener->local == "10.0.0.2:7");
    PeerStream peer;
    peer.out = "ping";
    REQUIRE(w.peer().connect(clock_now(), {wire::Ipv4Address::from_octets(10, 0, 0, 2), 7}, 0, &peer.conn) ==
            tcp::Error::kNone);
    // Established and waiting in the backlog before anyone accepts.
    REQUIRE(w.run_until([&] { return w.peer().info(peer.conn).established; }));
    go_accept = true;
    bool ok = w.run_until([&] {
        peer.pump(w.peer());
        return finished.load() && peer.done(w.peer());
    });
    w.join(app, ok);
    REQUIRE(ok);
    CHECK(got == "ping");
    CHECK(peer.in == "pong");
    w.peer().close(clock_now(), peer.conn);
}

TEST_CASE("an application that does not read closes the window; reading later gets every byte exactly once") {
    World w;
    tcp::ListenerId l;
    REQUIRE(w.peer().listen(81, 0, &l) == tcp::Error::kNone);
    PeerStream peer;
    peer.out = pattern(8 * 1024 * 1024, 3);
    std::atomic<int> phase{0};
    std::string got;
    client::Result<client::Stream> stream = client::Error{};
    std::thread app([&] {
        stream = client::connect(w.socket_path, "10.0.0.1", 81);
        phase = 1;
        if (!stream) {
            phase = 3;
            return;
        }
        while (phase.load() != 2) {
            std::this_thread::sleep_for(std::chrono::milliseconds(1));
        }
        ::shutdown(stream->fd, SHUT_WR);
        got = read_all(stream->fd);
        ::close(stream->fd);
        phase = 3;
    });
    REQUIRE(w.run_until([&] {
        if (!peer.conn.valid()) {
            peer.conn = w.peer().accept(l);
        }
        return phase.load() >= 1 && peer.conn.valid();
    }));
    // Let the peer push for a while: it must get stuck well short of 8 MiB.
    auto until = std::chrono::steady_clock::now() + std::chrono::milliseconds(1500);
    w.run_until([&] {
        peer.pump(w.peer());
        return std::chrono::steady_clock::now() > until;
    });
    const std::size_t stuck_at = peer.sent;
    CHECK(stuck_at < 3 * 1024 * 1024);  // TCP buffers + API bound + Unix socket buffer
    phase = 2;
    bool ok = w.run_until([&] {
        peer.pump(w.peer());
        return phase.load() == 3;
    }, std::chrono::seconds(15));
    const tcp::ConnInfo peer_info = w.peer().info(peer.conn);
    INFO("peer sent " << peer.sent << " of " << peer.out.size() << ", stuck at " << stuck_at << ", peer state "
                      << tcp::to_string(peer_info.state) << " error " << tcp::to_string(peer_info.error));
    w.join(app, ok);
    REQUIRE(ok);
    CHECK(got.size() == peer.out.size());
    CHECK(got == peer.out);
    w.peer().close(clock_now(), peer.conn);
}

TEST_CASE("the peer sends everything and FIN before the application reads: all bytes, then EOF") {
    World w;
    tcp::ListenerId l;
    REQUIRE(w.peer().listen(83, 0, &l) == tcp::Error::kNone);
    PeerStream peer;
    peer.out = pattern(300007, 5);  // fits the buffers: no zero window needed
    std::atomic<bool> connected{false};
    std::atomic<bool> go_read{false};
    std::atomic<bool> finished{false};
    client::Result<client::Stream> stream = client::Error{};
    std::string got;
    client::Result<client::Status> status = client::Error{};
    std::thread app([&] {
        stream = client::connect(w.socket_path, "10.0.0.1", 83);
        connected = true;
        if (stream) {
            while (!go_read) {
                std::this_thread::sleep_for(std::chrono::milliseconds(1));
            }
            got = read_all(stream->fd);  // EOF arrives before our own FIN
            status = client::status(w.socket_path, stream->id);
            ::close(stream->fd);
        }
        finished = true;
    });
    bool ok = w.run_until([&] {
        if (!peer.conn.valid()) {
            peer.conn = w.peer().accept(l);
        }
        peer.pump(w.peer());
        return connected.load() && peer.fin_sent && w.peer().info(peer.conn).send_queued == 0;
    });
    go_read = true;
    ok = ok && w.run_until([&] {
        peer.pump(w.peer());
        return finished.load();
    });
    w.join(app, ok);
    REQUIRE(ok);
    CHECK(got.size() == peer.out.size());
    CHECK(got == peer.out);
    REQUIRE(status.ok());
    CHECK(status->outcome == client::Outcome::kOpen);  // the peer half-closed; we have not yet
    CHECK(status->state == "close-wait");
    // Our close() after EOF: an orderly FIN reaches the peer.
    CHECK(w.run_until([&] {
        peer.pump(w.peer());
        return w.peer().info(peer.conn).eof;
    }));
    w.peer().close(clock_now(), peer.conn);
}

TEST_CASE("an application that vanishes mid-stream makes the daemon reset the peer") {
    World w;
    tcp::ListenerId l;
    REQUIRE(w.peer().listen(82, 0, &l) == tcp::Error::kNone);
    PeerStream peer;
    peer.out = pattern(4 * 1024 * 1024, 4);
    std::atomic<bool> connected{false};
    client::Result<client::Stream> stream = client::Error{};
    std::thread app([&] {
        stream = client::connect(w.socket_path, "10.0.0.1", 82);
        connected = true;
    });
    bool ok = w.run_until([&] {
        if (!peer.conn.valid()) {
            peer.conn = w.peer().accept(l);
        }
        peer.pump(w.peer());
        return connected.load();
    });
    w.join(app, ok);
    REQUIRE(ok);
    REQUIRE(stream.ok());
    // Some data reaches the application's socket, which then goes away unread.
    w.run_until([&] {
        peer.pump(w.peer());
        return peer.sent > 512 * 1024;
    });
    ::close(stream->fd);
    bool reset = w.run_until([&] {
        peer.pump(w.peer());
        auto info = w.peer().info(peer.conn);
        return info.state == tcp::State::kClosed;
    });
    CHECK(reset);
    CHECK(w.peer().info(peer.conn).error == tcp::Error::kReset);
    w.peer().abort(clock_now(), peer.conn);
}

TEST_CASE("refused connects and bad requests get one ERR line; STATS ends with END") {
    World w;
    std::atomic<bool> finished{false};
    client::Result<client::Stream> refused = client::Error{};
    client::Result<std::vector<client::Counter>> counters = client::Error{};
    std::string bad_reply;
    std::thread app([&] {
        refused = client::connect(w.socket_path, "10.0.0.1", 9);
        int fd = ::socket(AF_UNIX, SOCK_STREAM, 0);
        sockaddr_un addr{};
        addr.sun_family = AF_UNIX;
        std::memcpy(addr.sun_path, w.socket_path.c_str(), w.socket_path.size() + 1);
        if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0) {
            write_all(fd, "CONNECT 10.0.0.1\n");
            bad_reply = read_all(fd);
        }
        ::close(fd);
        counters = client::stats(w.socket_path);
        finished = true;
    });
    bool ok = w.run_until([&] { return finished.load(); });
    w.join(app, ok);
    REQUIRE(ok);
    REQUIRE_FALSE(refused.ok());
    CHECK(refused.error().code == client::ErrorCode::kRefused);
    CHECK(bad_reply.rfind("ERR bad-request ", 0) == 0);
    CHECK(std::count(bad_reply.begin(), bad_reply.end(), '\n') == 1);
    REQUIRE(counters.ok());
    bool has_connections = false;
    for (const auto& [name, value] : counters.value()) {
        if (name == "api.bad_requests") {
            CHECK(value == 1);
        }
        has_connections = has_connections || name == "tcp.connections";
    }
    CHECK(has_connections);
}

TEST_CASE("stream options reach TCP at once; INFO shows a live stream's figures, CONNECTIONS lists live streams") {
    World w;
    tcp::ListenerId l;
    REQUIRE(w.peer().listen(84, 0, &l) == tcp::Error::kNone);
    std::vector<tcp::ConnId> peer_conns;
    std::atomic<bool> finished{false};
    client::Result<client::Stream> tuned = client::Error{};
    client::Result<client::Stream> plain = client::Error{};
    client::Result<client::Fields> tuned_info = client::Error{};
    client::Result<client::Fields> plain_info = client::Error{};
    client::Result<std::vector<client::Fields>> listing = client::Error{};
    client::Result<client::Fields> unknown = client::Error{};
    client::Result<client::Fields> ended = client::Error{};
    client::Result<std::vector<client::Fields>> listing_after = client::Error{};
    std::thread app([&] {
        client::StreamOptions on;
        on.nodelay = true;
        on.keepalive = true;
        tuned = client::connect(w.socket_path, "10.0.0.1", 84, on);
        plain = client::connect(w.socket_path, "10.0.0.1", 84);
        if (tuned && plain) {
            write_all(tuned->fd, "x");
            char c = 0;
            static_cast<void>(::read(tuned->fd, &c, 1));  // the peer echoes it
            tuned_info = client::info(w.socket_path, tuned->id);
            plain_info = client::info(w.socket_path, plain->id);
            listing = client::connections(w.socket_path);
            unknown = client::info(w.socket_path, 999);
            ::close(plain->fd);  // nothing unread: an orderly close
            for (int i = 0; i < 2000; ++i) {
                ended = client::info(w.socket_path, plain->id);
                if (!ended) {
                    break;
                }
                std::this_thread::sleep_for(std::chrono::milliseconds(1));
            }
            listing_after = client::connections(w.socket_path);
            ::close(tuned->fd);
        }
        finished = true;
    });
    bool ok = w.run_until([&] {
        for (tcp::ConnId c = w.peer().accept(l); c.valid(); c = w.peer().accept(l)) {
            peer_conns.push_back(c);
        }
        for (tcp::ConnId c : peer_conns) {  // echo
            std::uint8_t buf[64];
            std::size_t n = w.peer().recv(clock_now(), c, buf);
            if (n > 0) {
                w.peer().send(clock_now(), c, std::span<const std::uint8_t>(buf, n));
            }
        }
        return finished.load();
    });
    w.join(app, ok);
    REQUIRE(ok);
    REQUIRE(tuned.ok());
    REQUIRE(plain.ok());
    REQUIRE(tuned_info.ok());
    const auto& ti = tuned_info.value();
    CHECK(client::find_field(ti, "id") == std::to_string(tuned->id));
    CHECK(client::find_field(ti, "state") == "established");
    CHECK(client::find_field(ti, "local") == tuned->local);
    CHECK(client::find_field(ti, "remote") == "10.0.0.1:84");
    CHECK(client::find_field(ti, "nodelay") == "on");
    CHECK(client::find_field(ti, "keepalive") == "on");
    CHECK(client::find_field(ti, "cc") == "cubic");
    CHECK(client::find_field(ti, "bytes_acked") == "1");
    // (This world's link delivers within one clock reading: RTT samples are 0.)
    for (const char* key : {"srtt_us", "rttvar_us", "rto_ms", "cwnd", "ssthresh", "in_flight", "retransmissions",
                            "sack_recoveries", "dup_segments", "ooo_segments", "snd_wnd", "rcv_wnd"}) {
        CHECK_MESSAGE(client::find_field(ti, key).has_value(), key);
    }
    REQUIRE(plain_info.ok());
    CHECK(client::find_field(plain_info.value(), "nodelay") == "off");  // the config's default
    CHECK(client::find_field(plain_info.value(), "keepalive") == "off");
    REQUIRE(listing.ok());
    REQUIRE(listing->size() == 2);
    CHECK(client::find_field(listing->at(0), "id") == std::to_string(tuned->id));
    CHECK(client::find_field(listing->at(1), "id") == std::to_string(plain->id));
    CHECK(client::find_field(listing->at(1), "state") == "established");
    REQUIRE_FALSE(unknown.ok());
    CHECK(unknown.error().code == client::ErrorCode::kNotFound);
    REQUIRE_FALSE(ended.ok());
    CHECK(ended.error().code == client::ErrorCode::kNotFound);
    CHECK(ended.error().message.find("has ended") != std::string::npos);
    REQUIRE(listing_after.ok());
    REQUIRE(listing_after->size() == 1);
    CHECK(client::find_field(listing_after->at(0), "id") == std::to_string(tuned->id));
    for (tcp::ConnId c : peer_conns) {
        w.peer().abort(clock_now(), c);
    }
}

TEST_CASE("ACCEPT's stream options apply to the connection it hands out") {
    World w;
    std::atomic<bool> finished{false};
    client::Result<client::Stream> stream = client::Error{};
    client::Result<client::Fields> fields = client::Error{};
    std::thread app([&] {
        client::StreamOptions o;
        o.nodelay = true;
        stream = client::accept(w.socket_path, 85, o);
        if (stream) {
            fields = client::info(w.socket_path, stream->id);
            ::close(stream->fd);
        }
        finished = true;
    });
    tcp::ConnId peer;
    bool ok = w.run_until([&] {
        // Connect once the transient listener exists (a refused SYN ends the attempt: retry).
        tcp::ConnInfo info = w.peer().info(peer);
        if (!peer.valid() || (info.state == tcp::State::kClosed && !info.established)) {
            if (peer.valid()) {
                w.peer().abort(clock_now(), peer);
            }
            if (w.peer().connect(clock_now(), {wire::Ipv4Address::from_octets(10, 0, 0, 2), 85}, 0, &peer) !=
                tcp::Error::kNone) {
                return false;  // retried next turn; the run's time limit bounds it
            }
        }
        return finished.load();
    });
    w.join(app, ok);
    REQUIRE(ok);
    REQUIRE(stream.ok());
    REQUIRE(fields.ok());
    CHECK(client::find_field(fields.value(), "nodelay") == "on");
    CHECK(client::find_field(fields.value(), "keepalive") == "off");
    w.peer().abort(clock_now(), peer);
}

namespace {

// A raw connection to the API socket (no client library): for bytes sent in
// the same write as the request line.
int raw_connect(const std::string& path) {
    int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    REQUIRE(fd >= 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::memcpy(addr.sun_path, path.c_str(), path.size() + 1);
    REQUIRE(::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
    return fd;
}

}  // namespace

TEST_CASE("bytes pipelined behind the CONNECT line, then EOF, reach the peer in order before FIN") {
    World w;
    tcp::ListenerId l;
    REQUIRE(w.peer().listen(84, 0, &l) == tcp::Error::kNone);
    const std::string data = pattern(200003, 6);
    PeerStream peer;
    peer.out = "done";
    std::atomic<bool> finished{false};
    std::string reply;
    std::thread app([&] {
        int fd = raw_connect(w.socket_path);
        // One write: the request line and the first stream bytes together,
        // before the connection even exists; then half-close at once.
        write_all(fd, "CONNECT 10.0.0.1 84\n" + data);
        ::shutdown(fd, SHUT_WR);
        reply = read_all(fd);
        ::close(fd);
        finished = true;
    });
    bool ok = w.run_until([&] {
        if (!peer.conn.valid()) {
            peer.conn = w.peer().accept(l);
        }
        peer.pump(w.peer());
        return finished.load() && peer.done(w.peer());
    });
    w.join(app, ok);
    REQUIRE(ok);
    CHECK(reply.rfind("OK ", 0) == 0);
    CHECK(reply.substr(reply.find('\n') + 1) == "done");  // the OK line, then the stream
    CHECK(peer.in.size() == data.size());
    CHECK(peer.in == data);
    w.peer().close(clock_now(), peer.conn);
}

TEST_CASE("a peer that does not read stops the application's writes; later every byte arrives exactly once") {
    World w;
    tcp::ListenerId l;
    REQUIRE(w.peer().listen(85, 0, &l) == tcp::Error::kNone);
    const std::string data = pattern(6 * 1024 * 1024 + 13, 7);
    std::atomic<std::size_t> written{0};
    std::atomic<bool> finished{false};
    std::thread app([&] {
        auto stream = client::connect(w.socket_path, "10.0.0.1", 85);
        if (stream) {
            std::size_t off = 0;
            while (off < data.size()) {
                ssize_t n = ::send(stream->fd, data.data() + off, std::min<std::size_t>(65536, data.size() - off),
                                   MSG_NOSIGNAL);
                if (n <= 0) {
                    break;
                }
                off += static_cast<std::size_t>(n);
                written = off;
            }
            ::shutdown(stream->fd, SHUT_WR);
            (void)read_all(stream->fd);
            ::close(stream->fd);
        }
        finished = true;
    });
    tcp::ConnId conn;
    REQUIRE(w.run_until([&] {
        if (!conn.valid()) {
            conn = w.peer().accept(l);
        }
        return conn.valid() && written.load() > 0;
    }));
    // The peer reads nothing for a while: its window closes, TCP's send
    // buffer fills, the daemon stops reading and the application blocks.
    auto until = std::chrono::steady_clock::now() + std::chrono::milliseconds(1500);
    w.run_until([&] { return std::chrono::steady_clock::now() > until; });
    const std::size_t stuck_at = written.load();
    CHECK(stuck_at < data.size());
    CHECK(w.peer().info(conn).recv_available > 0);
    std::string got;
    bool ok = w.run_until([&] {
        std::uint8_t buf[16384];
        while (std::size_t n = w.peer().recv(clock_now(), conn, buf)) {
            got.append(reinterpret_cast<const char*>(buf), n);
        }
        return w.peer().info(conn).eof;
    }, std::chrono::seconds(20));
    INFO("application wrote " << written.load() << " (stuck at " << stuck_at << "), peer got " << got.size());
    if (ok) {
        w.peer().shutdown_write(clock_now(), conn);
    }
    ok = ok && w.run_until([&] { return finished.load(); });
    w.join(app, ok);
    REQUIRE(ok);
    CHECK(got.size() == data.size());
    CHECK(got == data);
    w.peer().close(clock_now(), conn);
}

TEST_CASE("after a reply the client reads EOF, and what it still sends never meets a closed socket") {
    World w;
    std::atomic<bool> finished{false};
    std::string first;
    std::string rest;
    bool late_write_ok = false;
    std::uint64_t clients_after = 0;
    std::thread app([&] {
        int fd = raw_connect(w.socket_path);
        write_all(fd, "BOGUS\n");
        char buf[256];
        // The whole ERR line (the daemon writes it at once).
        while (first.find('\n') == std::string::npos) {
            ssize_t n = ::read(fd, buf, sizeof buf);
            if (n <= 0) {
                break;
            }
            first.append(buf, static_cast<std::size_t>(n));
        }
        // The daemon has replied and shut its side; writing more must still
        // succeed (it is read and ignored), not fail with EPIPE.
        late_write_ok = write_all(fd, pattern(100000, 9));
        rest = read_all(fd);  // EOF, nothing more
        ::close(fd);
        // The daemon forgets the client once it closed: only the STATS
        // client itself is left.
        for (int i = 0; i < 200; ++i) {
            auto counters = client::stats(w.socket_path);
            clients_after = 0;
            for (const auto& [name, value] : counters ? counters.value() : std::vector<client::Counter>{}) {
                if (name == "api.clients") {
                    clients_after = value;
                }
            }
            if (clients_after == 1) {
                break;
            }
            std::this_thread::sleep_for(std::chrono::milliseconds(10));
        }
        finished = true;
    });
    bool ok = w.run_until([&] { return finished.load(); });
    w.join(app, ok);
    REQUIRE(ok);
    CHECK(first.rfind("ERR bad-request ", 0) == 0);
    CHECK(std::count(first.begin(), first.end(), '\n') == 1);
    CHECK(late_write_ok);
    CHECK(rest.empty());
    CHECK(clients_after == 1);
}

TEST_CASE("set_access_policy: a new deny rule refuses the next CONNECT at once, the open stream is not disturbed") {
    World w;
    tcp::ListenerId l;
    REQUIRE(w.peer().listen(80, 0, &l) == tcp::Error::kNone);
    PeerStream peer;
    peer.out = "still here";
    std::atomic<int> phase{0};
    client::Result<client::Stream> first = client::Error{};
    client::Result<client::Stream> second = client::Error{};
    client::Result<std::vector<client::Fields>> listing = client::Error{};
    std::string got;
    std::thread app([&] {
        first = client::connect(w.socket_path, "10.0.0.1", 80);
        listing = client::connections(w.socket_path);
        phase = 1;
        while (phase.load() != 2) {
            std::this_thread::sleep_for(std::chrono::milliseconds(1));
        }
        second = client::connect(w.socket_path, "10.0.0.1", 80);
        if (first) {
            write_all(first->fd, "ok");
            ::shutdown(first->fd, SHUT_WR);
            got = read_all(first->fd);
            ::close(first->fd);
        }
        phase = 3;
    });
    bool ok = w.run_until([&] {
        if (!peer.conn.valid()) {
            peer.conn = w.peer().accept(l);
        }
        return phase.load() == 1;
    });
    if (ok) {
        daemon::AccessPolicy policy;
        auto rule = daemon::parse_connect_rule("10.0.0.1/32:80");
        REQUIRE(std::holds_alternative<daemon::ConnectRule>(rule));
        policy.connect.deny.push_back(std::get<daemon::ConnectRule>(rule));
        w.api->set_access_policy(policy);
        phase = 2;
        ok = w.run_until([&] {
            peer.pump(w.peer());
            return phase.load() == 3 && peer.done(w.peer());
        });
    }
    w.join(app, ok);
    REQUIRE(ok);
    REQUIRE(first.ok());
    // Our own stream is listed with our uid (the daemon's, in this test).
    REQUIRE(listing.ok());
    REQUIRE(listing->size() == 1);
    CHECK(client::find_field(listing->front(), "uid") == std::to_string(::geteuid()));
    REQUIRE_FALSE(second.ok());
    CHECK(second.error().code == client::ErrorCode::kPermission);
    CHECK(second.error().message.find("denied by api.connect_deny rule \"10.0.0.1/32:80\"") != std::string::npos);
    CHECK(got == "still here");
    CHECK(peer.in == "ok");
    w.peer().close(clock_now(), peer.conn);
}

// ---- how streams end --------------------------------------------------------------

namespace {

// Reads until EOF a little at a time, as a slow application does.
std::string read_slowly(int fd) {
    std::string out;
    char buf[16384];
    for (;;) {
        ssize_t n = ::read(fd, buf, sizeof buf);
        if (n <= 0) {
            return out;
        }
        out.append(buf, static_cast<std::size_t>(n));
        std::this_thread::sleep_for(std::chrono::microseconds(500));
    }
}

// The daemon-side application of one stream: CONNECTs to the peer's `port`,
// writes `to_write`, reads nothing until `go`, then reads slowly to EOF and
// asks STATUS.
struct SlowApp {
    World& w;
    std::string to_write;
    std::atomic<bool> connected{false};
    std::atomic<bool> go{false};
    std::atomic<bool> finished{false};
    client::Result<client::Stream> stream = client::Error{};
    std::string got;
    client::Result<client::Status> status = client::Error{};
    std::thread thread;

    SlowApp(World& world, std::uint16_t port, client::StreamOptions options = {}, std::string write = {})
        : w(world), to_write(std::move(write)) {
        thread = std::thread([this, port, options] {
            stream = client::connect(w.socket_path, "10.0.0.1", port, options);
            if (stream && !to_write.empty()) {
                write_all(stream->fd, to_write);
            }
            connected = true;
            if (stream) {
                while (!go) {
                    std::this_thread::sleep_for(std::chrono::milliseconds(1));
                }
                got = read_slowly(stream->fd);
                status = client::status(w.socket_path, stream->id);
                ::close(stream->fd);
            }
            finished = true;
        });
    }
    // Lets the application read, turns until it is done, joins it.
    bool finish() {
        go = true;
        bool ok = w.run_until([&] { return finished.load(); }, std::chrono::seconds(20));
        w.join(thread, ok);
        return ok;
    }
};

// The peer's side: accepts the application's connection on `l` and sends
// `data` (then FIN when `fin`) until TCP has queued all of it.
bool peer_sends(World& w, tcp::ListenerId l, PeerStream& peer, const SlowApp& app, bool fin) {
    return w.run_until([&] {
        if (!peer.conn.valid()) {
            peer.conn = w.peer().accept(l);
        }
        if (peer.conn.valid() && peer.sent < peer.out.size()) {
            peer.sent += w.peer().send(
                clock_now(), peer.conn,
                std::span<const std::uint8_t>(reinterpret_cast<const std::uint8_t*>(peer.out.data()) + peer.sent,
                                              peer.out.size() - peer.sent));
        }
        if (fin && peer.conn.valid() && peer.sent == peer.out.size() && !peer.fin_sent) {
            w.peer().shutdown_write(clock_now(), peer.conn);
            peer.fin_sent = true;
        }
        // Everything (and the FIN) acknowledged by the daemon.
        return app.connected.load() && peer.conn.valid() && peer.sent == peer.out.size() &&
               w.peer().info(peer.conn).send_queued == 0 &&
               (!fin || w.peer().info(peer.conn).state == tcp::State::kFinWait2);
    });
}

// TCP flags of the segments among `frames`, in order.
std::vector<std::uint8_t> tcp_flags(const std::deque<Frame>& frames) {
    std::vector<std::uint8_t> out;
    for (const Frame& f : frames) {
        auto eth = wire::EthernetView::check(f);
        auto ip = eth ? wire::Ipv4View::check(eth->payload()) : std::nullopt;
        auto t = ip ? wire::TcpView::check(ip->payload()) : std::nullopt;
        if (t) {
            out.push_back(t->flags());
        }
    }
    return out;
}

std::uint64_t counter_of(World& w, std::string_view name) {
    std::uint64_t value = ~std::uint64_t{0};
    std::thread t([&] {
        auto counters = client::stats(w.socket_path);
        for (const auto& [n, v] : counters ? counters.value() : std::vector<client::Counter>{}) {
            if (n == name) {
                value = v;
            }
        }
    });
    w.run_until([&] { return value != ~std::uint64_t{0}; }, std::chrono::seconds(5));
    w.join(t, true);
    return value;
}

}  // namespace

namespace {

// Reads a capture stream to EOF and walks it as pcapng.
capture::pcapng::Reader read_capture(int fd) {
    capture::pcapng::Reader r;
    const std::string all = read_all(fd);
    REQUIRE(r.feed(std::span<const std::uint8_t>(reinterpret_cast<const std::uint8_t*>(all.data()), all.size())));
    CHECK(r.at_block_boundary());
    return r;
}

void tap_frame(drivers::FrameTap* tap, drivers::FrameDirection dir, std::size_t len) {
    const std::string f = pattern(len, static_cast<unsigned>(len));
    const std::span<const std::uint8_t> whole(reinterpret_cast<const std::uint8_t*>(f.data()), f.size());
    tap->frame(dir, std::span<const std::span<const std::uint8_t>>(&whole, 1));
}

}  // namespace

TEST_CASE("RFC 9293 3.10.7.4: FIN then an exact RST while the application reads slowly: every acknowledged byte, "
          "then EOF, then outcome reset") {
    World w;
    tcp::ListenerId l;
    REQUIRE(w.peer().listen(90, 0, &l) == tcp::Error::kNone);
    SlowApp app(w, 90);
    PeerStream peer;
    peer.out = pattern(397759, 11);  // more than the application's socket holds: the rest waits in TCP
    bool ok = peer_sends(w, l, peer, app, true);
    // Acknowledged to the last byte and the FIN; now the peer resets,
    // exactly at our RCV.NXT (its SND.NXT after the FIN).
    if (ok) {
        w.peer().abort(clock_now(), peer.conn);
        w.run_until([] { return false; }, std::chrono::milliseconds(100));
    }
    ok = app.finish() && ok;
    REQUIRE(ok);
    CHECK(app.got.size() == peer.out.size());
    CHECK(app.got == peer.out);
    REQUIRE(app.status.ok());
    CHECK(app.status->outcome == client::Outcome::kReset);
    CHECK(app.status->undelivered == 0);
    CHECK(w.a.tcp().connection_count() == 0);
}

TEST_CASE("data, FIN and an exact RST in the same batch reach a slow reader in full before outcome reset") {
    World w;
    tcp::ListenerId l;
    REQUIRE(w.peer().listen(91, 0, &l) == tcp::Error::kNone);
    SlowApp app(w, 91);
    PeerStream peer;
    peer.out = pattern(300000, 12);
    bool ok = peer_sends(w, l, peer, app, false);
    // The last data, the FIN and the RST leave the peer together and the
    // daemon receives all three before the API's next turn.
    const std::string last = pattern(6000, 13);
    std::vector<std::uint8_t> flags;
    if (ok) {
        const Instant now = clock_now();
        CHECK(w.peer().send(now, peer.conn,
                            std::span<const std::uint8_t>(reinterpret_cast<const std::uint8_t*>(last.data()),
                                                          last.size())) == last.size());
        w.peer().shutdown_write(now, peer.conn);
        w.b.poll(now);
        w.peer().abort(now, peer.conn);
        w.b.poll(now);
        flags = tcp_flags(w.b_to_a);
        w.turn();
    }
    REQUIRE(flags.size() >= 2);
    CHECK((flags[flags.size() - 2] & wire::tcp_flag::kFin) != 0);
    CHECK((flags.back() & wire::tcp_flag::kRst) != 0);
    ok = app.finish() && ok;
    REQUIRE(ok);
    CHECK(app.got.size() == peer.out.size() + last.size());
    CHECK(app.got == peer.out + last);
    REQUIRE(app.status.ok());
    CHECK(app.status->outcome == client::Outcome::kReset);
}

TEST_CASE("RFC 1122 4.2.3.5: retransmissions run out while data waits for the application: all of it, then "
          "outcome timed-out") {
    World w;
    tcp::ListenerId l;
    REQUIRE(w.peer().listen(92, 0, &l) == tcp::Error::kNone);
    SlowApp app(w, 92, {}, "");
    PeerStream peer;
    peer.out = pattern(350000, 14);
    bool ok = peer_sends(w, l, peer, app, false);
    // The peer vanishes; the application's write is retransmitted until
    // TCP gives up (4 retransmissions from a 200 ms RTO).
    w.link_down = true;
    std::thread writer([&] { write_all(app.stream->fd, pattern(5000, 15)); });
    writer.join();
    ok = ok && w.run_until([&] { return counter_of(w, "tcp.conn_timed_out") == 1; }, std::chrono::seconds(15));
    ok = app.finish() && ok;
    REQUIRE(ok);
    CHECK(app.got == peer.out);
    REQUIRE(app.status.ok());
    CHECK(app.status->outcome == client::Outcome::kTimedOut);
}

TEST_CASE("RFC 1122 4.2.3.6: keepalive gives up on a silent peer while data waits: all of it, then outcome "
          "timed-out") {
    World w([](tcp::TcpConfig& c) {
        c.keepalive_idle = seconds(1);
        c.keepalive_interval = seconds(1);
        c.keepalive_count = 1;
    });
    tcp::ListenerId l;
    REQUIRE(w.peer().listen(93, 0, &l) == tcp::Error::kNone);
    client::StreamOptions keepalive;
    keepalive.keepalive = true;
    SlowApp app(w, 93, keepalive);
    PeerStream peer;
    peer.out = pattern(350000, 16);
    bool ok = peer_sends(w, l, peer, app, false);
    w.link_down = true;
    ok = ok && w.run_until([&] { return counter_of(w, "tcp.keepalive_timeouts") == 1; }, std::chrono::seconds(10));
    ok = app.finish() && ok;
    REQUIRE(ok);
    CHECK(app.got == peer.out);
    REQUIRE(app.status.ok());
    CHECK(app.status->outcome == client::Outcome::kTimedOut);
}

TEST_CASE("a connection reset while queued for ACCEPT is still accepted: its data, then EOF and outcome reset") {
    World w;
    std::atomic<bool> listening{false};
    std::atomic<bool> go_accept{false};
    std::atomic<bool> finished{false};
    client::Result<client::Listener> listener = client::Error{};
    client::Result<client::Stream> accepted = client::Error{};
    client::Result<client::Status> status = client::Error{};
    std::string got;
    std::thread app([&] {
        listener = client::listen(w.socket_path, 94);
        listening = true;
        if (listener) {
            while (!go_accept) {
                std::this_thread::sleep_for(std::chrono::milliseconds(1));
            }
            accepted = client::accept(listener.value(), 3);
            if (accepted) {
                got = read_slowly(accepted->fd);
                status = client::status(w.socket_path, accepted->id);
                ::close(accepted->fd);
            }
            ::close(listener->fd);
        }
        finished = true;
    });
    REQUIRE(w.run_until([&] { return listening.load(); }));
    PeerStream peer;
    peer.out = pattern(100000, 17);
    REQUIRE(w.peer().connect(clock_now(), {wire::Ipv4Address::from_octets(10, 0, 0, 2), 94}, 0, &peer.conn) ==
            tcp::Error::kNone);
    bool ok = w.run_until([&] {
        peer.pump(w.peer());
        return peer.fin_sent && w.peer().info(peer.conn).state == tcp::State::kFinWait2;
    });
    if (ok) {
        w.peer().abort(clock_now(), peer.conn);
        w.run_until([] { return false; }, std::chrono::milliseconds(100));
    }
    go_accept = true;
    ok = w.run_until([&] { return finished.load(); }) && ok;
    w.join(app, ok);
    REQUIRE(ok);
    REQUIRE(accepted.ok());
    CHECK(got == peer.out);
    REQUIRE(status.ok());
    CHECK(status->outcome == client::Outcome::kReset);
}

TEST_CASE("an application that stops reading after the reset pins nothing: after api.request_timeout the rest is "
          "dropped, counted and reported") {
    World w;  // request_timeout 2 s
    tcp::ListenerId l;
    REQUIRE(w.peer().listen(95, 0, &l) == tcp::Error::kNone);
    SlowApp app(w, 95);
    PeerStream peer;
    peer.out = pattern(397759, 18);
    bool ok = peer_sends(w, l, peer, app, true);
    if (ok) {
        w.peer().abort(clock_now(), peer.conn);
    }
    // While the daemon waits for the application, STATUS already knows.
    client::Result<client::Status> early = client::Error{};
    std::atomic<bool> asked{false};
    std::thread asker([&] {
        std::this_thread::sleep_for(std::chrono::milliseconds(300));
        early = client::status(w.socket_path, app.stream ? app.stream->id : 0);
        asked = true;
    });
    ok = w.run_until([&] { return asked.load(); }) && ok;
    w.join(asker, ok);
    // The application takes nothing for longer than the request timeout.
    w.run_until([] { return false; }, std::chrono::milliseconds(3500));
    CHECK(w.a.tcp().connection_count() == 0);  // TCP's buffer is gone
    ok = app.finish() && ok;
    REQUIRE(ok);
    REQUIRE(early.ok());
    CHECK(early->outcome == client::Outcome::kReset);
    CHECK(early->state == "closed");
    REQUIRE(app.status.ok());
    CHECK(app.status->outcome == client::Outcome::kReset);
    CHECK(app.status->undelivered > 0);
    // What it read is exactly the beginning; the rest is what STATUS reports.
    CHECK(app.got.size() + app.status->undelivered == peer.out.size());
    CHECK(app.got == peer.out.substr(0, app.got.size()));
    CHECK(counter_of(w, "api.bytes_undelivered") == app.status->undelivered);
}

TEST_CASE("an application that closes its socket during the hand-over frees the connection at once; STATUS says "
          "how much it missed") {
    World w;
    tcp::ListenerId l;
    REQUIRE(w.peer().listen(98, 0, &l) == tcp::Error::kNone);
    SlowApp app(w, 98);
    PeerStream peer;
    peer.out = pattern(397759, 21);
    bool ok = peer_sends(w, l, peer, app, true);
    if (ok) {
        w.peer().abort(clock_now(), peer.conn);
        w.run_until([] { return false; }, std::chrono::milliseconds(200));
    }
    REQUIRE(ok);
    REQUIRE(w.a.tcp().connection_count() == 1);  // TCP's buffer still waits for the application
    // It reads a little, then goes away for good (the thread is told to stop).
    char buf[1000];
    const ssize_t n = ::read(app.stream->fd, buf, sizeof buf);
    CHECK(n > 0);
    const std::uint64_t id = app.stream->id;
    ::shutdown(app.stream->fd, SHUT_RDWR);
    CHECK(w.run_until([&] { return w.a.tcp().connection_count() == 0; }, std::chrono::milliseconds(1500)));
    client::Result<client::Status> status = client::Error{};
    std::thread asker([&] { status = client::status(w.socket_path, id); });
    w.run_until([&] { return status.ok(); }, std::chrono::seconds(5));
    w.join(asker, true);
    app.finish();
    REQUIRE(status.ok());
    CHECK(status->outcome == client::Outcome::kReset);
    CHECK(status->undelivered > 0);
    CHECK(status->undelivered < peer.out.size());
}

TEST_CASE("drain: new streams are refused with ERR shutting-down, the application's input ends with FIN, the "
          "peer's data still arrives in full") {
    World w;
    tcp::ListenerId l;
    REQUIRE(w.peer().listen(96, 0, &l) == tcp::Error::kNone);
    const std::string upload = pattern(120000, 19);
    SlowApp app(w, 96, {}, upload);
    PeerStream peer;
    peer.out = pattern(500000, 20);
    bool ok = w.run_until([&] {
        if (!peer.conn.valid()) {
            peer.conn = w.peer().accept(l);
        }
        return app.connected.load() && peer.conn.valid();
    });
    REQUIRE(ok);
    // A waiting ACCEPT is told too.
    std::atomic<bool> waiting{false};
    client::Result<client::Stream> waiter = client::Error{};
    std::thread accepter([&] {
        waiting = true;
        waiter = client::accept(w.socket_path, 97, 30);
    });
    w.run_until([&] { return waiting.load(); });
    w.run_until([] { return false; }, std::chrono::milliseconds(100));
    w.api->drain();
    std::atomic<bool> late_done{false};
    bool late_write_failed = false;
    client::Result<client::Stream> refused = client::Error{};
    client::Result<client::Status> during = client::Error{};
    std::thread late([&] {
        late_write_failed = ::send(app.stream->fd, "x", 1, MSG_NOSIGNAL) < 0 && errno == EPIPE;
        refused = client::connect(w.socket_path, "10.0.0.1", 96);
        during = client::status(w.socket_path, app.stream->id);
        late_done = true;
    });
    ok = w.run_until([&] { return late_done.load(); }) && ok;
    w.join(late, ok);
    // The peer's data keeps coming and reaches the application; ours
    // ended at what the application had written: FIN after it.
    app.go = true;
    ok = w.run_until([&] {
        peer.pump(w.peer());
        return w.peer().info(peer.conn).eof && peer.fin_sent;
    }) && ok;
    ok = app.finish() && ok;
    w.join(accepter, ok);
    REQUIRE(ok);
    CHECK(peer.in == upload);
    CHECK(app.got == peer.out);
    CHECK(late_write_failed);
    REQUIRE_FALSE(refused.ok());
    CHECK(refused.error().code == client::ErrorCode::kShuttingDown);
    REQUIRE_FALSE(waiter.ok());
    CHECK(waiter.error().code == client::ErrorCode::kShuttingDown);
    REQUIRE(during.ok());  // questions are still answered
    REQUIRE(app.status.ok());
    CHECK((app.status->outcome == client::Outcome::kOrderly || app.status->outcome == client::Outcome::kOpen));
    CHECK(w.run_until([&] { return w.api->drained(); }));
    w.peer().close(clock_now(), peer.conn);
}

TEST_CASE("CAPTURE count=3: pcapng with three frames and their directions, then the statistics and EOF") {
    World w;
    std::atomic<bool> finished{false};
    client::Result<client::Capture> cap = client::Error{};
    capture::pcapng::Reader got;
    std::thread app([&] {
        client::CaptureOptions o;
        o.count = 3;
        cap = client::capture(w.socket_path, o);
        if (cap) {
            got = read_capture(cap->fd);
            ::close(cap->fd);
        }
        finished = true;
    });
    bool ok = w.run_until([&] { return w.tap != nullptr || finished.load(); });
    if (ok && w.tap != nullptr) {
        tap_frame(w.tap, drivers::FrameDirection::kIn, 60);
        tap_frame(w.tap, drivers::FrameDirection::kOut, 1514);
        tap_frame(w.tap, drivers::FrameDirection::kIn, 42);
        tap_frame(w.tap, drivers::FrameDirection::kOut, 99);  // beyond the count: not captured
    }
    ok = ok && w.run_until([&] { return finished.load(); });
    w.join(app, ok);
    REQUIRE(ok);
    REQUIRE(cap.ok());
    CHECK(client::find_field(cap->fields, "interface") == std::optional<std::string_view>("test0"));
    CHECK(got.inbound() == 2);
    CHECK(got.outbound() == 1);
    REQUIRE(got.statistics());
    CHECK(got.statistics()->delivered == 3);
    CHECK(got.statistics()->dropped == 0);
    CHECK(w.run_until([&] { return w.tap == nullptr; }));  // the last capture ended: the port is untapped
}

TEST_CASE("CAPTURE ends in order when the reader shuts down its side; STATS counts the capture") {
    World w;
    std::atomic<bool> started{false};
    std::atomic<bool> stop{false};
    std::atomic<bool> finished{false};
    capture::pcapng::Reader got;
    client::Result<std::vector<client::Counter>> counters = client::Error{};
    client::Result<std::string> prometheus = client::Error{};
    std::thread app([&] {
        auto cap = client::capture(w.socket_path, {});
        if (cap) {
            started = true;
            while (!stop.load()) std::this_thread::sleep_for(std::chrono::milliseconds(1));
            ::shutdown(cap->fd, SHUT_WR);
            got = read_capture(cap->fd);
            ::close(cap->fd);
        }
        counters = client::stats(w.socket_path);
        prometheus = client::stats_prometheus(w.socket_path);
        finished = true;
    });
    bool ok = w.run_until([&] { return (started.load() && w.tap != nullptr) || finished.load(); });
    if (ok && w.tap != nullptr) {
        for (int i = 0; i < 5; ++i) tap_frame(w.tap, drivers::FrameDirection::kIn, 100 + static_cast<std::size_t>(i));
    }
    stop = true;
    ok = ok && w.run_until([&] { return finished.load(); });
    w.join(app, ok);
    REQUIRE(ok);
    CHECK(got.inbound() == 5);
    REQUIRE(got.statistics());
    CHECK(got.statistics()->delivered == 5);
    CHECK(got.statistics()->received == 5);
    REQUIRE(counters.ok());
    std::map<std::string, std::uint64_t> c(counters->begin(), counters->end());
    CHECK(c["capture.opened"] == 1);
    CHECK(c["capture.frames"] == 5);
    CHECK(c["capture.dropped"] == 0);
    CHECK(c["capture.sessions"] == 0);
    REQUIRE(prometheus.ok());
    CHECK(prometheus->find("# TYPE tapstack_capture_frames_total counter\ntapstack_capture_frames_total 5\n") !=
          std::string::npos);
    CHECK(prometheus->find("# TYPE tapstack_api_clients gauge\n") != std::string::npos);
    CHECK(prometheus->find("tapstack_build_info{version=\"") != std::string::npos);
}

TEST_CASE("DAEMON: version, uptime, interface, address and what the daemon holds") {
    World w;
    std::atomic<bool> finished{false};
    client::Result<client::Fields> fields = client::Error{};
    std::thread app([&] {
        fields = client::daemon_status(w.socket_path);
        finished = true;
    });
    bool ok = w.run_until([&] { return finished.load(); });
    w.join(app, ok);
    REQUIRE(ok);
    REQUIRE(fields.ok());
    auto get = [&](std::string_view k) { return std::string(client::find_field(fields.value(), k).value_or("?")); };
    CHECK(get("version") == TAPSTACK_VERSION);
    CHECK(get("interface") == "test0");
    CHECK(get("address") == "10.0.0.2/24");
    CHECK(get("streams") == "0");
    CHECK(get("captures") == "0");
    CHECK(get("uptime_s") == "0");
    CHECK(get("offloads") == "off");
}

TEST_CASE("SOCKS5: CONNECT becomes a stream; the reply names its local end; bytes both ways, then EOF") {
    World w;
    tcp::ListenerId l;
    REQUIRE(w.peer().listen(90, 0, &l) == tcp::Error::kNone);
    PeerStream peer;
    peer.out = pattern(500000, 7);
    const std::string request = pattern(200000, 8);
    std::atomic<bool> finished{false};
    std::string method, reply, got;
    std::thread app([&] {
        int fd = dial(w.socks_path);
        if (fd >= 0) {
            // Greeting, request and the first stream bytes in one write.
            write_all(fd, kSocksGreeting + socks_connect_request(10, 0, 0, 1, 90) + request.substr(0, 1000));
            method = read_exact(fd, 2);
            reply = read_exact(fd, 10);
            write_all(fd, request.substr(1000));
            ::shutdown(fd, SHUT_WR);
            got = read_all(fd);
            ::close(fd);
        }
        finished = true;
    });
    bool ok = w.run_until([&] {
        if (!peer.conn.valid()) {
            peer.conn = w.peer().accept(l);
        }
        peer.pump(w.peer());
        return finished.load();
    });
    w.join(app, ok);
    REQUIRE(ok);
    CHECK(method == std::string("\x05\x00", 2));
    REQUIRE(reply.size() == 10);
    CHECK(reply.substr(0, 8) == std::string("\x05\x00\x00\x01\x0a\x00\x00\x02", 8));
    const auto bnd_port = static_cast<std::uint16_t>((static_cast<std::uint8_t>(reply[8]) << 8) |
                                                     static_cast<std::uint8_t>(reply[9]));
    CHECK(w.peer().info(peer.conn).remote.port == bnd_port);
    CHECK(got == peer.out);
    w.run_until([&] {
        peer.pump(w.peer());
        return peer.in.size() >= request.size() && w.peer().info(peer.conn).eof;
    });
    CHECK(peer.in == request);
    w.peer().close(clock_now(), peer.conn);
}

TEST_CASE("SOCKS5: failures are the RFC 1928 reply then EOF: refused 0x05, no route 0x03, a name 0x08, no method 0xFF") {
    World w;
    std::atomic<bool> finished{false};
    std::vector<std::string> answers;
    std::string hello;
    std::thread app([&] {
        const std::string name_request("\x05\x01\x00\x03\x07" "example" "\x00\x50", 14);
        for (const std::string& chunk : {kSocksGreeting + socks_connect_request(10, 0, 0, 1, 9),
                                         kSocksGreeting + socks_connect_request(192, 0, 2, 1, 80),
                                         kSocksGreeting + name_request, std::string("\x05\x01\x02", 3)}) {
            int fd = dial(w.socks_path);
            write_all(fd, chunk);
            answers.push_back(read_all(fd));
            ::close(fd);
        }
        auto h = client::hello(w.socket_path);
        hello = h ? (h->has("socks") ? "socks" : "no socks") : h.error().message;
        finished = true;
    });
    bool ok = w.run_until([&] { return finished.load(); });
    w.join(app, ok);
    REQUIRE(ok);
    auto failure = [](char code) { return std::string("\x05\x00\x05", 3) + code + std::string("\x00\x01\0\0\0\0\0\0", 8); };
    REQUIRE(answers.size() == 4);
    CHECK(answers[0] == failure(0x05));
    CHECK(answers[1] == failure(0x03));
    CHECK(answers[2] == failure(0x08));
    CHECK(answers[3] == std::string("\x05\xff", 2));
    CHECK(hello == "socks");
}
