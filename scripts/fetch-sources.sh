#!/usr/bin/env bash
# Put the two source tarballs tinyimage builds from into a cache directory:
#   $DEST/linux-source-6.1.tar.xz        (Debian package linux-source-6.1)
#   $DEST/busybox_1.35.0.orig.tar.bz2    (Debian source package busybox, upstream tarball)
# DEST defaults to <repo>/.cache/sources; override with the first argument or
# $TINYIMAGE_SOURCES. Idempotent: files already present are kept. Needs root
# only for the apt-get steps (installing linux-source-6.1, adding a deb-src
# entry); prints the directory on success.
set -euo pipefail
REPO=$(cd "$(dirname "$0")/.." && pwd)
DEST=${1:-${TINYIMAGE_SOURCES:-"$REPO/.cache/sources"}}
mkdir -p "$DEST"

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; elif command -v sudo >/dev/null; then sudo "$@"; else echo "fetch-sources: need root for: $*" >&2; return 1; fi; }
updated=0
apt_update() { if [ $updated = 0 ]; then as_root apt-get update -qq; updated=1; fi; }

# 1. Kernel: Debian's linux-source-6.1 ships the tarball under /usr/src.
KTAR=/usr/src/linux-source-6.1.tar.xz
if [ ! -f "$DEST/linux-source-6.1.tar.xz" ]; then
  if [ ! -f "$KTAR" ]; then
    apt_update
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends linux-source-6.1 >/dev/null
  fi
  cp "$KTAR" "$DEST/.linux-source-6.1.tar.xz.tmp"
  mv "$DEST/.linux-source-6.1.tar.xz.tmp" "$DEST/linux-source-6.1.tar.xz"
fi

# 2. Busybox: upstream tarball from Debian's source package (needs a deb-src entry).
if ! ls "$DEST"/busybox_*.orig.tar.* >/dev/null 2>&1; then
  has_src() {
    grep -rqsE '^\s*Types:.*deb-src' /etc/apt/sources.list.d/*.sources 2>/dev/null ||
      grep -rqsE '^\s*deb-src\s' /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null
  }
  if ! has_src; then
    # Mirror the machine's own main (non-security) Debian entry as deb-src:
    # the archive address comes from its apt configuration, never from here.
    uri=$( (grep -hE '^\s*URIs:' /etc/apt/sources.list.d/*.sources 2>/dev/null | awk '{print $2}';
            grep -hE '^\s*deb\s' /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null |
              sed -E 's/\[[^]]*\]//' | awk '{print $2}') | grep -v -- '-security' | grep -E '/debian/?$' | head -1)
    if [ -z "$uri" ]; then echo "fetch-sources: no Debian archive entry in /etc/apt to mirror as deb-src" >&2; exit 1; fi
    keyring=/usr/share/keyrings/debian-archive-keyring.gpg
    suite=$( (. /etc/os-release 2>/dev/null; echo "${VERSION_CODENAME:-bookworm}") )
    as_root tee /etc/apt/sources.list.d/tinyimage-deb-src.sources >/dev/null <<SRC
Types: deb-src
URIs: $uri
Suites: $suite
Components: main
Signed-By: $keyring
SRC
    updated=0
  fi
  apt_update
  work=$(mktemp -d)
  trap 'rm -rf "$work"' EXIT
  # --download-only: fetch .dsc/.orig/.debian without unpacking; _apt cannot
  # write into a private mktemp dir, so let it run as root in $work.
  ( cd "$work" && chmod 755 "$work" && apt-get source --download-only -qq busybox >/dev/null 2>&1 ) ||
    ( cd "$work" && apt-get source --download-only busybox )
  orig=$(ls "$work"/busybox_*.orig.tar.* | head -1)
  cp "$orig" "$DEST/.$(basename "$orig").tmp"
  mv "$DEST/.$(basename "$orig").tmp" "$DEST/$(basename "$orig")"
fi
echo "$DEST"
