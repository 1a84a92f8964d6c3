// Diagnostic (not a test): heap bytes per idle ESTABLISHED connection in the
// TCP stack. Opens N passive connections (default 10,000; timestamps, SACK
// and window scaling negotiated, as with Linux peers) through a TcpStack with
// default TcpConfig, then prints the glibc heap growth (mallinfo2) per
// connection: TCB, 4-tuple map node, timer wheel entry, congestion state,
// out-of-order range table. Buffers are allocated on first use, so they are
// not part of an idle connection that never carried data.
//   ninja tests/sim/tcp/idle_memory_diag && tests/sim/tcp/idle_memory_diag [N]
// Numbers only mean something without sanitizers (ASan replaces malloc).
#include <malloc.h>

#include <cstdio>
#include <cstdlib>
#include <vector>

#include "stack/tcp/tcb.hpp"
#include "stack/tcp/tcp_stack.hpp"
#include "stack/wire/tcp_header.hpp"

using namespace tapstack;

namespace {

constexpr auto kUs = wire::Ipv4Address::from_octets(10, 0, 0, 1);
constexpr auto kPeer = wire::Ipv4Address::from_octets(10, 0, 0, 2);

struct LastSegment : tcp::SegmentSink {
    wire::TcpRepr last;
    void send_segment(const wire::IpAddress& src, const wire::IpAddress& dst, std::span<const std::uint8_t> seg) override {
        if (!wire::TcpRepr::parse(seg, src, dst, last)) last.payload = {};
    }
};

std::vector<std::uint8_t> bytes_of(const wire::TcpRepr& r) {
    std::vector<std::uint8_t> b(r.buffer_len());
    r.emit(b, kPeer, kUs);
    return b;
}

}  // namespace

int main(int argc, char** argv) {
    const int n = argc > 1 ? std::atoi(argv[1]) : 10000;
    if (n <= 0 || n > 60000) {
        std::fprintf(stderr, "usage: idle_memory_diag [N, 1..60000]\n");
        return 2;
    }
    tcp::TcpConfig cfg;
    cfg.local_address = kUs;
    LastSegment sink;
    tcp::TcpStack stack(cfg, sink, 1);
    tcp::ListenerId listener;
    if (stack.listen(80, 0, &listener) != tcp::Error::kNone) return 1;
    std::vector<tcp::ConnId> conns;
    conns.reserve(static_cast<std::size_t>(n));
    std::vector<tcp::Event> events;
    events.reserve(16);
    const Instant now = instant_from_ns(1'000'000'000);
    const struct mallinfo2 before = mallinfo2();
    for (int i = 0; i < n; ++i) {
        wire::TcpRepr syn;
        syn.src_port = static_cast<std::uint16_t>(1024 + i);
        syn.dst_port = 80;
        syn.seq = 1000;
        syn.flags = wire::tcp_flag::kSyn;
        syn.window = 65535;
        syn.options.mss = 1460;
        syn.options.sack_permitted = true;
        syn.options.window_scale = 7;
        syn.options.timestamps = wire::TcpTimestamps{1, 0};
        stack.receive(now, kPeer, kUs, bytes_of(syn));
        stack.poll(now);
        const wire::TcpRepr synack = sink.last;
        if (!synack.options.timestamps) return 1;
        wire::TcpRepr ack;
        ack.src_port = syn.src_port;
        ack.dst_port = 80;
        ack.seq = 1001;
        ack.ack = synack.seq + 1;
        ack.flags = wire::tcp_flag::kAck;
        ack.window = 1024;
        ack.options.timestamps = wire::TcpTimestamps{2, synack.options.timestamps->tsval};
        stack.receive(now, kPeer, kUs, bytes_of(ack));
        stack.poll(now);
        conns.push_back(stack.accept(listener));
        stack.drain_events(events);
        events.clear();
    }
    const struct mallinfo2 after = mallinfo2();
    const double per = double(after.uordblks - before.uordblks) / n;
    std::printf("%zu idle ESTABLISHED connections: %zu heap bytes, %.0f bytes per connection (sizeof(Tcb) = %zu)\n",
                stack.connection_count(), after.uordblks - before.uordblks, per, sizeof(tcp::Tcb));
    return 0;
}
