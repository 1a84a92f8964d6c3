// tapstackd's service loop without root: the loop runs over one end of a
// SOCK_SEQPACKET socketpair adopted as its TAP (TapPort::adopt), the test
// plays the host on the other end, frame by frame, each behind a 12-byte
// virtio-net header. Proves: gratuitous ARP at start, ARP and ICMP answered
// through the loop, SIGUSR1 logs the counters line, SIGHUP without a file
// to re-read changes nothing, SIGHUP with one reloads it,
// SIGTERM stops with status 0 and removes the API socket, a start-up
// failure returns 1, and a CAPTURE sees the frames the loop receives and
// sends. (The netns suite runs the same daemon on a real TAP.)
#include <doctest/doctest.h>
#include <poll.h>
#include <spdlog/sinks/ringbuffer_sink.h>
#include <spdlog/spdlog.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <array>
#include <chrono>
#include <csignal>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <future>
#include <string>
#include <thread>
#include <vector>

#include "daemon/capture/pcapng.hpp"
#include "daemon/client/client.hpp"
#include "daemon/config.hpp"
#include "daemon/service_loop.hpp"
#include "drivers/tap_port.hpp"
#include "stack/wire/checksum.hpp"

namespace {

using Frame = std::vector<std::uint8_t>;
constexpr std::size_t kVnetHdr = 12;
constexpr std::array<std::uint8_t, 6> kOurMac{0x02, 0, 0, 0, 0, 0x02};
constexpr std::array<std::uint8_t, 6> kHostMac{0x02, 0, 0, 0, 0, 0x01};
constexpr std::array<std::uint8_t, 4> kOurIp{10, 0, 0, 2};
constexpr std::array<std::uint8_t, 4> kHostIp{10, 0, 0, 1};

void put16(Frame& f, std::uint16_t v) {
    f.push_back(static_cast<std::uint8_t>(v >> 8));
    f.push_back(static_cast<std::uint8_t>(v));
}
template <std::size_t N>
void put(Frame& f, const std::array<std::uint8_t, N>& a) {
    f.insert(f.end(), a.begin(), a.end());
}
std::uint16_t get16(const Frame& f, std::size_t at) {
    return static_cast<std::uint16_t>((f[at] << 8) | f[at + 1]);
}

// virtio-net header (all zero: no offloads) + Ethernet header.
Frame ethernet(const std::array<std::uint8_t, 6>& dst, std::uint16_t ethertype) {
    Frame f(kVnetHdr, 0);
    put(f, dst);
    put(f, kHostMac);
    put16(f, ethertype);
    return f;
}

Frame arp_request_for_us() {
    Frame f = ethernet({0xff, 0xff, 0xff, 0xff, 0xff, 0xff}, 0x0806);
    put16(f, 1);
    put16(f, 0x0800);
    f.push_back(6);
    f.push_back(4);
    put16(f, 1);
    put(f, kHostMac);
    put(f, kHostIp);
    put(f, std::array<std::uint8_t, 6>{});
    put(f, kOurIp);
    return f;
}

Frame echo_request(const std::string& payload) {
    Frame icmp{8, 0, 0, 0, 0x12, 0x34, 0x00, 0x01};
    icmp.insert(icmp.end(), payload.begin(), payload.end());
    const std::uint16_t icsum = tapstack::wire::internet_checksum(icmp);
    icmp[2] = static_cast<std::uint8_t>(icsum >> 8);
    icmp[3] = static_cast<std::uint8_t>(icsum);
    Frame ip{0x45, 0};
    put16(ip, static_cast<std::uint16_t>(20 + icmp.size()));
    put16(ip, 0x4242);
    put16(ip, 0);
    ip.push_back(64);
    ip.push_back(1);
    put16(ip, 0);
    put(ip, kHostIp);
    put(ip, kOurIp);
    const std::uint16_t csum = tapstack::wire::internet_checksum(ip);
    ip[10] = static_cast<std::uint8_t>(csum >> 8);
    ip[11] = static_cast<std::uint8_t>(csum);
    Frame f = ethernet(kOurMac, 0x0800);
    f.insert(f.end(), ip.begin(), ip.end());
    f.insert(f.end(), icmp.begin(), icmp.end());
    return f;
}

// The next frame the daemon writes, or an empty frame after 5 s.
Frame read_frame(int fd) {
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, 5000) != 1) return {};
    Frame f(65536 + kVnetHdr);
    const ssize_t n = ::read(fd, f.data(), f.size());
    if (n <= 0) return {};
    f.resize(static_cast<std::size_t>(n));
    return f;
}

