import { afterAll, describe, expect, it } from 'vitest';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { buildDisk, diskSize, planDisk, type DiskLayout } from '../../src/core/image/disk.js';
import { MemoryDevice } from '../../src/core/io/device.js';
import { FileDevice } from '../../src/node/io/file.js';
import { openFat } from '../../src/core/fs/fat/index.js';
import { SubDevice } from '../../src/core/io/device.js';
import { readPartitionTable } from '../../src/core/partition/index.js';
import { readContent } from '../../src/core/tree/content.js';
import { FileTree } from '../../src/core/tree/tree.js';
import { missing, run } from '../helpers/prereq.js';
import { MiB, tempDir } from '../partition/helpers.js';

const tmp = tempDir('tinyimage-disk-');
afterAll(() => tmp.cleanup());

function sampleTree(tag: string): FileTree {
  const t = new FileTree({ defaultTime: 1_700_000_000 });
  t.addFile('/hello.txt', `hello from ${tag}\n`);
  t.addFile(
    '/dir/Long File Name.bin',
    new Uint8Array(300_000).map((_, i) => (i * 7) & 0xff),
  );
  t.mkdir('/empty');
  return t;
}

async function build(
  layout: DiskLayout,
  name: string,
): Promise<{ img: string; res: Awaited<ReturnType<typeof buildDisk>> }> {
  const img = join(tmp.dir, name);
  const size = diskSize(layout);
  const dev = FileDevice.create(img, size);
  try {
    return { img, res: await buildDisk(layout, dev) };
  } finally {
    dev.close();
  }
}

function extract(img: string, offset: number, size: number, name: string): string {
  const p = join(tmp.dir, name);
  writeFileSync(p, readFileSync(img).subarray(offset, offset + size));
  return p;
}

