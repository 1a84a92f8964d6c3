// TapPort on a real TAP, inside a network namespace made by
// netns_tap_port.sh (which also made the persistent TAPs tspersist0, up with
// 10.77.1.1/24, and tsdown0, left down; both owned by uid 0).
//
// Each case proves frames really cross the rings both ways: we transmit an
// ARP request or ICMP echo request to the kernel's host address and
// poll_rx() until the kernel's reply arrives (poll() on fd(), bounded by a
// deadline), answering the kernel's own ARP requests for our address. The
// binary refuses to run anywhere but inside the namespace the script made,
// so it can never create or configure interfaces outside it.
#include <doctest/doctest.h>
#include <linux/capability.h>
#include <net/if.h>
#include <poll.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "drivers/tap_port.hpp"
#include "stack/wire/addresses.hpp"
#include "stack/wire/byte_order.hpp"
#include "stack/wire/checksum.hpp"

using namespace tapstack;
using namespace tapstack::drivers;
using wire::Ipv4Address;
using wire::MacAddress;
using Frame = std::vector<std::uint8_t>;
using Clock = std::chrono::steady_clock;

namespace {

const MacAddress kOurMac{{0x02, 0x00, 0x00, 0x00, 0x00, 0x02}};
constexpr auto kDeadline = std::chrono::seconds(5);

// Empty when we run inside the namespace netns_tap_port.sh created (its
// name is in TAPSTACK_TEST_NETNS and `ip netns add` bind-mounted it at
// /run/netns/NAME); otherwise why not.
std::string outside_test_namespace() {
    const char* ns = std::getenv("TAPSTACK_TEST_NETNS");
    if (ns == nullptr || *ns == '\0') return "TAPSTACK_TEST_NETNS is not set: run netns_tap_port.sh";
    const std::string path = std::string("/run/netns/") + ns;
    struct stat self {}, named {};
    if (::stat("/proc/self/ns/net", &self) != 0 || ::stat(path.c_str(), &named) != 0) {
        return "cannot stat /proc/self/ns/net or " + path;
    }
    if (self.st_ino != named.st_ino || self.st_dev != named.st_dev) return "not running inside " + path;
    return {};
}

#define REQUIRE_TEST_NETNS() \
    do { \
        const std::string why = outside_test_namespace(); \
        REQUIRE_MESSAGE(why.empty(), "refusing to touch interfaces: " << why); \
    } while (false)

void put_mac(std::uint8_t* p, const MacAddress& m) { std::copy(m.bytes.begin(), m.bytes.end(), p); }
MacAddress get_mac(const std::uint8_t* p) {
    MacAddress m;
    std::copy(p, p + 6, m.bytes.begin());
    return m;
}

// RFC 826 request (op 1) or reply (op 2) for Ethernet/IPv4.
Frame arp_frame(std::uint16_t op, MacAddress sha, Ipv4Address spa, MacAddress tha, Ipv4Address tpa, MacAddress dst) {
    Frame f(42, 0);
    put_mac(f.data(), dst);
    put_mac(f.data() + 6, sha);
    wire::store_be16(f.data() + 12, 0x0806);
    std::uint8_t* a = f.data() + 14;
    wire::store_be16(a, 1);
    wire::store_be16(a + 2, 0x0800);
    a[4] = 6;
    a[5] = 4;
    wire::store_be16(a + 6, op);
    put_mac(a + 8, sha);
    wire::store_be32(a + 14, spa.value);
    put_mac(a + 18, tha);
    wire::store_be32(a + 24, tpa.value);
    return f;
}

struct Arp {
    std::uint16_t op;
    MacAddress sha;
    Ipv4Address spa;
    MacAddress tha;
    Ipv4Address tpa;
};
std::optional<Arp> parse_arp(std::span<const std::uint8_t> f) {
    if (f.size() < 42 || wire::load_be16(f.data() + 12) != 0x0806) return std::nullopt;
    const std::uint8_t* a = f.data() + 14;
    return Arp{wire::load_be16(a + 6), get_mac(a + 8), Ipv4Address(wire::load_be32(a + 14)), get_mac(a + 18),
               Ipv4Address(wire::load_be32(a + 24))};
}

// IPv4 + ICMP echo request (RFC 792) with a patterned payload.
Frame icmp_echo(MacAddress dst_mac, Ipv4Address src, Ipv4Address dst, std::uint16_t id, std::uint16_t seq,
                std::size_t payload) {
    const std::size_t ip_len = 20 + 8 + payload;
    Frame f(14 + ip_len, 0);
    put_mac(f.data(), dst_mac);
    put_mac(f.data() + 6, kOurMac);
    wire::store_be16(f.data() + 12, 0x0800);
    std::uint8_t* ip = f.data() + 14;
    ip[0] = 0x45;
    wire::store_be16(ip + 2, static_cast<std::uint16_t>(ip_len));
    wire::store_be16(ip + 4, seq);
    ip[6] = 0x40;  // DF
    ip[8] = 64;
    ip[9] = 1;
    wire::store_be32(ip + 12, src.value);
    wire::store_be32(ip + 16, dst.value);
    wire::store_be16(ip + 10, wire::internet_checksum(std::span<const std::uint8_t>(ip, 20)));
    std::uint8_t* icmp = ip + 20;
    icmp[0] = 8;
    wire::store_be16(icmp + 4, id);
    wire::store_be16(icmp + 6, seq);
    for (std::size_t i = 0; i < payload; ++i) icmp[8 + i] = static_cast<std::uint8_t>(i * 13 + seq);
    wire::store_be16(icmp + 2, wire::internet_checksum(std::span<const std::uint8_t>(icmp, 8 + payload)));
    return f;
}

struct EchoReply {
    std::uint16_t id, seq;
    Frame payload;
};
std::optional<EchoReply> parse_echo_reply(std::span<const std::uint8_t> f, Ipv4Address from) {
    if (f.size() < 14 + 28 || wire::load_be16(f.data() + 12) != 0x0800) return std::nullopt;
    const std::uint8_t* ip = f.data() + 14;
    const std::size_t ihl = std::size_t{ip[0] & 0x0fu} * 4;
    const std::size_t total = wire::load_be16(ip + 2);
    if (ip[9] != 1 || wire::load_be32(ip + 12) != from.value || total > f.size() - 14 || total < ihl + 8) {
        return std::nullopt;
    }
    const std::uint8_t* icmp = ip + ihl;
    if (icmp[0] != 0) return std::nullopt;
    if (wire::internet_checksum(std::span<const std::uint8_t>(icmp, total - ihl)) != 0) return std::nullopt;
    return EchoReply{wire::load_be16(icmp + 4), wire::load_be16(icmp + 6), Frame(icmp + 8, ip + total)};
}

// Drives the port until `done` (called per received frame) returns true or
// the deadline passes; answers the kernel's ARP requests for `our_ip`.
// Checks that no poll_rx() call delivers more than the budget.
struct Pump {
    TapPort& port;
    Ipv4Address our_ip;
    std::uint32_t budget;
    std::size_t max_batch = 0;