// The next frame with this ethertype, skipping others (e.g. more announcements).
Frame read_ethertype(int fd, std::uint16_t ethertype) {
    for (int i = 0; i < 16; ++i) {
        Frame f = read_frame(fd);
        if (f.empty()) return f;
        if (f.size() >= kVnetHdr + 14 && get16(f, kVnetHdr + 12) == ethertype) return f;
    }
    return {};
}

// Captures everything logged, for the signal checks.
struct CapturedLog {
    std::shared_ptr<spdlog::sinks::ringbuffer_sink_mt> sink = std::make_shared<spdlog::sinks::ringbuffer_sink_mt>(256);
    CapturedLog() {
        auto logger = std::make_shared<spdlog::logger>("test", sink);
        logger->set_level(spdlog::level::info);
        spdlog::set_default_logger(logger);
    }
    // Waits up to 5 s for a message containing `text`; returns it or "".
    std::string wait_for(const std::string& text) const {
        for (int i = 0; i < 500; ++i) {
            for (const auto& line : sink->last_formatted()) {
                if (line.find(text) != std::string::npos) return line;
            }
            std::this_thread::sleep_for(std::chrono::milliseconds(10));
        }
        return "";
    }
};

struct TempDir {
    std::filesystem::path path;
    TempDir() {
        std::string tmpl = (std::filesystem::temp_directory_path() / "tapstack-loop-XXXXXX").string();
        REQUIRE(::mkdtemp(tmpl.data()) != nullptr);
        path = tmpl;
    }
    ~TempDir() { std::filesystem::remove_all(path); }
};

tapstack::daemon::Config test_config(const std::string& socket_path) {
    auto r = tapstack::daemon::load_config_text("interface:\n  name: test0\n  mac: 02:00:00:00:00:02\n"
                                                "ipv4:\n  address: 10.0.0.2/24\n"
                                                "api:\n  socket: " + socket_path + "\n",
                                                "test.yaml");
    REQUIRE(r.ok());
    return r.config;
}

}  // namespace

TEST_CASE("the loop announces itself, answers ARP and ping, logs counters on SIGUSR1 and stops on SIGTERM") {
    CapturedLog log;
    TempDir dir;
    const std::string socket_path = (dir.path / "api.sock").string();
    const auto config = test_config(socket_path);

    int fds[2];
    REQUIRE(::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, fds) == 0);
    const int host = fds[1];
    std::string error;
    auto port = tapstack::drivers::TapPort::adopt(fds[0], "test0", config.tap, &error);
    REQUIRE_MESSAGE(port, error);

    tapstack::daemon::ServiceLoop loop(config, 42, std::move(port));
    auto done = std::async(std::launch::async, [&loop] { return loop.run(); });

    // RFC 5227 announcement: broadcast ARP whose sender and target are our address.
    const Frame announce = read_ethertype(host, 0x0806);
    REQUIRE(announce.size() >= kVnetHdr + 14 + 28);
    const std::size_t arp = kVnetHdr + 14;
    CHECK(std::equal(kOurMac.begin(), kOurMac.end(), announce.begin() + arp + 8));
    CHECK(std::equal(kOurIp.begin(), kOurIp.end(), announce.begin() + arp + 14));
    CHECK(std::equal(kOurIp.begin(), kOurIp.end(), announce.begin() + arp + 24));
    CHECK(std::filesystem::exists(socket_path));

    const Frame request = arp_request_for_us();
    REQUIRE(::write(host, request.data(), request.size()) == static_cast<ssize_t>(request.size()));
    const Frame reply = read_ethertype(host, 0x0806);
    REQUIRE(reply.size() >= arp + 28);
    CHECK(get16(reply, arp + 6) == 2);  // operation: reply
    CHECK(std::equal(kOurMac.begin(), kOurMac.end(), reply.begin() + arp + 8));
    CHECK(std::equal(kHostMac.begin(), kHostMac.end(), reply.begin() + arp + 18));

    const std::string payload = "every byte comes back";
    const Frame ping = echo_request(payload);
    REQUIRE(::write(host, ping.data(), ping.size()) == static_cast<ssize_t>(ping.size()));
    const Frame pong = read_ethertype(host, 0x0800);
    REQUIRE(pong.size() == ping.size());
    const std::size_t icmp = kVnetHdr + 14 + 20;
    CHECK(pong[icmp] == 0);  // echo reply
    CHECK(std::equal(ping.begin() + icmp + 4, ping.end(), pong.begin() + icmp + 4));  // id, seq, data

    ::kill(::getpid(), SIGUSR1);
    const std::string counters = log.wait_for("counters: ");
    CHECK(counters.find(" icmp.tx_echo_replies=1") != std::string::npos);
    CHECK(counters.find(" arp.tx_replies=1") != std::string::npos);
    CHECK(counters.find("tap.rx_frames=2") != std::string::npos);
    // The API server's own figures are on the same line.
    CHECK(counters.find(" api.clients=0") != std::string::npos);
    CHECK(counters.find(" api.clients_accepted=0") != std::string::npos);
    CHECK(counters.find(" api.bad_requests=0") != std::string::npos);
    CHECK(counters.find(" capture.sessions=0") != std::string::npos);

    ::kill(::getpid(), SIGHUP);
    CHECK_FALSE(log.wait_for("SIGHUP: no configuration file to re-read; nothing changes").empty());
    CHECK(done.wait_for(std::chrono::milliseconds(0)) == std::future_status::timeout);

    ::kill(::getpid(), SIGTERM);
    REQUIRE(done.wait_for(std::chrono::seconds(10)) == std::future_status::ready);
    CHECK(done.get() == 0);
    CHECK_FALSE(std::filesystem::exists(socket_path));
    ::close(host);
}

