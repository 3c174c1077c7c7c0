/**
 * The /init of the module initramfs, as text (busybox sh): load the
 * drivers, find root= (PARTUUID, UUID, LABEL or a device), mount it and
 * switch_root. Kept as its own asset so it reads as the shell script it is.
 */

/** Applets the module initramfs /init uses. */
export const INITRAMFS_APPLETS = [
  'sh',
  'mount',
  'umount',
  'insmod',
  'switch_root',
  'sleep',
  'cat',
  'mkdir',
  'hexdump',
  'readlink',
  'dirname',
  'basename',
  'ls',
  'findfs',
  'tr',
  'echo',
  'grep',
] as const;

/** The /init of the module initramfs (busybox sh). `modules` are paths under /lib/modules/VERSION in load order. */
export function modulesInitScript(
  version: string,
  modules: readonly string[],
  optional: ReadonlySet<string> = new Set(),
): string {
  const loads = modules.map((p) => `${optional.has(p) ? 'try' : 'load'} ${p}`).join('\n');
  return `#!/bin/sh
# /init written by tinyimage: load the drivers to reach the root, mount it, switch_root.
export PATH=/sbin:/bin:/usr/sbin:/usr/bin
mkdir -p /proc /sys /dev /newroot
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev

MODDIR=/lib/modules/${version}
load() { insmod "$MODDIR/$1" 2>/dev/null || grep -q "^$(basename "$1" .ko | tr - _) " /proc/modules || echo "init: could not load $1" >&2; }
try() { insmod "$MODDIR/$1" 2>/dev/null; } # soft dependencies: alternatives that may not fit this CPU
${loads}

root= rootfstype= rootflags= mode=rw init=/sbin/init delay=30
for arg in $(cat /proc/cmdline); do
  case "$arg" in
    root=*) root=\${arg#root=} ;;
    rootfstype=*) rootfstype=\${arg#rootfstype=} ;;
    rootflags=*) rootflags=\${arg#rootflags=} ;;
    rootdelay=*) delay=\${arg#rootdelay=} ;;
    init=*) init=\${arg#init=} ;;
    ro) mode=ro ;;
    rw) mode=rw ;;
  esac
done

# PARTUUID of a partition: MBR "<signature>-<NN>", GPT the entry's unique GUID.
partuuid() { # $1 = partition name (sda1)
  sys=/sys/class/block/$1
  [ -f "$sys/partition" ] || return 1
  n=$(cat "$sys/partition")
  disk=$(basename "$(dirname "$(readlink -f "$sys")")")
  [ -b "/dev/$disk" ] || return 1
  ptype=$(hexdump -s 450 -n 1 -e '1/1 "%02x"' "/dev/$disk")
  if [ "$ptype" = ee ]; then
    lba=$(hexdump -s 584 -n 4 -e '1/4 "%u"' "/dev/$disk")
    esz=$(hexdump -s 596 -n 4 -e '1/4 "%u"' "/dev/$disk")
    off=$((lba * 512 + (n - 1) * esz + 16))
    hexdump -s $off -n 16 -e '1/4 "%08x-" 1/2 "%04x-" 1/2 "%04x-" 2/1 "%02x" "-" 6/1 "%02x"' "/dev/$disk"
  else
    printf '%s-%02x' "$(hexdump -s 440 -n 4 -e '1/4 "%08x"' "/dev/$disk")" "$n"
  fi
}

find_root() {
  case "$root" in
    PARTUUID=*)
      want=$(echo "\${root#PARTUUID=}" | tr A-F a-f)
      for p in /sys/class/block/*; do
        p=\${p##*/}
        [ "$(partuuid "$p" 2>/dev/null)" = "$want" ] && { echo "/dev/$p"; return 0; }
      done
      return 1 ;;
    UUID=*|LABEL=*) findfs "$root" 2>/dev/null ;;
    /dev/*) [ -b "$root" ] && echo "$root" ;;
    *) return 1 ;;
  esac
}

if [ -z "$root" ]; then
  echo "init: no root= on the kernel command line" >&2
  exec sh
fi
tries=$((delay * 10))
dev=
while :; do
  dev=$(find_root) && [ -n "$dev" ] && break
  tries=$((tries - 1))
  if [ "$tries" -le 0 ]; then
    echo "init: root device $root did not appear within $delay s (block devices: $(ls /sys/class/block | tr '\\n' ' ')); dropping to a shell" >&2
    exec sh
  fi
  sleep 0.1
done

opts=$mode
[ -n "$rootflags" ] && opts=$opts,$rootflags
if [ -n "$rootfstype" ]; then
  mount -t "$rootfstype" -o "$opts" "$dev" /newroot
else
  mount -o "$opts" "$dev" /newroot
fi || { echo "init: cannot mount $dev ($root) on /newroot" >&2; exec sh; }

umount /proc /sys
umount /dev 2>/dev/null
exec switch_root /newroot "$init" "$@"
echo "init: switch_root to $init failed" >&2
exec sh
`;
}
