/**
 * Journal recovery, case by case, against e2fsprogs and the kernel. Each
 * case is built with the real tools: mke2fs makes a filesystem with three
 * small files, debugfs (jo/jw/jc) writes journal transactions that replace
 * their blocks, and a few bytes of the journal are then damaged where the
 * case needs it (located with debugfs logdump). Our reading must equal what
 * `e2fsck -E journal_only` leaves in a copy of the image, and the warnings
 * must say what e2fsck and the kernel do beyond that; where the host kernel
 * replays (mount -o ro on a writable loop device of another copy) it must
 * see what we see, and where we say it refuses, it must refuse.
 */
import { copyFileSync, readFileSync, truncateSync, writeFileSync } from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import { jbd2SuperblockCsum } from '../../src/core/fs/ext4/csum.js';
import { openExt4, type Ext4Volume } from '../../src/core/fs/ext4/read.js';
import { findRun } from '../../src/core/fs/ext4/readmap.js';
import { JBD2_COMPAT, JBD2_INCOMPAT, jbd2Commit, jbd2Superblock } from '../../src/core/fs/ext4/structs.js';
import { crc32BeUpdate } from '../../src/core/binary/crc.js';
import { MemoryDevice } from '../../src/core/io/device.js';
import { readContent } from '../../src/core/tree/content.js';
import type { FileTree } from '../../src/core/tree/tree.js';
import { runCli } from '../helpers/cli.js';
import { loopUnavailable, withLoop, withMount } from '../helpers/loop.js';
import { missing, run } from '../helpers/prereq.js';
import { tmpDir } from '../helpers/tmp.js';
import { diffTrees, formatDiff } from '../../src/core/diff/index.js';
import { treeFromHostDir } from '../../src/node/host/tree.js';
import { expectSameTree } from './read-helpers.js';

const skip = missing({ tools: ['mke2fs', 'debugfs', 'e2fsck'] });
const noLoop = loopUnavailable();
const T = tmpDir('tinyimage-jrec-');
afterAll(() => T.cleanup());

const BS = 4096;
const FILES = ['/f1', '/f2', '/f3'];
const be = (b: Uint8Array) => new DataView(b.buffer, b.byteOffset, b.byteLength);

interface Base {
  name: string;
  bytes: Uint8Array;
  /** First data block of /f1, /f2, /f3. */
  blocks: number[];
  /** Physical block of journal block j. */
  jphys: (j: number) => number;
}

/** A 16 MiB filesystem made by mke2fs `args`, with /f1../f3 holding "file N....". */
function base(name: string, args: string[]): Base {
  const path = T.path(`${name}.img`);
  writeFileSync(path, new Uint8Array(0));
  truncateSync(path, 16 << 20);
  const mk = run('mke2fs', ['-q', '-F', '-b', String(BS), ...args, path]);
  expect(mk.code, mk.stderr).toBe(0);
  const cmds = FILES.map((f, i) => {
    writeFileSync(T.path(`s${i + 1}`), `file ${i + 1}`.padEnd(31, '.') + '\n');
    return `write ${T.path(`s${i + 1}`)} ${f.slice(1)}`;
  });
  writeFileSync(T.path('cmds'), cmds.join('\n') + '\n');
  run('debugfs', ['-w', '-f', T.path('cmds'), path]);
  const bytes = new Uint8Array(readFileSync(path));
  const { reader } = openExt4(new MemoryDevice(bytes.slice()));
  const blocks = FILES.map((f) => reader.runs(reader.lookup(f)!)[0]!.physical);
  const jruns = reader.runs(reader.inode(8));
  const jphys = (j: number) => {
    const r = jruns[findRun(jruns, j)]!;
    return r.physical + j - r.logical;
  };
  return { name, bytes, blocks, jphys };
}

/** One debugfs transaction: files (0..2) whose first block it replaces, blocks it revokes. */
interface Tx {
  write?: number[];
  revoke?: number[];
}

let serial = 0;

