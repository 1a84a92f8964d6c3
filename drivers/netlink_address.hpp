// Giving the kernel side of the TAP an IPv6 address over rtnetlink.
//
// There is no ioctl that adds an IPv6 address with flags, and the host
// side's address must skip Duplicate Address Detection: on this link the
// only other node is tapstackd, whose own addresses the configuration keeps
// different, so DAD would only hold the address tentative (unusable as a
// source, RFC 4862 5.4) for a second or two after every start. So the
// address is added with RTM_NEWADDR and IFA_F_NODAD, as
// `ip address add ADDR/LEN dev NAME nodad` does. The kernel's own
// link-local address on the device still goes through DAD.
#pragma once

#include <string>

#include "stack/wire/addresses.hpp"

namespace tapstack::drivers {

// True when `name` already has `cidr` among its IPv6 addresses.
bool has_ipv6_address(const std::string& name, const wire::Ipv6Cidr& cidr);

// Adds `cidr` (IFA_F_NODAD) to interface `ifindex`, in the caller's network
// namespace. Returns 0, or the errno the kernel answered (EEXIST: already
// there; EPERM: no CAP_NET_ADMIN; EACCES: IPv6 disabled on the device;
// EAFNOSUPPORT: no IPv6 in the kernel).
int add_ipv6_address(unsigned ifindex, const wire::Ipv6Cidr& cidr);

}  // namespace tapstack::drivers
