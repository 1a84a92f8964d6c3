// recovery_diag: a diagnostic tool (not a test) that measures how a bulk
// transfer recovers from random loss on the simulated link.
//
// B sends `size` bytes to A over a link with RTT 1 ms and the given random
// loss in both directions, SACK and timestamps on; prints virtual-time
// goodput and B's recovery counters, one line per seed. Performance is
// measured here and never asserted in a test (no timing assertions).
// Usage: recovery_diag [loss=0.01] [MiB=8] [seeds=5] [cc=cubic]
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "tests/sim/tcp/sim_net.hpp"

using namespace tapstack;
using namespace tapstack::sim;

int main(int argc, char** argv) {
    const double loss = argc > 1 ? std::atof(argv[1]) : 0.01;
    const std::size_t mib = argc > 2 ? static_cast<std::size_t>(std::atoi(argv[2])) : 8;
    const int seeds = argc > 3 ? std::atoi(argv[3]) : 5;
    const std::string cc = argc > 4 ? argv[4] : "cubic";
    const std::size_t size = mib * 1024 * 1024;
    double sum = 0;
    for (int s = 1; s <= seeds; ++s) {
        const auto seed = static_cast<std::uint64_t>(s);
        auto ca = SimNet::default_config(SimNet::kAddrA);
        auto cb = SimNet::default_config(SimNet::kAddrB);
        for (auto* c : {&ca, &cb}) {
            c->sack = true;
            c->timestamps = true;
            c->congestion_control = cc;
        }
        LinkFaults f;
        f.drop = loss;
        f.delay = microseconds(500);
        SimNet net(seed, ca, cb, f, f);
        tcp::ListenerId l;
        if (net.a().listen(80, 0, &l) != tcp::Error::kNone) return 1;
        tcp::ConnId client;
        if (net.b().connect(net.now(), {SimNet::kAddrA, 80}, 0, &client) != tcp::Error::kNone) return 1;
        tcp::ConnId server;
        if (!net.run_until([&] { return (server = net.a().accept(l)).valid(); }, seconds(60))) return 1;
        const auto data = pattern(size, seed);
        StreamSender tx(net.b(), data, false);
        StreamReceiver rx(net.a(), 1 << 20, Duration::zero());
        rx.close_on_eof = false;
        tx.attach(client);
        rx.attach(server);
        net.add_app(&tx);
        net.add_app(&rx);
        const Instant start = net.now();
        const bool ok = net.run_until([&] { return rx.eof(); }, seconds(3000));
        const double secs = std::chrono::duration<double>(net.now() - start).count();
        const double mbit = static_cast<double>(size) * 8 / secs / 1e6;
        sum += mbit;
        std::printf("loss=%.3f seed=%d ok=%d exact=%d time=%.3fs goodput=%.1f Mbit/s rto=%llu fast_rtx=%llu "
                    "sack_rec=%llu rtx=%llu lost_rtx=%llu rescue=%llu tlp=%llu\n",
                    loss, s, ok, rx.received() == data, secs, mbit,
                    static_cast<unsigned long long>(net.counter(false, "tcp.rto_expiries")),
                    static_cast<unsigned long long>(net.counter(false, "tcp.fast_retransmits")),
                    static_cast<unsigned long long>(net.counter(false, "tcp.sack_recoveries")),
                    static_cast<unsigned long long>(net.counter(false, "tcp.retransmissions")),
                    static_cast<unsigned long long>(net.counter(false, "tcp.lost_retransmits")),
                    static_cast<unsigned long long>(net.counter(false, "tcp.sack_rescue_retransmits")),
                    static_cast<unsigned long long>(net.counter(false, "tcp.tlp_probes")));
    }
    std::printf("loss=%.3f mean goodput %.1f Mbit/s over %d seeds\n", loss, sum / seeds, seeds);
    return 0;
}
