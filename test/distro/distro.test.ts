import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { appletNeeds, buildRootfs, requiredApplets, checkApplets } from '../../src/core/distro/index.js';
import { readBusyboxApplets } from '../../src/core/busybox/applets.js';
import { readContent } from '../../src/core/tree/content.js';
import type { FileTree } from '../../src/core/tree/tree.js';
import type { Applet } from '../../src/core/busybox/applets.js';
import { missing, run } from '../helpers/prereq.js';

/** A full applet list, as a default-config busybox has (no binary needed for most tests). */
const ALL: Applet[] = [
  'init',
  'sh',
  'ash',
  'mount',
  'umount',
  'mountpoint',
  'mkdir',
  'chmod',
  'hostname',
  'login',
  'killall5',
  'kill',
  'sleep',
  'sync',
  'swapoff',
  'reboot',
  'poweroff',
  'runsv',
  'sv',
  'find',
  'xargs',
  'cat',
  'sort',
  'uname',
  'grep',
  'mv',
  'loadkmap',
]
  .map((name): Applet => ({ name, dir: '/bin' }))
  .concat(['getty', 'syslogd', 'klogd', 'udhcpc', 'modprobe', 'ip'].map((name): Applet => ({ name, dir: '/sbin' })))
  .concat([{ name: 'runsvdir', dir: '/usr/bin' }]);
const FAKE = new TextEncoder().encode('not really busybox');

async function text(t: FileTree, p: string): Promise<string> {
  const n = t.get(p);
  if (n?.type !== 'file') throw new Error(`${p} is not a file`);
  return new TextDecoder().decode(await readContent(n.content));
}