    bool run(const std::function<bool(std::span<const std::uint8_t>)>& done, Clock::duration limit = kDeadline) {
        const auto deadline = Clock::now() + limit;
        bool finished = false;
        while (!finished && Clock::now() < deadline) {
            const std::size_t n = port.poll_rx([&](std::span<const std::uint8_t> f) {
                if (auto arp = parse_arp(f); arp && arp->op == 1 && arp->tpa == our_ip) {
                    port.transmit(arp_frame(2, kOurMac, our_ip, arp->sha, arp->spa, arp->sha));
                }
                if (done(f)) finished = true;
            });
            max_batch = std::max(max_batch, n);
            port.flush_tx();
            if (finished) break;
            pollfd p{port.fd(), static_cast<short>(POLLIN | (port.tx_blocked() ? POLLOUT : 0)), 0};
            ::poll(&p, 1, 50);
        }
        return finished;
    }
};

// ARP-resolves `host` through the port; returns its MAC. The request is
// repeated every 250 ms, as a resolver would: when we attach to a persistent
// TAP its carrier only comes up now, and the kernel activates the device's
// queue asynchronously (linkwatch), so its first reply may be dropped.
std::optional<MacAddress> resolve(TapPort& port, Ipv4Address our_ip, Ipv4Address host) {
    std::optional<MacAddress> mac;
    Pump pump{port, our_ip, 256};
    const auto deadline = Clock::now() + kDeadline;
    while (!mac && Clock::now() < deadline) {
        if (!port.transmit(arp_frame(1, kOurMac, our_ip, MacAddress{}, host, MacAddress::broadcast()))) {
            return std::nullopt;
        }
        port.flush_tx();
        pump.run(
            [&](std::span<const std::uint8_t> f) {
                auto arp = parse_arp(f);
                if (arp && arp->op == 2 && arp->spa == host && arp->tpa == our_ip && arp->tha == kOurMac) {
                    mac = arp->sha;
                }
                return mac.has_value();
            },
            std::chrono::milliseconds(250));
    }
    return mac;
}

std::map<std::string, std::uint64_t> counters(const TapPort& port) {
    std::map<std::string, std::uint64_t> m;
    port.visit_counters([&m](std::string_view n, std::uint64_t v) { m[std::string(n)] = v; });
    return m;
}

TapPortConfig config_for(const char* name, const char* host_cidr) {
    TapPortConfig c;
    c.name = name;
    c.host_address = wire::Ipv4Cidr::parse(host_cidr);
    return c;
}

}  // namespace

