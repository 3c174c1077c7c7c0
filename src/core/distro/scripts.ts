/**
 * The text files of the busybox distro: init scripts, inittab, service run
 * scripts, the udhcpc event script and /etc files. Pure string builders.
 */

export interface ConsoleLine {
  tty: string;
  speed: number;
}

export function inittab(o: {
  consoles: ConsoleLine[];
  getty: string;
  runsvdir: string | undefined;
  serviceDir: string;
}): string {
  const lines = ['# /etc/inittab for busybox init, written by tinyimage', '::sysinit:/etc/init.d/rcS'];
  if (o.runsvdir) lines.push(`::respawn:${o.runsvdir} -P ${o.serviceDir}`);
  for (const c of o.consoles) {
    lines.push(
      /^ttyS|^ttyAMA|^hvc|^ttyUSB/.test(c.tty)
        ? `${c.tty}::respawn:${o.getty} -L ${c.speed} ${c.tty} vt100`
        : `${c.tty}::respawn:${o.getty} 38400 ${c.tty}`,
    );
  }
  lines.push('::ctrlaltdel:/sbin/reboot', '::shutdown:/etc/init.d/rcK', '');
  return lines.join('\n');
}

/**
 * What a read-only root needs at start-up: tmpfs on /tmp and on /var (seeded
 * with the image's /var), and the runit supervise directories the services'
 * `supervise` symlinks point at, under /run.
 */
function readOnlyMounts(services: readonly string[]): string {
  const supervise = services.map((s) => `${SUPERVISE_DIR}/supervise.${s}`).join(' ');
  return `# The root is read-only: what changes lives in memory (tmpfs)
mounted /tmp || mount -t tmpfs -o mode=1777,nosuid,nodev tmpfs /tmp
if ! mounted /var; then
  mkdir -p /run/.var && cp -a /var/. /run/.var/ &&
    mount -t tmpfs -o mode=0755,nosuid,nodev tmpfs /var && cp -a /run/.var/. /var/ && rm -rf /run/.var
fi
mkdir -p ${SUPERVISE_DIR}${supervise ? ` ${supervise}` : ''}
`;
}

/** Where a read-only root's services keep their runit state (/etc/sv/NAME/supervise points here). */
export const SUPERVISE_DIR = '/run/runit';