TEST_CASE("an API socket that cannot be bound makes run() return 1 with one error line") {
    CapturedLog log;
    TempDir dir;
    const auto blocker = dir.path / "not-a-directory";
    std::ofstream(blocker).put('x');
    const auto config = test_config((blocker / "api.sock").string());

    int fds[2];
    REQUIRE(::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, fds) == 0);
    std::string error;
    auto port = tapstack::drivers::TapPort::adopt(fds[0], "test0", config.tap, &error);
    REQUIRE_MESSAGE(port, error);
    tapstack::daemon::ServiceLoop loop(config, 42, std::move(port));
    CHECK(loop.run() == 1);
    CHECK_FALSE(log.wait_for("cannot start the API on ").empty());
    ::close(fds[1]);
}

namespace {

void write_file(const std::filesystem::path& path, const std::string& text) {
    std::ofstream out(path, std::ios::trunc);
    out << text;
}

std::string config_text(const std::string& socket_path, const std::string& extra = "",
                        const std::string& name = "test0") {
    return "interface:\n  name: " + name + "\n  mac: 02:00:00:00:00:02\nipv4:\n  address: 10.0.0.2/24\n" +
           "api:\n  socket: " + socket_path + "\n" + extra;
}

// The loop on a socketpair "TAP", running on a thread; the host end is `host`.
struct RunningLoop {
    int host = -1;
    std::unique_ptr<tapstack::daemon::ServiceLoop> loop;
    std::future<int> done;

    RunningLoop(const tapstack::daemon::Config& config, tapstack::daemon::ServiceHooks hooks) {
        int fds[2];
        REQUIRE(::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, fds) == 0);
        host = fds[1];
        std::string error;
        auto port = tapstack::drivers::TapPort::adopt(fds[0], "test0", config.tap, &error);
        REQUIRE_MESSAGE(port, error);
        loop = std::make_unique<tapstack::daemon::ServiceLoop>(config, 42, std::move(port), std::move(hooks));
        done = std::async(std::launch::async, [this] { return loop->run(); });
    }
    int stop() {
        ::kill(::getpid(), SIGTERM);
        REQUIRE(done.wait_for(std::chrono::seconds(10)) == std::future_status::ready);
        return done.get();
    }
    ~RunningLoop() { ::close(host); }
};

}  // namespace