TEST_CASE("TapPort creates a TAP and the kernel answers an ARP request for its host address (TX and RX rings)") {
    REQUIRE_TEST_NETNS();
    std::string error;
    auto port = TapPort::open(config_for("tstap0", "10.77.0.1/24"), &error);
    REQUIRE_MESSAGE(port, error);
    CHECK(port->created());
    CHECK(port->name() == "tstap0");
    CHECK(port->warnings().empty());
    CHECK(port->mtu() == 1500);
    CHECK(port->fd() >= 0);
    auto mac = resolve(*port, Ipv4Address::from_octets(10, 77, 0, 2), Ipv4Address::from_octets(10, 77, 0, 1));
    REQUIRE_MESSAGE(mac, "no ARP reply from the kernel within the deadline");
    CHECK_FALSE(mac->is_multicast());
    auto c = counters(*port);
    CHECK(c["tap.tx_frames"] >= 1);
    CHECK(c["tap.rx_frames"] >= 1);
    CHECK(c["tap.tx_errors"] == 0);
    CHECK(c["tap.rx_bad_vnet_hdr"] == 0);
    CHECK(c["tap.rx_ring_errors"] == 0);
    port.reset();
    CHECK(if_nametoindex("tstap0") == 0);  // a device we created goes away with us
}

TEST_CASE("RFC 792: ICMP echo of 56 and 1472 bytes (a full 1514-byte frame) comes back with identical id, seq, data") {
    REQUIRE_TEST_NETNS();
    std::string error;
    auto port = TapPort::open(config_for("tstap1", "10.77.0.1/24"), &error);
    REQUIRE_MESSAGE(port, error);
    const auto us = Ipv4Address::from_octets(10, 77, 0, 2), host = Ipv4Address::from_octets(10, 77, 0, 1);
    auto mac = resolve(*port, us, host);
    REQUIRE(mac);
    for (std::size_t size : {std::size_t{56}, std::size_t{1472}}) {
        CAPTURE(size);
        const auto seq = static_cast<std::uint16_t>(size);
        const Frame request = icmp_echo(*mac, us, host, 0x7a7a, seq, size);
        REQUIRE(port->transmit(request));
        port->flush_tx();
        std::optional<EchoReply> reply;
        Pump pump{*port, us, 256};
        pump.run([&](std::span<const std::uint8_t> f) {
            if (auto r = parse_echo_reply(f, host); r && r->seq == seq) reply = r;
            return reply.has_value();
        });
        REQUIRE_MESSAGE(reply, "no echo reply within the deadline");
        CHECK(reply->id == 0x7a7a);
        CHECK(reply->payload == Frame(request.begin() + 42, request.end()));
    }
}