/** A copy of `b` with journal transactions written by debugfs (`open`: the jo command with its flags). */
function journalled(b: Base, open: string, txs: Tx[]): string {
  const path = T.path(`${b.name}-${++serial}.img`);
  writeFileSync(path, b.bytes);
  const cmds = [open];
  txs.forEach((tx, k) => {
    const args: string[] = [];
    if (tx.write?.length) {
      const data = new Uint8Array(BS * tx.write.length);
      tx.write.forEach((f, i) => data.set(new TextEncoder().encode(`JOURNAL ${k + 1}\n`), i * BS));
      writeFileSync(T.path(`tx${k}`), data);
      args.push('-b', tx.write.map((f) => b.blocks[f]).join(','));
    }
    if (tx.revoke?.length) args.push('-r', tx.revoke.map((f) => b.blocks[f]).join(','));
    cmds.push(`jw ${args.join(' ')}${tx.write?.length ? ` ${T.path(`tx${k}`)}` : ''}`);
  });
  cmds.push('jc');
  writeFileSync(T.path('jcmds'), cmds.join('\n') + '\n');
  run('debugfs', ['-w', '-f', T.path('jcmds'), path]);
  expect(run('dumpe2fs', ['-h', path]).stdout).toMatch(/needs_recovery/);
  return path;
}

/** Journal blocks by debugfs logdump: `${sequence}:${type}` -> journal block numbers. */
function logBlocks(path: string): Map<string, number[]> {
  const out = new Map<string, number[]>();
  for (const m of run('debugfs', ['-R', 'logdump', path]).stdout.matchAll(
    /Found expected sequence (\d+), type \d+ \((\w+)[^)]*\) at block (\d+)/g,
  )) {
    const key = `${m[1]}:${m[2]}`;
    out.set(key, [...(out.get(key) ?? []), Number(m[3])]);
  }
  return out;
}

/** Edit journal block `j` of the image at `path` in place. */
function editJournal(b: Base, path: string, j: number, edit: (block: Uint8Array) => void): void {
  const img = new Uint8Array(readFileSync(path));
  edit(img.subarray(b.jphys(j) * BS, (b.jphys(j) + 1) * BS));
  writeFileSync(path, img);
}

function ours(path: string): Ext4Volume {
  return openExt4(new MemoryDevice(new Uint8Array(readFileSync(path))));
}

/** What `e2fsck -E journal_only` leaves in a copy: its tree and its output. */
function e2fsckReplay(path: string): { tree: FileTree; out: string } {
  const copy = `${path}.fsck`;
  copyFileSync(path, copy);
  const r = run('e2fsck', ['-E', 'journal_only', '-y', copy]);
  const v = openExt4(new MemoryDevice(new Uint8Array(readFileSync(copy))), { replayJournal: false });
  expect(v.info.needsRecovery).toBe(false);
  return { tree: v.tree, out: r.stdout + r.stderr };
}

/** Mount a copy read-only on a writable loop device (the kernel replays into it) and run `fn`; the mount error if it fails. */
async function kernel(path: string, fn: (dir: string) => Promise<unknown>): Promise<string | undefined> {
  const copy = `${path}.kernel`;
  copyFileSync(path, copy);
  return withLoop(
    copy,
    async (loop) => {
      try {
        await withMount(loop.disk, 'ext4', fn);
        return undefined;
      } catch (e) {
        if (!String(e).includes('mount -t ext4')) throw e;
        return String(e);
      }
    },
    { writable: true },
  );
}

async function texts(tree: FileTree): Promise<string[]> {
  const out: string[] = [];
  for (const f of FILES) {
    const n = tree.get(f);
    if (n?.type !== 'file') throw new Error(`${f} is not a file`);
    out.push(new TextDecoder().decode(await readContent(n.content)).split(/[.\n]/)[0]!);
  }
  return out;
}

/** Ours equals e2fsck's result; returns our volume and e2fsck's output. */
async function likeE2fsck(path: string): Promise<{ v: Ext4Volume; out: string }> {
  const v = ours(path);
  const fsck = e2fsckReplay(path);
  await expectSameTree(v.tree, fsck.tree, { skip: [] });
  return { v, out: fsck.out };
}

/** The kernel replays the journal and sees exactly our tree (xattrs aside: node:fs cannot read them). */
async function kernelAgrees(path: string, v: Ext4Volume): Promise<void> {
  if (noLoop) return;
  const err = await kernel(path, async (dir) => {
    const d = await diffTrees(v.tree, treeFromHostDir(dir), { mtime: true, ignoreFields: ['xattrs'] });
    expect(formatDiff(d)).toBe('');
  });
  expect(err).toBeUndefined();
}

/** The kernel refuses to mount (as our warning says). */
async function kernelRefuses(path: string): Promise<void> {
  if (noLoop) return;
  expect(await kernel(path, async () => undefined)).toMatch(/mount -t ext4/);
}

const TX3: Tx[] = [{ write: [0] }, { write: [1] }, { write: [2] }];