TEST_CASE("SIGHUP: an invalid file changes nothing and logs every error; a valid one applies live keys and "
          "warns once for each key that needs a restart") {
    CapturedLog log;
    TempDir dir;
    const std::string socket_path = (dir.path / "api.sock").string();
    const auto file = dir.path / "tapstack.yaml";
    write_file(file, config_text(socket_path));
    auto loaded = tapstack::daemon::load_config_file(file.string());
    REQUIRE(loaded.ok());
    tapstack::daemon::ServiceHooks hooks;
    hooks.config_path = file.string();
    RunningLoop running(loaded.config, std::move(hooks));
    REQUIRE_FALSE(read_ethertype(running.host, 0x0806).empty());  // running: the announcement

    write_file(file, config_text(socket_path, "tcp:\n  no_delay: maybe\nipv4x: 1\n"));
    ::kill(::getpid(), SIGHUP);
    CHECK_FALSE(log.wait_for("error(s); the configuration is unchanged").empty());
    CHECK_FALSE(log.wait_for("tcp.no_delay: \"maybe\" is not a boolean").empty());
    CHECK_FALSE(log.wait_for("ipv4x: unknown key").empty());
    CHECK(log.wait_for("change live").empty());

    write_file(file, config_text(socket_path, "tcp:\n  no_delay: true\n  receive_buffer: 128KiB\n", "other0"));
    ::kill(::getpid(), SIGHUP);
    CHECK_FALSE(
        log.wait_for("SIGHUP: interface.name: \"test0\" -> \"other0\" needs a restart; keeping \"test0\"").empty());
    CHECK_FALSE(log.wait_for("SIGHUP: tcp.no_delay: \"false\" -> \"true\" (tcp (new connections))").empty());
    CHECK_FALSE(log.wait_for("SIGHUP: tcp.receive_buffer: \"262144\" -> \"131072\"").empty());
    CHECK_FALSE(log.wait_for("2 key(s) change live, 1 need a restart").empty());

    // The same file again: the kept key warns again, nothing else changes.
    ::kill(::getpid(), SIGHUP);
    CHECK_FALSE(log.wait_for("0 key(s) change live, 1 need a restart").empty());
    CHECK(running.stop() == 0);
}

TEST_CASE("a failing start hook stops the loop with status 1 and its one error line") {
    CapturedLog log;
    TempDir dir;
    const std::string socket_path = (dir.path / "api.sock").string();
    tapstack::daemon::ServiceHooks hooks;
    hooks.started = [](std::string* error) {
        *error = "capabilities: still held after the drop";
        return false;
    };
    RunningLoop running(test_config(socket_path), std::move(hooks));
    REQUIRE(running.done.wait_for(std::chrono::seconds(10)) == std::future_status::ready);
    CHECK(running.done.get() == 1);
    CHECK_FALSE(log.wait_for("capabilities: still held after the drop").empty());
    CHECK(log.wait_for("running: interface").empty());
    CHECK_FALSE(std::filesystem::exists(socket_path));
}

