/**
 * Fast commits, made by the host kernel: a fast_commit filesystem (mke2fs)
 * is mounted read-write on a loop device, files are changed and fsync'd
 * (which writes fast commits, not full transactions), and the image is
 * copied while still mounted, as a crash would leave it. The reader does
 * not apply fast commits: it must say so (warning, `e2fsck needed`) and
 * differ from e2fsck's recovery, which applies them, exactly in the files
 * the fast commits changed. A fast-commit area left over from an earlier
 * transaction makes e2fsck 1.47's recovery fail while the kernel replays
 * the log: we show what e2fsck leaves and say what the kernel does.
 */
import {
  closeSync,
  copyFileSync,
  existsSync,
  fsyncSync,
  openSync,
  readFileSync,
  truncateSync,
  writeFileSync,
  writeSync,
} from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { diffTrees, formatDiff } from '../../src/core/diff/index.js';
import { openExt4 } from '../../src/core/fs/ext4/read.js';
import { MemoryDevice } from '../../src/core/io/device.js';
import { treeFromHostDir } from '../../src/node/host/tree.js';
import { runCli } from '../helpers/cli.js';
import { loopUnavailable, withLoop, withMount } from '../helpers/loop.js';
import { missing, run } from '../helpers/prereq.js';
import { tmpDir } from '../helpers/tmp.js';
import { expectSameTree } from './read-helpers.js';

const skip =
  missing({ tools: ['mke2fs', 'e2fsck', 'debugfs', 'sync'] }) ??
  loopUnavailable() ??
  (existsSync('/sys/fs/ext4/features/fast_commit') ? undefined : 'the host kernel has no ext4 fast commits');
if (skip) console.warn(`skipping fast-commit tests: ${skip}`);
const T = tmpDir('tinyimage-fc-');
afterAll(() => T.cleanup());

/** Write and fsync (a fast commit when the change is eligible). */
function put(path: string, data: string, flags = 'w'): void {
  const fd = openSync(path, flags);
  writeSync(fd, data);
  fsyncSync(fd);
  closeSync(fd);
}

/** A fast_commit filesystem, changed by `live` while mounted; returns the copy taken before unmounting. */
async function crashed(name: string, live: (dir: string) => void): Promise<string> {
  const img = T.path(`${name}.img`);
  writeFileSync(img, new Uint8Array(0));
  truncateSync(img, 32 << 20);
  expect(run('mke2fs', ['-q', '-F', '-t', 'ext4', '-b', '4096', '-O', 'fast_commit', img]).code).toBe(0);
  const snap = T.path(`${name}-crash.img`);
  await withLoop(
    img,
    (loop) =>
      withMount(
        loop.disk,
        'ext4',
        (dir) => {
          live(dir);
          copyFileSync(img, snap);
        },
        // no periodic full commit while the test runs
        { options: 'rw,commit=300' },
      ),
    { writable: true },
  );
  return snap;
}

function e2fsckReplay(path: string) {
  const copy = `${path}.fsck`;
  copyFileSync(path, copy);
  const r = run('e2fsck', ['-E', 'journal_only', '-y', copy]);
  const v = openExt4(new MemoryDevice(new Uint8Array(readFileSync(copy))), { replayJournal: false });
  return { v, copy, out: r.stdout + r.stderr };
}

describe.skipIf(!!skip)('fast commits written by the kernel', () => {
  it('pending fast commits are reported, not shown as clean; e2fsck differs in exactly their files', async () => {
    const path = await crashed('pending', (dir) => {
      put(join(dir, 'base'), 'base\n');
      run('sync', []);
      put(join(dir, 'new'), 'written by a fast commit\n');
      put(join(dir, 'base'), 'appended\n', 'a');
    });
    expect(run('debugfs', ['-R', 'logdump', path]).stdout).toMatch(/tag HEAD/);
    const ours = openExt4(new MemoryDevice(new Uint8Array(readFileSync(path))));
    expect(ours.info.recovery).toMatch(/; e2fsck needed$/);
    expect(ours.warnings).toEqual([
      expect.stringMatching(
        /^the journal holds fast commits for transaction \d+ \(\d+ records\) that this reader does not replay/,
      ),
    ]);
    const inspect = await runCli(['inspect', path]);
    expect(inspect.stdout).toMatch(/recovery: replayed \d+ transaction\(s\) \(\d+ blocks\); e2fsck needed/);
    expect(inspect.stdout).toMatch(/warning: the journal holds fast commits/);
    const fsck = e2fsckReplay(path);
    const d = await diffTrees(ours.tree, fsck.v.tree, { mtime: true });
    const changed = d.map((e) => e.path);
    expect(changed).toEqual(expect.arrayContaining(['/base', '/new']));
    expect(changed.filter((p) => !['/', '/base', '/new'].includes(p))).toEqual([]);
    // and the kernel, replaying on its own, sees what e2fsck made (it replays fast commits only when mounted rw)
    await withLoop(
      path,
      (loop) =>
        withMount(
          loop.disk,
          'ext4',
          async (dir) => {
            // (their fast-commit replays set the root directory's mtime differently: times are not compared)
            const k = await diffTrees(fsck.v.tree, treeFromHostDir(dir), { ignoreFields: ['xattrs'] });
            expect(formatDiff(k)).toBe('');
          },
          { options: 'rw' },
        ),
      { writable: true },
    );
  });

  it('a stale fast-commit area: e2fsck replays nothing, the kernel replays the log, we say both', async () => {
    const path = await crashed('stale', (dir) => {
      put(join(dir, 'new'), 'a fast commit, later covered by a full commit\n');
      run('sync', []);
      put(join(dir, 'other'), 'more\n');
      run('sync', []);
    });
    const ours = openExt4(new MemoryDevice(new Uint8Array(readFileSync(path))));
    const fsck = e2fsckReplay(path);
    // e2fsck's recovery failed: it marked the filesystem not clean, for a full check
    expect(run('dumpe2fs', ['-h', fsck.copy]).stdout).toMatch(/Filesystem state:\s+not clean/);
    await expectSameTree(ours.tree, fsck.v.tree, { skip: [] });
    expect(ours.info.recovery).toBe('not replayed; e2fsck needed');
    expect(ours.warnings).toEqual([
      expect.stringMatching(
        /^journal not replayed: fast commits of transaction \d+, expected \d+; .* the kernel replays \d+ transaction\(s\) and mounts it/,
      ),
    ]);
    await withLoop(
      path,
      (loop) => withMount(loop.disk, 'ext4', (dir) => expect(readFileSync(join(dir, 'other'), 'utf8')).toBe('more\n')),
      { writable: true },
    );
  });
});
