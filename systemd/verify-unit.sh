#!/bin/sh
# Runs `systemd-analyze verify` on a copy of tapstackd.service named as the
# installed unit is, and fails on any diagnostic about it (verify's exit
# status alone misses some warnings).
set -eu
analyze=$1
unit=$2
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
cp "$unit" "$dir/tapstackd.service"
# Other units on the machine may draw warnings too; only ours matter.
out=$("$analyze" verify --man=no "$dir/tapstackd.service" 2>&1) && rc=0 || rc=$?
echo "$out"
if [ "$rc" -ne 0 ] || echo "$out" | grep -q 'tapstackd.service'; then
  echo "systemd-analyze verify: tapstackd.service has problems (exit $rc)" >&2
  exit 1
fi
echo "tapstackd.service: verified"
