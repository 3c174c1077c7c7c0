#!/usr/bin/env bash
# Install everything tinyimage's tests and demos need on Debian 12 (run as
# root): the independent checkers (e2fsprogs, dosfstools, mtools, fdisk, gdisk,
# cpio, GNU tar, umoci, skopeo, unsquashfs, fsck.erofs, isoinfo, xorriso, qemu-img, simg2img, file;
# python3 makes the tar fixtures; chromium and its fonts drive the web page's test), QEMU + OVMF,
# busybox-static, GRUB's i386-pc files, systemd's EFI stub, the kernel/busybox build toolchain, for
# arm64 qemu-system-aarch64 + AAVMF and the aarch64 cross compiler, then Debian's amd64 and arm64
# kernel packages (unpacked rootlessly) and the kernel/busybox source tarballs, and npm packages.
set -euo pipefail
cd "$(dirname "$0")/.."
export DEBIAN_FRONTEND=noninteractive
SUDO=; [ "$(id -u)" = 0 ] || SUDO=sudo
PKGS=(qemu-system-x86 ovmf busybox-static cpio e2fsprogs dosfstools mtools fdisk gdisk pigz
      grub-pc-bin grub-common systemd-boot-efi genext2fs binutils kmod xz-utils zstd
      build-essential bc flex bison libelf-dev libssl-dev musl-tools linux-source-6.1 dpkg-dev rsync
      tar bzip2 umoci skopeo python3 squashfs-tools erofs-utils genisoimage xorriso qemu-utils
      android-sdk-libsparse-utils file chromium fonts-dejavu-core
      qemu-system-arm qemu-efi-aarch64 gcc-aarch64-linux-gnu libc6-dev-arm64-cross binutils-aarch64-linux-gnu
      clang-14 lld-14 patch)
missing=()
for p in "${PKGS[@]}"; do dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p"); done
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing ${missing[*]}"
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
[ -n "$(apt-cache policy linux-image-amd64 2>/dev/null | grep Candidate)" ] || $SUDO apt-get update -qq
# arm64 packages are fetched (not installed) from the arm64 indexes
if ! dpkg --print-foreign-architectures | grep -qx arm64; then
  $SUDO dpkg --add-architecture arm64
  $SUDO apt-get update -qq
fi
scripts/fetch-debian-kernel.sh >/dev/null
scripts/fetch-debian-arm64.sh >/dev/null
if [ -x scripts/fetch-sources.sh ]; then scripts/fetch-sources.sh >/dev/null; fi
if [ ! -d node_modules ] || [ package-lock.json -nt node_modules ]; then npm ci --no-audit --no-fund >/dev/null; fi
echo "setup: ok"
