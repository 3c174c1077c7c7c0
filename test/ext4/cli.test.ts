import { describe, expect, it, afterAll } from 'vitest';
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { runCli } from '../helpers/cli.js';
import { missing, run } from '../helpers/prereq.js';
import { fsck, tmp } from './helpers.js';

const skip = missing({ tools: ['e2fsck', 'debugfs', 'dumpe2fs'] });
const t = tmp();
afterAll(() => t.cleanup());

async function cli(args: string[], env: Record<string, string> = {}) {
  const r = await runCli(args, env);
  return { code: r.code, out: r.stdout, err: r.stderr };
}

describe.skipIf(skip)('tinyimage mkfs ext4|ext3|ext2', () => {
  const root = join(t.dir, 'root');
  mkdirSync(join(root, 'etc'), { recursive: true });
  mkdirSync(join(t.dir, 'o')); // outputs go to existing directories (a missing one is an error)
  writeFileSync(join(root, 'etc/hostname'), 'tiny\n');
  writeFileSync(join(root, 'big'), Buffer.alloc(2_000_000, 7));
  symlinkSync('etc/hostname', join(root, 'link'));

  for (const type of ['ext4', 'ext3', 'ext2']) {
    it(`${type}: --root DIR -o OUT writes a checked image; SOURCE_DATE_EPOCH fixes times and UUID`, async () => {
      const out = join(t.dir, 'o', `${type}.img`);
      const r = await cli(
        ['mkfs', type, '--root', root, '-o', out, '--label', 'cli', '--owner', '0:0', '--json', '-q'],
        { SOURCE_DATE_EPOCH: '1600000000' },
      );
      expect(r.err).toBe('');
      expect(r.code).toBe(0);
      const s = JSON.parse(r.out);
      expect(s).toMatchObject({ wrote: type, output: out, bytes: statSync(out).size, entries: 5 });
      expect(s.details.type).toBe(type);
      expect(statSync(out).size).toBe(s.details.size);
      expect(fsck(out).code).toBe(0);
      expect(run('debugfs', ['-R', 'cat /etc/hostname', out]).stdout).toBe('tiny\n');
      const st = run('debugfs', ['-R', 'stat /etc/hostname', out]).stdout;
      expect(st).toMatch(/User:\s+0\s+Group:\s+0/);
      expect(st).toMatch(/mtime: 0x5f5e1000/); // clamped to SOURCE_DATE_EPOCH (files are newer)
      const again = join(t.dir, 'o', `${type}-2.img`);
      await cli(['mkfs', type, '--root', root, '-o', again, '--label', 'cli', '--owner', '0:0', '-q'], {
        SOURCE_DATE_EPOCH: '1600000000',
      });
      expect(Buffer.compare(readFileSync(out), readFileSync(again))).toBe(0);
    }, 60000);
  }

  it('options: --size, --block-size, --inode-size, --features, --uuid, --reserved, --inodes', async () => {
    const out = join(t.dir, 'o', 'opts.img');
    const r = await cli([
      'mkfs',
      'ext4',
      '--root',
      root,
      '-o',
      out,
      '--size',
      '32M',
      '--block-size',
      '1024',
      '--inode-size',
      '128',
      '--inodes',
      '4096',
      '--features',
      '^has_journal,^metadata_csum',
      '--uuid',
      'c0ffee00-1234-4321-8888-0123456789ab',
      '--reserved',
      '0',
      '--sync',
      '-q',
    ]);
    expect(r.err).toBe('');
    expect(r.code).toBe(0);
    expect(statSync(out).size).toBe(32 << 20);
    const h = run('dumpe2fs', ['-h', out]).stdout;
    expect(h).toMatch(/Block size:\s+1024/);
    expect(h).toMatch(/Inode size:\s+128/);
    expect(h).toMatch(/Inode count:\s+4096/);
    expect(h).toMatch(/Reserved block count:\s+0/);
    expect(h).toMatch(/Filesystem UUID:\s+c0ffee00-1234-4321-8888-0123456789ab/);
    expect(h).not.toMatch(/has_journal|metadata_csum/);
    expect(h).toMatch(/uninit_bg/);
    expect(fsck(out).code).toBe(0);
  }, 60000);

  it('--list FILE (gen_init_cpio): devices, FIFOs, sockets and owners come out right without root', async () => {
    const list = join(t.dir, 'list.txt');
    writeFileSync(
      list,
      [
        'dir /dev 0755 0 0',
        'nod /dev/console 0600 0 0 c 5 1',
        'nod /dev/sda 0660 0 6 b 8 0',
        'pipe /run/fifo 0644 0 0',
        'sock /run/sock 0755 0 0',
        `file /etc/hostname ${join(root, 'etc/hostname')} 0644 1000 1000`,
        'slink /bin/sh busybox 0777 0 0',
        `file /bin/su ${join(root, 'etc/hostname')} 04755 0 0`,
      ].join('\n') + '\n',
    );
    const out = join(t.dir, 'o', 'list.img');
    const r = await cli(['mkfs', 'ext4', '--list', list, '-o', out, '-q'], { SOURCE_DATE_EPOCH: '1600000000' });
    expect(r.err).toBe('');
    expect(r.code).toBe(0);
    expect(fsck(out).code).toBe(0);
    const st = (p: string) => run('debugfs', ['-R', `stat ${p}`, out]).stdout;
    expect(st('/dev/console')).toMatch(/Type: character special\s+Mode:\s+0600/);
    expect(st('/dev/console')).toMatch(/Device major\/minor number: 05:01/);
    expect(st('/dev/sda')).toMatch(/Type: block special\s+Mode:\s+0660/);
    expect(st('/dev/sda')).toMatch(/Group:\s+6/);
    expect(st('/run/fifo')).toMatch(/Type: FIFO/);
    expect(st('/run/sock')).toMatch(/Type: socket/);
    expect(st('/etc/hostname')).toMatch(/User:\s+1000\s+Group:\s+1000/);
    expect(st('/bin/su')).toMatch(/Mode:\s+04755/);
    expect(st('/bin/sh')).toMatch(/Fast link dest: "busybox"/);
  }, 60000);

  it('a too-small --size fails with E_SPACE_FS naming the bytes needed and leaves no output file', async () => {
    const dir = join(t.dir, 'small');
    mkdirSync(dir);
    const out = join(dir, 'x.img');
    const r = await cli([
      'mkfs',
      'ext4',
      '--root',
      root,
      '-o',
      out,
      '--size',
      '1M',
      '--features',
      '^has_journal',
      '-q',
    ]);
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/needs about \d+ bytes/);
    expect(existsSync(out)).toBe(false);
    expect(readdirSync(dir)).toEqual([]);
  });

  it('bad usage exits 2 and writes nothing: unknown feature, both --root and --list, bad block size', async () => {
    expect(
      (await cli(['mkfs', 'ext4', '--root', root, '-o', join(t.dir, 'u.img'), '--features', '+nonsense'])).code,
    ).toBe(2);
    expect((await cli(['mkfs', 'ext4', '--root', root, '--list', 'x', '-o', join(t.dir, 'u.img')])).code).toBe(2);
    expect((await cli(['mkfs', 'ext4', '--root', root, '-o', join(t.dir, 'u.img'), '--block-size', '8192'])).code).toBe(
      2,
    );
    expect(existsSync(join(t.dir, 'u.img'))).toBe(false);
  });
});
