/**
 * The Node side: where a host file holds data (filefrag), the file source
 * that reads ahead on the thread pool, and converting a sparse host file
 * reading only its data.
 */
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { closeSync, mkdtempSync, openSync, rmSync, writeSync, ftruncateSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { hostDataExtents, parseFilefrag } from '../../src/node/toolchain/holes.js';
import { convertToContainerFile, FileSource } from '../../src/node/container/file.js';
import { MemoryDevice } from '../../src/core/io/device.js';
import { missing } from '../helpers/prereq.js';
import { MiB, noise, readAll, reopen, sameDevice, toContainer } from './helpers.js';

const SAMPLE = `Filesystem type is: ef53
File size of x.img is 1073741824 (262144 blocks of 4096 bytes)
 ext:     logical_offset:        physical_offset: length:   expected: flags:
   0:        0..       7:    8194048..   8194055:      8:
   1:        9..    1381:    8194057..   8195429:   1373:
   2:     4114..    5201:          0..         0:      0:             unknown_loc,delalloc
   3:    13393..   13400:    8198144..   8198151:      8:    8205393: unwritten
   4:   262140..  262143:    8357888..   8357891:      4:             last,eof
x.img: 5 extents found
`;

describe('where a host file holds data', () => {
  test('filefrag -e output: block extents in bytes, delalloc and unwritten kept (unwritten may be in writeback)', () => {
    const p = parseFilefrag(SAMPLE)!;
    expect(p.size).toBe(2 ** 30);
    expect(p.extents).toEqual([
      { offset: 0, length: 8 * 4096 },
      { offset: 9 * 4096, length: 1373 * 4096 },
      { offset: 4114 * 4096, length: 1088 * 4096 },
      { offset: 13393 * 4096, length: 8 * 4096 },
      { offset: 262140 * 4096, length: 4 * 4096 },
    ]);
    expect(p.allocated).toBe((8 + 1373 + 1088 + 8 + 4) * 4096);
    expect(parseFilefrag('something else')).toBeUndefined();
    expect(parseFilefrag(SAMPLE.replace('1373:', '1372:'))).toBeUndefined();
  });

  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'tinyimage-container-host-'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  test.skipIf(missing({ tools: ['filefrag'] }))(
    'a sparse file: the extents cover its data, and converting reads only them',
    async () => {
      const p = join(dir, 'sparse.img');
      const fd = openSync(p, 'w');
      ftruncateSync(fd, 64 * MiB);
      writeSync(fd, noise(300_000, 4), 0, 300_000, 5 * MiB + 512);
      writeSync(fd, noise(4096, 5), 0, 4096, 64 * MiB - 4096);
      closeSync(fd);
      const ext = (await hostDataExtents(p))!;
      expect(ext).toBeDefined();
      const covered = (o: number) => ext.some((e) => e.offset <= o && o < e.offset + e.length);
      expect(covered(5 * MiB + 512) && covered(5 * MiB + 300_000) && covered(64 * MiB - 1)).toBe(true);
      expect(ext.reduce((n, e) => n + e.length, 0)).toBeLessThan(2 * MiB);
      const out = join(dir, 'sparse.qcow2');
      await convertToContainerFile(p, out, { format: 'qcow2' });
      const raw = new Uint8Array(readFileSync(p));
      expect(sameDevice(readAll(reopen(new Uint8Array(readFileSync(out))).device), raw)).toBe(true);
    },
  );

  test('FileSource reads the same bytes synchronously and on the thread pool, zeros past the end of the data', async () => {
    const p = join(dir, 'src.img');
    const data = noise(3 * MiB + 1024, 8);
    const fd = openSync(p, 'w');
    writeSync(fd, data);
    closeSync(fd);
    const s = new FileSource(p);
    try {
      const a = new Uint8Array(2 * MiB + 77);
      const b = new Uint8Array(2 * MiB + 77);
      s.readInto(MiB - 5, a);
      await s.readIntoAsync(MiB - 5, b);
      expect(Buffer.compare(Buffer.from(a), Buffer.from(b))).toBe(0);
      expect(Buffer.compare(Buffer.from(a), Buffer.from(data.subarray(MiB - 5, 3 * MiB + 72)))).toBe(0);
      expect(s.size).toBe(data.length);
      expect(() => s.readInto(s.size - 1, new Uint8Array(2))).toThrow();
      expect(() => s.writeAt()).toThrow();
      // the same container from the file source (read ahead) and from memory
      const fromFile = await toContainer(s, { format: 'vmdk', subformat: 'streamOptimized' });
      const fromMemory = await toContainer(new MemoryDevice(data), { format: 'vmdk', subformat: 'streamOptimized' });
      expect(Buffer.compare(Buffer.from(fromFile), Buffer.from(fromMemory))).toBe(0);
    } finally {
      s.close();
    }
  });
});
