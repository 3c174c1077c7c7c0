#!/usr/bin/env bash
# The main job on a fresh Debian 12 machine: install what is needed, build the
# default tiny image (the UEFI preset: Debian's kernel + a busybox initramfs in
# one EFI executable on a FAT32 ESP of a GPT USB image) and boot it under OVMF
# in QEMU until "Welcome to Tiny Linux!" appears.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
npm run build --silent
out=${1:-out}
node bin/tinyimage.js build --preset uefi --kernel .cache/debian-kernel/vmlinuz --busybox /bin/busybox -o "$out"
ls -l "$out"
node bin/tinyimage.js boot --disk "$out/usb.img" --firmware uefi --expect 'Welcome to Tiny Linux!' --timeout 300
