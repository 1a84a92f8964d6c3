// libFuzzer target: arbitrary bytes into Interface::receive_frame().
//
// Input format (so one input can carry a conversation, e.g. all fragments
// of a datagram): a sequence of records [u16 big-endian length][frame].
// When the next length prefix overruns the input, the rest is one last
// frame, so any raw frame is also a valid input. Between frames virtual
// time advances by 10 ms and poll() runs; at the end time jumps past the
// ARP and ND give-ups and both reassembly timeouts so every timer path
// runs. IPv6 is on (fd00::2/64, link-local fe80::ff:fe00:2).
// The property checked is the sanitizers' and the stack's own: no crash,
// no leak, no undefined behaviour, and poll_at() never in the past after
// poll().
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <span>

#include "stack/iface/interface.hpp"
#include "stack/wire/byte_order.hpp"

namespace {

using namespace tapstack;

class NullSink final : public iface::FrameSink {
public:
    bool transmit(std::span<const std::uint8_t> frame) override {
        // Every frame we emit must at least hold an Ethernet header.
        if (frame.size() < 14) std::abort();
        ++frames;
        return (frames % 7) != 0;  // also exercise the "sink refused" path
    }
    std::uint64_t frames = 0;
};

iface::InterfaceConfig config() {
    iface::InterfaceConfig c;
    c.mac = wire::MacAddress{{0x02, 0x00, 0x00, 0x00, 0x00, 0x02}};
    c.address = wire::Ipv4Cidr{wire::Ipv4Address::from_octets(10, 0, 0, 2), 24};
    c.gateway = wire::Ipv4Address::from_octets(10, 0, 0, 1);
    c.reassembly_max_bytes = 256 * 1024;
    c.tcp.max_connections = 64;
    // IPv6 as the daemon runs it, with DAD off so the addresses answer from
    // the first frame, and router advertisements taken.
    c.ipv6.enabled = true;
    c.ipv6.addresses = {*wire::Ipv6Cidr::parse("fd00::2/64")};
    c.ipv6.accept_ra = true;
    c.ipv6.dad_transmits = 0;
    c.ipv6.reassembly_max_bytes = 256 * 1024;
    c.ipv6.nd_cache_size = 64;
    return c;
}

void poll_once(iface::Interface& iface, Instant now) {
    iface.poll(now);
    const Instant next = iface.poll_at();
    // After poll(now), nothing may be due strictly before now again.
    if (next < now && next != Instant{}) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    NullSink sink;
    iface::Interface iface(config(), sink, 42);
    Instant now = instant_from_ns(1'000'000'000);
    iface.announce(now);
    std::span<const std::uint8_t> rest(data, size);
    while (!rest.empty()) {
        std::span<const std::uint8_t> frame = rest;
        if (rest.size() >= 2) {
            const std::size_t len = wire::load_be16(rest.data());
            if (len <= rest.size() - 2) {
                frame = rest.subspan(2, len);
                rest = rest.subspan(2 + len);
            } else {
                rest = {};
            }
        } else {
            rest = {};
        }
        iface.receive_frame(now, frame);
        now += milliseconds(10);
        poll_once(iface, now);
    }
    for (int i = 0; i < 12; ++i) {
        now += seconds(10);
        poll_once(iface, now);
    }
    return 0;
}
