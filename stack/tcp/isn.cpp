// IsnGenerator (see isn.hpp).
#include "stack/tcp/isn.hpp"


#include "stack/tcp/hash_input.hpp"

namespace tapstack::tcp {

IsnGenerator::IsnGenerator(const Secret& secret)
    : isn_key_(derive_key(secret, KeyUse::kIsn)),
      ts_key_(derive_key(secret, KeyUse::kTimestampOffset)),
      port_key_(derive_key(secret, KeyUse::kEphemeralPort)) {}

SeqNum IsnGenerator::isn(Instant now, const wire::IpEndpoint& local, const wire::IpEndpoint& remote) const {
    const auto f = static_cast<std::uint32_t>(siphash24(isn_key_, HashInput().endpoint(local).endpoint(remote).bytes()));
    const auto m = static_cast<std::uint32_t>(to_ns(now) / 4000);  // 4 us ticks
    return SeqNum(m + f);
}

std::uint32_t IsnGenerator::ts_offset(const wire::IpAddress& local, const wire::IpAddress& remote) const {
    return static_cast<std::uint32_t>(siphash24(ts_key_, HashInput().address(local).address(remote).bytes()));
}

std::uint32_t IsnGenerator::port_offset(const wire::IpAddress& local, const wire::IpEndpoint& remote) const {
    return static_cast<std::uint32_t>(siphash24(port_key_, HashInput().address(local).endpoint(remote).bytes()));
}

}  // namespace tapstack::tcp