describe('buildRootfs', () => {
  it('writes the FHS skeleton, accounts with an empty root password, and /etc files', async () => {
    const t = buildRootfs({ busybox: FAKE, applets: ALL, hostname: 'box1', rootSource: 'PARTUUID=1234abcd-01' });
    for (const d of [
      '/bin',
      '/sbin',
      '/usr/bin',
      '/etc',
      '/proc',
      '/sys',
      '/dev',
      '/run',
      '/tmp',
      '/var/log',
      '/root',
      '/home',
    ])
      expect(t.get(d)?.type, d).toBe('dir');
    expect(t.get('/tmp')!.mode).toBe(0o1777);
    expect(t.get('/root')!.mode).toBe(0o700);
    expect(t.get('/dev/console')).toMatchObject({ type: 'chardev', major: 5, minor: 1 });
    expect(await text(t, '/etc/passwd')).toMatch(/^root:x:0:0:root:\/root:\/bin\/sh$/m);
    expect(await text(t, '/etc/shadow')).toMatch(/^root::/m);
    expect(t.get('/etc/shadow')!.mode).toBe(0o600);
    expect(await text(t, '/etc/group')).toMatch(/^tty:x:5:$/m);
    expect(await text(t, '/etc/hostname')).toBe('box1\n');
    expect(await text(t, '/etc/hosts')).toContain('127.0.1.1\tbox1');
    expect(await text(t, '/etc/fstab')).toMatch(/^PARTUUID=1234abcd-01\t\/\text4/m);
    expect(await text(t, '/etc/syslog.conf')).toMatch(/^kern\.\*\s+\/var\/log\/kern\.log$/m);
    const inittab = await text(t, '/etc/inittab');
    expect(inittab).toContain('::sysinit:/etc/init.d/rcS');
    expect(inittab).toContain('::respawn:/usr/bin/runsvdir -P /etc/service');
    expect(inittab).toContain('ttyS0::respawn:/sbin/getty -L 115200 ttyS0 vt100');
    expect(inittab).toContain('tty1::respawn:/sbin/getty 38400 tty1');
    expect(inittab).toContain('::ctrlaltdel:');
    expect(inittab).toContain('::shutdown:/etc/init.d/rcK');
    expect(await text(t, '/etc/init.d/rcK')).toContain('sv -w 7 force-stop /etc/service/*');
    // services, enabled by links in /etc/service
    for (const s of ['syslogd', 'klogd', 'udhcpc']) {
      expect(t.get(`/etc/sv/${s}/run`)!.mode).toBe(0o755);
      expect(t.get(`/etc/service/${s}`)).toMatchObject({ type: 'symlink', target: `/etc/sv/${s}` });
    }
    expect(await text(t, '/etc/sv/syslogd/run')).toMatch(/exec syslogd -n$/m);
    expect(await text(t, '/etc/sv/klogd/run')).toMatch(/sv start syslogd >\/dev\/null \|\| exit 1\nexec klogd -n/);
    expect(await text(t, '/etc/sv/udhcpc/run')).toContain('exec udhcpc -f -i eth0 -s /usr/share/udhcpc/default.script');
    expect(t.get('/usr/share/udhcpc/default.script')!.mode).toBe(0o755);
    expect(t.get('/bin/busybox')).toMatchObject({ type: 'file', mode: 0o755 });
    expect(t.get('/usr/bin/runsvdir')).toMatchObject({ type: 'symlink', target: '/bin/busybox' });
  });

  it('locks root, takes a hash, adds users, disables/adds services, loads a keymap', async () => {
    const keymap = new Uint8Array([...new TextEncoder().encode('bkeymap'), 1, 2, 3]);
    const t = buildRootfs({
      busybox: FAKE,
      applets: ALL,
      rootPassword: '$6$salt$hash',
      rootLocked: true,
      keymap,
      consoles: ['ttyS1'],
      users: [{ name: 'alice', uid: 1000, groups: ['wheel'] }],
      services: {
        udhcpc: false,
        hello: { run: 'exec sleep 1000', applets: ['sleep'] },
        off: { run: 'exec true', enabled: false },
      },
    });
    expect(await text(t, '/etc/shadow')).toMatch(/^root:!\$6\$salt\$hash:/m);
    expect(await text(t, '/etc/passwd')).toMatch(/^alice:x:1000:1000:alice:\/home\/alice:\/bin\/sh$/m);
    expect(await text(t, '/etc/group')).toMatch(/^wheel:x:10:alice$/m);
    expect(await text(t, '/etc/group')).toMatch(/^alice:x:1000:$/m);
    expect(t.get('/home/alice')).toMatchObject({ type: 'dir', uid: 1000 });
    expect(t.has('/etc/sv/udhcpc')).toBe(false);
    expect(t.has('/etc/service/udhcpc')).toBe(false);
    expect(t.get('/etc/service/hello')).toMatchObject({ type: 'symlink' });
    expect(t.has('/etc/sv/off/run')).toBe(true);
    expect(t.has('/etc/service/off')).toBe(false);
    expect(await text(t, '/etc/init.d/rcS')).toContain('loadkmap < /etc/keymap.bmap');
    expect(await text(t, '/etc/inittab')).toContain('ttyS1::respawn:/sbin/getty -L 115200 ttyS1 vt100');
    expect(await text(t, '/etc/inittab')).not.toContain('tty1::');
  });

  it('rejects bad input with usage errors naming the field', () => {
    expect(() => buildRootfs({ busybox: FAKE, applets: ALL, hostname: 'bad_host!' })).toThrow(
      expect.objectContaining({ code: 'E_USAGE_HOSTNAME' }),
    );
    expect(() => buildRootfs({ busybox: FAKE, applets: ALL, rootPassword: 'a:b' })).toThrow(
      expect.objectContaining({ code: 'E_USAGE_PASSWORD' }),
    );
    expect(() => buildRootfs({ busybox: FAKE, applets: ALL, services: { syslogd: false } })).toThrow(/klogd/);
    expect(() => buildRootfs({ busybox: FAKE, applets: ALL, services: { nope: true } })).toThrow(
      expect.objectContaining({ code: 'E_USAGE_SERVICE' }),
    );
    expect(() => buildRootfs({ busybox: FAKE, applets: ALL, keymap: new Uint8Array(10) })).toThrow(
      expect.objectContaining({ code: 'E_USAGE_KEYMAP' }),
    );
  });

  it('names missing applets before building', () => {
    const few = ALL.filter((a) => !['runsvdir', 'runsv', 'sv'].includes(a.name));
    expect(() => buildRootfs({ busybox: FAKE, applets: few })).toThrow(
      expect.objectContaining({
        code: 'E_USAGE_BUSYBOX_APPLETS',
        message: expect.stringContaining('runsv, runsvdir, sv'),
      }),
    );
    // without services they are not needed
    expect(() =>
      buildRootfs({ busybox: FAKE, applets: few, services: { syslogd: false, klogd: false, udhcpc: false } }),
    ).not.toThrow();
    expect(requiredApplets({ services: { syslogd: false, klogd: false, udhcpc: false } })).not.toContain('runsvdir');
  });

  it('is deterministic', async () => {
    const a = buildRootfs({ busybox: FAKE, applets: ALL, epoch: 1234 });
    const b = buildRootfs({ busybox: FAKE, applets: ALL, epoch: 1234 });
    const dump = async (t: FileTree) => {
      const out: string[] = [];
      for (const e of t.walk())
        out.push(
          `${e.path} ${e.node.type} ${e.node.mode} ${e.node.mtime.sec} ${e.node.type === 'file' ? new TextDecoder().decode(await readContent(e.node.content)) : e.node.type === 'symlink' ? e.node.target : ''}`,
        );
      return out.join('\n');
    };
    expect(await dump(a)).toBe(await dump(b));
  });

  const debianBusybox = '/bin/busybox';
  const noDeb =
    missing({ files: [debianBusybox] }) ??
    (run('dpkg', ['-S', debianBusybox]).stdout.includes('busybox-static') ? undefined : 'not busybox-static');
  it.skipIf(!!noDeb)("Debian's busybox-static: services need runit applets it lacks; without them it works", () => {
    const bin = new Uint8Array(readFileSync(debianBusybox));
    const applets = readBusyboxApplets(bin);
    expect(() => checkApplets(applets, requiredApplets({}), appletNeeds({}))).toThrow(
      /lacks applets this system needs: runsv, runsvdir, sv \(for the services klogd, syslogd, udhcpc\); sv \(for the service klogd\)\. .*or disable the services/,
    );
    expect(() => buildRootfs({ busybox: bin })).toThrow(expect.objectContaining({ code: 'E_USAGE_BUSYBOX_APPLETS' }));
    // mountpoint and killall5 are missing too, but the scripts fall back to grep and kill -1
    expect(applets.some((a) => a.name === 'mountpoint' || a.name === 'killall5')).toBe(false);
    const off = { services: { syslogd: false, klogd: false, udhcpc: false } };
    const tree = buildRootfs({ busybox: bin, ...off });
    expect(tree.get('/etc/init.d/rcS')?.type).toBe('file');
  });
});
