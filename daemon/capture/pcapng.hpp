// pcapng (draft-ietf-opsawg-pcapng): the blocks tapstack's packet capture
// writes, and a reader that walks them as they stream in.
//
// Why pcapng rather than classic pcap or LINKTYPE_LINUX_SLL2: the capture
// carries each frame exactly as the stack sees it, Ethernet header
// included, plus its direction. Classic pcap has no direction field; SLL2
// has one but replaces the Ethernet header (the destination MAC is lost,
// and a corrupted header could not be shown as it was). pcapng keeps the
// whole frame under LINKTYPE_ETHERNET and puts the direction in each
// Enhanced Packet Block's epb_flags option (inbound/outbound), which
// Wireshark and tshark show; libpcap (so tcpdump) reads pcapng from a
// pipe as it arrives, so `tapstack capture | tcpdump -r -` works live. It
// also carries nanosecond timestamps (if_tsresol) and, at the end, an
// Interface Statistics Block with the frames the capture had to drop.
//
// Layout written (all little-endian, every block 32-bit aligned):
//   SHB (shb_userappl) | IDB (linktype 1, snaplen, if_name, if_tsresol=9)
//   | EPB* (epb_flags) | ISB (isb_starttime, isb_endtime, isb_ifrecv,
//   isb_osdrop, isb_usrdeliv) when the capture ends in order.
//
// Pure functions on byte vectors, no I/O: unit-tested against the format's
// field layout and read back by tcpdump in the netns test.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string_view>
#include <vector>

namespace tapstack::capture::pcapng {

using Bytes = std::vector<std::uint8_t>;

inline constexpr std::uint32_t kSectionHeader = 0x0A0D0D0A;
inline constexpr std::uint32_t kInterfaceDescription = 0x00000001;
inline constexpr std::uint32_t kEnhancedPacket = 0x00000006;
inline constexpr std::uint32_t kInterfaceStatistics = 0x00000005;
inline constexpr std::uint32_t kByteOrderMagic = 0x1A2B3C4D;
inline constexpr std::uint16_t kLinktypeEthernet = 1;
// epb_flags bits 0-1: the direction.
inline constexpr std::uint32_t kFlagInbound = 1;
inline constexpr std::uint32_t kFlagOutbound = 2;

enum class Direction : std::uint8_t { kInbound, kOutbound };

// Appends an SHB naming the writing application, then an IDB for one
// Ethernet interface.
void append_header(Bytes& out, std::string_view application, std::string_view interface_name,
                   std::uint32_t snaplen);
// Bytes append_packet() adds for a frame of `frame_len` bytes.
std::size_t packet_block_size(std::size_t frame_len, std::uint32_t snaplen);
// Appends one EPB: the first min(frame_len, snaplen) bytes of the frame
// given as consecutive parts, its full length, time and direction.
void append_packet(Bytes& out, std::uint64_t time_ns, Direction direction,
                   std::span<const std::span<const std::uint8_t>> parts, std::uint32_t snaplen);

struct Statistics {
    std::uint64_t start_ns = 0;
    std::uint64_t end_ns = 0;
    std::uint64_t received = 0;   // frames seen while capturing (isb_ifrecv)
    std::uint64_t dropped = 0;    // frames lost: the reader was too slow (isb_osdrop)
    std::uint64_t delivered = 0;  // frames written into the capture (isb_usrdeliv)
};
void append_statistics(Bytes& out, const Statistics& stats);

// Walks a pcapng stream fed in arbitrary pieces (only little-endian
// sections, as append_* write them): counts packets per direction and
// keeps the last statistics block.
class Reader {
public:
    // False once the stream is not pcapng as written above; error() says why.
    bool feed(std::span<const std::uint8_t> bytes);
    std::uint64_t packets() const { return inbound_ + outbound_ + undirected_; }
    std::uint64_t inbound() const { return inbound_; }
    std::uint64_t outbound() const { return outbound_; }
    const std::optional<Statistics>& statistics() const { return statistics_; }
    std::string_view error() const { return error_; }
    // True when the stream ended on a block boundary.
    bool at_block_boundary() const { return pending_.empty(); }

private:
    bool block(std::span<const std::uint8_t> b);
    Bytes pending_;
    bool started_ = false;
    std::uint64_t inbound_ = 0;
    std::uint64_t outbound_ = 0;
    std::uint64_t undirected_ = 0;
    std::optional<Statistics> statistics_;
    std::string_view error_;
};

}  // namespace tapstack::capture::pcapng
