#!/bin/sh
# Installs the default config unless one exists (meson install script).
# Usage: install-config.sh SOURCE TARGET   (TARGET absolute; DESTDIR honoured)
set -eu
src=$1
dest="${DESTDIR:-}$2"
if [ -e "$dest" ]; then
  echo "Keeping existing $dest (the new default is $src)"
else
  install -D -m 0644 "$src" "$dest"
  echo "Installing $src to $dest"
fi
