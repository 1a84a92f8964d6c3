#!/bin/sh
# Runs one libFuzzer target for a bounded time on a copy of its seed corpus,
# inside a temporary working directory (crash files land there and are
# printed on failure), so `meson test --suite fuzz` is short and leaves the
# source tree untouched.
#   run_fuzzer.sh TARGET CORPUS_DIR SECONDS
set -eu
target=$(realpath "$1")
corpus=$2
seconds=$3
work=$(mktemp -d "${TMPDIR:-/tmp}/tapstack-fuzz.XXXXXX")
trap 'rm -rf "$work"' EXIT INT TERM
mkdir "$work/corpus"
cp "$corpus"/* "$work/corpus/"
cd "$work"
status=0
# -error_exitcode=1: libFuzzer's default, 77, is Meson's "skipped", which
# would hide a crash.
"$target" -max_total_time="$seconds" -rss_limit_mb=2048 -timeout=10 -seed=1 -error_exitcode=1 \
  -print_final_stats=1 corpus || status=$?
if [ "$status" -ne 0 ]; then
  for f in crash-* leak-* timeout-* oom-*; do
    [ -e "$f" ] || continue
    echo "reproducer $f:"; od -A x -t x1z "$f" | head -40
  done
fi
exit "$status"
