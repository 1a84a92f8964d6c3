#include "drivers/tap_device.hpp"

#include "drivers/netlink_address.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <ifaddrs.h>
#include <linux/if_tun.h>
#include <net/if.h>
#include <netinet/in.h>
#include <pwd.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <bit>
#include <cerrno>
#include <cstring>

namespace tapstack::drivers {
namespace {

std::string effective_user() {
    if (const passwd* pw = getpwuid(geteuid())) return pw->pw_name;
    return std::to_string(geteuid());
}

ifreq make_ifreq(const std::string& name) {
    ifreq ifr{};
    std::memcpy(ifr.ifr_name, name.data(), name.size());  // size < IFNAMSIZ checked; rest is zero
    return ifr;
}

sockaddr make_sockaddr_in(std::uint32_t host_order) {
    sockaddr_in sin{};
    sin.sin_family = AF_INET;
    sin.sin_addr.s_addr = htonl(host_order);
    sockaddr sa{};
    static_assert(sizeof(sin) == sizeof(sa));
    std::memcpy(&sa, &sin, sizeof(sin));
    return sa;
}

std::uint32_t sockaddr_in_value(const sockaddr* sa) {
    sockaddr_in sin{};
    std::memcpy(&sin, sa, sizeof(sin));
    return ntohl(sin.sin_addr.s_addr);
}

// dev_valid_name() in the kernel: 1..15 bytes, no '/', ':' or whitespace, not "." or "..".
std::optional<std::string> check_name(const std::string& name) {
    if (name.empty() || name.size() >= IFNAMSIZ) {
        return "interface name \"" + name + "\" must be 1 to " + std::to_string(IFNAMSIZ - 1) + " characters";
    }
    if (name == "." || name == "..") return "interface name \"" + name + "\" is not allowed";
    for (char c : name) {
        if (c == '/' || c == ':' || c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f') {
            return "interface name \"" + name + "\" contains '/', ':' or whitespace";
        }
    }
    return std::nullopt;
}

// True when `name` already has exactly `cidr` among its IPv4 addresses.
bool has_ipv4_address(const std::string& name, const wire::Ipv4Cidr& cidr) {
    ifaddrs* list = nullptr;
    if (getifaddrs(&list) != 0) return false;
    bool found = false;
    for (const ifaddrs* ifa = list; ifa != nullptr && !found; ifa = ifa->ifa_next) {
        if (ifa->ifa_addr == nullptr || ifa->ifa_netmask == nullptr || ifa->ifa_addr->sa_family != AF_INET) continue;
        if (name != ifa->ifa_name) continue;
        found = sockaddr_in_value(ifa->ifa_addr) == cidr.address.value &&
                sockaddr_in_value(ifa->ifa_netmask) == cidr.netmask();
    }
    freeifaddrs(list);
    return found;
}

// Applies the device settings; appends warnings, returns an error line or nullopt.
class Configurer {
public:
    Configurer(TapDevice& dev, int sock) : dev_(dev), sock_(sock) {}

    std::optional<std::string> mtu(std::uint16_t want) {
        ifreq ifr = make_ifreq(dev_.name);
        if (ioctl(sock_, SIOCGIFMTU, &ifr) != 0) return fail("cannot read the MTU", errno);
        if (ifr.ifr_mtu != want) {
            const int have = ifr.ifr_mtu;
            ifr.ifr_mtu = want;
            if (ioctl(sock_, SIOCSIFMTU, &ifr) != 0) {
                const int err = errno;
                if (!refused(err)) return fail("cannot set MTU " + std::to_string(want), err);
                warn("MTU is " + std::to_string(have) + ", not the configured " + std::to_string(want) +
                     ", and changing it needs CAP_NET_ADMIN; run: ip link set " + dev_.name + " mtu " +
                     std::to_string(want));
            }
        }
        ifr = make_ifreq(dev_.name);
        if (ioctl(sock_, SIOCGIFMTU, &ifr) != 0) return fail("cannot read the MTU", errno);
        dev_.mtu = static_cast<std::uint32_t>(ifr.ifr_mtu);
        return std::nullopt;
    }

