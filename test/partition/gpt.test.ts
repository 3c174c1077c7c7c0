import { afterAll, describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { layoutProblems } from '../../src/core/binary/struct.js';
import { crc32 } from '../../src/core/binary/crc.js';
import { MemoryDevice } from '../../src/core/io/device.js';
import { FileDevice } from '../../src/node/io/file.js';
import {
  GPT_ENTRY,
  GPT_HEADER,
  decodeGuid,
  encodeGuid,
  readGpt,
  readPartitionTable,
  writeGpt,
  type GptLayout,
} from '../../src/core/partition/index.js';
import { missing, run } from '../helpers/prereq.js';
import { loopUnavailable, withLoop } from '../helpers/loop.js';
import { MiB, tempDir, withImage } from './helpers.js';

const tmp = tempDir();
afterAll(() => tmp.cleanup());

const layout: GptLayout = {
  seed: 'gpt-test',
  partitions: [
    { offset: 1 * MiB, size: 1 * MiB, type: 'bios-boot', name: 'BIOS boot' },
    { offset: 2 * MiB, size: 32 * MiB, type: 'esp', name: 'EFI System Partition' },
    { offset: 34 * MiB, size: 20 * MiB, type: 'root-x86-64', name: 'root-ü', attributes: 1n << 59n, bootable: true },
    { offset: 54 * MiB, size: 9 * MiB, type: 'linux', guid: '01234567-89ab-cdef-0123-456789abcdef' },
  ],
};

function image(name: string, size = 64 * MiB): string {
  const img = join(tmp.dir, name);
  withImage(img, size, (dev) => writeGpt(dev, layout));
  return img;
}

describe('GPT structs and GUIDs', () => {
  it('have sound layouts', () => {
    expect(layoutProblems(GPT_HEADER)).toEqual([]);
    expect(GPT_HEADER.size).toBe(92);
    expect(layoutProblems(GPT_ENTRY)).toEqual([]);
    expect(GPT_ENTRY.size).toBe(128);
  });
  it('encodes GUIDs mixed-endian', () => {
    const b = encodeGuid('c12a7328-f81f-11d2-ba4b-00a0c93ec93b');
    expect(Buffer.from(b).toString('hex')).toBe('28732ac11ff8d211ba4b00a0c93ec93b');
    expect(decodeGuid(b)).toBe('c12a7328-f81f-11d2-ba4b-00a0c93ec93b');
  });
});

describe('writeGpt', () => {
  it('sgdisk -v finds no problems and sgdisk -i agrees', () => {
    if (missing({ tools: ['sgdisk'] })) return;
    const img = image('gpt.img');
    const v = run('sgdisk', ['-v', img]);
    expect(v.code, v.stdout + v.stderr).toBe(0);
    expect(v.stdout, v.stdout).toContain('No problems found');
    const i3 = run('sgdisk', ['-i', '3', img]).stdout;
    expect(i3).toContain('4F68BCE3-E8CD-4DB1-96E7-FBCAF984B709');
    expect(i3).toMatch(/First sector: 69632 /);
    expect(i3).toMatch(/Last sector: 110591 /);
    expect(i3).toContain("Partition name: 'root-ü'");
    expect(i3).toMatch(/Attribute flags: 0800000000000004/);
    const i4 = run('sgdisk', ['-i', '4', img]).stdout;
    expect(i4).toContain('Partition unique GUID: 01234567-89AB-CDEF-0123-456789ABCDEF');
  });

  it('sfdisk --json agrees and sfdisk --verify is clean', () => {
    if (missing({ tools: ['sfdisk'] })) return;
    const img = image('gpt-sf.img');
    const v = run('sfdisk', ['--verify', img]);
    expect(v.stdout).toContain('No errors detected');
    const j = JSON.parse(run('sfdisk', ['--json', img]).stdout).partitiontable;
    expect(j.label).toBe('gpt');
    const dev = FileDevice.open(img);
    const t = readGpt(dev);
    dev.close();
    expect(j.id.toLowerCase()).toBe(t.diskId);
    expect(j.firstlba).toBe(34);
    expect(j.lastlba).toBe(64 * 2048 - 34);
    expect(
      j.partitions.map((p: { start: number; size: number; type: string; uuid: string; name?: string }) => ({
        start: p.start,
        size: p.size,
        type: p.type.toLowerCase(),
        uuid: p.uuid.toLowerCase(),
        name: p.name ?? '',
      })),
    ).toEqual(
      t.partitions.map((p) => ({
        start: p.offset / 512,
        size: p.size / 512,
        type: p.type,
        uuid: p.partuuid,
        name: p.name,
      })),
    );
  });

  it('partx/sfdisk report the PARTUUIDs we computed', () => {
    if (missing({ tools: ['partx', 'sfdisk'] })) return;
    const img = image('gpt-uuid.img');
    const dev = new MemoryDevice(64 * MiB);
    const res = writeGpt(dev, layout);
    for (const p of res.partitions)
      expect(
        run('sfdisk', ['--part-uuid', img, String(p.index)])
          .stdout.trim()
          .toLowerCase(),
      ).toBe(p.partuuid);
    const rows = run('partx', ['-g', '-o', 'NR,UUID', img])
      .stdout.trim()
      .split('\n')
      .map((l) => l.trim().split(/\s+/));
    expect(rows.map(([n, u]) => ({ n: Number(n), u }))).toEqual(
      res.partitions.map((p) => ({ n: p.index, u: p.partuuid })),
    );
    expect(run('blkid', ['-p', '-o', 'export', img]).stdout).toContain(`PTUUID=${res.diskGuid}`);
  });

  it.skipIf(loopUnavailable())(
    'blkid on each partition device (loop) reports the PARTUUID, name, start and size we compute',
    async () => {
      if (missing({ tools: ['blkid'] })) return;
      const img = join(tmp.dir, 'gpt-loop.img');
      const res = withImage(img, 64 * MiB, (dev) => writeGpt(dev, layout));
      await withLoop(
        img,
        ({ partitions }) => {
          expect([...partitions.keys()].sort()).toEqual(res.partitions.map((p) => p.index));
          for (const p of res.partitions) {
            const node = partitions.get(p.index)!;
            expect(run('blkid', ['-o', 'value', '-s', 'PARTUUID', node]).stdout.trim()).toBe(p.partuuid);
            const b = run('blkid', ['-p', '-o', 'export', node]).stdout;
            expect(b).toContain(`PART_ENTRY_TYPE=${p.type}\n`);
            expect(b).toContain(`PART_ENTRY_OFFSET=${p.offset / 512}\n`);
            expect(b).toContain(`PART_ENTRY_SIZE=${p.size / 512}\n`);
            expect(run('blkid', ['-p', '-o', 'value', '-s', 'PART_ENTRY_NAME', node]).stdout.replace(/\n$/, '')).toBe(
              p.name,
            );
          }
        },
        { partitions: true },
      );
    },
  );

  it('reads sgdisk-made tables', () => {
    if (missing({ tools: ['sgdisk'] })) return;
    const img = join(tmp.dir, 'sgdisk.img');
    withImage(img, 40 * MiB, () => undefined);
    const r = run('sgdisk', [
      '-U',
      '11111111-2222-3333-4444-555555555555',
      '-n',
      '1:2048:+8M',
      '-t',
      '1:EF00',
      '-c',
      '1:ESP',
      '-u',
      '1:aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee',
      '-n',
      '2:0:0',
      '-t',
      '2:8304',
      '-c',
      '2:root',
      '-A',
      '2:set:2',
      img,
    ]);
    expect(r.code, r.stderr).toBe(0);
    const dev = FileDevice.open(img);
    const t = readPartitionTable(dev)!;
    dev.close();
    expect(t.scheme).toBe('gpt');
    expect(t.warnings).toBeUndefined();
    expect(t.diskId).toBe('11111111-2222-3333-4444-555555555555');
    expect(t.partitions[0]).toMatchObject({
      index: 1,
      offset: 1 * MiB,
      size: 8 * MiB,
      type: 'c12a7328-f81f-11d2-ba4b-00a0c93ec93b',
      partuuid: 'aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee',
      name: 'ESP',
    });
    expect(t.partitions[1]).toMatchObject({
      index: 2,
      offset: 9 * MiB,
      type: '4f68bce3-e8cd-4db1-96e7-fbcaf984b709',
      name: 'root',
      bootable: true,
    });
    const j = JSON.parse(run('sfdisk', ['--json', img]).stdout).partitiontable;
    expect(t.partitions[1]!.size).toBe(j.partitions[1].size * 512);
  });

  it('round-trips through our reader and is deterministic', () => {
    const a = new MemoryDevice(64 * MiB),
      b = new MemoryDevice(64 * MiB);
    const ra = writeGpt(a, layout);
    writeGpt(b, layout);
    expect(Buffer.compare(a.bytes, b.bytes)).toBe(0);
    const t = readPartitionTable(a)!;
    expect(t.partitions).toEqual(ra.partitions);
    expect(t.diskId).toBe(ra.diskGuid);
    const c = new MemoryDevice(64 * MiB);
    expect(writeGpt(c, { ...layout, seed: 'x' }).diskGuid).not.toBe(ra.diskGuid);
  });

  it('rejects bad layouts', () => {
    const d = new MemoryDevice(64 * MiB);
    expect(() => writeGpt(d, { partitions: [{ offset: 0, size: MiB, type: 'linux' }] })).toThrow(
      expect.objectContaining({ code: 'E_SPACE_DISK' }),
    );
    expect(() => writeGpt(d, { partitions: [{ offset: 63 * MiB, size: MiB, type: 'linux' }] })).toThrow(
      expect.objectContaining({ code: 'E_SPACE_DISK' }),
    );
    expect(() =>
      writeGpt(d, {
        partitions: [
          { offset: MiB, size: 2 * MiB, type: 'linux' },
          { offset: 2 * MiB, size: MiB, type: 'linux' },
        ],
      }),
    ).toThrow(expect.objectContaining({ code: 'E_USAGE_PART_OVERLAP' }));
    expect(() => writeGpt(d, { partitions: [{ offset: MiB, size: MiB, type: 'nope' }] })).toThrow(
      expect.objectContaining({ code: 'E_USAGE_PART_TYPE' }),
    );
    expect(() =>
      writeGpt(d, { partitions: [{ offset: MiB, size: MiB, type: 'linux', name: 'x'.repeat(37) }] }),
    ).toThrow(expect.objectContaining({ code: 'E_USAGE_PART_NAME' }));
  });
});

describe('readGpt on corrupt input', () => {
  const good = () => {
    const d = new MemoryDevice(64 * MiB);
    writeGpt(d, layout);
    return d;
  };
  const dv = (d: MemoryDevice) => new DataView(d.bytes.buffer);
  const reCrcHeader = (d: MemoryDevice, lba: number) => {
    const o = lba * 512;
    dv(d).setUint32(o + 16, 0, true);
    dv(d).setUint32(o + 16, crc32(d.bytes.subarray(o, o + 92)), true);
  };

  it('bad primary header CRC: falls back to the backup with a warning', () => {
    const d = good();
    d.bytes[512 + 60] ^= 0xff; // inside the disk GUID
    const t = readPartitionTable(d)!;
    expect(t.warnings?.join(' ')).toMatch(/primary GPT header is corrupt.*CRC32/);
    expect(t.partitions).toHaveLength(4);
    expect(t.diskId).toBe(readPartitionTable(good())!.diskId);
  });
  it('bad primary array CRC: falls back to the backup', () => {
    const d = good();
    d.bytes[1024 + 40] ^= 1;
    const t = readPartitionTable(d)!;
    expect(t.warnings?.join(' ')).toMatch(/entry array CRC32/);
    expect(t.partitions[0]!.offset).toBe(MiB);
  });
  it('both headers bad: typed error from the primary', () => {
    const d = good();
    d.bytes[512] = 0x41;
    d.bytes[d.bytes.length - 512] = 0x41;
    expect(() => readPartitionTable(d)).toThrow(expect.objectContaining({ code: 'E_FORMAT_GPT_SIGNATURE' }));
  });
  it('forged entry count: bounded, no huge allocation', () => {
    const d = good();
    dv(d).setUint32(512 + 80, 0xffffffff, true);
    reCrcHeader(d, 1);
    const last = d.bytes.length / 512 - 1;
    dv(d).setUint32(last * 512 + 80, 0x7fffffff, true);
    reCrcHeader(d, last);
    expect(() => readPartitionTable(d)).toThrow(expect.objectContaining({ code: 'E_FORMAT_GPT_ARRAY_RANGE' }));
  });
  it('forged entry size and header size', () => {
    const d = good();
    dv(d).setUint32(512 + 84, 7, true);
    reCrcHeader(d, 1);
    d.bytes[d.bytes.length - 512] = 0;
    expect(() => readPartitionTable(d)).toThrow(expect.objectContaining({ code: 'E_FORMAT_GPT_ENTRY_SIZE' }));
    const e = good();
    dv(e).setUint32(512 + 12, 0x10000, true);
    e.bytes[e.bytes.length - 512] = 0;
    expect(() => readPartitionTable(e)).toThrow(expect.objectContaining({ code: 'E_FORMAT_GPT_HEADER_SIZE' }));
  });
  it('overlapping entries: read, with a warning', () => {
    const d = good();
    // entry 2 starts inside entry 1 (both arrays, CRCs fixed)
    for (const [hdr, arr] of [
      [1, 2],
      [d.bytes.length / 512 - 1, d.bytes.length / 512 - 33],
    ] as const) {
      dv(d).setUint32(arr * 512 + 128 + 32, 2048 + 100, true);
      dv(d).setUint32(hdr * 512 + 88, crc32(d.bytes.subarray(arr * 512, arr * 512 + 16384)), true);
      reCrcHeader(d, hdr);
    }
    const t = readPartitionTable(d)!;
    expect(t.warnings).toEqual(['partitions 1 and 2 overlap']);
  });
  it('entry outside the usable range', () => {
    const d = good();
    // set entry 1 lastLba huge in both arrays, fix CRCs
    for (const [hdr, arr] of [
      [1, 2],
      [d.bytes.length / 512 - 1, d.bytes.length / 512 - 33],
    ] as const) {
      dv(d).setUint32(arr * 512 + 40, 0x7fffffff, true);
      dv(d).setUint32(hdr * 512 + 88, crc32(d.bytes.subarray(arr * 512, arr * 512 + 16384)), true);
      reCrcHeader(d, hdr);
    }
    expect(() => readPartitionTable(d)).toThrow(expect.objectContaining({ code: 'E_FORMAT_GPT_ENTRY_RANGE' }));
  });
  it('truncated device: typed error; grown device: still read through the recorded backup location', () => {
    const d = good();
    const cut = new MemoryDevice(d.bytes.slice(0, 60 * MiB));
    expect(() => readPartitionTable(cut)).toThrow(expect.objectContaining({ code: 'E_FORMAT_GPT_USABLE' }));
    const grown = new MemoryDevice(80 * MiB);
    grown.bytes.set(d.bytes, 0);
    const t = readPartitionTable(grown)!;
    expect(t.partitions).toHaveLength(4);
    expect(t.warnings).toBeUndefined();
  });
});
