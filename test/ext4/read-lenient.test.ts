/**
 * What the kernel reads read-only, the reader reads too, with a warning
 * where something is off: each image is made by mke2fs and debugfs, then
 * compared with the host kernel's read-only mount (and debugfs where the
 * kernel cannot read). Cases: a group descriptor whose checksum fails (and
 * whose itable_unused would hide its inodes if trusted), bitmap checksum
 * mismatches, xattrs with name indexes nobody maps to a prefix (0 from
 * debugfs, 11 from early fs-verity), an fs-verity file, and a fast symlink
 * with an xattr block on bigalloc (whose i_blocks counts a whole cluster).
 */
import { readFileSync, truncateSync, writeFileSync } from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import { diffTrees, formatDiff } from '../../src/core/diff/index.js';
import { openExt4, type Ext4Volume } from '../../src/core/fs/ext4/read.js';
import { MemoryDevice } from '../../src/core/io/device.js';
import { readContent } from '../../src/core/tree/content.js';
import { treeFromHostDir } from '../../src/node/host/tree.js';
import { loopUnavailable, withLoop, withMount } from '../helpers/loop.js';
import { missing, run } from '../helpers/prereq.js';
import { tmpDir } from '../helpers/tmp.js';
import { hostXattrs } from './read-helpers.js';

const skip = missing({ tools: ['mke2fs', 'debugfs', 'python3'] });
const noLoop = loopUnavailable();
const T = tmpDir('tinyimage-lenient-');
afterAll(() => T.cleanup());

/** mke2fs `args` on a fresh `size`-MiB image, then debugfs -w `cmds`; returns its path. */
function make(name: string, size: number, args: string[], cmds: string[]): string {
  const path = T.path(`${name}.img`);
  writeFileSync(path, new Uint8Array(0));
  truncateSync(path, size << 20);
  const mk = run('mke2fs', ['-q', '-F', ...args, path], { cwd: T.dir });
  expect(mk.code, mk.stderr).toBe(0);
  if (cmds.length) {
    writeFileSync(T.path('cmds'), cmds.join('\n') + '\n');
    run('debugfs', ['-w', '-f', T.path('cmds'), path], { cwd: T.dir });
  }
  return path;
}

const ours = (path: string): Ext4Volume => openExt4(new MemoryDevice(new Uint8Array(readFileSync(path))));

/** The kernel mounts the image read-only and sees our tree; xattrs compared too (read by Python). */
async function kernelSees(path: string, v: Ext4Volume, opts: { content?: boolean } = {}): Promise<void> {
  if (noLoop) return;
  await withLoop(path, (loop) =>
    withMount(loop.disk, 'ext4', async (dir) => {
      const d = await diffTrees(v.tree, treeFromHostDir(dir), { mtime: true, ignoreFields: ['xattrs'], ...opts });
      expect(formatDiff(d)).toBe('');
      const hx = hostXattrs(dir);
      for (const e of v.tree.walk()) {
        const want = Object.fromEntries(hx.get(e.path === '/' ? '/' : e.path) ?? []);
        const got = Object.fromEntries([...e.node.xattrs].map(([k, x]) => [k, Buffer.from(x).toString('base64')]));
        expect(got, e.path).toEqual(want);
      }
    }),
  );
}

/** Source files for mke2fs -d: enough for several groups of 16 inodes. */
function files(): string {
  const dir = T.path('src');
  run('mkdir', ['-p', dir]);
  for (let i = 1; i <= 40; i++) writeFileSync(`${dir}/f${i}`, `content ${i}\n`);
  return dir;
}

