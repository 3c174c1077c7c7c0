#!/usr/bin/env bash
# Fetch Debian's arm64 packages the arm64 tests and demos use, rootlessly
# (apt-get download + dpkg-deb -x, no dpkg --install), into a cache:
#   $DEST/vmlinuz                 the kernel (Debian ships it gzip-compressed)
#   $DEST/lib/modules/<version>/  its modules
#   $DEST/dtbs/                   its device trees (broadcom/bcm2837-rpi-3-b.dtb, ...)
#   $DEST/busybox                 busybox-static's binary
#   $DEST/linuxaa64.efi.stub      systemd-boot-efi's aarch64 EFI stub
#   $DEST/version                 the kernel release
# Needs `dpkg --add-architecture arm64` and an apt-get update (apt indexes
# for arm64). Idempotent: does nothing when the cache is complete.
set -euo pipefail
DEST=${1:-"$(cd "$(dirname "$0")/.." && pwd)/.cache/debian-arm64"}
if [ -f "$DEST/vmlinuz" ] && [ -f "$DEST/busybox" ] && [ -f "$DEST/linuxaa64.efi.stub" ] && [ -d "$DEST/dtbs" ]; then
  echo "$DEST"; exit 0
fi
if ! dpkg --print-foreign-architectures | grep -qx arm64; then
  echo "fetch-debian-arm64: apt has no arm64 architecture (as root: dpkg --add-architecture arm64 && apt-get update)" >&2
  exit 1
fi
# the versioned kernel package the metapackage points at, as fetch-debian-kernel.sh does
pkg=$(apt-cache depends linux-image-arm64:arm64 2>/dev/null | awk '/Depends: linux-image-[0-9]/{print $2; exit}')
if [ -z "$pkg" ]; then echo "fetch-debian-arm64: cannot resolve linux-image-arm64:arm64 (run apt-get update first)" >&2; exit 1; fi
case "$pkg" in *:arm64) ;; *) pkg="$pkg:arm64" ;; esac
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
chmod 755 "$work" # apt downloads as _apt when it can
( cd "$work" && apt-get download "$pkg" busybox-static:arm64 systemd-boot-efi:arm64 >/dev/null )
mkdir -p "$work/x"
for deb in "$work"/*.deb; do dpkg-deb -x "$deb" "$work/x"; done
rm -rf "$DEST.tmp"; mkdir -p "$DEST.tmp/lib"
ver=$(ls "$work/x/lib/modules" | head -1)
cp "$work/x/boot/vmlinuz-$ver" "$DEST.tmp/vmlinuz"
mv "$work/x/lib/modules" "$DEST.tmp/lib/modules"
mv "$work/x/usr/lib/linux-image-$ver" "$DEST.tmp/dtbs"
cp "$work/x/bin/busybox" "$DEST.tmp/busybox"
cp "$work/x/usr/lib/systemd/boot/efi/linuxaa64.efi.stub" "$DEST.tmp/linuxaa64.efi.stub"
echo "$ver" > "$DEST.tmp/version"
rm -rf "$DEST"; mv "$DEST.tmp" "$DEST"
echo "$DEST"
