#include "stack/wire/tcp_options.hpp"

#include <algorithm>

#include "stack/wire/byte_order.hpp"

namespace tapstack::wire {

namespace k = tcp_option_kind;

TcpOptions TcpOptions::parse(std::span<const std::uint8_t> area) {
    TcpOptions o;
    std::size_t i = 0;
    while (i < area.size()) {
        const std::uint8_t kind = area[i];
        if (kind == k::kEnd) break;
        if (kind == k::kNop) {
            ++i;
            continue;
        }
        // Every other kind has a length byte covering kind and length. A
        // length that cannot be walked ends the list (as Linux: what was
        // parsed so far stands, nothing after it is trusted).
        if (i + 1 >= area.size()) {
            o.malformed = true;
            break;
        }
        const std::size_t len = area[i + 1];
        if (len < 2 || i + len > area.size()) {
            o.malformed = true;
            break;
        }
        const std::uint8_t* v = area.data() + i + 2;
        // A known kind with the wrong length is skipped by its length.
        switch (kind) {
            case k::kMss:
                if (len != 4) {
                    o.malformed = true;
                    break;
                }
                o.mss = load_be16(v);
                break;
            case k::kWindowScale:
                if (len != 3) {
                    o.malformed = true;
                    break;
                }
                o.window_scale = v[0];
                break;
            case k::kSackPermitted:
                if (len != 2) {
                    o.malformed = true;
                    break;
                }
                o.sack_permitted = true;
                break;
            case k::kSack: {
                if (len < 10 || (len - 2) % 8 != 0) {
                    o.malformed = true;
                    break;
                }
                const std::size_t n = (len - 2) / 8;
                o.sack_count = 0;
                for (std::size_t b = 0; b < n && b < kMaxSackBlocks; ++b) {
                    o.sack_blocks[b] = {load_be32(v + 8 * b), load_be32(v + 8 * b + 4)};
                    ++o.sack_count;
                }
                break;
            }
            case k::kTimestamp:
                if (len != 10) {
                    o.malformed = true;
                    break;
                }
                o.timestamps = TcpTimestamps{load_be32(v), load_be32(v + 4)};
                break;
            default:
                break;  // unknown kind: skipped by its length (RFC 9293 MUST-6)
        }
        i += len;
    }
    return o;
}

std::size_t TcpOptions::sack_blocks_that_fit() const {
    std::size_t fixed = 0;
    if (mss) fixed += 4;
    if (window_scale) fixed += 4;
    if (sack_permitted) fixed += 4;
    if (timestamps) fixed += 12;
    const std::size_t room = fixed + 4 <= 40 ? 40 - fixed - 4 : 0;  // NOP NOP kind len
    return std::min<std::size_t>(sack_count, room / 8);
}

std::size_t TcpOptions::buffer_len() const {
    std::size_t n = 0;
    if (mss) n += 4;
    if (window_scale) n += 4;     // NOP + 3
    if (sack_permitted) n += 4;   // NOP NOP + 2
    if (timestamps) n += 12;      // NOP NOP + 10
    const std::size_t blocks = sack_blocks_that_fit();
    if (blocks > 0) n += 4 + 8 * blocks;  // NOP NOP + 2 + 8n
    return n;
}

void TcpOptions::emit(std::span<std::uint8_t> out) const {
    std::uint8_t* p = out.data();
    if (mss) {
        p[0] = k::kMss;
        p[1] = 4;
        store_be16(p + 2, *mss);
        p += 4;
    }
    if (window_scale) {
        p[0] = k::kNop;
        p[1] = k::kWindowScale;
        p[2] = 3;
        p[3] = *window_scale;
        p += 4;
    }
    if (sack_permitted) {
        p[0] = k::kNop;
        p[1] = k::kNop;
        p[2] = k::kSackPermitted;
        p[3] = 2;
        p += 4;
    }
    if (timestamps) {
        p[0] = k::kNop;
        p[1] = k::kNop;
        p[2] = k::kTimestamp;
        p[3] = 10;
        store_be32(p + 4, timestamps->tsval);
        store_be32(p + 8, timestamps->tsecr);
        p += 12;
    }
    const std::size_t blocks = sack_blocks_that_fit();
    if (blocks > 0) {
        p[0] = k::kNop;
        p[1] = k::kNop;
        p[2] = k::kSack;
        p[3] = static_cast<std::uint8_t>(2 + 8 * blocks);
        p += 4;
        for (std::size_t b = 0; b < blocks; ++b) {
            store_be32(p, sack_blocks[b].left);
            store_be32(p + 4, sack_blocks[b].right);
            p += 8;
        }
    }
}

}  // namespace tapstack::wire