TEST_CASE("TapPort: 300 echoes through 8-entry rings with rx_budget 4 are all answered, never more than 4 per poll") {
    REQUIRE_TEST_NETNS();
    TapPortConfig c = config_for("tstap2", "10.77.0.1/24");
    c.queue_size = 8;
    c.rx_budget = 4;
    std::string error;
    auto port = TapPort::open(c, &error);
    REQUIRE_MESSAGE(port, error);
    const auto us = Ipv4Address::from_octets(10, 77, 0, 2), host = Ipv4Address::from_octets(10, 77, 0, 1);
    auto mac = resolve(*port, us, host);
    REQUIRE(mac);
    std::vector<bool> answered(300, false);
    std::size_t count = 0;
    Pump pump{*port, us, c.rx_budget};
    // Bursts of 20 (more than the ring holds: transmit flushes as it goes).
    for (std::uint16_t base = 0; base < 300; base = static_cast<std::uint16_t>(base + 20)) {
        for (std::uint16_t s = base; s < base + 20; ++s) CHECK(port->transmit(icmp_echo(*mac, us, host, 1, s, 100)));
        port->flush_tx();
        pump.run([&](std::span<const std::uint8_t> f) {
            if (auto r = parse_echo_reply(f, host); r && r->id == 1 && r->seq < 300 && !answered[r->seq]) {
                answered[r->seq] = true;
                ++count;
            }
            return count == base + 20u;
        });
    }
    CHECK(count == 300);
    CHECK(pump.max_batch <= 4);
    auto k = counters(*port);
    CHECK(k["tap.tx_ring_full"] == 0);
    CHECK(k["tap.rx_ring_errors"] == 0);
    CHECK(k["tap.tx_ring_errors"] == 0);
}

TEST_CASE("TapPort attaches to a persistent TAP made with ip tuntap add, configured already: no warnings, frames flow") {
    REQUIRE_TEST_NETNS();
    REQUIRE(if_nametoindex("tspersist0") != 0);
    std::string error;
    auto port = TapPort::open(config_for("tspersist0", "10.77.1.1/24"), &error);
    REQUIRE_MESSAGE(port, error);
    CHECK_FALSE(port->created());
    CHECK(port->warnings().empty());
    CHECK(resolve(*port, Ipv4Address::from_octets(10, 77, 1, 2), Ipv4Address::from_octets(10, 77, 1, 1)));
    port.reset();
    CHECK(if_nametoindex("tspersist0") != 0);  // persistent: still there after we detach
}

