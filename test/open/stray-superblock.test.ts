/**
 * A disk whose sector 2 still holds an ext superblock from an earlier use:
 * blkid reports both the filesystem signature and the partition table, and
 * the partition table wins. So it does here: the disk opens as a disk, its
 * partition as its filesystem, and inspect names the stray superblock.
 */
import { describe, expect, it, afterAll, beforeAll } from 'vitest';
import { readFileSync, writeFileSync } from 'node:fs';
import { missing, run } from '../helpers/prereq.js';
import { tmpDir } from '../helpers/tmp.js';
import { FileTree } from '../../src/core/tree/tree.js';
import { SubDevice } from '../../src/core/io/device.js';
import { writeExt4 } from '../../src/core/fs/ext4/index.js';
import { FileDevice } from '../../src/node/io/file.js';
import { isDisk, openImage } from '../../src/node/open.js';
import { main } from '../../src/node/cli/main.js';
import { Writable } from 'node:stream';

const skip = missing({ tools: ['sfdisk', 'mke2fs', 'blkid'] });
const t = tmpDir('tinyimage-stray-');
afterAll(() => t.cleanup());

describe.skipIf(skip)('a partition table beside a stray ext superblock', () => {
  const disk = t.path('disk.img');
  beforeAll(async () => {
    const d = FileDevice.create(disk, 64 << 20);
    d.close();
    expect(run('sfdisk', ['-q', disk], { input: 'label: dos\nstart=2048, size=100000, type=83\n' }).code).toBe(0);
    const tree = new FileTree({ defaultTime: 1700000000 });
    tree.addFile('/hello', 'partition one\n');
    const f = FileDevice.open(disk, { write: true });
    await writeExt4(tree, new SubDevice(f, 2048 * 512, 100000 * 512), { label: 'p1' });
    f.close();
    expect(run('mke2fs', ['-q', '-F', '-t', 'ext3', t.path('old.img'), '8M']).code).toBe(0);
    const bytes = readFileSync(disk);
    bytes.set(readFileSync(t.path('old.img')).subarray(1024, 2048), 1024);
    writeFileSync(disk, bytes);
    const blkid = run('blkid', ['-p', disk]).stdout;
    expect(blkid).toContain('TYPE="ext3"');
    expect(blkid).toContain('PTTYPE="dos"');
  });

  it('opens as a disk whose partition 1 holds our filesystem, the stray superblock reported', async () => {
    const img = await openImage(disk);
    try {
      expect(isDisk(img)).toBe(true);
      if (!isDisk(img)) return;
      expect(img.alsoFound.join()).toMatch(/ext3 superblock at offset 1024/);
      expect(img.partitions[0]!.fs?.kind).toBe('ext4');
    } finally {
      img.close();
    }
    const p1 = await openImage(`${disk}:1`);
    if (isDisk(p1)) throw new Error('partition 1 opened as a disk');
    expect(new TextDecoder().decode(await p1.readFile('/hello'))).toBe('partition one\n');
    p1.close();
  });

  it('inspect lists both', async () => {
    let out = '';
    const sink = new Writable({ write: (c, _e, cb) => ((out += String(c)), cb()) });
    expect(await main(['inspect', '--json', disk], { stdout: sink, stderr: sink })).toBe(0);
    const report = JSON.parse(out);
    expect(report.kind).toBe('mbr');
    expect(report.alsoFound[0]).toMatch(/ext3 superblock/);
    expect(report.partitions[0].filesystem.kind).toBe('ext4');
  });
});
