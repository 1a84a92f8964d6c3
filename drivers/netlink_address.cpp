// RTM_NEWADDR for one IPv6 address, and the check whether it is there;
// see netlink_address.hpp.
#include "drivers/netlink_address.hpp"

#include <ifaddrs.h>
#include <linux/if_addr.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstring>

#include "drivers/unique_fd.hpp"

namespace tapstack::drivers {
namespace {

std::uint8_t prefix_of(const sockaddr* netmask) {
    sockaddr_in6 sin6{};
    std::memcpy(&sin6, netmask, sizeof sin6);
    std::uint8_t n = 0;
    for (unsigned char byte : sin6.sin6_addr.s6_addr) {
        for (int bit = 7; bit >= 0 && (byte & (1u << bit)) != 0; --bit) ++n;
        if (byte != 0xff) break;
    }
    return n;
}

// Appends one rtattr with `len` bytes of `data` at `at` in `buf`.
std::size_t put_attr(std::uint8_t* buf, std::size_t at, unsigned short type, const void* data, std::size_t len) {
    rtattr attr{};
    attr.rta_type = type;
    attr.rta_len = static_cast<unsigned short>(RTA_LENGTH(len));
    std::memcpy(buf + at, &attr, sizeof attr);
    std::memcpy(buf + at + RTA_LENGTH(0), data, len);
    return at + RTA_SPACE(len);
}

}  // namespace

bool has_ipv6_address(const std::string& name, const wire::Ipv6Cidr& cidr) {
    ifaddrs* list = nullptr;
    if (getifaddrs(&list) != 0) return false;
    bool found = false;
    for (const ifaddrs* ifa = list; ifa != nullptr && !found; ifa = ifa->ifa_next) {
        if (ifa->ifa_addr == nullptr || ifa->ifa_netmask == nullptr || ifa->ifa_addr->sa_family != AF_INET6) continue;
        if (name != ifa->ifa_name) continue;
        sockaddr_in6 sin6{};
        std::memcpy(&sin6, ifa->ifa_addr, sizeof sin6);
        found = std::memcmp(sin6.sin6_addr.s6_addr, cidr.address.bytes.data(), 16) == 0 &&
                prefix_of(ifa->ifa_netmask) == cidr.prefix_len;
    }
    freeifaddrs(list);
    return found;
}

int add_ipv6_address(unsigned ifindex, const wire::Ipv6Cidr& cidr) {
    UniqueFd sock(::socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE));
    if (!sock.valid()) return errno;
    // The kernel answers at once; a bound keeps a wedged kernel from hanging start-up.
    const timeval timeout{5, 0};
    setsockopt(sock.get(), SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);

    alignas(nlmsghdr) std::array<std::uint8_t, 256> req{};
    nlmsghdr nh{};
    nh.nlmsg_type = RTM_NEWADDR;
    nh.nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE | NLM_F_EXCL;
    nh.nlmsg_seq = 1;
    ifaddrmsg ifa{};
    ifa.ifa_family = AF_INET6;
    ifa.ifa_prefixlen = cidr.prefix_len;
    ifa.ifa_flags = IFA_F_NODAD;
    ifa.ifa_scope = RT_SCOPE_UNIVERSE;
    ifa.ifa_index = ifindex;
    std::memcpy(req.data() + NLMSG_HDRLEN, &ifa, sizeof ifa);
    std::size_t len = NLMSG_HDRLEN + NLMSG_ALIGN(sizeof ifa);
    len = put_attr(req.data(), len, IFA_LOCAL, cidr.address.bytes.data(), 16);
    len = put_attr(req.data(), len, IFA_ADDRESS, cidr.address.bytes.data(), 16);
    const std::uint32_t flags = IFA_F_NODAD;
    len = put_attr(req.data(), len, IFA_FLAGS, &flags, sizeof flags);
    nh.nlmsg_len = static_cast<std::uint32_t>(len);
    std::memcpy(req.data(), &nh, sizeof nh);

    sockaddr_nl kernel{};
    kernel.nl_family = AF_NETLINK;
    if (::sendto(sock.get(), req.data(), len, 0, reinterpret_cast<const sockaddr*>(&kernel), sizeof kernel) < 0) {
        return errno;
    }
    alignas(nlmsghdr) std::array<std::uint8_t, 1024> reply{};
    const ssize_t n = ::recv(sock.get(), reply.data(), reply.size(), 0);
    if (n < 0) return errno;
    if (static_cast<std::size_t>(n) < NLMSG_HDRLEN + sizeof(nlmsgerr)) return EPROTO;
    nlmsghdr answer{};
    std::memcpy(&answer, reply.data(), sizeof answer);
    if (answer.nlmsg_type != NLMSG_ERROR) return EPROTO;
    nlmsgerr err{};
    std::memcpy(&err, reply.data() + NLMSG_HDRLEN, sizeof err);
    return -err.error;
}

}  // namespace tapstack::drivers
