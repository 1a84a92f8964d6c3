// Initial sequence numbers (RFC 6528), timestamp offsets (RFC 7323 5.4,
// RFC 6191) and ephemeral port choice (RFC 6056).
//
// Theory of operation
// -------------------
// ISN = M + F(localip, localport, remoteip, remoteport, secret), where M is a
// clock ticking every 4 microseconds (RFC 9293 3.4.1) derived from the
// `now` handed in, and F is SipHash-2-4 keyed by a per-start secret. Each
// 4-tuple thus gets its own unpredictable offset while successive
// incarnations of the same tuple still move forward with the clock.
// Our TSval is a 1 ms clock plus an offset per address pair (as Linux's
// secure_tcp_ts_off), from a key of its own: timestamps grow across
// incarnations of a tuple (RFC 6191 needs it: a peer in TIME-WAIT accepts
// our new SYN only with a newer TSval) and reveal nothing about the ISN's
// secret offset or clock.
// Ephemeral ports follow RFC 6056 algorithm 3 ("simple hash-based"): a keyed
// hash of (local address, remote endpoint) picks where in the configured
// range the search starts, and a counter moves on after each use.
// Each use has its own key derived from the 128-bit Secret (siphash.hpp).
// Addresses of either family are hashed as hash_input.hpp writes them.
#pragma once

#include <cstdint>

#include "stack/tcp/seq_num.hpp"
#include "stack/tcp/siphash.hpp"
#include "stack/time.hpp"
#include "stack/wire/addresses.hpp"

namespace tapstack::tcp {

class IsnGenerator {
public:
    explicit IsnGenerator(const Secret& secret);

    SeqNum isn(Instant now, const wire::IpEndpoint& local, const wire::IpEndpoint& remote) const;
    // RFC 7323 5.4: offset of our timestamp clock toward `remote`.
    std::uint32_t ts_offset(const wire::IpAddress& local, const wire::IpAddress& remote) const;
    // RFC 6056 algorithm 3: F(local address, remote endpoint, secret).
    std::uint32_t port_offset(const wire::IpAddress& local, const wire::IpEndpoint& remote) const;

private:
    SipKey isn_key_;
    SipKey ts_key_;
    SipKey port_key_;
};

}  // namespace tapstack::tcp