describe.skipIf(!!skip)('read what the kernel reads read-only, and say what is off', () => {
  const small = ['-t', 'ext4', '-b', '1024', '-N', '64'];

  it('a group descriptor checksum mismatch: warned, its inode table read whole', async () => {
    // itable_unused 16 claims group 1 never used its inodes; debugfs leaves the checksum stale
    const path = make('gdesc', 32, [...small, '-d', files()], ['set_bg 1 itable_unused 16']);
    expect(run('dumpe2fs', [path]).stdout).toMatch(/Group 1: .*csum 0x[0-9a-f]+ \(EXPECTED/);
    const v = ours(path);
    expect(v.warnings).toEqual([
      'group descriptor checksum mismatch in 1 group(s) (1): their inode tables are read whole, as the kernel reads them (e2fsck repairs the descriptors)',
    ]);
    expect([...v.tree.walk()].filter((e) => e.node.type === 'file')).toHaveLength(40);
    await kernelSees(path, v);
  });

  it('bitmap checksum mismatches: warned, nothing else changes', async () => {
    const path = make(
      'bitmaps',
      32,
      [...small, '-d', files()],
      ['set_bg 0 block_bitmap_csum_lo 0x1234', 'set_bg 0 inode_bitmap_csum_lo 0x4321', 'set_bg 0 checksum calc'],
    );
    const v = ours(path);
    expect(v.warnings).toEqual([
      'block bitmap checksum mismatch in 1 group(s) (0): reading does not use bitmaps (e2fsck repairs them)',
      'inode bitmap checksum mismatch in 1 group(s) (0): reading does not use bitmaps (e2fsck repairs them)',
    ]);
    await kernelSees(path, v);
  });

  it('an fs-verity file with xattrs of unknown name indexes (11, as early fs-verity wrote, and 0)', async () => {
    writeFileSync(T.path('vc'), 'verity content\n');
    const path = make(
      'verity',
      32,
      ['-t', 'ext4', '-b', '4096', '-I', '256', '-O', 'verity'],
      [
        'write vc vfile',
        'sif vfile flags 0x180000', // EXTENTS | VERITY
        'ea_set vfile user.v 0123456789abcdef',
        'ea_set vfile foo.bar somevalue', // no known prefix: debugfs stores index 0 and the whole name
      ],
    );
    // turn user.v (index 1) into index 11 in the inode's xattr area, then let debugfs fix the inode checksum
    const loc = /located at block (\d+), offset 0x([0-9a-f]+)/.exec(run('debugfs', ['-R', 'imap vfile', path]).stdout)!;
    const img = new Uint8Array(readFileSync(path));
    const inode = Number(loc[1]) * 4096 + parseInt(loc[2]!, 16);
    const area = img.subarray(inode + 128, inode + 256);
    const at = area.findIndex((_, i) => area[i] === 1 && area[i + 1] === 1 && area[i + 16] === 'v'.charCodeAt(0));
    expect(at).toBeGreaterThan(0);
    area[at + 1] = 11;
    writeFileSync(path, img);
    run('debugfs', ['-n', '-w', '-R', 'sif vfile checksum calc', path]);
    expect(run('debugfs', ['-R', 'stat vfile', path]).stdout).toMatch(/Flags: 0x180000/);
    const v = ours(path);
    expect(v.warnings).toEqual([
      'xattrs with name index 11, which has no known prefix, are skipped as the kernel skips them (first: "v" on inode 12)',
      'xattrs with name index 0, which has no known prefix, are skipped as the kernel skips them (first: "foo.bar" on inode 12)',
    ]);
    const f = v.tree.get('/vfile');
    expect(f?.type).toBe('file');
    if (f?.type !== 'file') return;
    expect(f.xattrs.size).toBe(0);
    // the contents as debugfs dumps them (a kernel without fs-verity refuses to open the file)
    expect(new TextDecoder().decode(await readContent(f.content))).toBe(
      run('debugfs', ['-R', 'cat vfile', path]).stdout,
    );
    const raw = v.reader.rawXattrs(v.reader.lookup('/vfile')!);
    expect(raw.map((x) => [x.index, x.name])).toEqual(
      expect.arrayContaining([
        [11, 'v'],
        [0, 'foo.bar'],
      ]),
    );
    await kernelSees(path, v, { content: false });
  });

  it('bigalloc: a fast symlink with an xattr block is read from i_block', async () => {
    writeFileSync(T.path('big'), 'x'.repeat(600));
    const path = make(
      'bigalloc',
      64,
      ['-t', 'ext4', '-b', '4096', '-C', '16384', '-O', 'bigalloc'],
      // trusted.*: the kernel does not let anyone read user.* xattrs of a symlink
      ['symlink fastlink some/target', 'ea_set -f big fastlink trusted.big', 'symlink plain other/target'],
    );
    // the xattr block costs a whole cluster: 16 KiB = 32 sectors
    expect(run('debugfs', ['-R', 'stat fastlink', path]).stdout).toMatch(/File ACL: [1-9]\d*\s+[\s\S]*Blockcount: 32/);
    const v = ours(path);
    expect(v.warnings).toEqual([]);
    const link = v.tree.get('/fastlink');
    expect(link?.type === 'symlink' && link.target).toBe('some/target');
    expect(link?.xattrs.get('trusted.big')?.length).toBe(600);
    await kernelSees(path, v);
  });
});
