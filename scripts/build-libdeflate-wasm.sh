#!/usr/bin/env bash
# Build libdeflate's compressor (Debian's source package libdeflate 1.14-1,
# with scripts/libdeflate/continuable.patch: two lines that let the glue end a
# stream with a sync flush) to WebAssembly with scripts/libdeflate/glue.c, and
# write it as src/node/compress/libdeflate-wasm.ts (base64), the module the
# gzip encoder's worker threads run. The generated file is committed.
# Building needs clang and lld (Debian: clang-14 lld-14, which setup.sh
# installs) and a deb-src entry in apt's sources (scripts/fetch-sources.sh
# adds one mirroring the machine's own Debian entry). The same compiler gives
# the same bytes: test/gzip/libdeflate.test.ts rebuilds and compares.
# Usage: scripts/build-libdeflate-wasm.sh [OUT.ts]
set -euo pipefail
REPO=$(cd "$(dirname "$0")/.." && pwd)
OUT=${1:-"$REPO/src/node/compress/libdeflate-wasm.ts"}
VERSION=1.14-1
ORIG_SHA256=89e7df898c37c3427b0f39aadcf733731321a278771d20fc553f92da8d4808ac
CC=${CC:-clang-14}
command -v "$CC" >/dev/null || { echo "build-libdeflate-wasm: $CC not found (apt-get install clang-14 lld-14)" >&2; exit 1; }
command -v wasm-ld-14 >/dev/null || command -v wasm-ld >/dev/null || { echo "build-libdeflate-wasm: wasm-ld not found (apt-get install lld-14)" >&2; exit 1; }

work=$(mktemp -d)
trap 'rm -rf "$work" "$OUT.tmp"' EXIT
chmod 755 "$work"
( cd "$work" && apt-get source --download-only -qq "libdeflate=$VERSION" >/dev/null 2>&1 ) ||
  { echo "build-libdeflate-wasm: apt-get source libdeflate=$VERSION failed (is there a deb-src entry? scripts/fetch-sources.sh adds one)" >&2; exit 1; }
orig="$work/libdeflate_1.14.orig.tar.gz"
echo "$ORIG_SHA256  $orig" | sha256sum -c --quiet - >&2
tar -xzf "$orig" -C "$work"
src="$work/libdeflate-1.14"
patch -s -d "$work" -p0 < "$REPO/scripts/libdeflate/continuable.patch"
"$CC" --target=wasm32 -O2 -ffreestanding -DFREESTANDING -nostdlib -mbulk-memory \
  -I"$src" -I"$src/lib" -Wl,--no-entry -Wl,--strip-all \
  -o "$work/libdeflate.wasm" "$REPO/scripts/libdeflate/glue.c" "$src/lib/deflate_compress.c" "$src/lib/utils.c"
sha=$(sha256sum "$work/libdeflate.wasm" | cut -d' ' -f1)
{
  echo "/**"
  echo " * libdeflate $VERSION's compressor (Copyright 2016 Eric Biggers, MIT license:"
  echo " * THIRD-PARTY-NOTICES.md) with scripts/libdeflate/continuable.patch and"
  echo " * scripts/libdeflate/glue.c, built to WebAssembly by"
  echo " * scripts/build-libdeflate-wasm.sh with $("$CC" --version | head -1 | sed 's/ *$//')."
  echo " * Generated: do not edit. sha256 of the module: $sha"
  echo " */"
  echo "export const LIBDEFLATE_WASM_BASE64 ="
  echo "  '$(base64 -w0 "$work/libdeflate.wasm")';"
} > "$OUT.tmp"
mv "$OUT.tmp" "$OUT"
echo "$OUT ($(stat -c %s "$work/libdeflate.wasm") bytes of WebAssembly, sha256 $sha)"