    std::optional<std::string> host_address(const wire::Ipv4Cidr& cidr) {
        if (has_ipv4_address(dev_.name, cidr)) return std::nullopt;
        // SIOCSIFADDR replaces the device's primary IPv4 address, if any.
        ifreq ifr = make_ifreq(dev_.name);
        ifr.ifr_addr = make_sockaddr_in(cidr.address.value);
        if (ioctl(sock_, SIOCSIFADDR, &ifr) != 0) {
            const int err = errno;
            if (!refused(err)) return fail("cannot set host address " + cidr.to_string(), err);
            warn("host address " + cidr.to_string() + " is not configured and adding it needs CAP_NET_ADMIN; run: " +
                 "ip addr add " + cidr.to_string() + " dev " + dev_.name);
            return std::nullopt;
        }
        ifr = make_ifreq(dev_.name);
        ifr.ifr_netmask = make_sockaddr_in(cidr.netmask());
        if (ioctl(sock_, SIOCSIFNETMASK, &ifr) != 0) {
            return fail("cannot set the netmask of host address " + cidr.to_string(), errno);
        }
        return std::nullopt;
    }

    std::optional<std::string> host_address6(const wire::Ipv6Cidr& cidr) {
        if (has_ipv6_address(dev_.name, cidr)) return std::nullopt;
        const int err = add_ipv6_address(if_nametoindex(dev_.name.c_str()), cidr);
        if (err == 0 || err == EEXIST) return std::nullopt;
        const std::string command = "ip address add " + cidr.to_string() + " dev " + dev_.name + " nodad";
        if (err == EAFNOSUPPORT) {
            warn("host IPv6 address " + cidr.to_string() + " not configured: the kernel has no IPv6 (" +
                 errno_text(err) + "); IPv4 works as before");
            return std::nullopt;
        }
        if (err == EACCES) {
            warn("host IPv6 address " + cidr.to_string() + " not configured: IPv6 is disabled on the device (" +
                 errno_text(err) + "); enable it with: sysctl net.ipv6.conf." + dev_.name +
                 ".disable_ipv6=0, then run: " + command);
            return std::nullopt;
        }
        if (refused(err)) {
            warn("host IPv6 address " + cidr.to_string() + " is not configured and adding it needs CAP_NET_ADMIN; run: " +
                 command);
            return std::nullopt;
        }
        return fail("cannot set host IPv6 address " + cidr.to_string(), err);
    }

    std::optional<std::string> link_up() {
        ifreq ifr = make_ifreq(dev_.name);
        if (ioctl(sock_, SIOCGIFFLAGS, &ifr) != 0) return fail("cannot read the link flags", errno);
        if ((ifr.ifr_flags & IFF_UP) != 0) return std::nullopt;
        ifr.ifr_flags = static_cast<short>(ifr.ifr_flags | IFF_UP);
        if (ioctl(sock_, SIOCSIFFLAGS, &ifr) != 0) {
            const int err = errno;
            if (!refused(err)) return fail("cannot bring the link up", err);
            warn("link is down and bringing it up needs CAP_NET_ADMIN; run: ip link set " + dev_.name + " up");
        }
        return std::nullopt;
    }

private:
    // A refusal we tolerate: attached (not created) and no privilege.
    bool refused(int err) const { return !dev_.created && (err == EPERM || err == EACCES); }
    std::string fail(const std::string& what, int err) const {
        return dev_.name + ": " + what + ": " + errno_text(err);
    }
    void warn(const std::string& what) { dev_.warnings.push_back(dev_.name + ": " + what); }

    TapDevice& dev_;
    int sock_;
};

}  // namespace

std::string errno_text(int err) {
    std::string text = std::strerror(err);
    if (const char* name = strerrorname_np(err)) {
        text += " (";
        text += name;
        text += ')';
    }
    return text;
}

std::string tuntap_add_hint(const std::string& name) {
    return "ip tuntap add " + name + " mode tap user " + effective_user() + " vnet_hdr";
}

std::optional<TapDevice> open_tap_device(const TapDeviceConfig& config, std::string* error) {
    auto fail = [error](std::string why) {
        if (error != nullptr) *error = std::move(why);
        return std::nullopt;
    };
    if (auto bad = check_name(config.name)) return fail(*bad);
    const bool existed = if_nametoindex(config.name.c_str()) != 0;

    TapDevice dev;
    dev.fd = UniqueFd(::open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC));
    if (!dev.fd.valid()) {
        const int err = errno;
        std::string why = config.name + ": cannot open /dev/net/tun: " + errno_text(err);
        if (err == ENOENT || err == ENODEV) why += "; load the tun module: modprobe tun";
        if (err == EACCES || err == EPERM) why += "; the daemon's user needs read and write access to /dev/net/tun";
        return fail(why);
    }

