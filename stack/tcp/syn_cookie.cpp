// SynCookies: the cookie arithmetic; syn_cookie.hpp explains the encoding.
#include "stack/tcp/syn_cookie.hpp"

#include "stack/tcp/hash_input.hpp"

namespace tapstack::tcp {

namespace {

constexpr std::uint32_t kCookieBits = 24;
constexpr std::uint32_t kCookieMask = (1u << kCookieBits) - 1;
constexpr std::uint32_t kTsBits = 6;
constexpr std::uint32_t kTsMask = (1u << kTsBits) - 1;
constexpr std::uint32_t kTsWscaleMask = 0xf;  // "no window scaling"
constexpr std::uint32_t kTsSack = 1u << 4;
constexpr std::uint32_t kTsEcn = 1u << 5;

}  // namespace

std::uint32_t SynCookies::count_at(Instant now) {
    return static_cast<std::uint32_t>(to_ns(now) / std::chrono::duration_cast<nanoseconds>(kTick).count());
}

std::uint32_t SynCookies::hash(const wire::IpEndpoint& local, const wire::IpEndpoint& remote, std::uint32_t count,
                               std::uint8_t which) const {
    return static_cast<std::uint32_t>(
        siphash24(key_, HashInput().endpoint(local).endpoint(remote).u32(count).u8(which).bytes()));
}

std::uint32_t SynCookies::mss_index(std::uint16_t peer_mss) {
    std::uint32_t i = kMssTable.size() - 1;
    while (i > 0 && peer_mss < kMssTable[i]) --i;
    return i;
}

SeqNum SynCookies::make(Instant now, const wire::IpEndpoint& local, const wire::IpEndpoint& remote, SeqNum peer_isn,
                        std::uint32_t mss_index) const {
    const std::uint32_t count = count_at(now);
    return SeqNum(hash(local, remote, 0, 0) + peer_isn.raw() + (count << kCookieBits) +
                  ((hash(local, remote, count, 1) + mss_index) & kCookieMask));
}

std::optional<std::uint16_t> SynCookies::check(Instant now, const wire::IpEndpoint& local, const wire::IpEndpoint& remote,
                                               SeqNum peer_isn, SeqNum cookie) const {
    const std::uint32_t count = count_at(now);
    const std::uint32_t c = cookie.raw() - (hash(local, remote, 0, 0) + peer_isn.raw());
    // Ticks since the cookie was made, modulo the 8 bits it has for them.
    const std::uint32_t diff = (count - (c >> kCookieBits)) & (0xffffffffu >> kCookieBits);
    if (diff >= kMaxAge) return std::nullopt;
    const std::uint32_t index = (c - hash(local, remote, count - diff, 1)) & kCookieMask;
    if (index >= kMssTable.size()) return std::nullopt;
    return kMssTable[index];
}

std::uint32_t SynCookies::encode_ts(std::uint32_t ts_now, const CookieOptions& o) {
    std::uint32_t options = o.wscale_ok ? (o.snd_wscale & kTsWscaleMask) : kTsWscaleMask;
    if (o.sack_ok) options |= kTsSack;
    if (o.ecn_ok) options |= kTsEcn;
    std::uint32_t ts = (ts_now & ~kTsMask) | options;
    // Never ahead of the clock: the connection's next TSval must not be
    // older than this one for the peer (RFC 7323 5.3 PAWS).
    if (static_cast<std::int32_t>(ts - ts_now) > 0) ts -= 1u << kTsBits;
    return ts;
}

CookieOptions SynCookies::decode_ts(std::uint32_t tsecr) {
    CookieOptions o;
    o.sack_ok = (tsecr & kTsSack) != 0;
    o.ecn_ok = (tsecr & kTsEcn) != 0;
    if ((tsecr & kTsWscaleMask) != kTsWscaleMask) {
        o.wscale_ok = true;
        o.snd_wscale = static_cast<std::uint8_t>(tsecr & kTsWscaleMask);
    }
    return o;
}

}  // namespace tapstack::tcp
