#!/usr/bin/env bash
# Fetch Debian's current amd64 kernel package rootlessly (apt-get download +
# dpkg-deb -x) into a cache: $DEST/vmlinuz, $DEST/lib/modules/<version>/.
# Idempotent: does nothing when the cache already holds a kernel.
set -euo pipefail
DEST=${1:-"$(cd "$(dirname "$0")/.." && pwd)/.cache/debian-kernel"}
if [ -f "$DEST/vmlinuz" ] && [ -d "$DEST/lib/modules" ]; then echo "$DEST"; exit 0; fi
pkg=$(apt-cache depends linux-image-amd64 2>/dev/null | awk '/Depends: linux-image-[0-9]/{print $2; exit}')
if [ -z "$pkg" ]; then echo "fetch-debian-kernel: cannot resolve linux-image-amd64 (run apt-get update first)" >&2; exit 1; fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
( cd "$work" && apt-get download "$pkg" >/dev/null )
mkdir -p "$DEST.tmp"
dpkg-deb -x "$work"/*.deb "$DEST.tmp"
ver=$(ls "$DEST.tmp/lib/modules" | head -1)
cp "$DEST.tmp/boot/vmlinuz-$ver" "$DEST.tmp/vmlinuz"
echo "$ver" > "$DEST.tmp/version"
rm -rf "$DEST"; mv "$DEST.tmp" "$DEST"
echo "$DEST"
