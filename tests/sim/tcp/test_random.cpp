// Seeded random configurations: buffer sizes, MTUs (hence MSS), window
// scaling on/off, loss/reorder/duplication/corruption rates, link delay and
// application read pattern, with data flowing both ways at once. Each seed
// must move every byte exactly, end orderly, and leave no TCB behind.
#include <doctest/doctest.h>

#include "tests/sim/tcp/sim_net.hpp"

using namespace tapstack;
using namespace tapstack::sim;

namespace {

void random_exchange(std::uint64_t seed) {
    INFO("seed=" << seed);
    std::mt19937_64 r(seed);
    LinkFaults f;
    f.drop = static_cast<double>(r() % 80) / 1000.0;
    f.reorder = static_cast<double>(r() % 100) / 1000.0;
    f.duplicate = static_cast<double>(r() % 50) / 1000.0;
    f.corrupt = static_cast<double>(r() % 30) / 1000.0;
    f.delay = milliseconds(1 + static_cast<std::int64_t>(r() % 50));
    f.reorder_delay = milliseconds(1 + static_cast<std::int64_t>(r() % 100));
    auto ca = SimNet::default_config(SimNet::kAddrA);
    auto cb = SimNet::default_config(SimNet::kAddrB);
    const std::uint32_t bufs[] = {1000, 3000, 8192, 65535, 100000, 262144, 1 << 20};
    ca.receive_buffer = bufs[r() % 7];
    cb.receive_buffer = bufs[r() % 7];
    ca.send_buffer = bufs[r() % 7];
    cb.send_buffer = bufs[r() % 7];
    const std::uint16_t mtus[] = {576, 1500, 9000, 200};
    ca.mtu = mtus[r() % 4];
    cb.mtu = mtus[r() % 4];
    ca.window_scaling = r() % 2 == 0;
    cb.window_scaling = r() % 2 == 0;
    INFO("loss=" << f.drop << " bufs=" << ca.receive_buffer << "/" << cb.receive_buffer << " mtu=" << ca.mtu << "/"
                 << cb.mtu);
    SimNet net(seed, ca, cb, f, f);
    tcp::ListenerId l;
    REQUIRE(net.a().listen(80, 0, &l) == tcp::Error::kNone);
    tcp::ConnId c;
    REQUIRE(net.b().connect(net.now(), {SimNet::kAddrA, 80}, 0, &c) == tcp::Error::kNone);
    tcp::ConnId s;
    REQUIRE(net.run_until(
        [&] {
            if (!s.valid()) s = net.a().accept(l);
            return s.valid();
        },
        seconds(300)));
    const auto up = pattern(r() % 200000, seed);
    const auto down = pattern(r() % 200000, seed + 1);
    StreamSender txb(net.b(), up, false);
    StreamSender txa(net.a(), down, false);
    const std::size_t chunk = 1 + r() % 20000;
    const Duration iv = milliseconds(static_cast<std::int64_t>(r() % 5));
    StreamReceiver rxa(net.a(), chunk, iv);
    StreamReceiver rxb(net.b(), chunk, iv);
    rxa.close_on_eof = false;
    rxb.close_on_eof = false;
    txb.attach(c);
    txa.attach(s);
    rxa.attach(s);
    rxb.attach(c);
    net.add_app(&txb);
    net.add_app(&txa);
    net.add_app(&rxa);
    net.add_app(&rxb);
    CHECK(net.run_until([&] { return rxa.eof() && rxb.eof(); }, seconds(3000)));
    CHECK(rxa.received() == up);
    CHECK(rxb.received() == down);
    CHECK(net.a().info(s).error == tcp::Error::kNone);
    CHECK(net.b().info(c).error == tcp::Error::kNone);
    net.a().close(net.now(), s);
    net.b().close(net.now(), c);
    net.run_for(seconds(200));
    CHECK(net.a().connection_count() == 0);
    CHECK(net.b().connection_count() == 0);
}

}  // namespace

TEST_CASE("seeded random configurations and faults: both directions at once, exact and orderly") {
    for (std::uint64_t seed = 1; seed <= 60; ++seed) random_exchange(seed);
}
