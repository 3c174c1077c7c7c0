import { afterAll, describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { readFileSync, writeFileSync } from 'node:fs';
import { layoutProblems } from '../../src/core/binary/struct.js';
import { MemoryDevice } from '../../src/core/io/device.js';
import { FileDevice } from '../../src/node/io/file.js';
import {
  MBR_ENTRY,
  MBR_STRUCT,
  chsBytes,
  partuuid,
  readPartitionTable,
  writeMbr,
  writeMbrBootCode,
  type MbrLayout,
} from '../../src/core/partition/index.js';
import { missing, run } from '../helpers/prereq.js';
import { loopUnavailable, withLoop } from '../helpers/loop.js';
import { MiB, tempDir, withImage } from './helpers.js';

const tmp = tempDir();
afterAll(() => tmp.cleanup());

const layout: MbrLayout = {
  seed: 'mbr-test',
  partitions: [
    { offset: 1 * MiB, size: 8 * MiB, type: 'esp', bootable: true },
    { offset: 9 * MiB, size: 16 * MiB, type: 'linux' },
    { offset: 26 * MiB, size: 4 * MiB, type: 'linux', logical: true },
    { offset: 31 * MiB, size: 5 * MiB, type: 'swap', logical: true },
    { offset: 37 * MiB, size: 3 * MiB, type: 0x0c, logical: true },
  ],
};

describe('MBR structs', () => {
  it('have sound layouts', () => {
    expect(layoutProblems(MBR_STRUCT, { allowGaps: false })).toEqual([]);
    expect(MBR_STRUCT.size).toBe(512);
    expect(layoutProblems(MBR_ENTRY)).toEqual([]);
    expect(MBR_ENTRY.size).toBe(16);
  });
  it('CHS: computed for small LBAs, capped as FE FF FF beyond 1024 cylinders', () => {
    expect([...chsBytes(2048)]).toEqual([32, 33, 0]);
    expect([...chsBytes(0)]).toEqual([0, 1, 0]);
    expect([...chsBytes(16450560)]).toEqual([0xfe, 0xff, 0xff]);
  });
  it('partuuid formats as the kernel does', () => {
    expect(partuuid(0x1234abcd, 1)).toBe('1234abcd-01');
    expect(partuuid(0xdeadbeef, 5)).toBe('deadbeef-05');
  });
});

describe('writeMbr', () => {
  it('sfdisk --verify is clean and sfdisk --json agrees, incl. extended/logical', () => {
    const why = missing({ tools: ['sfdisk'] });
    if (why) return;
    const img = join(tmp.dir, 'mbr.img');
    const res = withImage(img, 48 * MiB, (dev) => writeMbr(dev, layout));
    const v = run('sfdisk', ['--verify', img]);
    expect(v.code, v.stdout + v.stderr).toBe(0);
    expect(v.stdout).toContain('No errors detected');
    expect(v.stdout + v.stderr, v.stdout + v.stderr).not.toMatch(/overlap|warning|wrong|differ|mismatch/i);
    const j = JSON.parse(run('sfdisk', ['--json', img]).stdout).partitiontable;
    expect(j.label).toBe('dos');
    expect(j.id).toBe(`0x${res.signature.toString(16).padStart(8, '0')}`);
    const parts = j.partitions.map(
      (p: { node: string; start: number; size: number; type: string; bootable?: boolean }) => ({
        n: Number(/(\d+)$/.exec(p.node)![1]),
        start: p.start,
        size: p.size,
        type: p.type,
        bootable: !!p.bootable,
      }),
    );
    expect(parts).toEqual([
      { n: 1, start: 2048, size: 16384, type: 'ef', bootable: true },
      { n: 2, start: 18432, size: 32768, type: '83', bootable: false },
      { n: 3, start: 51200, size: 30720, type: '5', bootable: false },
      { n: 5, start: 53248, size: 8192, type: '83', bootable: false },
      { n: 6, start: 63488, size: 10240, type: '82', bootable: false },
      { n: 7, start: 75776, size: 6144, type: 'c', bootable: false },
    ]);
    // our reader agrees with what we wrote
    const dev = FileDevice.open(img);
    const t = readPartitionTable(dev)!;
    dev.close();
    expect(t.scheme).toBe('mbr');
    expect(t.partitions).toEqual(res.partitions);
    expect(t.partitions.map((p) => p.index)).toEqual([1, 2, 5, 6, 7]);
  });

  it('blkid reports the PARTUUIDs we compute', () => {
    if (missing({ tools: ['blkid', 'partx'] })) return;
    const img = join(tmp.dir, 'mbr-blkid.img');
    const res = withImage(img, 48 * MiB, (dev) => writeMbr(dev, layout));
    // partx reads the table through libblkid (the same probe the kernel's PARTUUID mirrors)
    const rows = run('partx', ['-g', '-o', 'NR,UUID', img])
      .stdout.trim()
      .split('\n')
      .map((l) => l.trim().split(/\s+/));
    expect(rows.filter(([n]) => n !== '3').map(([n, u]) => ({ n: Number(n), u }))).toEqual(
      res.partitions.map((p) => ({ n: p.index, u: p.partuuid })),
    );
    // blkid probes the whole-disk partition table and prints PTUUID
    const b = run('blkid', ['-p', '-o', 'export', img]).stdout;
    expect(b).toContain(`PTUUID=${res.signature.toString(16).padStart(8, '0')}`);
    expect(b).toContain('PTTYPE=dos');
  });

  it.skipIf(loopUnavailable())(
    'blkid on each partition device (loop) reports the PARTUUID, start and size we compute',
    async () => {
      if (missing({ tools: ['blkid'] })) return;
      const img = join(tmp.dir, 'mbr-loop.img');
      const res = withImage(img, 48 * MiB, (dev) => writeMbr(dev, layout));
      await withLoop(
        img,
        ({ partitions }) => {
          for (const p of res.partitions) {
            const node = partitions.get(p.index);
            expect(node, `no device for partition ${p.index}`).toBeDefined();
            // blkid finds the PARTUUID through the partition's parent disk, as the kernel's root=PARTUUID= does
            expect(run('blkid', ['-o', 'value', '-s', 'PARTUUID', node!]).stdout.trim()).toBe(p.partuuid);
            const b = run('blkid', ['-p', '-o', 'export', node!]).stdout;
            expect(b).toContain(`PART_ENTRY_OFFSET=${p.offset / 512}\n`);
            expect(b).toContain(`PART_ENTRY_SIZE=${p.size / 512}\n`);
          }
        },
        { partitions: true },
      );
    },
  );

  it('reads sfdisk-made tables (incl. logical partitions)', () => {
    if (missing({ tools: ['sfdisk'] })) return;
    const img = join(tmp.dir, 'sfdisk.img');
    withImage(img, 64 * MiB, () => undefined);
    const script =
      'label: dos\nlabel-id: 0x0badcafe\n\nstart=2048, size=10MiB, type=83, bootable\nsize=10MiB, type=c\ntype=5\nsize=8MiB, type=83\nsize=8MiB, type=82\n';
    const r = run('sfdisk', ['--no-reread', '--no-tell-kernel', img], { input: script });
    expect(r.code, r.stderr).toBe(0);
    const j = JSON.parse(run('sfdisk', ['--json', img]).stdout).partitiontable;
    const dev = FileDevice.open(img);
    const t = readPartitionTable(dev)!;
    dev.close();
    expect(t.diskId).toBe('0badcafe');
    const ours = t.partitions.map((p) => ({
      n: p.index,
      start: p.offset / 512,
      size: p.size / 512,
      type: p.type.replace(/^0x0?/, ''),
    }));
    const theirs = j.partitions
      .filter((p: { type: string }) => p.type !== '5')
      .map((p: { node: string; start: number; size: number; type: string }) => ({
        n: Number(/(\d+)$/.exec(p.node)![1]),
        start: p.start,
        size: p.size,
        type: p.type,
      }));
    expect(ours).toEqual(theirs);
    expect(t.partitions[0]!.bootable).toBe(true);
    expect(t.partitions.find((p) => p.index === 6)!.partuuid).toBe('0badcafe-06');
  });

  it('keeps boot code bytes 0..439 and can patch them', () => {
    const dev = new MemoryDevice(48 * MiB);
    const code = new Uint8Array(440).fill(0x90);
    writeMbr(dev, layout, { bootCode: code });
    expect(dev.bytes.subarray(0, 440).every((b) => b === 0x90)).toBe(true);
    // rewriting the table keeps the code
    const res = writeMbr(dev, { ...layout, signature: 0x11223344 });
    expect(dev.bytes.subarray(0, 440).every((b) => b === 0x90)).toBe(true);
    const code2 = new Uint8Array(512).fill(0xcc);
    writeMbrBootCode(dev, code2);
    expect(dev.bytes.subarray(0, 440).every((b) => b === 0xcc)).toBe(true);
    expect(dev.bytes[440]).toBe(0x44);
    expect(readPartitionTable(dev)!.partitions).toEqual(res.partitions);
    expect(() => writeMbr(dev, layout, { bootCode: new Uint8Array(441) })).toThrow(/at most 440/);
  });

  it('is deterministic and the signature follows the seed', () => {
    const a = new MemoryDevice(48 * MiB),
      b = new MemoryDevice(48 * MiB),
      c = new MemoryDevice(48 * MiB);
    const ra = writeMbr(a, layout),
      rb = writeMbr(b, layout),
      rc = writeMbr(c, { ...layout, seed: 'other' });
    expect(Buffer.compare(a.bytes, b.bytes)).toBe(0);
    expect(ra.signature).toBe(rb.signature);
    expect(rc.signature).not.toBe(ra.signature);
  });

  it('rejects bad layouts with typed errors', () => {
    const dev = new MemoryDevice(48 * MiB);
    const p = (o: number, s: number, extra = {}) => ({ offset: o * MiB, size: s * MiB, type: 'linux', ...extra });
    expect(() => writeMbr(dev, { partitions: [p(1, 2), p(2, 2)] })).toThrow(
      expect.objectContaining({ code: 'E_USAGE_PART_OVERLAP' }),
    );
    expect(() => writeMbr(dev, { partitions: [p(1, 60)] })).toThrow(expect.objectContaining({ code: 'E_SPACE_DISK' }));
    expect(() => writeMbr(dev, { partitions: [p(1, 1), p(2, 1), p(3, 1), p(4, 1), p(5, 1)] })).toThrow(
      expect.objectContaining({ code: 'E_LIMIT_MBR_PRIMARY' }),
    );
    expect(() => writeMbr(dev, { partitions: [{ offset: 1000, size: MiB, type: 'linux' }] })).toThrow(
      expect.objectContaining({ code: 'E_USAGE_PART_GEOMETRY' }),
    );
    expect(() => writeMbr(dev, { partitions: [p(1, 1, { type: 'bios-boot' })] })).toThrow(
      expect.objectContaining({ code: 'E_USAGE_PART_TYPE' }),
    );
  });
});

describe('readMbr on corrupt input', () => {
  const good = () => {
    const d = new MemoryDevice(48 * MiB);
    writeMbr(d, layout);
    return d;
  };
  it('no signature: undefined', () => {
    const d = good();
    d.bytes[510] = 0;
    expect(readPartitionTable(d)).toBeUndefined();
    expect(readPartitionTable(new MemoryDevice(4096))).toBeUndefined();
  });
  it('entry past the end of the device', () => {
    const d = good();
    new DataView(d.bytes.buffer).setUint32(0x1be + 16 + 12, 0xfffffff0, true);
    expect(() => readPartitionTable(d)).toThrow(expect.objectContaining({ code: 'E_FORMAT_MBR_RANGE' }));
  });
  it('overlapping primaries: read, with a warning', () => {
    const d = good();
    new DataView(d.bytes.buffer).setUint32(0x1be + 16 + 8, 2048 + 8, true);
    expect(readPartitionTable(d)!.warnings).toEqual(['partitions 1 and 2 overlap']);
  });
  it('EBR chain loop', () => {
    const d = good();
    // find the first EBR (extended partition start) and make its link point to itself
    const ext = MBR_ENTRY.decode(d.bytes, 0x1be + 32);
    expect(ext.type).toBe(5);
    const ebr = ext.lbaStart * 512;
    new DataView(d.bytes.buffer).setUint32(ebr + 0x1ce + 8, 0, true);
    expect(() => readPartitionTable(d)).toThrow(expect.objectContaining({ code: 'E_FORMAT_MBR_EBR_LOOP' }));
  });
  it('EBR without signature', () => {
    const d = good();
    const ext = MBR_ENTRY.decode(d.bytes, 0x1be + 32);
    const link = MBR_ENTRY.decode(d.bytes, ext.lbaStart * 512 + 0x1ce);
    d.bytes[(ext.lbaStart + link.lbaStart) * 512 + 510] = 0;
    expect(() => readPartitionTable(d)).toThrow(expect.objectContaining({ code: 'E_FORMAT_MBR_EBR_SIGNATURE' }));
  });
  it('bare FAT boot sector is not a partition table', () => {
    if (missing({ tools: ['mkfs.fat'] })) return;
    const img = join(tmp.dir, 'fat.img');
    writeFileSync(img, new Uint8Array(4 * MiB));
    expect(run('mkfs.fat', [img]).code).toBe(0);
    const d = new MemoryDevice(new Uint8Array(readFileSync(img)));
    expect(readPartitionTable(d)).toBeUndefined();
  });
});
