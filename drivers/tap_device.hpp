// Opening and configuring a Linux TAP device for TapPort.
//
// open_tap_device() opens /dev/net/tun (O_RDWR | O_NONBLOCK | O_CLOEXEC),
// and with TUNSETIFF (IFF_TAP | IFF_NO_PI | IFF_VNET_HDR) either creates the
// named device (needs CAP_NET_ADMIN) or attaches to an existing persistent
// one, which an administrator made for us with
//   ip tuntap add tap0 mode tap user tapstack vnet_hdr
// so the daemon can run without privilege. It then sets the virtio-net
// header size to 12 (virtio 1.x, with num_buffers), little-endian headers,
// no offloads unless asked for (so the kernel never hands us GSO or
// partially checksummed frames; see "Offloads" below), and brings the device to the configured state: MTU, link up and
// the optional host address on the kernel side (SIOCSIFMTU, SIOCSIFFLAGS,
// SIOCSIFADDR/SIOCSIFNETMASK on an AF_INET socket, in the caller's network
// namespace).
//
// Each setting is read first and only written when it differs, so attaching
// to a device that is already configured needs no privilege at all. When an
// attached device differs and the kernel refuses the change (EPERM, no
// CAP_NET_ADMIN), that is a warning returned to the caller, with the
// command an administrator would run; the daemon logs it and carries on.
// Anything else that fails is an error: one line naming the device, the
// operation and the cause, plus a hint where there is an obvious fix.
//
// Offloads: with `offloads`, TUNSETOFFLOAD asks for TUN_F_CSUM |
// TUN_F_TSO4 instead of 0; a refusal is one warning (offloads_refused) and
// the device is then set to no offloads, as without the switch. A kernel
// that refuses TUNSETVNETHDRSZ keeps the 10-byte header IFF_VNET_HDR starts
// with (vnet_hdr_len 10, one warning): the port then reads and writes that
// header, and offloads stay off. (The `vnet_hdr` flag of `ip tuntap add` is
// only a default: Linux lets whoever attaches choose IFF_VNET_HDR, so a
// device made without it is not a refusal.)
//
// IPv6 on the host side: with host_address6 the kernel side also gets that
// IPv6 address, after the link is up (the kernel flushes IPv6 addresses of
// a device that goes down), through rtnetlink and without DAD
// (drivers/netlink_address.hpp says why). A kernel without IPv6, or with
// IPv6 disabled on the device, is a warning: the daemon still serves IPv4.
//
// Non-goals: multi-queue TAPs, IPv6 offloads.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "drivers/unique_fd.hpp"
#include "stack/wire/addresses.hpp"

namespace tapstack::drivers {

struct TapDeviceConfig {
    std::string name = "tap0";
    std::uint16_t mtu = 1500;
    std::optional<wire::Ipv4Cidr> host_address;
    bool offloads = false;  // ask for TUN_F_CSUM | TUN_F_TSO4
    std::optional<wire::Ipv6Cidr> host_address6;
};

struct TapDevice {
    UniqueFd fd;                        // non-blocking, close-on-exec, vnet header size 12
    std::string name;                   // the kernel's name for the device
    bool created = false;               // false: attached to an existing persistent device
    std::uint32_t mtu = 0;              // the device's MTU after configuration
    std::vector<std::string> warnings;  // settings we could not apply; see above
    bool offloads = false;              // the kernel took TUN_F_CSUM | TUN_F_TSO4
    bool offloads_refused = false;      // asked for and not in effect (a warning says why)
    std::uint8_t vnet_hdr_len = 12;     // the header the TAP reads and writes: 12, or 10 (see above)
};

// nullopt with a one-line reason in *error on failure.
std::optional<TapDevice> open_tap_device(const TapDeviceConfig& config, std::string* error);

// "Operation not permitted (EPERM)": strerror() and the errno name.
std::string errno_text(int err);

// "ip tuntap add NAME mode tap user USER vnet_hdr" for the effective user.
std::string tuntap_add_hint(const std::string& name);

}  // namespace tapstack::drivers