TEST_CASE("sd_notify: READY=1 with STATUS once running, RELOADING=1/READY=1 around SIGHUP, WATCHDOG=1 at half of "
          "WATCHDOG_USEC, STOPPING=1 at stop") {
    CapturedLog log;
    TempDir dir;
    const std::string socket_path = (dir.path / "api.sock").string();
    const std::string notify_path = (dir.path / "notify").string();
    const int notify = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    REQUIRE(notify >= 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::strncpy(addr.sun_path, notify_path.c_str(), sizeof addr.sun_path - 1);
    REQUIRE(::bind(notify, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
    ::setenv("NOTIFY_SOCKET", notify_path.c_str(), 1);
    ::setenv("WATCHDOG_USEC", "200000", 1);  // pings every 100 ms
    auto next_message = [notify]() -> std::string {
        pollfd p{notify, POLLIN, 0};
        if (::poll(&p, 1, 5000) != 1) return "";
        char buf[4096];
        const ssize_t n = ::recv(notify, buf, sizeof buf, 0);
        return n > 0 ? std::string(buf, static_cast<std::size_t>(n)) : "";
    };
    {
        tapstack::daemon::ServiceHooks hooks;
        hooks.config_path = (dir.path / "missing.yaml").string();
        RunningLoop running(test_config(socket_path), std::move(hooks));
        std::string first = next_message();
        CHECK(first.rfind("READY=1\nSTATUS=test0 10.0.0.2/24 mtu 1500, api " + socket_path + ", 0 streams", 0) == 0);
        int pings = 0;
        for (int i = 0; i < 5; ++i) pings += next_message() == "WATCHDOG=1" ? 1 : 0;
        CHECK(pings == 5);
        ::kill(::getpid(), SIGHUP);  // the file is missing: logged, nothing changes, READY=1 again
        bool reloading = false, ready_again = false;
        for (int i = 0; i < 20 && !ready_again; ++i) {
            const std::string m = next_message();
            reloading = reloading || m.rfind("RELOADING=1", 0) == 0;
            ready_again = reloading && m.rfind("READY=1", 0) == 0;
        }
        CHECK(ready_again);
        CHECK_FALSE(log.wait_for("missing.yaml: cannot read").empty());
        CHECK(running.stop() == 0);
        bool stopping = false;
        for (int i = 0; i < 20 && !stopping; ++i) {
            const std::string m = next_message();
            if (m.empty()) break;
            stopping = m.rfind("STOPPING=1", 0) == 0;
        }
        CHECK(stopping);
    }
    // sd_notify() reads the variable at every call: unset only now.
    ::unsetenv("NOTIFY_SOCKET");
    ::unsetenv("WATCHDOG_USEC");
    ::close(notify);
}

TEST_CASE("a service manager that does not read its notification socket never blocks the loop") {
    CapturedLog log;
    TempDir dir;
    const std::string socket_path = (dir.path / "api.sock").string();
    const std::string notify_path = (dir.path / "notify").string();
    const int notify = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    REQUIRE(notify >= 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::strncpy(addr.sun_path, notify_path.c_str(), sizeof addr.sun_path - 1);
    REQUIRE(::bind(notify, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
    ::setenv("NOTIFY_SOCKET", notify_path.c_str(), 1);
    ::setenv("WATCHDOG_USEC", "10000", 1);  // a ping every 5 ms; the socket's queue (10) fills at once
    {
        RunningLoop running(test_config(socket_path), tapstack::daemon::ServiceHooks{});
        REQUIRE_FALSE(read_ethertype(running.host, 0x0806).empty());
        std::this_thread::sleep_for(std::chrono::milliseconds(300));  // far more pings than the queue holds
        const Frame request = arp_request_for_us();
        REQUIRE(::write(running.host, request.data(), request.size()) == static_cast<ssize_t>(request.size()));
        CHECK_FALSE(read_ethertype(running.host, 0x0806).empty());  // still answering
        CHECK(running.stop() == 0);
    }
    ::unsetenv("NOTIFY_SOCKET");
    ::unsetenv("WATCHDOG_USEC");
    ::close(notify);
}

TEST_CASE("CAPTURE through the loop: the ARP requests it receives and the replies it sends, each with its direction") {
    CapturedLog log;
    TempDir dir;
    const std::string socket_path = (dir.path / "api.sock").string();
    const auto config = test_config(socket_path);
    int fds[2];
    REQUIRE(::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, fds) == 0);
    const int host = fds[1];
    std::string error;
    auto port = tapstack::drivers::TapPort::adopt(fds[0], "test0", config.tap, &error);
    REQUIRE_MESSAGE(port, error);
    tapstack::daemon::ServiceLoop loop(config, 42, std::move(port));
    auto done = std::async(std::launch::async, [&loop] { return loop.run(); });
    REQUIRE_FALSE(read_ethertype(host, 0x0806).empty());  // the announcement: the loop runs

    tapstack::client::CaptureOptions options;
    options.count = 4;
    auto cap = tapstack::client::capture(socket_path, options);
    REQUIRE_MESSAGE(cap.ok(), cap.error().message);
    for (int i = 0; i < 2; ++i) {
        const Frame request = arp_request_for_us();
        REQUIRE(::write(host, request.data(), request.size()) == static_cast<ssize_t>(request.size()));
        REQUIRE_FALSE(read_ethertype(host, 0x0806).empty());
    }
    tapstack::capture::pcapng::Reader reader;
    std::vector<std::uint8_t> buf(65536);
    for (;;) {
        pollfd p{cap->fd, POLLIN, 0};
        REQUIRE(::poll(&p, 1, 5000) == 1);
        const ssize_t n = ::read(cap->fd, buf.data(), buf.size());
        REQUIRE(n >= 0);
        if (n == 0) break;
        REQUIRE(reader.feed(std::span<const std::uint8_t>(buf.data(), static_cast<std::size_t>(n))));
    }
    ::close(cap->fd);
    CHECK(reader.inbound() == 2);
    CHECK(reader.outbound() == 2);
    REQUIRE(reader.statistics());
    CHECK(reader.statistics()->delivered == 4);
    CHECK(reader.statistics()->dropped == 0);

    ::kill(::getpid(), SIGTERM);
    REQUIRE(done.wait_for(std::chrono::seconds(10)) == std::future_status::ready);
    CHECK(done.get() == 0);
    ::close(host);
}
