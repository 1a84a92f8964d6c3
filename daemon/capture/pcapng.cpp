// pcapng blocks; see pcapng.hpp for the layout.
#include "daemon/capture/pcapng.hpp"

#include <algorithm>
#include <cstring>

namespace tapstack::capture::pcapng {
namespace {

constexpr std::uint16_t kOptEnd = 0;
constexpr std::uint16_t kShbUserAppl = 4;
constexpr std::uint16_t kIfName = 2;
constexpr std::uint16_t kIfTsresol = 9;
constexpr std::uint16_t kEpbFlags = 2;
constexpr std::uint16_t kIsbStartTime = 2;
constexpr std::uint16_t kIsbEndTime = 3;
constexpr std::uint16_t kIsbIfRecv = 4;
constexpr std::uint16_t kIsbOsDrop = 7;
constexpr std::uint16_t kIsbUsrDeliv = 8;
constexpr std::size_t kEpbFixed = 28;              // type, length, interface, time x2, captured, original
constexpr std::size_t kEpbOptions = 8 + 4;         // epb_flags, end of options
constexpr std::size_t kMaxBlock = 16 * 1024 * 1024;  // far above any frame; a bound for the reader

constexpr std::size_t pad4(std::size_t n) { return (n + 3) & ~std::size_t{3}; }

void put16(Bytes& out, std::uint16_t v) {
    out.push_back(static_cast<std::uint8_t>(v));
    out.push_back(static_cast<std::uint8_t>(v >> 8));
}
void put32(Bytes& out, std::uint32_t v) {
    put16(out, static_cast<std::uint16_t>(v));
    put16(out, static_cast<std::uint16_t>(v >> 16));
}
void put64(Bytes& out, std::uint64_t v) {
    put32(out, static_cast<std::uint32_t>(v));
    put32(out, static_cast<std::uint32_t>(v >> 32));
}
// Timestamps: the upper 32 bits first, then the lower (pcapng 4.3).
void put_time(Bytes& out, std::uint64_t t) {
    put32(out, static_cast<std::uint32_t>(t >> 32));
    put32(out, static_cast<std::uint32_t>(t));
}
void pad(Bytes& out) {
    while (out.size() % 4 != 0) out.push_back(0);
}
void option(Bytes& out, std::uint16_t code, std::span<const std::uint8_t> value) {
    put16(out, code);
    put16(out, static_cast<std::uint16_t>(value.size()));
    out.insert(out.end(), value.begin(), value.end());
    pad(out);
}
void option_text(Bytes& out, std::uint16_t code, std::string_view text) {
    text = text.substr(0, 0xffff);
    option(out, code, std::span<const std::uint8_t>(reinterpret_cast<const std::uint8_t*>(text.data()), text.size()));
}
void option_u64(Bytes& out, std::uint16_t code, std::uint64_t v) {
    put16(out, code);
    put16(out, 8);
    put64(out, v);
}
void option_time(Bytes& out, std::uint16_t code, std::uint64_t t) {
    put16(out, code);
    put16(out, 8);
    put_time(out, t);
}

// Opens a block at the end of `out`; close_block() fills in both lengths.
std::size_t open_block(Bytes& out, std::uint32_t type) {
    const std::size_t start = out.size();
    put32(out, type);
    put32(out, 0);
    return start;
}
void close_block(Bytes& out, std::size_t start) {
    put16(out, kOptEnd);
    put16(out, 0);
    const auto len = static_cast<std::uint32_t>(out.size() + 4 - start);
    put32(out, len);
    for (int i = 0; i < 4; ++i) out[start + 4 + static_cast<std::size_t>(i)] = static_cast<std::uint8_t>(len >> (8 * i));
}

std::uint16_t get16(std::span<const std::uint8_t> b, std::size_t at) {
    return static_cast<std::uint16_t>(b[at] | (b[at + 1] << 8));
}
std::uint32_t get32(std::span<const std::uint8_t> b, std::size_t at) {
    return static_cast<std::uint32_t>(get16(b, at)) | (static_cast<std::uint32_t>(get16(b, at + 2)) << 16);
}
std::uint64_t get64(std::span<const std::uint8_t> b, std::size_t at) {
    return static_cast<std::uint64_t>(get32(b, at)) | (static_cast<std::uint64_t>(get32(b, at + 4)) << 32);
}
std::uint64_t get_time(std::span<const std::uint8_t> b, std::size_t at) {
    return (static_cast<std::uint64_t>(get32(b, at)) << 32) | get32(b, at + 4);
}

// Calls each(code, value) for the options in `opts`; false if malformed.
template <class Each>
bool for_each_option(std::span<const std::uint8_t> opts, Each each) {
    std::size_t at = 0;
    while (at + 4 <= opts.size()) {
        const std::uint16_t code = get16(opts, at);
        const std::uint16_t len = get16(opts, at + 2);
        if (code == kOptEnd) return true;
        if (at + 4 + len > opts.size()) return false;
        each(code, opts.subspan(at + 4, len));
        at += 4 + pad4(len);
    }
    return at == opts.size();
}

}  // namespace

void append_header(Bytes& out, std::string_view application, std::string_view interface_name,
                   std::uint32_t snaplen) {
    std::size_t shb = open_block(out, kSectionHeader);
    put32(out, kByteOrderMagic);
    put16(out, 1);  // major version
    put16(out, 0);  // minor version
    put64(out, ~std::uint64_t{0});  // section length: not given (a stream)
    option_text(out, kShbUserAppl, application);
    close_block(out, shb);

    std::size_t idb = open_block(out, kInterfaceDescription);
    put16(out, kLinktypeEthernet);
    put16(out, 0);
    put32(out, snaplen);
    option_text(out, kIfName, interface_name);
    const std::uint8_t nanoseconds = 9;
    option(out, kIfTsresol, std::span<const std::uint8_t>(&nanoseconds, 1));
    close_block(out, idb);
}

std::size_t packet_block_size(std::size_t frame_len, std::uint32_t snaplen) {
    return kEpbFixed + pad4(std::min<std::size_t>(frame_len, snaplen)) + kEpbOptions + 4;
}

void append_packet(Bytes& out, std::uint64_t time_ns, Direction direction,
                   std::span<const std::span<const std::uint8_t>> parts, std::uint32_t snaplen) {
    std::size_t frame_len = 0;
    for (const auto& p : parts) frame_len += p.size();
    const std::size_t caplen = std::min<std::size_t>(frame_len, snaplen);
    const std::size_t start = open_block(out, kEnhancedPacket);
    put32(out, 0);  // interface 0, the IDB above
    put_time(out, time_ns);
    put32(out, static_cast<std::uint32_t>(caplen));
    put32(out, static_cast<std::uint32_t>(frame_len));
    std::size_t left = caplen;
    for (const auto& p : parts) {
        const std::size_t n = std::min(left, p.size());
        out.insert(out.end(), p.begin(), p.begin() + static_cast<std::ptrdiff_t>(n));
        left -= n;
        if (left == 0) break;
    }
    pad(out);
    put16(out, kEpbFlags);
    put16(out, 4);
    put32(out, direction == Direction::kInbound ? kFlagInbound : kFlagOutbound);
    close_block(out, start);
}

void append_statistics(Bytes& out, const Statistics& stats) {
    const std::size_t start = open_block(out, kInterfaceStatistics);
    put32(out, 0);
    put_time(out, stats.end_ns);
    option_time(out, kIsbStartTime, stats.start_ns);
    option_time(out, kIsbEndTime, stats.end_ns);
    option_u64(out, kIsbIfRecv, stats.received);
    option_u64(out, kIsbOsDrop, stats.dropped);
    option_u64(out, kIsbUsrDeliv, stats.delivered);
    close_block(out, start);
}

bool Reader::feed(std::span<const std::uint8_t> bytes) {
    if (!error_.empty()) return false;
    pending_.insert(pending_.end(), bytes.begin(), bytes.end());
    std::size_t at = 0;
    while (pending_.size() - at >= 12) {
        const std::span<const std::uint8_t> rest(pending_.data() + at, pending_.size() - at);
        const std::uint32_t len = get32(rest, 4);
        if (len < 12 || len % 4 != 0 || len > kMaxBlock) {
            error_ = "bad block length";
            return false;
        }
        if (rest.size() < len) break;
        if (!block(rest.first(len))) return false;
        at += len;
    }
    pending_.erase(pending_.begin(), pending_.begin() + static_cast<std::ptrdiff_t>(at));
    return true;
}

bool Reader::block(std::span<const std::uint8_t> b) {
    const std::uint32_t type = get32(b, 0);
    if (get32(b, b.size() - 4) != b.size()) {
        error_ = "block lengths differ";
        return false;
    }
    if (!started_) {
        if (type != kSectionHeader || b.size() < 28 || get32(b, 8) != kByteOrderMagic) {
            error_ = "not a little-endian pcapng section";
            return false;
        }
        started_ = true;
        return true;
    }
    const std::span<const std::uint8_t> body = b.subspan(8, b.size() - 12);
    if (type == kEnhancedPacket) {
        if (body.size() < kEpbFixed - 8) {
            error_ = "short enhanced packet block";
            return false;
        }
        const std::size_t caplen = get32(body, 12);
        if (20 + pad4(caplen) > body.size()) {
            error_ = "packet longer than its block";
            return false;
        }
        std::uint32_t flags = 0;
        if (!for_each_option(body.subspan(20 + pad4(caplen)), [&](std::uint16_t code, auto v) {
                if (code == kEpbFlags && v.size() == 4) flags = get32(v, 0);
            })) {
            error_ = "bad packet options";
            return false;
        }
        if ((flags & 3) == kFlagInbound) {
            ++inbound_;
        } else if ((flags & 3) == kFlagOutbound) {
            ++outbound_;
        } else {
            ++undirected_;
        }
    } else if (type == kInterfaceStatistics) {
        if (body.size() < 12) {
            error_ = "short statistics block";
            return false;
        }
        Statistics s;
        if (!for_each_option(body.subspan(12), [&](std::uint16_t code, auto v) {
                if (v.size() != 8) return;
                if (code == kIsbStartTime) s.start_ns = get_time(v, 0);
                if (code == kIsbEndTime) s.end_ns = get_time(v, 0);
                if (code == kIsbIfRecv) s.received = get64(v, 0);
                if (code == kIsbOsDrop) s.dropped = get64(v, 0);
                if (code == kIsbUsrDeliv) s.delivered = get64(v, 0);
            })) {
            error_ = "bad statistics options";
            return false;
        }
        statistics_ = s;
    }
    return true;  // other blocks (IDB, a new SHB) are fine as they are
}

}  // namespace tapstack::capture::pcapng