    ifreq ifr = make_ifreq(config.name);
    ifr.ifr_flags = IFF_TAP | IFF_NO_PI | IFF_VNET_HDR;
    if (ioctl(dev.fd.get(), TUNSETIFF, &ifr) != 0) {
        const int err = errno;
        const std::string& n = config.name;
        if (!existed) {
            std::string why = n + ": cannot create the TAP device: " + errno_text(err);
            if (err == EPERM) why += "; need CAP_NET_ADMIN to create " + n + "; or create it beforehand with: " +
                                     tuntap_add_hint(n);
            return fail(why);
        }
        std::string why = n + ": cannot attach to the existing device: " + errno_text(err);
        if (err == EPERM) {
            why += "; it belongs to another user or group; recreate it with: ip tuntap del " + n +
                   " mode tap && " + tuntap_add_hint(n);
        } else if (err == EINVAL) {
            why += "; " + n + " is not a single-queue TAP device (a TUN, a multi_queue TAP or another kind of interface)";
        } else if (err == EBUSY) {
            why += "; another process is attached to it";
        }
        return fail(why);
    }
    dev.name = ifr.ifr_name;
    dev.created = !existed;

    // virtio 1.x header (with num_buffers): 12 bytes. A kernel that cannot
    // change the size keeps the 10-byte header IFF_VNET_HDR starts with:
    // the port then reads and writes that one, without offloads.
    int hdr_size = 12;
    if (ioctl(dev.fd.get(), TUNSETVNETHDRSZ, &hdr_size) != 0) {
        dev.vnet_hdr_len = 10;
        dev.warnings.push_back(dev.name + ": cannot set the virtio-net header size to 12 (TUNSETVNETHDRSZ): " +
                               errno_text(errno) + "; using the kernel's 10-byte header" +
                               (config.offloads ? ", running without offloads" : ""));
    }
    // virtio 1.x headers are little-endian; only big-endian hosts need to say so.
    int little_endian = 1;
    if (ioctl(dev.fd.get(), TUNSETVNETLE, &little_endian) != 0 && std::endian::native != std::endian::little) {
        return fail(dev.name + ": cannot select little-endian virtio-net headers (TUNSETVNETLE): " +
                    errno_text(errno));
    }
    // Checksum offload and TSO4 when asked for: the kernel then
    // hands us TCP super-frames with partial checksums. A refusal (an old
    // kernel) is one warning; the daemon then runs without offloads.
    std::string refused;
    if (config.offloads && dev.vnet_hdr_len == 12) {
        if (ioctl(dev.fd.get(), TUNSETOFFLOAD, static_cast<unsigned long>(TUN_F_CSUM | TUN_F_TSO4)) == 0) {
            dev.offloads = true;
        } else {
            refused = dev.name + ": the kernel refused checksum offload and TSO4 (TUNSETOFFLOAD): " +
                      errno_text(errno) + "; running without offloads";
        }
    }
    dev.offloads_refused = config.offloads && !dev.offloads;
    // No offloads: a persistent device may keep what a previous user enabled.
    if (!dev.offloads && ioctl(dev.fd.get(), TUNSETOFFLOAD, 0UL) != 0) {
        const std::string off = "cannot turn offloads off (TUNSETOFFLOAD): " + errno_text(errno) +
                                "; GSO frames will be counted and dropped";
        refused = refused.empty() ? dev.name + ": " + off : refused + "; " + off;
    }
    if (!refused.empty()) dev.warnings.push_back(refused);

    UniqueFd sock(::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0));
    if (!sock.valid()) return fail(dev.name + ": cannot open a configuration socket: " + errno_text(errno));
    Configurer configure(dev, sock.get());
    if (auto why = configure.mtu(config.mtu)) return fail(*why);
    if (config.host_address) {
        if (auto why = configure.host_address(*config.host_address)) return fail(*why);
    }
    if (auto why = configure.link_up()) return fail(*why);
    if (config.host_address6) {
        if (auto why = configure.host_address6(*config.host_address6)) return fail(*why);
    }
    return dev;
}

}  // namespace tapstack::drivers
