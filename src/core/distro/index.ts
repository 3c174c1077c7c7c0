/**
 * The busybox distro: a rootfs recipe turned into a FileTree.
 *
 * FHS skeleton, /etc (passwd, group, shadow, hostname, hosts, profile, fstab,
 * issue, inittab, syslog.conf), busybox init with a sysinit script and a
 * shutdown script, runit-style supervision with busybox runsvdir/runsv/sv
 * (services in /etc/sv/NAME, enabled by a symlink in /etc/service), built-in
 * services syslogd, klogd and udhcpc, and getty on the configured consoles.
 *
 * The busybox binary must have the applets the recipe uses; `buildRootfs`
 * checks that before building anything and names the missing ones.
 */
import { UsageError } from '../errors.js';
import { FileTree } from '../tree/tree.js';
import { bytesContent } from '../tree/content.js';
import type { Content } from '../tree/types.js';
import { addBusybox, readBusyboxApplets, type Applet } from '../busybox/applets.js';
import * as S from './scripts.js';

export interface ServiceDef {
  /** Body of the run script (after "#!/bin/sh", PATH and SVDIR lines); must `exec` the daemon in the foreground. */
  run: string;
  /** Optional finish script body. */
  finish?: string;
  /** Enabled (linked into the service directory) unless false. */
  enabled?: boolean;
  /** Busybox applets the scripts need (checked against the binary). */
  applets?: string[];
}

export interface UserDef {
  name: string;
  uid: number;
  /** Primary group id (default: a group named like the user with gid = uid is created). */
  gid?: number;
  home?: string;
  shell?: string;
  gecos?: string;
  /** crypt(3) hash ("$6$..."); default: empty (no password). */
  password?: string;
  /** Lock the account ("!" in /etc/shadow). */
  locked?: boolean;
  /** Supplementary groups by name. */
  groups?: string[];
}

export interface DistroOptions {
  /** The busybox binary (static). */
  busybox: Uint8Array | Content;
  /** Applets of the binary; default: read from it with readBusyboxApplets. */
  applets?: Applet[];
  /** Default "tinyimage". */
  hostname?: string;
  /** Consoles with a getty (default ["tty1", "ttyS0"]). */
  consoles?: string[];
  /** Serial console speed (default 115200). */
  serialSpeed?: number;
  /** Root's password as a crypt(3) hash; default: empty (login without a password). */
  rootPassword?: string;
  /** Lock root's password (console login impossible). */
  rootLocked?: boolean;
  users?: UserDef[];
  /**
   * Services: the built-ins `syslogd`, `klogd`, `udhcpc` are on by default;
   * `false` disables one, `true` enables it, an object adds or replaces one.
   */
  services?: Record<string, boolean | ServiceDef>;
  /** Interface udhcpc configures (default eth0). */
  dhcpInterface?: string;
  /** A binary keymap (busybox `dumpkmap` / "bkeymap" format) loaded at start-up with loadkmap. */
  keymap?: Uint8Array | Content;
  /** fstab source of the root filesystem (default /dev/root), e.g. "PARTUUID=1234abcd-01". */
  rootSource?: string;
  /** Root filesystem type for fstab (default ext4). */
  rootType?: string;
  /**
   * The root is mounted read-only (squashfs, EROFS): /tmp and /var become
   * tmpfs at start-up (/var seeded with the image's), runit keeps its state in
   * /run, /etc/resolv.conf and /etc/mtab point into /run and /proc.
   */
  readOnly?: boolean;
  /** Load drivers for the devices found at start-up (modalias coldplug; default true). */
  coldplug?: boolean;
  /** /etc/issue text (default "tinyimage Linux \n \l"). */
  issue?: string;
  /** /etc/motd text (default none). */
  motd?: string;
  /** Directory runsvdir watches (default /etc/service). */
  serviceDir?: string;
  /** Time of every entry (SOURCE_DATE_EPOCH); default 0. */
  epoch?: number;
}

/** The kernel command line's console part: messages on the screen and the first serial port. */
export const DEFAULT_CONSOLE_CMDLINE = 'console=tty0 console=ttyS0';