describe('buildDisk', () => {
  it('GPT with FAT partitions of fixed, fit and rest sizes: sgdisk -v, fsck.fat -n and mtools are happy', async () => {
    if (missing({ tools: ['sgdisk', 'fsck.fat', 'mtype'] })) return;
    const layout: DiskLayout = {
      table: 'gpt',
      size: 160 * MiB,
      seed: 'disk-gpt',
      partitions: [
        { name: 'bios', type: 'bios-boot', fs: 'none', size: MiB },
        { name: 'ESP', type: 'esp', fs: 'fat32', size: 'fit', tree: sampleTree('esp'), options: { label: 'ESP' } },
        { name: 'data', fs: 'fat16', size: '25%', tree: sampleTree('data') },
        { name: 'rest', type: 'linux', fs: 'fat12', size: 'rest', tree: sampleTree('rest') },
      ],
    };
    const { img, res } = await build(layout, 'gpt.img');
    const v = run('sgdisk', ['-v', img]);
    expect(v.stdout, v.stdout).toContain('No problems found');
    expect(res.partitions.map((p) => p.offset % MiB)).toEqual([0, 0, 0, 0]);
    expect(res.partitions[2]!.size).toBe(40 * MiB);
    const last = res.partitions[3]!;
    expect(last.offset + last.size).toBe(160 * MiB - 33 * 512);
    const rdev = FileDevice.open(img);
    const t = readPartitionTable(rdev)!;
    rdev.close();
    expect(
      t.partitions.map(({ index, offset, size, type, partuuid, name }) => ({
        index,
        offset,
        size,
        type,
        partuuid,
        name,
      })),
    ).toEqual(
      res.partitions.map(({ index, offset, size, type, partuuid, name }) => ({
        index,
        offset,
        size,
        type,
        partuuid,
        name,
      })),
    );
    for (const p of res.partitions.slice(1)) {
      const part = extract(img, p.offset, p.size, `gpt-p${p.index}.img`);
      const f = run('fsck.fat', ['-n', part]);
      expect(f.code, f.stdout + f.stderr).toBe(0);
      expect(run('mtype', ['-i', part, '::/hello.txt']).stdout).toMatch(/^hello from /);
      // hidden sectors = partition start, as the boot sector of a partition must say
      expect(readFileSync(part).readUInt32LE(0x1c)).toBe(p.offset / 512);
    }
    expect(res.partitions.map((p) => p.fs)).toEqual(['none', 'fat32', 'fat16', 'fat12']);
    // blkid probes each partition's filesystem in place; partx (libblkid) lists the PARTUUIDs
    if (!missing({ tools: ['blkid', 'partx'] })) {
      for (const p of res.partitions.slice(1)) {
        const b = run('blkid', ['-p', '-O', String(p.offset), '-o', 'export', img]).stdout;
        const vid = (p.summary as { volumeId: number }).volumeId.toString(16).toUpperCase().padStart(8, '0');
        expect(b).toContain('TYPE=vfat');
        expect(b).toContain(`UUID=${vid.slice(0, 4)}-${vid.slice(4)}`);
        expect(b).toContain(`VERSION=${p.fs.toUpperCase()}`);
      }
      const rows = run('partx', ['-g', '-o', 'NR,UUID', img])
        .stdout.trim()
        .split('\n')
        .map((l) => l.trim().split(/\s+/));
      expect(rows).toEqual(res.partitions.map((p) => [String(p.index), p.partuuid]));
    }
  });

  it('MBR with primary and logical FAT partitions: sfdisk --verify clean, --json agrees, our FAT reader reads each', async () => {
    if (missing({ tools: ['sfdisk', 'fsck.fat'] })) return;
    const layout: DiskLayout = {
      table: 'mbr',
      seed: 'disk-mbr',
      diskId: '0xc0ffee00',
      partitions: [
        { fs: 'fat16', size: 20 * MiB, bootable: true, tree: sampleTree('p1') },
        { fs: 'raw', size: 2 * MiB, type: 'linux', content: new Uint8Array(5000).fill(0xab) },
        { fs: 'fat12', size: 'fit', logical: true, tree: sampleTree('l5') },
        { fs: 'fat16', size: 18 * MiB, logical: true, tree: sampleTree('l6') },
      ],
    };
    const { img, res } = await build(layout, 'mbr.img');
    expect(res.diskId).toBe('c0ffee00');
    const v = run('sfdisk', ['--verify', img]);
    expect(v.stdout, v.stdout + v.stderr).toContain('No errors detected');
    const j = JSON.parse(run('sfdisk', ['--json', img]).stdout).partitiontable;
    const sf = j.partitions
      .filter((p: { type: string }) => p.type !== '5')
      .map((p: { node: string; start: number; size: number }) => ({
        n: Number(/(\d+)$/.exec(p.node)![1]),
        start: p.start * 512,
        size: p.size * 512,
      }));
    expect(sf).toEqual(res.partitions.map((p) => ({ n: p.index, start: p.offset, size: p.size })));
    expect(res.partitions.map((p) => p.partuuid)).toEqual(['c0ffee00-01', 'c0ffee00-02', 'c0ffee00-05', 'c0ffee00-06']);
    const dev = FileDevice.open(img);
    try {
      for (const p of res.partitions.filter((x) => x.fs.startsWith('fat'))) {
        const vol = openFat(new SubDevice(dev, p.offset, p.size));
        const node = vol.tree.get('/hello.txt');
        expect(node?.type).toBe('file');
        if (node?.type === 'file')
          expect(new TextDecoder().decode(await readContent(node.content))).toMatch(/^hello from /);
        const f = run('fsck.fat', ['-n', extract(img, p.offset, p.size, `mbr-p${p.index}.img`)]);
        expect(f.code, f.stdout).toBe(0);
      }
      const raw = dev.readAt(res.partitions[1]!.offset, 5001);
      expect(raw.subarray(0, 5000).every((b) => b === 0xab)).toBe(true);
      expect(raw[5000]).toBe(0);
    } finally {
      dev.close();
    }
  });

  it('ext2/3/4 partitions (fit and fixed) pass e2fsck -fn and debugfs reads the files', async () => {
    if (missing({ tools: ['e2fsck', 'debugfs', 'sgdisk'] })) return;
    const layout: DiskLayout = {
      table: 'gpt',
      seed: 'disk-ext',
      partitions: [
        {
          name: 'root',
          type: 'root-x86-64',
          fs: 'ext4',
          size: 'fit',
          tree: sampleTree('ext4'),
          options: { label: 'root' },
        },
        { name: 'old', fs: 'ext2', size: 8 * MiB, tree: sampleTree('ext2') },
        { name: 'j', fs: 'ext3', size: 'fit', tree: sampleTree('ext3') },
      ],
    };
    const { img, res } = await build(layout, 'ext.img');
    expect(run('sgdisk', ['-v', img]).stdout).toContain('No problems found');
    const uuids = new Set<string>();
    for (const p of res.partitions) {
      const part = extract(img, p.offset, p.size, `ext-p${p.index}.img`);
      const f = run('e2fsck', ['-fn', part]);
      expect(f.code, f.stdout + f.stderr).toBe(0);
      expect(run('debugfs', ['-R', 'cat /hello.txt', part]).stdout).toBe(`hello from ${p.fs}\n`);
      const sb = run('dumpe2fs', ['-h', part]).stdout;
      const uuid = /Filesystem UUID:\s+(\S+)/.exec(sb)![1]!;
      uuids.add(uuid);
      const b = run('blkid', ['-p', '-O', String(p.offset), '-o', 'export', img]).stdout;
      expect(b).toContain(`TYPE=${p.fs}`);
      expect(b).toContain(`UUID=${uuid}`);
    }
    expect(uuids.size).toBe(3);
  });

  it('is deterministic and sparse', async () => {
    const layout = (): DiskLayout => ({
      table: 'gpt',
      seed: 's',
      partitions: [{ fs: 'fat32', type: 'esp', size: 'fit', tree: sampleTree('x') }],
    });
    const a = await build(layout(), 'det-a.img');
    const b = await build(layout(), 'det-b.img');
    expect(Buffer.compare(readFileSync(a.img), readFileSync(b.img))).toBe(0);
    const du = run('du', ['-k', a.img]).stdout;
    const usedKiB = Number(du.split(/\s/)[0]);
    expect(usedKiB * 1024).toBeLessThan(readFileSync(a.img).length / 4);
  });

  it('checks capacity before writing anything', async () => {
    const big = new FileTree();
    big.addFile('/big', new Uint8Array(30 * MiB));
    const layout: DiskLayout = {
      table: 'gpt',
      size: 40 * MiB,
      partitions: [{ fs: 'fat16', size: 20 * MiB, tree: big }],
    };
    const dev = new MemoryDevice(40 * MiB);
    await expect(buildDisk(layout, dev)).rejects.toMatchObject({ code: 'E_SPACE_PARTITION' });
    expect(dev.bytes.every((x) => x === 0)).toBe(true);
    expect(() => diskSize({ table: 'mbr', size: 10 * MiB, partitions: [{ fs: 'none', size: 20 * MiB }] })).toThrow(
      expect.objectContaining({ code: 'E_SPACE_DISK' }),
    );
    expect(() =>
      diskSize({
        table: 'gpt',
        size: 10 * MiB,
        partitions: [
          { fs: 'none', size: 5 * MiB },
          { fs: 'none', size: 'rest' },
          { fs: 'none', size: 4 * MiB },
        ],
      }),
    ).toThrow(expect.objectContaining({ code: 'E_SPACE_DISK' }));
    expect(() => diskSize({ table: 'gpt', partitions: [{ fs: 'none', size: 'rest' }] })).toThrow(
      expect.objectContaining({ code: 'E_USAGE_DISK_SIZE' }),
    );
    expect(() => diskSize({ table: 'gpt', partitions: [{ fs: 'none', size: '50%' }] })).toThrow(
      expect.objectContaining({ code: 'E_USAGE_DISK_SIZE' }),
    );
    expect(() => diskSize({ table: 'gpt', partitions: [{ fs: 'none', size: MiB, logical: true }] })).toThrow(
      expect.objectContaining({ code: 'E_USAGE_DISK_LOGICAL' }),
    );
    expect(() =>
      diskSize({ table: 'mbr', partitions: [{ fs: 'raw', size: 512, content: new Uint8Array(513) }] }),
    ).toThrow(expect.objectContaining({ code: 'E_SPACE_PARTITION' }));
  });

  it('"rest" and percentages without a layout size use the device size', async () => {
    const dev = new MemoryDevice(20 * MiB);
    const res = await buildDisk(
      {
        table: 'mbr',
        partitions: [
          { fs: 'none', size: '50%' },
          { fs: 'none', size: 'rest' },
        ],
      },
      dev,
    );
    expect(res.partitions.map((p) => [p.offset, p.size])).toEqual([
      [MiB, 10 * MiB],
      [11 * MiB, 9 * MiB],
    ]);
  });

  it('plans natural sizes: 1 MiB aligned starts, GPT tail reserved', async () => {
    const plan = planDisk({
      table: 'gpt',
      partitions: [
        { fs: 'none', size: 1000 },
        { fs: 'none', size: 3 * MiB },
      ],
    });
    expect(plan.partitions.map((p) => [p.offset, p.size])).toEqual([
      [MiB, 1024],
      [2 * MiB, 3 * MiB],
    ]);
    expect(plan.size).toBe(6 * MiB);
    const mbr = planDisk({
      table: 'mbr',
      partitions: [
        { fs: 'none', size: MiB },
        { fs: 'none', size: MiB, logical: true },
        { fs: 'none', size: MiB, logical: true },
      ],
    });
    expect(mbr.partitions.map((p) => [p.index, p.offset / MiB])).toEqual([
      [1, 1],
      [5, 3],
      [6, 5],
    ]);
    expect(mbr.size).toBe(6 * MiB);
  });
});
