// IPv6 extension headers (RFC 8200 section 4): Hop-by-Hop and Destination
// Options (4.3, 4.6, with the option TLVs of 4.2), Routing (4.4) and
// Fragment (4.5).
//
// Each view checks, over the bytes from the header's first byte to the end
// of the packet, that the header fits (and for the options headers, that
// every option TLV lies inside the header), then exposes its fields. The
// Reprs are the headers as plain values; option and routing data are
// borrowed. Walking a chain, and what to do with each header (unknown
// option actions, RFC 5095's refusal of type 0 routing, reassembly), is the
// interface's business: it knows the addresses and sends the errors.
// Offsets named k...Offset are the bytes a Parameter Problem points at.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <vector>

#include "stack/wire/byte_order.hpp"

namespace tapstack::wire {

enum class Ipv6ExtError : std::uint8_t {
    kTruncated,  // the header (by its length field) runs past the packet
    kBadOption,  // an option TLV runs past its header
};

// The four extension headers RFC 8200 4.1 asks every node to process.
bool is_ipv6_extension_header(std::uint8_t next_header);

namespace ipv6_option {
inline constexpr std::uint8_t kPad1 = 0;
inline constexpr std::uint8_t kPadN = 1;
inline constexpr std::uint8_t kRouterAlert = 5;  // RFC 2711 (MLD uses it)
inline constexpr std::uint8_t kJumboPayload = 0xc2;
}  // namespace ipv6_option

// What RFC 8200 4.2 asks for an unrecognised option, by its type's two
// high bits.
enum class Ipv6OptionAction : std::uint8_t {
    kSkip = 0,                               // 00: skip over it
    kDiscard = 1,                            // 01: discard the packet silently
    kDiscardSendProblem = 2,                 // 10: discard, Parameter Problem code 2 even to multicast
    kDiscardSendProblemUnlessMulticast = 3,  // 11: discard, Parameter Problem code 2 unless to multicast
};
constexpr Ipv6OptionAction ipv6_option_action(std::uint8_t type) {
    return static_cast<Ipv6OptionAction>(type >> 6);
}

struct Ipv6Option {
    std::uint8_t type = ipv6_option::kPad1;
    Bytes data;              // borrowed; empty for Pad1 (which has no length byte)
    std::size_t offset = 0;  // of the type byte, from the start of its header
    std::size_t wire_len() const { return type == ipv6_option::kPad1 ? 1 : 2 + data.size(); }
    friend bool operator==(const Ipv6Option& a, const Ipv6Option& b);
};

// Hop-by-Hop Options or Destination Options header.
class Ipv6OptionsView {
public:
    static constexpr std::size_t kMinLen = 8;

    static std::optional<Ipv6OptionsView> check(Bytes from_header, Ipv6ExtError* error = nullptr);

    std::uint8_t next_header() const { return bytes_[0]; }
    std::size_t header_len() const { return bytes_.size(); }
    // Every option in order, padding included.
    std::vector<Ipv6Option> options() const;
    Bytes bytes() const { return bytes_; }

private:
    explicit Ipv6OptionsView(Bytes b) : bytes_(b) {}
    Bytes bytes_;  // exactly header_len() bytes
};

struct Ipv6OptionsRepr {
    std::uint8_t next_header = 0;
    std::vector<Ipv6Option> options;  // offsets are ignored by emit()

    static Ipv6OptionsRepr parse(const Ipv6OptionsView& view);
    // 2 bytes + the options, rounded up to a multiple of 8.
    std::size_t buffer_len() const;
    // Writes the header; space up to buffer_len() is filled with Pad1/PadN.
    void emit(MutBytes out) const;
    friend bool operator==(const Ipv6OptionsRepr&, const Ipv6OptionsRepr&) = default;
};

class Ipv6RoutingView {
public:
    static constexpr std::size_t kMinLen = 8;
    static constexpr std::size_t kRoutingTypeOffset = 2;

    static std::optional<Ipv6RoutingView> check(Bytes from_header, Ipv6ExtError* error = nullptr);

    std::uint8_t next_header() const { return bytes_[0]; }
    std::size_t header_len() const { return bytes_.size(); }
    std::uint8_t routing_type() const { return bytes_[2]; }
    std::uint8_t segments_left() const { return bytes_[3]; }
    Bytes type_data() const { return bytes_.subspan(4); }
    Bytes bytes() const { return bytes_; }

private:
    explicit Ipv6RoutingView(Bytes b) : bytes_(b) {}
    Bytes bytes_;
};

struct Ipv6RoutingRepr {
    std::uint8_t next_header = 0;
    std::uint8_t routing_type = 0;
    std::uint8_t segments_left = 0;
    Bytes data;  // borrowed type-specific data; 4 + data.size() must be a multiple of 8

    static Ipv6RoutingRepr parse(const Ipv6RoutingView& view);
    std::size_t buffer_len() const { return 4 + data.size(); }
    void emit(MutBytes out) const;
    friend bool operator==(const Ipv6RoutingRepr& a, const Ipv6RoutingRepr& b);
};

class Ipv6FragmentView {
public:
    static constexpr std::size_t kLen = 8;
    static constexpr std::size_t kFragmentOffsetOffset = 2;

    static std::optional<Ipv6FragmentView> check(Bytes from_header, Ipv6ExtError* error = nullptr);

    std::uint8_t next_header() const { return bytes_[0]; }
    std::uint16_t fragment_offset() const {  // in bytes
        return static_cast<std::uint16_t>(load_be16(bytes_.data() + 2) & 0xfff8);
    }
    bool more_fragments() const { return (bytes_[3] & 0x01) != 0; }
    std::uint32_t identification() const { return load_be32(bytes_.data() + 4); }
    // RFC 6946: offset 0 and M clear: the whole packet in one "fragment".
    bool is_atomic() const { return fragment_offset() == 0 && !more_fragments(); }

private:
    explicit Ipv6FragmentView(Bytes b) : bytes_(b) {}
    Bytes bytes_;  // 8 bytes
};

// Where an extension header chain ends: the first Next Header value that is
// none of the four extension headers (an upper-layer protocol, "no next
// header", or one we do not process such as ESP), and where its header
// starts, counted from the start of the bytes given.
struct Ipv6ChainEnd {
    std::uint8_t next_header = 0;
    std::size_t offset = 0;
};

// Follows the chain in `from`, whose first header is of type `first`,
// through Hop-by-Hop, Routing, Destination Options and Fragment headers.
// A Fragment header with a nonzero offset ends the walk (what follows it is
// the middle of a packet; the result names the Fragment header itself).
// nullopt: a header runs past `from`, or the chain has more than
// `max_headers` extension headers.
std::optional<Ipv6ChainEnd> ipv6_chain_end(Bytes from, std::uint8_t first, std::size_t max_headers);

struct Ipv6FragmentRepr {
    std::uint8_t next_header = 0;
    std::uint16_t fragment_offset = 0;  // bytes, a multiple of 8
    bool more_fragments = false;
    std::uint32_t identification = 0;

    static Ipv6FragmentRepr parse(const Ipv6FragmentView& view);
    static constexpr std::size_t buffer_len() { return Ipv6FragmentView::kLen; }
    void emit(MutBytes out) const;  // reserved fields written as zero
    friend bool operator==(const Ipv6FragmentRepr&, const Ipv6FragmentRepr&) = default;
};

}  // namespace tapstack::wire