export const BUILTIN_SERVICES: Record<string, (o: { iface: string }) => ServiceDef> = {
  syslogd: () => ({ run: 'exec syslogd -n', applets: ['syslogd'] }),
  klogd: () => ({ run: 'sv start syslogd >/dev/null || exit 1\nexec klogd -n', applets: ['klogd', 'sv'] }),
  udhcpc: ({ iface }) => ({
    run: `${S.waitForInterface(iface)}\nexec udhcpc -f -i ${iface} -s /usr/share/udhcpc/default.script`,
    applets: ['udhcpc', 'ip', 'grep', 'mv', 'sleep'],
  }),
};

const NAME_RE = /^[a-z_][a-z0-9_.-]{0,31}$/;
/** Where a read-only root's resolver configuration lives (udhcpc writes it). */
const RO_RESOLV_CONF = '/run/resolv.conf';

interface Plan {
  services: Array<[string, ServiceDef]>;
  consoles: S.ConsoleLine[];
  required: string[];
  /** For each required applet, the parts of the system that use it. */
  needs: Map<string, string[]>;
}

function plan(o: DistroOptions): Plan {
  const iface = o.dhcpInterface ?? 'eth0';
  if (!/^[A-Za-z0-9_.:-]{1,15}$/.test(iface))
    throw new UsageError('E_USAGE_INTERFACE', `dhcpInterface '${iface}' is not an interface name`, {
      field: 'dhcpInterface',
      actual: iface,
    });
  const chosen = new Map<string, ServiceDef>();
  for (const [name, mk] of Object.entries(BUILTIN_SERVICES)) chosen.set(name, mk({ iface }));
  for (const [name, v] of Object.entries(o.services ?? {})) {
    if (!/^[A-Za-z0-9_.@-]+$/.test(name))
      throw new UsageError(
        'E_USAGE_SERVICE',
        `service name '${name}' may only use letters, digits, '_', '.', '@' and '-'`,
        { field: `services.${name}`, actual: name },
      );
    if (v === false) {
      chosen.delete(name);
      continue;
    }
    if (v === true) {
      const mk = BUILTIN_SERVICES[name];
      if (!mk)
        throw new UsageError(
          'E_USAGE_SERVICE',
          `service '${name}' is not built in (built-ins: ${Object.keys(BUILTIN_SERVICES).join(', ')}); give its run script instead of true`,
          { field: `services.${name}` },
        );
      chosen.set(name, mk({ iface }));
      continue;
    }
    if (typeof v !== 'object' || typeof v.run !== 'string' || !v.run.trim())
      throw new UsageError('E_USAGE_SERVICE', `service '${name}' needs a run script`, {
        field: `services.${name}.run`,
      });
    chosen.set(name, v);
  }
  if (chosen.has('klogd') && !chosen.has('syslogd')) {
    throw new UsageError(
      'E_USAGE_SERVICE',
      'klogd sends kernel messages to syslogd: enable syslogd too, or disable klogd',
      { field: 'services.klogd' },
    );
  }
  const speed = o.serialSpeed ?? 115200;
  const consoles = (o.consoles ?? ['tty1', 'ttyS0']).map((tty) => {
    if (!/^[A-Za-z0-9]+$/.test(tty))
      throw new UsageError('E_USAGE_CONSOLE', `console '${tty}' is not a tty name such as tty1 or ttyS0`, {
        field: 'consoles',
        actual: tty,
      });
    return { tty, speed };
  });
  const services = [...chosen.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  const needs = new Map<string, string[]>();
  const need = (part: string, ...applets: string[]) => {
    for (const a of applets) needs.set(a, [...(needs.get(a) ?? []), part]);
  };
  // mountpoint and killall5 are optional: the scripts fall back to grep /proc/mounts and kill -1
  need('the boot and shutdown scripts', 'init', 'sh', 'mount', 'umount', 'mkdir', 'chmod', 'hostname', 'grep');
  need('the boot and shutdown scripts', 'kill', 'sleep', 'sync', 'swapoff', 'reboot', 'poweroff', 'ip');
  if (consoles.length) need('the login consoles', 'getty', 'login');
  if (services.length) need(`the services ${services.map(([n]) => n).join(', ')}`, 'runsvdir', 'runsv', 'sv');
  for (const [name, s] of services) need(`the service ${name}`, ...(s.applets ?? []));
  if (o.keymap) need('the keymap', 'loadkmap');
  if (o.coldplug ?? true) need('module coldplug', 'find', 'xargs', 'cat', 'sort', 'modprobe', 'uname');
  if (o.readOnly) need('the read-only root (tmpfs for /var)', 'cp', 'rm');
  const required = [...needs.keys()].sort();
  return { services, consoles, required, needs };
}

/** Applets the recipe needs from busybox. */
export function requiredApplets(o: Omit<DistroOptions, 'busybox'> & { busybox?: unknown }): string[] {
  return plan(o as DistroOptions).required;
}

/** Each applet the recipe needs, with the parts of the system that use it. */
export function appletNeeds(o: Omit<DistroOptions, 'busybox'> & { busybox?: unknown }): Map<string, string[]> {
  return plan(o as DistroOptions).needs;
}

/**
 * Throw UsageError E_USAGE_BUSYBOX_APPLETS naming the applets `applets`
 * lacks and, when `needs` is given, what each is needed for.
 */
export function checkApplets(
  applets: readonly Applet[],
  required: readonly string[],
  needs?: ReadonlyMap<string, readonly string[]>,
): void {
  const have = new Set(applets.map((a) => a.name));
  const missing = required.filter((r) => !have.has(r));
  if (!missing.length) return;
  const byPart = new Map<string, string[]>();
  for (const m of missing) {
    const parts = needs?.get(m) ?? ['this system'];
    for (const p of parts) byPart.set(p, [...(byPart.get(p) ?? []), m]);
  }
  const what = [...byPart].map(([part, list]) => `${list.join(', ')} (for ${part})`).join('; ');
  const services = [...byPart.keys()].some((p) => p.startsWith('the service'));
  throw new UsageError(
    'E_USAGE_BUSYBOX_APPLETS',
    `the busybox binary lacks applets this system needs: ${what}. Build busybox with them ` +
      `(busybox: { build: { source: busybox.tar.bz2 } } in a spec: its default configuration has them all)` +
      (services ? ', or disable the services that need them (rootfs.services: [] or disableServices in a spec)' : ''),
    { field: 'busybox', expected: required, actual: missing },
  );
}

function appletPath(applets: readonly Applet[], name: string): string {
  const a = applets.find((x) => x.name === name);
  return !a ? `/bin/${name}` : a.dir === '/' ? `/${name}` : `${a.dir}/${name}`;
}

function checkHash(h: string, field: string): void {
  if (/[:\n\r]/.test(h))
    throw new UsageError('E_USAGE_PASSWORD', `${field}: a password hash may not contain ':' or a newline`, { field });
}

function readBytes(c: Uint8Array | Content): Uint8Array | undefined {
  return c instanceof Uint8Array ? c : c.readAt?.(0, c.size);
}

/** The applets of the given busybox (from the options or the binary). */
export function distroApplets(o: DistroOptions): Applet[] {
  if (o.applets) return o.applets;
  const bytes = readBytes(o.busybox);
  if (!bytes)
    throw new UsageError('E_USAGE_BUSYBOX', 'the busybox content has no random access; pass its bytes or `applets`', {
      field: 'busybox',
    });
  return readBusyboxApplets(bytes);
}

/** Build the root filesystem tree. Throws UsageError before building when busybox lacks needed applets. */
export function buildRootfs(o: DistroOptions): FileTree {
  const p = plan(o);
  const applets = distroApplets(o);
  checkApplets(applets, p.required, p.needs);

  const hostname = o.hostname ?? 'tinyimage';
  if (!/^[A-Za-z0-9]([A-Za-z0-9-]{0,62})?(\.[A-Za-z0-9]([A-Za-z0-9-]{0,62})?)*$/.test(hostname)) {
    throw new UsageError('E_USAGE_HOSTNAME', `hostname '${hostname}' is not a valid host name`, {
      field: 'hostname',
      actual: hostname,
    });
  }
  const serviceDir = o.serviceDir ?? '/etc/service';
  const tree = new FileTree({ defaultTime: o.epoch ?? 0 });
  const file = (path: string, text: string | Uint8Array | Content, mode = 0o644) =>
    tree.addFile(path, typeof text === 'string' ? bytesContent(text) : text, { mode }, { replace: true });

  // FHS skeleton
  for (const d of [
    '/bin',
    '/sbin',
    '/usr/bin',
    '/usr/sbin',
    '/lib',
    '/usr/lib',
    '/usr/share',
    '/etc',
    '/etc/init.d',
    '/etc/sv',
    '/etc/profile.d',
    '/dev',
    '/proc',
    '/sys',
    '/run',
    '/boot',
    '/home',
    '/mnt',
    '/media',
    '/opt',
    '/srv',
    '/var',
    '/var/log',
    '/var/lib',
    '/var/spool',
    '/var/cache',
  ])
    tree.mkdir(d, { mode: 0o755 });
  tree.mkdir('/root', { mode: 0o700 });
  tree.mkdir('/tmp', { mode: 0o1777 });
  tree.mkdir('/var/tmp', { mode: 0o1777 });
  tree.addSymlink('/var/run', '../run');
  tree.addSymlink('/var/lock', '../run/lock');
  tree.mkdir(serviceDir, { mode: 0o755 });
  if (serviceDir !== '/var/service') tree.addSymlink('/var/service', serviceDir);
  // Nodes the kernel needs before devtmpfs is mounted (no initramfs case).
  tree.addDevice('/dev/console', 'char', 5, 1, { mode: 0o600 });
  tree.addDevice('/dev/null', 'char', 1, 3, { mode: 0o666 });
  tree.addDevice('/dev/tty', 'char', 5, 0, { mode: 0o666 });

  addBusybox(tree, o.busybox, { applets });

  // Accounts
  const users: UserDef[] = [
    {
      name: 'root',
      uid: 0,
      gid: 0,
      home: '/root',
      shell: '/bin/sh',
      gecos: 'root',
      ...(o.rootPassword !== undefined ? { password: o.rootPassword } : {}),
      ...(o.rootLocked ? { locked: true } : {}),
    },
    ...(o.users ?? []),
  ];
  const groups: Array<{ name: string; gid: number; members: string[] }> = [
    ['root', 0],
    ['daemon', 1],
    ['bin', 2],
    ['sys', 3],
    ['adm', 4],
    ['tty', 5],
    ['disk', 6],
    ['lp', 7],
    ['mail', 8],
    ['kmem', 9],
    ['wheel', 10],
    ['cdrom', 11],
    ['dialout', 18],
    ['floppy', 19],
    ['video', 28],
    ['audio', 29],
    ['utmp', 43],
    ['input', 101],
    ['users', 100],
    ['nogroup', 65534],
  ].map(([name, gid]) => ({ name: name as string, gid: gid as number, members: [] }));
  const passwd: string[] = [];
  const shadow: string[] = [];
  const seen = new Set<string>();
  const lastChange = o.epoch ? String(Math.floor(o.epoch / 86400)) : '';
  for (const u of users) {
    if (!NAME_RE.test(u.name))
      throw new UsageError(
        'E_USAGE_USER',
        `user name '${u.name}' is not valid (lowercase letters, digits, _ . -; up to 32)`,
        { field: 'users', actual: u.name },
      );
    if (seen.has(u.name))
      throw new UsageError('E_USAGE_USER', `user '${u.name}' is defined twice`, { field: 'users', actual: u.name });
    if (!Number.isInteger(u.uid) || u.uid < 0 || u.uid > 0xfffffffe)
      throw new UsageError('E_USAGE_USER', `user '${u.name}': uid ${u.uid} is not valid`, {
        field: 'users',
        actual: u.uid,
      });
    seen.add(u.name);
    let gid = u.gid;
    if (gid === undefined) {
      gid = u.uid;
      if (!groups.some((g) => g.gid === gid || g.name === u.name)) groups.push({ name: u.name, gid, members: [] });
    }
    for (const g of u.groups ?? []) {
      const grp = groups.find((x) => x.name === g);
      if (!grp)
        throw new UsageError('E_USAGE_USER', `user '${u.name}': group '${g}' does not exist`, {
          field: 'users',
          actual: g,
        });
      grp.members.push(u.name);
    }
    const home = u.home ?? (u.uid === 0 ? '/root' : `/home/${u.name}`);
    const shell = u.shell ?? '/bin/sh';
    for (const [f, v] of [
      ['home', home],
      ['shell', shell],
      ['gecos', u.gecos ?? ''],
    ] as const) {
      if (/[:\n]/.test(v))
        throw new UsageError('E_USAGE_USER', `user '${u.name}': ${f} may not contain ':' or a newline`, {
          field: `users.${f}`,
        });
    }
    if (u.password !== undefined) checkHash(u.password, `password of ${u.name}`);
    const pw = u.locked ? `!${u.password ?? ''}` : (u.password ?? '');
    passwd.push(`${u.name}:x:${u.uid}:${gid}:${u.gecos ?? u.name}:${home}:${shell}`);
    shadow.push(`${u.name}:${pw}:${lastChange}:0:99999:7:::`);
    if (u.uid !== 0) tree.mkdir(home, { mode: 0o750, uid: u.uid, gid });
  }
  passwd.push('nobody:x:65534:65534:nobody:/nonexistent:/bin/false');
  shadow.push(`nobody:*:${lastChange}:0:99999:7:::`);
  file('/etc/passwd', passwd.join('\n') + '\n');
  file('/etc/shadow', shadow.join('\n') + '\n', 0o600);
  file(
    '/etc/group',
    groups
      .sort((a, b) => a.gid - b.gid)
      .map((g) => `${g.name}:x:${g.gid}:${g.members.join(',')}`)
      .join('\n') + '\n',
  );
  file('/etc/shells', '/bin/sh\n/bin/ash\n');

  // /etc
  file('/etc/hostname', hostname + '\n');
  file('/etc/hosts', S.hosts(hostname));
  file('/etc/profile', S.profile(serviceDir));
  file(
    '/etc/fstab',
    S.fstab({ source: o.rootSource ?? '/dev/root', type: o.rootType ?? 'ext4', readOnly: o.readOnly === true }),
  );
  file('/etc/issue', o.issue ?? 'tinyimage Linux \\n \\l\n\n');
  if (o.motd !== undefined) file('/etc/motd', o.motd);
  file('/etc/syslog.conf', S.syslogConf());
  if (o.readOnly) {
    tree.addSymlink('/etc/resolv.conf', RO_RESOLV_CONF);
    tree.addSymlink('/etc/mtab', '/proc/self/mounts');
  } else file('/etc/resolv.conf', '');
  file(
    '/etc/inittab',
    S.inittab({
      consoles: p.consoles,
      getty: appletPath(applets, 'getty'),
      runsvdir: p.services.length ? appletPath(applets, 'runsvdir') : undefined,
      serviceDir,
    }),
  );
  const readOnly = o.readOnly ? { services: p.services.map(([name]) => name) } : undefined;
  file(
    '/etc/init.d/rcS',
    S.rcS({ keymap: !!o.keymap, coldplug: o.coldplug ?? true, loopback: true, ...(readOnly ? { readOnly } : {}) }),
    0o755,
  );
  file('/etc/init.d/rcK', S.rcK({ serviceDir, supervised: p.services.length > 0 }), 0o755);
  if (o.keymap) {
    const head = readBytes(o.keymap)?.subarray(0, 7);
    if (head && new TextDecoder('latin1').decode(head) !== 'bkeymap') {
      throw new UsageError(
        'E_USAGE_KEYMAP',
        "the keymap is not a binary keymap (it must start with 'bkeymap'; make one with busybox dumpkmap or loadkeys -b)",
        { field: 'keymap' },
      );
    }
    file('/etc/keymap.bmap', o.keymap);
  }
  file('/usr/share/udhcpc/default.script', S.udhcpcScript(o.readOnly ? RO_RESOLV_CONF : undefined), 0o755);

  // Services
  for (const [name, s] of p.services) {
    const dir = `/etc/sv/${name}`;
    tree.mkdir(dir);
    file(`${dir}/run`, S.serviceRun(s.run, serviceDir), 0o755);
    if (s.finish) file(`${dir}/finish`, S.serviceRun(s.finish, serviceDir), 0o755);
    // runsv creates the directory a supervise symlink names (its parent comes from rcS)
    if (o.readOnly) tree.addSymlink(`${dir}/supervise`, `${S.SUPERVISE_DIR}/supervise.${name}`);
    if (s.enabled !== false) tree.addSymlink(`${serviceDir}/${name}`, dir);
  }
  return tree;
}

export { S as scripts };
