#!/usr/bin/env bash
# Runs the TapPort test binary (netns_tap_port_test) inside a network
# namespace of its own, with two persistent TAPs made the way an
# administrator would (ip tuntap add ... user 0 vnet_hdr): tspersist0 up with
# 10.77.1.1/24, tsdown0 left down. The namespace is deleted on any exit.
# Without root: skip (exit 77), except under CI=true where it fails.
set -euo pipefail
bin=${1:?usage: netns_tap_port.sh TEST_BINARY [doctest args...]}
shift

cannot_run() {
  if [[ "${CI:-}" == true ]]; then
    echo "FAIL: $1 (CI=true: netns tests must run, not skip)" >&2
    exit 1
  fi
  echo "SKIP: $1" >&2
  exit 77
}
[[ $(id -u) -eq 0 ]] || cannot_run "needs root to create a network namespace"
command -v ip >/dev/null || cannot_run "ip (iproute2) is not installed"
[[ -c /dev/net/tun ]] || cannot_run "/dev/net/tun is missing"

ns="tapstack-drv-$$-${RANDOM}"
trap 'ip netns del "$ns" 2>/dev/null || true' EXIT
trap 'exit 130' INT TERM
ip netns add "$ns" || cannot_run "cannot create a network namespace"

in_ns() { ip netns exec "$ns" "$@"; }
in_ns ip link set lo up
# Keep the wire quiet: no IPv6 autoconfiguration chatter on the test TAPs.
in_ns sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1 || true
in_ns ip tuntap add tspersist0 mode tap user 0 vnet_hdr
in_ns ip link set tspersist0 mtu 1500 up
in_ns ip addr add 10.77.1.1/24 dev tspersist0
in_ns ip tuntap add tsdown0 mode tap user 0 vnet_hdr

TAPSTACK_TEST_NETNS="$ns" in_ns "$bin" "$@"
