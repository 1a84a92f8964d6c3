// SYN cookies (RFC 4987 section 3.6), encoded as Linux encodes them
// (net/ipv4/syncookies.c), so a listener can answer a SYN without keeping
// any state when its SYN queue is full.
//
// Theory of operation
// -------------------
// The SYN-ACK's ISS is the cookie:
//   ISS = H(tuple, 0, 0) + SEG.SEQ + (count << 24)
//         + ((H(tuple, count, 1) + mss_index) mod 2^24)
// with H SipHash-2-4 under a per-start key, `tuple` the 4-tuple and `count`
// a coarse clock ticking every kTick (64 s). The final ACK gives back
// ISS = SEG.ACK - 1 and the peer's ISN = SEG.SEQ - 1; check() peels the
// layers off: the top 8 bits say which tick the cookie was made in, which
// must be less than kMaxAge ticks ago (so a cookie lives 64 to 128 s), and
// the low 24 bits less the second hash for that tick must be a valid MSS
// index. A cookie for another tuple or a forged one passes with
// probability about 4 / 2^24 per guess.
//
// The MSS rides as a 2-bit index into kMssTable (Linux's msstab): the
// peer's MSS is rounded down to a table value. Window scale, SACK-permitted
// and ECN need state too: when the peer offered timestamps they ride in the
// low 6 bits of our TSval (Linux cookie_init_timestamp: bits 0-3 the peer's
// shift, 0xf for "no window scaling", bit 4 SACK, bit 5 ECN), and the
// peer's TSecr brings them back. Without timestamps the connection made
// from the cookie has neither window scaling nor SACK (the SYN-ACK then
// offers neither). The encoded TSval is never above the clock's value, so
// the connection's later TSvals (same clock, the IsnGenerator's ts_offset()
// of the address pair) never go backwards for the peer's PAWS.
//
// The tuple is hashed as hash_input.hpp writes it, so cookies work the
// same for IPv6 (a peer on a 1500-byte link offers 1440 there, a table
// value; the MSS a cookie restores is clamped to our own as for any SYN).
//
// Non-goals: TCP Fast Open. ECN is carried but tapstack does not
// negotiate ECN, so it is always off.
#pragma once

#include <array>
#include <cstdint>
#include <optional>

#include "stack/tcp/seq_num.hpp"
#include "stack/tcp/siphash.hpp"
#include "stack/time.hpp"
#include "stack/wire/addresses.hpp"

namespace tapstack::tcp {

// What a cookie's timestamp carries besides the MSS.
struct CookieOptions {
    bool wscale_ok = false;
    std::uint8_t snd_wscale = 0;  // the peer's shift (0..14)
    bool sack_ok = false;
    bool ecn_ok = false;
    friend bool operator==(const CookieOptions&, const CookieOptions&) = default;
};

class SynCookies {
public:
    static constexpr std::array<std::uint16_t, 4> kMssTable{536, 1300, 1440, 1460};
    static constexpr Duration kTick = seconds(64);
    static constexpr std::uint32_t kMaxAge = 2;  // ticks: a cookie is valid 64 to 128 s
    static constexpr Duration kLifetime = kMaxAge * kTick;

    explicit SynCookies(const SipKey& key) : key_(key) {}

    // Index of the largest table MSS not above `peer_mss`.
    static std::uint32_t mss_index(std::uint16_t peer_mss);

    SeqNum make(Instant now, const wire::IpEndpoint& local, const wire::IpEndpoint& remote, SeqNum peer_isn,
                std::uint32_t mss_index) const;
    // The MSS the cookie was made with, or nothing: forged, for another
    // tuple or another ISN, or older than kMaxAge ticks.
    std::optional<std::uint16_t> check(Instant now, const wire::IpEndpoint& local, const wire::IpEndpoint& remote,
                                       SeqNum peer_isn, SeqNum cookie) const;

    // The SYN-ACK's TSval for the clock value `ts_now` (Linux
    // cookie_init_timestamp): the options in the low 6 bits, never above ts_now.
    static std::uint32_t encode_ts(std::uint32_t ts_now, const CookieOptions& o);
    static CookieOptions decode_ts(std::uint32_t tsecr);


private:
    std::uint32_t hash(const wire::IpEndpoint& local, const wire::IpEndpoint& remote, std::uint32_t count,
                       std::uint8_t which) const;
    static std::uint32_t count_at(Instant now);

    SipKey key_;
};

}  // namespace tapstack::tcp