export function rcS(o: {
  keymap: boolean;
  coldplug: boolean;
  loopback: boolean;
  /** The root is read-only: these services get their supervise directories in /run. */
  readOnly?: { services: readonly string[] };
}): string {
  return `#!/bin/sh
# System start-up (busybox init sysinit action), written by tinyimage.
export PATH=/sbin:/usr/sbin:/bin:/usr/bin
# busybox builds without the mountpoint applet (Debian's busybox-static) read /proc/mounts
mounted() { mountpoint -q "$1" 2>/dev/null || grep -qs " $1 " /proc/mounts; }
mounted /proc || mount -t proc proc /proc
mounted /sys || mount -t sysfs sysfs /sys
mounted /dev || mount -t devtmpfs devtmpfs /dev
mkdir -p /dev/pts /dev/shm
mounted /dev/pts || mount -t devpts -o gid=5,mode=0620,ptmxmode=0666 devpts /dev/pts
mounted /run || mount -t tmpfs -o mode=0755,nosuid,nodev tmpfs /run
${o.readOnly ? readOnlyMounts(o.readOnly.services) : 'mount -o remount,rw /\n'}mkdir -p /run/lock /var/log /tmp
chmod 1777 /tmp
hostname -F /etc/hostname
${o.keymap ? '[ -r /etc/keymap.bmap ] && loadkmap < /etc/keymap.bmap\n' : ''}${
    o.coldplug
      ? `# Coldplug, in the background so the consoles get their login prompt at once:
# load a driver for every device the kernel found that has none yet (by modalias),
# buses with disks and network cards first (cpu/acpi/platform modules are slower to load).
if [ -d "/lib/modules/$(uname -r)" ]; then
  (
    aliases=$(for dev in /sys/bus/*/devices/*; do
      [ -e "$dev/driver" ] || [ ! -r "$dev/modalias" ] || cat "$dev/modalias"
    done 2>/dev/null | sort -u)
    set -f
    for alias in $(echo "$aliases" | grep -E '^(pci|virtio|usb|scsi|mmc|nvme):') $(echo "$aliases" | grep -vE '^(pci|virtio|usb|scsi|mmc|nvme):'); do
      modprobe -q "$alias" 2>/dev/null
    done
    : > /run/coldplug.done
  ) </dev/null >/dev/null 2>&1 &
fi
`
      : ''
  }${o.loopback ? 'ip link set lo up 2>/dev/null || ifconfig lo 127.0.0.1 up\n' : ''}[ -x /etc/rc.local ] && /etc/rc.local
exit 0
`;
}

export function rcK(o: { serviceDir: string; supervised: boolean }): string {
  return `#!/bin/sh
# System shutdown (busybox init shutdown action), written by tinyimage.
export PATH=/sbin:/usr/sbin:/bin:/usr/bin
${
  o.supervised
    ? `echo "Stopping services"
sv -w 7 force-stop ${o.serviceDir}/* >/dev/null 2>&1
`
    : ''
}echo "Stopping processes"
# without killall5 (Debian's busybox-static), kill -1 signals every process but init and this script
killall5 -TERM 2>/dev/null || kill -TERM -1 2>/dev/null
sleep 1
killall5 -KILL 2>/dev/null || kill -KILL -1 2>/dev/null
sync
swapoff -a 2>/dev/null
echo "Unmounting filesystems"
mount -o remount,ro / 2>/dev/null
umount -a -r 2>/dev/null
sync
exit 0
`;
}

export function syslogConf(): string {
  return `# busybox syslogd, written by tinyimage
kern.*                  /var/log/kern.log
*.*;kern.none           /var/log/messages
`;
}

export const PATH_LINE = 'export PATH=/sbin:/usr/sbin:/bin:/usr/bin';

/** Busybox sh prelude of a run script waiting quietly for a network interface to appear. */
export function waitForInterface(iface: string): string {
  return `while [ ! -e /sys/class/net/${iface} ]; do sleep 1; done`;
}

export function serviceRun(body: string, serviceDir: string): string {
  return `#!/bin/sh\n${PATH_LINE}\nexport SVDIR=${serviceDir}\nexec 2>&1\n${body.trimEnd()}\n`;
}

/**
 * udhcpc event script (environment: interface, ip, mask/subnet, broadcast,
 * router, dns, domain). `resolvConf`: the file it writes (a read-only root
 * keeps it in /run, /etc/resolv.conf pointing there).
 */
export function udhcpcScript(resolvConf = '/etc/resolv.conf'): string {
  return `#!/bin/sh
# udhcpc event script, written by tinyimage. $1: deconfig | bound | renew | leasefail | nak
RESOLV_CONF=${resolvConf}
case "$1" in
  deconfig)
    ip -4 addr flush dev "$interface" 2>/dev/null
    ip link set "$interface" up
    ;;
  bound|renew)
    if [ "$1" = bound ] || ! ip -4 addr show dev "$interface" | grep -q "inet $ip/"; then
      ip -4 addr flush dev "$interface"
      ip addr add "$ip/\${mask:-24}" \${broadcast:+broadcast "$broadcast"} dev "$interface"
    fi
    if [ -n "$router" ]; then
      while ip route del default dev "$interface" 2>/dev/null; do :; done
      metric=0
      for r in $router; do
        ip route add default via "$r" dev "$interface" metric $metric
        metric=$((metric + 1))
      done
    fi
    if [ -n "$dns" ]; then
      tmp="$RESOLV_CONF.$$"
      {
        [ -n "$domain" ] && echo "search $domain"
        for d in $dns; do echo "nameserver $d"; done
      } > "$tmp" && mv -f "$tmp" "$RESOLV_CONF"
    fi
    echo "udhcpc: $interface: $ip/\${mask:-24}\${router:+ via $router}"
    ;;
  leasefail|nak)
    echo "udhcpc: $interface: no lease ($1)"
    ;;
esac
exit 0
`;
}

export function profile(serviceDir: string): string {
  return `# /etc/profile, written by tinyimage
${PATH_LINE}
export SVDIR=${serviceDir}
export HOME=\${HOME:-/root}
export PAGER=less
umask 022
if [ "$(id -u)" = 0 ]; then PS1='\\h:\\w# '; else PS1='\\h:\\w$ '; fi
export PS1
for f in /etc/profile.d/*.sh; do [ -r "$f" ] && . "$f"; done
unset f
`;
}

export function hosts(hostname: string): string {
  return `127.0.0.1\tlocalhost\n127.0.1.1\t${hostname}\n::1\t\tlocalhost ip6-localhost ip6-loopback\n`;
}

export function fstab(root: { source: string; type: string; readOnly?: boolean }): string {
  return `# <source>\t<mount point>\t<type>\t<options>\t<dump>\t<pass>
${root.source}\t/\t${root.type}\t${root.readOnly ? 'ro\t0\t0' : 'rw,relatime\t0\t1'}
proc\t/proc\tproc\tdefaults\t0\t0
sysfs\t/sys\tsysfs\tdefaults\t0\t0
devpts\t/dev/pts\tdevpts\tgid=5,mode=0620\t0\t0
tmpfs\t/run\ttmpfs\tmode=0755,nosuid,nodev\t0\t0
${
  root.readOnly
    ? "tmpfs\t/tmp\ttmpfs\tmode=1777,nosuid,nodev\t0\t0\n# /var: a tmpfs seeded with the image's /var by /etc/init.d/rcS\n"
    : ''
}`;
}