describe.skipIf(!!skip)('journal recovery as e2fsck does it, and as the kernel sees it', () => {
  const b64 = base('csum3-64', ['-t', 'ext4', '-O', 'metadata_csum,64bit']);

  it('csum v3, 64-bit: three transactions replayed', async () => {
    const path = journalled(b64, 'jo -c', TX3);
    const { v } = await likeE2fsck(path);
    expect(await texts(v.tree)).toEqual(['JOURNAL 1', 'JOURNAL 2', 'JOURNAL 3']);
    expect(v.info.journalReplay).toEqual({ transactions: 3, blocks: 3 });
    expect(v.info.recovery).toBe('replayed 3 transaction(s) (3 blocks)');
    expect(v.warnings).toEqual([]);
    await kernelAgrees(path, v);
  });

  it('a bad commit-block checksum stops replay before that transaction', async () => {
    const path = journalled(b64, 'jo -c', TX3);
    const commit = logBlocks(path).get('2:commit')![0]!;
    // h_commit_nsec is in the commit header, which every kernel checks
    editJournal(b64, path, commit, (blk) => (blk[jbd2Commit.offsetOf('h_commit_nsec')]! ^= 0x40));
    const { v, out } = await likeE2fsck(path);
    expect(out).toMatch(/Journal transaction 2 was corrupt, replay was aborted/);
    expect(await texts(v.tree)).toEqual(['JOURNAL 1', 'file 2', 'file 3']);
    expect(v.info.recovery).toBe('replayed 1 transaction(s) (1 blocks); e2fsck needed');
    expect(v.warnings).toEqual([
      expect.stringMatching(/^journal transaction 2 is corrupt .* kernel will not mount it until e2fsck has run$/),
    ]);
    await kernelRefuses(path);
    // inspect says so, ls warns
    const inspect = await runCli(['inspect', path]);
    expect(inspect.stdout).toContain('recovery: replayed 1 transaction(s) (1 blocks); e2fsck needed');
    expect(inspect.stdout).toContain('warning: journal transaction 2 is corrupt');
    const ls = await runCli(['ls', path]);
    expect(ls.code).toBe(0);
    expect(ls.stderr).toContain('journal transaction 2 is corrupt');
  });

  it('a commit block damaged past its header: e2fsck stops, newer kernels replay on (and we say so)', async () => {
    const path = journalled(b64, 'jo -c', TX3);
    const commit = logBlocks(path).get('2:commit')![0]!;
    editJournal(b64, path, commit, (blk) => (blk[200]! ^= 0x40));
    const { v } = await likeE2fsck(path);
    expect(await texts(v.tree)).toEqual(['JOURNAL 1', 'file 2', 'file 3']);
    expect(v.warnings).toEqual([
      expect.stringMatching(/newer kernels take the commit block for one written only in part/),
    ]);
    if (noLoop) return;
    // older kernels refuse the mount, newer ones replay all three
    let seen: string[] | undefined;
    await kernel(path, async (dir) => {
      seen = FILES.map((f) => readFileSync(dir + f, 'utf8').split('\n')[0]!);
    });
    if (seen) expect(seen).toEqual(['JOURNAL 1', 'JOURNAL 2', 'JOURNAL 3']);
  });

  it('a bad descriptor-block checksum makes recovery fail: nothing replayed', async () => {
    const path = journalled(b64, 'jo -c', TX3);
    const desc = logBlocks(path).get('2:descriptor')![0]!;
    editJournal(b64, path, desc, (blk) => (blk[BS - 100]! ^= 0x40));
    const { v, out } = await likeE2fsck(path);
    expect(out).toMatch(/Journal checksum error/);
    expect(await texts(v.tree)).toEqual(['file 1', 'file 2', 'file 3']);
    expect(v.info.recovery).toBe('not replayed; e2fsck needed');
    expect(v.warnings).toEqual([
      expect.stringMatching(
        /^journal not replayed: the descriptor block at journal block \d+ \(transaction 2\) fails its checksum; e2fsck's recovery fails/,
      ),
    ]);
    await kernelRefuses(path);
  });

  it('a corrupt journalled block is skipped, the rest replayed, as e2fsck does', async () => {
    const path = journalled(b64, 'jo -c', TX3);
    const desc = logBlocks(path).get('2:descriptor')![0]!;
    editJournal(b64, path, desc + 1, (blk) => (blk[3]! ^= 0x40));
    const { v, out } = await likeE2fsck(path);
    expect(out).toMatch(/Invalid checksum recovering data block/);
    expect(await texts(v.tree)).toEqual(['JOURNAL 1', 'file 2', 'JOURNAL 3']);
    expect(v.warnings).toEqual([
      expect.stringMatching(
        `1 journalled block\\(s\\) fail their checksums and were not replayed \\(first: block ${b64.blocks[1]}\\)`,
      ),
    ]);
    await kernelRefuses(path);
  });

  it('a bad journal superblock checksum: not replayed', async () => {
    const path = journalled(b64, 'jo -c', TX3);
    editJournal(b64, path, 0, (blk) => (blk[jbd2Superblock.offsetOf('s_padding')]! ^= 1));
    const { v, out } = await likeE2fsck(path);
    expect(out).toMatch(/Journal superblock is corrupt/);
    expect(await texts(v.tree)).toEqual(['file 1', 'file 2', 'file 3']);
    expect(v.warnings).toEqual([
      expect.stringMatching(/^journal not replayed: the journal superblock checksum is wrong/),
    ]);
    await kernelRefuses(path);
  });

  it('async_commit: a bad commit counts as never committed, later transactions are dropped too', async () => {
    const path = journalled(b64, 'jo -c', TX3);
    editJournal(b64, path, 0, (blk) => {
      const off = jbd2Superblock.offsetOf('s_feature_incompat');
      be(blk).setUint32(off, be(blk).getUint32(off) | JBD2_INCOMPAT.ASYNC_COMMIT);
      be(blk).setUint32(jbd2Superblock.offsetOf('s_checksum'), jbd2SuperblockCsum(blk));
    });
    const commit = logBlocks(path).get('2:commit')![0]!;
    editJournal(b64, path, commit, (blk) => (blk[jbd2Commit.offsetOf('h_commit_nsec')]! ^= 0x40));
    const { v, out } = await likeE2fsck(path);
    expect(out).not.toMatch(/corrupt/);
    expect(await texts(v.tree)).toEqual(['JOURNAL 1', 'file 2', 'file 3']);
    expect(v.info.recovery).toBe('replayed 1 transaction(s) (1 blocks)');
    expect(v.warnings).toEqual([
      expect.stringMatching(/^journal transaction 2 fails its commit checksum; with async_commit/),
    ]);
    await kernelAgrees(path, v);
  });

  it('the old v1 transaction checksum (crc32_be) is verified', async () => {
    const path = journalled(b64, 'jo', TX3);
    const log = logBlocks(path);
    const img = new Uint8Array(readFileSync(path));
    const jblock = (j: number) => img.subarray(b64.jphys(j) * BS, (b64.jphys(j) + 1) * BS);
    for (const seq of [1, 2, 3]) {
      const desc = log.get(`${seq}:descriptor`)![0]!;
      let crc = crc32BeUpdate(crc32BeUpdate(0xffffffff, jblock(desc)), jblock(desc + 1));
      if (seq === 2) crc ^= 1;
      const commit = jblock(log.get(`${seq}:commit`)![0]!);
      jbd2Commit.encode({ h_chksum_type: 1, h_chksum_size: 4 }, commit);
      be(commit).setUint32(jbd2Commit.offsetOf('h_chksum'), crc);
    }
    const sb = jblock(0);
    const off = jbd2Superblock.offsetOf('s_feature_compat');
    be(sb).setUint32(off, be(sb).getUint32(off) | JBD2_COMPAT.CHECKSUM);
    writeFileSync(path, img);
    const { v, out } = await likeE2fsck(path);
    expect(out).toMatch(/Journal transaction 2 was corrupt/);
    expect(await texts(v.tree)).toEqual(['JOURNAL 1', 'file 2', 'file 3']);
  });

  for (const [name, args, open] of [
    ['ext4 without 64bit, no journal checksums', ['-t', 'ext4', '-O', '^64bit,^metadata_csum'], 'jo'],
    ['ext4 without 64bit, csum v2 (10-byte tags)', ['-t', 'ext4', '-O', '^64bit'], 'jo -c -v 2'],
    ['ext3', ['-t', 'ext3'], 'jo'],
  ] as const) {
    it(`32-bit journal, several transactions and a revoke: ${name}`, async () => {
      const b = base(name.replace(/\W+/g, '-'), [...args]);
      // T2 writes f2 and f3, T3 revokes f3's block: f3 keeps "file 3"; T4 writes f1 again
      const path = journalled(b, open, [{ write: [0] }, { write: [1, 2] }, { revoke: [2] }, { write: [0] }]);
      const { v } = await likeE2fsck(path);
      expect(await texts(v.tree)).toEqual(['JOURNAL 4', 'JOURNAL 2', 'file 3']);
      expect(v.info.journalReplay).toEqual({ transactions: 4, blocks: 2 });
      expect(v.warnings).toEqual([]);
      await kernelAgrees(path, v);
    });
  }
});