namespace {

// Runs in a forked child without CAP_NET_ADMIN; returns "" or what went wrong.
std::string attach_without_cap_net_admin() {
    __user_cap_header_struct hdr{_LINUX_CAPABILITY_VERSION_3, 0};
    __user_cap_data_struct data[2]{};
    if (::syscall(SYS_capget, &hdr, data) != 0) return "capget failed";
    const auto bit = 1u << CAP_NET_ADMIN;
    data[0].effective &= ~bit;
    data[0].permitted &= ~bit;
    data[0].inheritable &= ~bit;
    if (::syscall(SYS_capset, &hdr, data) != 0) return "capset failed";

    std::string error;
    // 1. Already configured as asked: attach succeeds silently and frames flow.
    auto port = TapPort::open(config_for("tspersist0", "10.77.1.1/24"), &error);
    if (!port) return "attach to configured tspersist0 failed: " + error;
    if (port->created() || !port->warnings().empty()) return "unexpected created/warnings on configured attach";
    if (!resolve(*port, Ipv4Address::from_octets(10, 77, 1, 2), Ipv4Address::from_octets(10, 77, 1, 1))) {
        return "no ARP reply through the attached port";
    }
    port.reset();

    // 2. Configured differently: attach succeeds, each refused setting is a warning with its fix.
    TapPortConfig other = config_for("tspersist0", "10.77.1.9/24");
    other.mtu = 1400;
    port = TapPort::open(other, &error);
    if (!port) return "attach with a different MTU/address failed instead of warning: " + error;
    const auto& w = port->warnings();
    if (w.size() != 2) return "expected 2 warnings, got " + std::to_string(w.size());
    if (w[0] != "tspersist0: MTU is 1500, not the configured 1400, and changing it needs CAP_NET_ADMIN; run: "
                "ip link set tspersist0 mtu 1400") {
        return "MTU warning: " + w[0];
    }
    if (w[1] != "tspersist0: host address 10.77.1.9/24 is not configured and adding it needs CAP_NET_ADMIN; run: "
                "ip addr add 10.77.1.9/24 dev tspersist0") {
        return "address warning: " + w[1];
    }
    if (port->mtu() != 1500) return "mtu() should report the device's 1500";
    port.reset();

    // 3. A persistent device that is down: a warning, not a failure.
    port = TapPort::open(config_for("tsdown0", "10.77.2.1/24"), &error);
    if (!port) return "attach to tsdown0 failed: " + error;
    bool down_warned = false;
    for (const auto& s : port->warnings()) {
        down_warned |= s == "tsdown0: link is down and bringing it up needs CAP_NET_ADMIN; run: ip link set tsdown0 up";
    }
    if (!down_warned) return "no link-down warning for tsdown0";
    port.reset();

    // 4. Creating a new device is impossible: the error says why and how to fix it.
    port = TapPort::open(config_for("tsnew0", "10.77.3.1/24"), &error);
    if (port) return "created tsnew0 without CAP_NET_ADMIN";
    const std::string expect =
        "tsnew0: cannot create the TAP device: Operation not permitted (EPERM); need CAP_NET_ADMIN to create "
        "tsnew0; or create it beforehand with: ip tuntap add tsnew0 mode tap user root vnet_hdr";
    if (error != expect) return "create error was: " + error;
    return {};
}

}  // namespace

TEST_CASE("TapPort without CAP_NET_ADMIN: attaches to a suitable persistent TAP, warns on what it cannot set, "
          "and explains how to create one") {
    REQUIRE_TEST_NETNS();
    int fds[2];
    REQUIRE(::pipe(fds) == 0);
    const pid_t pid = ::fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {
        ::close(fds[0]);
        const std::string result = attach_without_cap_net_admin();
        const ssize_t ignored = ::write(fds[1], result.data(), result.size());
        (void)ignored;
        ::_exit(result.empty() ? 0 : 1);
    }
    ::close(fds[1]);
    std::string result;
    char buf[512];
    for (ssize_t n; (n = ::read(fds[0], buf, sizeof buf)) > 0;) result.append(buf, static_cast<std::size_t>(n));
    ::close(fds[0]);
    int status = 0;
    REQUIRE(::waitpid(pid, &status, 0) == pid);
    CHECK_MESSAGE(result.empty(), result);
    CHECK(WIFEXITED(status));
    CHECK(WEXITSTATUS(status) == 0);
}

TEST_CASE("TapPort: a TAP deleted under the port is reported by failure() and stops all I/O (no busy loop)") {
    REQUIRE_TEST_NETNS();
    std::string error;
    auto port = TapPort::open(config_for("tsgone0", "10.77.5.1/24"), &error);
    REQUIRE_MESSAGE(port, error);
    REQUIRE(std::system("ip link del tsgone0") == 0);
    CHECK(port->poll_rx([](std::span<const std::uint8_t>) {}) == 0);
    CHECK(port->failure() == "tsgone0: read: File descriptor in bad state (EBADFD)");
    CHECK(port->transmit(Frame(60, 0)));
    CHECK(port->flush_tx() == 0);
    CHECK(port->tx_pending());
}

TEST_CASE("TapPort::open reports a bad name and an existing non-TAP interface in one line naming the device") {
    REQUIRE_TEST_NETNS();
    std::string error;
    CHECK_FALSE(TapPort::open(config_for("this-name-is-too-long", "10.77.4.1/24"), &error));
    CHECK(error == "interface name \"this-name-is-too-long\" must be 1 to 15 characters");
    CHECK_FALSE(TapPort::open(config_for("lo", "10.77.4.1/24"), &error));
    CHECK(error.rfind("lo: cannot attach to the existing device: Invalid argument (EINVAL); lo is not a single-queue TAP", 0) == 0);
}
