#!/bin/sh
# Runs `systemd-analyze verify` on a copy of tapstackd.service (and, when
# given, tapstackd.socket beside it) named as the installed units are, and
# fails on any diagnostic about them (verify's exit status alone misses
# some warnings).
set -eu
analyze=$1
unit=$2
socket=${3:-}
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
cp "$unit" "$dir/tapstackd.service"
units="$dir/tapstackd.service"
if [ -n "$socket" ]; then
  cp "$socket" "$dir/tapstackd.socket"
  units="$units $dir/tapstackd.socket"
fi
# Other units on the machine may draw warnings too; only ours matter.
# shellcheck disable=SC2086
out=$("$analyze" verify --man=no $units 2>&1) && rc=0 || rc=$?
echo "$out"
if [ "$rc" -ne 0 ] || echo "$out" | grep -q 'tapstackd\.'; then
  echo "systemd-analyze verify: tapstackd units have problems (exit $rc)" >&2
  exit 1
fi
echo "tapstackd units: verified"
