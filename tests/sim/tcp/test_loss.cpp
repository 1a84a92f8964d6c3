// One lost segment of each kind, in each direction, between two TcpStacks on
// the simulated link: the exchange still completes exactly and orderly.
#include <doctest/doctest.h>

#include <string>

#include "stack/wire/tcp_header.hpp"
#include "tests/sim/tcp/sim_net.hpp"

using namespace tapstack;
using namespace tapstack::sim;
namespace flag = wire::tcp_flag;

namespace {

// What to drop: the first segment from `from_client` that matches.
struct DropRule {
    std::string name;
    bool from_client;
    std::function<bool(const wire::TcpRepr&)> match;
};

// Client and server each send their data, shut down writing and read to EOF.
void exchange(const DropRule& rule, std::uint64_t seed) {
    INFO("drop " << rule.name << " seed=" << seed);
    SimNet net(seed, SimNet::default_config(SimNet::kAddrA), SimNet::default_config(SimNet::kAddrB));
    bool dropped = false;
    net.filter = [&](const SimNet::Packet& p) {
        if (dropped) return true;
        const bool from_client = p.src == SimNet::kAddrB;
        if (from_client != rule.from_client) return true;
        wire::TcpRepr r;
        if (wire::TcpRepr::parse(p.bytes, p.src, p.dst, r)) return true;
        if (!rule.match(r)) return true;
        dropped = true;
        return false;
    };
    tcp::ListenerId l;
    REQUIRE(net.a().listen(80, 0, &l) == tcp::Error::kNone);
    tcp::ConnId client;
    REQUIRE(net.b().connect(net.now(), {SimNet::kAddrA, 80}, 0, &client) == tcp::Error::kNone);
    tcp::ConnId server;
    REQUIRE(net.run_until(
        [&] {
            if (!server.valid()) server = net.a().accept(l);
            return server.valid();
        },
        seconds(60)));
    const auto up = pattern(30000, seed);
    const auto down = pattern(40000, seed + 1);
    StreamSender client_tx(net.b(), up, false);
    StreamSender server_tx(net.a(), down, false);
    StreamReceiver client_rx(net.b(), 4096, Duration::zero());
    StreamReceiver server_rx(net.a(), 4096, Duration::zero());
    client_rx.close_on_eof = false;
    server_rx.close_on_eof = false;
    client_tx.attach(client);
    server_tx.attach(server);
    client_rx.attach(client);
    server_rx.attach(server);
    net.add_app(&client_tx);
    net.add_app(&server_tx);
    net.add_app(&client_rx);
    net.add_app(&server_rx);
    CHECK(net.run_until([&] { return client_rx.eof() && server_rx.eof(); }, seconds(120)));
    CHECK(dropped);
    CHECK(server_rx.received() == up);
    CHECK(client_rx.received() == down);
    // Both sides finish their closing handshake without error.
    CHECK(net.run_until(
        [&] {
            const auto a = net.a().info(server);
            const auto b = net.b().info(client);
            return (a.state == tcp::State::kClosed || a.state == tcp::State::kTimeWait) &&
                   (b.state == tcp::State::kClosed || b.state == tcp::State::kTimeWait);
        },
        seconds(120)));
    CHECK(net.a().info(server).error == tcp::Error::kNone);
    CHECK(net.b().info(client).error == tcp::Error::kNone);
    net.a().close(net.now(), server);
    net.b().close(net.now(), client);
    net.run_for(seconds(10));
    CHECK(net.a().connection_count() == 0);
    CHECK(net.b().connection_count() == 0);
    CHECK(net.counter(true, "tcp.resets_sent") == 0);
    CHECK(net.counter(false, "tcp.resets_sent") == 0);
}

bool is(const wire::TcpRepr& r, std::uint8_t flags) { return (r.flags & flags) == flags; }

}  // namespace

TEST_CASE("a lost segment in each direction (SYN, SYN-ACK, data, ACK, FIN, last ACK) is recovered") {
    const std::vector<DropRule> rules = {
        {"SYN", true, [](const wire::TcpRepr& r) { return is(r, flag::kSyn) && !is(r, flag::kAck); }},
        {"SYN-ACK", false, [](const wire::TcpRepr& r) { return is(r, flag::kSyn | flag::kAck); }},
        {"handshake ACK", true,
         [](const wire::TcpRepr& r) { return r.flags == flag::kAck && r.payload.empty(); }},
        {"first client data", true, [](const wire::TcpRepr& r) { return !r.payload.empty(); }},
        {"first server data", false, [](const wire::TcpRepr& r) { return !r.payload.empty(); }},
        {"client data segment 5", true,
         [n = 0](const wire::TcpRepr& r) mutable { return !r.payload.empty() && ++n == 5; }},
        {"server data segment 7", false,
         [n = 0](const wire::TcpRepr& r) mutable { return !r.payload.empty() && ++n == 7; }},
        {"last client data", true, [](const wire::TcpRepr& r) { return is(r, flag::kFin) && !r.payload.empty(); }},
        {"client pure ACK of data", true, [](const wire::TcpRepr& r) {
             return r.flags == flag::kAck && r.payload.empty() && r.ack > 2000;
         }},
        {"server pure ACK of data", false,
         [](const wire::TcpRepr& r) { return r.flags == flag::kAck && r.payload.empty(); }},
        {"client FIN", true, [](const wire::TcpRepr& r) { return is(r, flag::kFin); }},
        {"server FIN", false, [](const wire::TcpRepr& r) { return is(r, flag::kFin); }},
    };
    std::uint64_t seed = 77;
    for (const auto& rule : rules) exchange(rule, ++seed);
}

TEST_CASE("the last ACK (of the final FIN) lost: the FIN is repeated and answered from TIME-WAIT") {
    // Client closes first (TIME-WAIT side); its ACK of the server's FIN is lost.
    SimNet net(5, SimNet::default_config(SimNet::kAddrA), SimNet::default_config(SimNet::kAddrB));
    bool server_fin_seen = false;
    bool dropped = false;
    net.filter = [&](const SimNet::Packet& p) {
        wire::TcpRepr r;
        if (wire::TcpRepr::parse(p.bytes, p.src, p.dst, r)) return true;
        if (p.src == SimNet::kAddrA && (r.flags & flag::kFin)) server_fin_seen = true;
        if (!dropped && server_fin_seen && p.src == SimNet::kAddrB && r.flags == flag::kAck) {
            dropped = true;
            return false;
        }
        return true;
    };
    tcp::ListenerId l;
    REQUIRE(net.a().listen(80, 0, &l) == tcp::Error::kNone);
    tcp::ConnId client;
    REQUIRE(net.b().connect(net.now(), {SimNet::kAddrA, 80}, 0, &client) == tcp::Error::kNone);
    tcp::ConnId server;
    REQUIRE(net.run_until([&] { return (server = net.a().accept(l)).valid(); }, seconds(10)));
    net.b().shutdown_write(net.now(), client);
    REQUIRE(net.run_until([&] { return net.a().info(server).eof; }, seconds(10)));
    net.a().close(net.now(), server);  // LAST-ACK
    REQUIRE(net.run_until([&] { return net.b().info(client).state == tcp::State::kTimeWait; }, seconds(10)));
    CHECK(net.run_until([&] { return net.a().connection_count() == 0; }, seconds(30)));
    CHECK(dropped);
    CHECK(net.counter(true, "tcp.retransmissions") >= 1);
    CHECK(net.counter(true, "tcp.resets_received") == 0);
}
