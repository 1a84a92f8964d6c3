#!/bin/sh
# Renders each built man page as man(1) would show it at 80 columns, with
# every groff warning on, and fails on any diagnostic, or on a page without
# its NAME and SYNOPSIS sections (an empty or truncated page).
#   check-man.sh MAN PAGE...
set -eu
man=$1; shift
status=0
out=$(mktemp); err=$(mktemp)
trap 'rm -f "$out" "$err"' EXIT
for page in "$@"; do
  bad=0
  MANWIDTH=80 MAN_DISABLE_SECCOMP=1 LC_ALL=C.UTF-8 "$man" --warnings=w -l "$page" >"$out" 2>"$err" || {
    echo "$page: man exited $?"; bad=1; }
  if [ -s "$err" ]; then
    echo "$page: diagnostics:"; cat "$err"; bad=1
  fi
  for section in NAME SYNOPSIS; do
    grep -q "^$section\$" "$out" || { echo "$page: no $section section"; bad=1; }
  done
  if [ "$bad" -eq 0 ]; then echo "$page: ok ($(wc -l <"$out") lines)"; else status=1; fi
done
exit "$status"
