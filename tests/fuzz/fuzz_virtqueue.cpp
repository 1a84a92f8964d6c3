// Fuzz target: the device side of a split virtqueue facing a hostile driver.
//
// The input is written verbatim over the descriptor table and avail ring of
// a 16-entry queue in guest memory (as a malicious guest or a buggy driver
// could), then the device pops until the ring is empty or broken. Every
// chain must be either accepted with all its buffers inside guest memory or
// rejected; nothing may read or write outside the region. The rest of the
// input is parsed as a virtio_net_hdr and validated against a frame length.
#include <cstdint>
#include <cstring>
#include <optional>
#include <vector>

#include "drivers/guest_memory.hpp"
#include "drivers/virtio_net_hdr.hpp"
#include "drivers/virtqueue.hpp"

using namespace tapstack::drivers;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    constexpr std::uint16_t kQueue = 16;
    constexpr GuestAddr kBase = 0x10000;
    constexpr std::size_t kRegion = 0x4000;
    std::vector<std::uint8_t> backing(kRegion);
    GuestMemory memory;
    if (!memory.add_region(kBase, backing)) __builtin_trap();
    const VringLayout layout = VringLayout::contiguous(kBase, kQueue);
    auto q = Virtqueue::create(memory, layout);
    if (!q) __builtin_trap();

    // Descriptor table and avail ring come from the fuzzer.
    const std::size_t ring_bytes = static_cast<std::size_t>(layout.used - kBase);
    const std::size_t n = std::min(size, ring_bytes);
    std::memcpy(backing.data(), data, n);

    DescChain chain(kQueue);
    for (int i = 0; i < 4 * kQueue; ++i) {
        const PopResult r = q->device().pop(chain);
        if (r == PopResult::kEmpty || r == PopResult::kBroken) break;
        if (r == PopResult::kChain) {
            std::uint64_t total = 0;
            for (auto b : chain.readable) {
                if (b.data() < backing.data() || b.data() + b.size() > backing.data() + backing.size())
                    __builtin_trap();
                total += b.size();
            }
            for (auto b : chain.writable) {
                if (b.data() < backing.data() || b.data() + b.size() > backing.data() + backing.size())
                    __builtin_trap();
                total += b.size();
            }
            (void)total;
            q->device().push(chain.head, 0);
        }
    }

    if (size > n) {
        const std::span<const std::uint8_t> rest(data + n, size - n);
        if (auto hdr = VirtioNetHdr::parse(rest)) {
            (void)hdr->validate_for_frame(rest.size());
            std::uint8_t out[VirtioNetHdr::kSize];
            hdr->emit(out);
            auto again = VirtioNetHdr::parse(out);
            if (!again || std::memcmp(out, rest.data(), VirtioNetHdr::kSize - 2) != 0) {
                // emit(parse(x)) must reproduce every field it parsed
                if (!again || again->flags != hdr->flags || again->gso_type != hdr->gso_type ||
                    again->hdr_len != hdr->hdr_len || again->gso_size != hdr->gso_size ||
                    again->csum_start != hdr->csum_start || again->csum_offset != hdr->csum_offset)
                    __builtin_trap();
            }
        }
    }
    return 0;
}
