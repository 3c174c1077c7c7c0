/**
 * A real root filesystem through ISO 9660 and back: Debian's kernel
 * modules directory (without drivers/ and sound/) plus device nodes, symbolic and hard links, long names
 * and deep directories.
 * - xorriso, extracting our image as root, gives exactly the source tree.
 * - Our reader reads `xorriso -as mkisofs -R -J` images of the same tree as
 *   the tree, and as xorriso itself extracts them.
 */
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import type { FileTree } from '../../src/core/tree/tree.js';
import type { TreeNode } from '../../src/core/tree/types.js';
import { openIso9660 } from '../../src/core/fs/iso9660/index.js';
import { treeFromHostDir } from '../../src/node/host/tree.js';
import { extractTree } from '../../src/node/host/extract.js';
import { FileDevice } from '../../src/node/io/file.js';
import { debianKernel, missing } from '../helpers/prereq.js';
import { tmpDir } from '../helpers/tmp.js';
import {
  expectExtractedTree,
  expectSameTree,
  isoKeeps,
  writeIsoFile,
  xorrisoExtract,
  xorrisoMkisofs,
} from './helpers.js';

const k = debianKernel();
const root = process.getuid?.() === 0;
const skip =
  missing({ tools: ['xorriso'], files: [k.modules] }) ??
  (root ? undefined : 'extraction with owners and devices needs root');
if (skip && !root) console.warn(`skipping: ${skip}`);
const tmp = tmpDir('tinyimage-isoroot-');
afterAll(() => tmp.cleanup());

/** Device nodes and FIFOs for extractTree (root only). */
function mknod(path: string, n: TreeNode): void {
  if (n.type === 'fifo') execFileSync('mkfifo', [path]);
  else if (n.type === 'chardev' || n.type === 'blockdev')
    execFileSync('mknod', [path, n.type === 'chardev' ? 'c' : 'b', String(n.major), String(n.minor)]);
}

/** The modules tree with what a root filesystem also has. */
function rootTree(): FileTree {
  const base = '/lib/modules/' + k.version;
  const t = treeFromHostDir(k.modules, { prefix: base });
  // about 90 MB of it, so the file stays quick: drivers and sound are most of the rest
  t.remove(`${base}/kernel/drivers`);
  t.remove(`${base}/kernel/sound`);
  t.mkdir('/dev', { mode: 0o755 });
  t.addDevice('/dev/console', 'char', 5, 1, { mode: 0o600 });
  t.addDevice('/dev/tty0', 'char', 4, 0, { mode: 0o620, gid: 5 });
  t.addDevice('/dev/vda', 'block', 254, 0, { mode: 0o660, gid: 6 });
  t.addDevice('/dev/loop-control', 'char', 10, 237, { mode: 0o660, gid: 6 });
  t.addFifo('/run/initctl', { mode: 0o600 });
  t.mkdir('/tmp', { mode: 0o1777 });
  t.addSymlink('/lib64', 'lib');
  t.addSymlink('/sbin', 'usr/sbin');
  t.addSymlink('/lib/modules/current', k.version);
  t.addSymlink('/etc/mtab', '../proc/self/mounts');
  t.addFile('/bin/busybox', 'pretend busybox\n', { mode: 0o4755 });
  for (const a of ['sh', 'ls', 'cat', 'mount']) t.addHardLink(`/bin/${a}`, '/bin/busybox');
  t.addFile('/etc/passwd', 'root:x:0:0:root:/root:/bin/sh\nuser:x:1000:1000::/home/user:/bin/sh\n', { mode: 0o644 });
  t.addFile('/etc/shadow', 'root:*:19000:0:99999:7:::\n', { mode: 0o640, gid: 42 });
  t.mkdir('/home/user', { mode: 0o700, uid: 1000, gid: 1000 });
  t.addFile('/home/user/' + 'a-rather-long-file-name-'.repeat(10) + '.txt', 'long\n', { uid: 1000, gid: 1000 });
  t.addFile('/home/user/Ünïcödé — ファイル.md', '# hi\n', { uid: 1000, gid: 1000 });
  let deep = '/home/user/projects';
  for (let i = 0; i < 10; i++) deep += `/sub${i}`;
  t.addFile(`${deep}/deep.c`, 'int main(void) { return 0; }\n', { uid: 1000, gid: 1000 });
  return t;
}

describe.skipIf(skip)('a root filesystem through ISO 9660', () => {
  let source: FileTree;
  beforeAll(async () => {
    source = isoKeeps(rootTree());
    await writeIsoFile(source, join(tmp.dir, 'ours.iso'), { label: 'ROOTFS', epoch: 1_700_000_000 });
  }, 60_000);

  test('xorriso -osirrox on:device_files extracts exactly the source tree', async () => {
    const out = xorrisoExtract(join(tmp.dir, 'ours.iso'), join(tmp.dir, 'x'));
    await expectExtractedTree(join(tmp.dir, 'ours.iso'), source, out);
  }, 60_000);

  test('our reader reads xorriso -as mkisofs -R -J images of the tree as the tree, and as xorriso does', async () => {
    // xorriso's input: the tree as a host directory
    const dir = join(tmp.dir, 'src');
    await extractTree(source, dir, { mknod });
    await expectSameTree(source, treeFromHostDir(dir));
    for (const [name, extra] of [
      ['plain.iso', []],
      ['hardlinks.iso', ['--hardlinks']],
    ] as const) {
      const image = join(tmp.dir, name);
      xorrisoMkisofs(dir, image, [...extra]);
      const dev = FileDevice.open(image);
      try {
        const v = openIso9660(dev);
        expect(v.info).toMatchObject({ rockRidge: true, joliet: true, names: 'rockridge' });
        // without --hardlinks mkisofs records every name as a file of its own
        const ignoreFields = extra.length ? [] : (['links'] as const);
        await expectSameTree(source, v.tree, { ignoreFields: [...ignoreFields] });
        // and what xorriso reads from its own image is what we read
        const theirs = xorrisoExtract(image, join(tmp.dir, `${name}.x`));
        await expectExtractedTree(image, v.tree, theirs);
      } finally {
        dev.close();
      }
    }
  }, 120_000);
});
