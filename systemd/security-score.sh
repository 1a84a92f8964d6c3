#!/bin/sh
# Runs `systemd-analyze security --offline=true` on a copy of
# tapstackd.service and fails when its overall exposure is above the
# threshold (1.5 unless given; systemd-analyze prints one decimal).
set -eu
analyze=$1
unit=$2
limit=${3:-1.5}
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
cp "$unit" "$dir/tapstackd.service"
out=$("$analyze" security --offline=true --no-pager "$dir/tapstackd.service" 2>&1) || true
echo "$out" | grep -E '✗|Overall' || true
score=$(echo "$out" | sed -n 's/.*Overall exposure level for tapstackd.service: \([0-9.]*\).*/\1/p')
if [ -z "$score" ]; then
  echo "systemd-analyze security printed no overall exposure level:" >&2
  echo "$out" >&2
  exit 1
fi
if awk -v s="$score" -v l="$limit" 'BEGIN { exit !(s > l) }'; then
  echo "tapstackd.service: exposure $score is above $limit" >&2
  exit 1
fi
echo "tapstackd.service: exposure $score (at most $limit)"
