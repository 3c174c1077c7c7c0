/**
 * Write-behind file devices (src/node/io/write-behind.ts): a worker thread
 * does the writes, so the file must still end up byte for byte, hole for
 * hole, as with synchronous writes; reads see every earlier write; and a
 * failed write (a full device) is the same typed error, with no output left.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import {
  closeSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  rmdirSync,
  truncateSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { SequentialWriter } from '../../src/core/io/sequential.js';
import { FileDevice, hostError, MAX_WRITE } from '../../src/node/io/file.js';
import { BUFFER_SIZE, WriteBehind } from '../../src/node/io/write-behind.js';
import { runCli } from '../helpers/cli.js';
import { IN_CI } from '../helpers/prereq.js';
import { tmpDir, type TmpDir } from '../helpers/tmp.js';

let t: TmpDir;
beforeAll(() => {
  t = tmpDir('tinyimage-write-behind-');
});
afterAll(() => t.cleanup());

/** xorshift32: the same writes every run. */
function rng(seed: number) {
  let s = seed >>> 0 || 1;
  return (n: number) => {
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    return s % n;
  };
}

describe('write-behind file device', () => {
  it('writes the same bytes and the same holes as synchronous writes, and reads see earlier writes', () => {
    const size = 24 << 20;
    const a = FileDevice.create(t.path('sync.img'), size);
    // the worker starts part way, as in the CLI: writes before it were synchronous
    const b = FileDevice.create(t.path('behind.img'), size, { writeBehind: true, writeBehindAfter: 6 << 20 });
    const r = rng(16);
    // the same buffer size, so both flush at the same points (a lent buffer is the pool's size)
    const seqA = new SequentialWriter(a, BUFFER_SIZE);
    const seqB = new SequentialWriter(b);
    expect(seqB.maxReserve).toBe(seqA.maxReserve);
    let seqOff = 12 << 20;
    for (let op = 0; op < 400; op++) {
      const kind = r(10);
      if (kind < 6) {
        // small and large writes, some all zeros (holes unless written before), some crossing blocks;
        // in the lower half (the front-to-back writers, buffering differently, own the upper half)
        const len = r(4) === 0 ? 1 + r(3 << 20) : 1 + r(9000);
        const off = r(size / 2 - len);
        const data = new Uint8Array(len);
        if (r(3) !== 0) for (let i = r(len); i < len; i += 1 + r(700)) data[i] = 1 + r(255);
        a.writeAt(off, data);
        b.writeAt(off, data);
        data.fill(0xee); // the caller may reuse its buffer at once
      } else if (kind < 9 && seqOff < size - (2 << 20)) {
        // front-to-back output through lent buffers (file data in the FAT and ISO writers)
        const len = 1 + r(r(2) ? 5000 : BUFFER_SIZE);
        const gap = r(3) === 0 ? r(3 << 20) : r(600);
        const fill = r(4) === 0 ? 0 : 1 + r(255);
        seqOff += gap;
        const ra = seqA.reserve(seqOff, Math.min(len, seqA.maxReserve));
        const rb = seqB.reserve(seqOff, Math.min(len, seqB.maxReserve));
        ra.fill(fill);
        rb.fill(fill);
        seqOff += ra.length;
      } else {
        seqA.flush();
        seqB.flush();
        const len = 1 + r(1 << 20);
        const off = r(size - len);
        expect(Buffer.compare(b.readAt(off, len), a.readAt(off, len)), `read at ${off}`).toBe(0);
        // a read waited for every write: the count is exact (partial zero blocks are written, as synchronously)
        expect(b.bytesWritten).toBe(a.bytesWritten);
      }
    }
    seqA.flush();
    seqB.flush();
    expect(b.writingBehind).toBe(true);
    expect(b.writtenExtents()).toEqual(a.writtenExtents());
    expect(b.bytesWritten).toBe(a.bytesWritten);
    a.close();
    b.close();
    expect(Buffer.compare(readFileSync(t.path('behind.img')), readFileSync(t.path('sync.img')))).toBe(0);
  });

  it('a failed write is the typed error of a synchronous write, thrown once: by the next call or by close', () => {
    const open = () => openSync('/dev/full', 'w');
    const behind = (fd: number) =>
      new WriteBehind(fd, '/dev/full', (e) => hostError(e, '/dev/full', 'write'), {
        maxWrite: MAX_WRITE,
        holeBlock: 4096,
      });
    const ones = new Uint8Array(3 * BUFFER_SIZE).fill(1);
    const enospc = expect.objectContaining({ code: 'E_IO_ENOSPC', message: expect.stringContaining('/dev/full') });

    let fd = open();
    let w = behind(fd);
    w.write(0, ones.subarray(0, 100));
    expect(() => w.drain()).toThrow(enospc);
    // the worker went on taking jobs: more writes and close neither hang nor throw it twice
    w.write(100, ones);
    w.close();
    closeSync(fd);

    fd = open();
    w = behind(fd);
    const lent = w.lend(1000)!;
    lent.fill(1);
    w.writeLent(0, lent, 1000);
    expect(() => w.close()).toThrow(enospc);
    closeSync(fd);

    fd = open();
    w = behind(fd);
    w.write(0, ones);
    w.close(true); // quiet: the caller's own error is already on its way
    closeSync(fd);
  });

  it('a worker that dies (a bug of ours) is an error, not a caller waiting forever', () => {
    const fd = openSync('/dev/null', 'w');
    const w = new WriteBehind(fd, '/dev/null', (e) => hostError(e, '/dev/null', 'write'), {
      maxWrite: MAX_WRITE,
      holeBlock: 4096,
    });
    // a job naming a buffer that does not exist throws outside the write's own error handling
    (w as unknown as { push(k: number, b: number, s: number, l: number, o: number): void }).push(2, 200, 0, 0, 0);
    expect(() => w.drain()).toThrow(/write-behind thread for \/dev\/null stopped: RangeError/);
    closeSync(fd);
  });
});

describe('a full output device', () => {
  let mnt: string | undefined;
  beforeAll(() => {
    const dir = t.path('full');
    mkdirSync(dir);
    const m = spawnSync('mount', ['-t', 'tmpfs', '-o', 'size=1m', 'tmpfs', dir], { encoding: 'utf8' });
    if (m.status === 0) mnt = dir;
    else if (IN_CI) throw new Error(`CI prerequisite: mount -t tmpfs failed (root needed): ${m.stderr}`);
    else console.warn(`skipping: mount -t tmpfs failed (root needed): ${m.stderr}`);
  });
  afterAll(() => {
    if (!mnt) return;
    spawnSync('umount', [mnt]);
    rmdirSync(mnt);
  });

  it('mkfs fails with the write error, leaves no output, and keeps an existing one', async (ctx) => {
    if (!mnt) return ctx.skip();
    const root = t.path('root');
    mkdirSync(root);
    // 40 MiB of zeros first (holes: no space taken, and past the bytes written before the worker starts), then data
    writeFileSync(join(root, 'a-zeros'), '');
    truncateSync(join(root, 'a-zeros'), 40 << 20);
    const big = new Uint8Array(4 << 20);
    for (let i = 0; i < big.length; i += 512) big[i] = 1;
    writeFileSync(join(root, 'b-data'), big);
    writeFileSync(join(mnt, 'y.img'), 'previous');
    for (const fs of ['fat32', 'ext4', 'iso9660']) {
      const r = await runCli(['mkfs', fs, '--root', root, '-o', join(mnt, 'x.img'), '-q']);
      expect(r.code, fs).toBe(1);
      expect(r.stderr, fs).toMatch(/cannot write .*x\.img.*no space left on device/);
      const s = await runCli(['mkfs', fs, '--root', root, '-o', join(mnt, 'y.img'), '-q']);
      expect(s.code, fs).toBe(1);
      expect(readdirSync(mnt), fs).toEqual(['y.img']);
      expect(readFileSync(join(mnt, 'y.img'), 'utf8')).toBe('previous');
    }
    // the library's device: the same typed error, from close at the latest
    const dev = FileDevice.create(join(mnt, 'z.img'), 8 << 20, { writeBehind: true, writeBehindAfter: 0 });
    dev.writeAt(0, big);
    expect(() => dev.close()).toThrow(expect.objectContaining({ code: 'E_IO_ENOSPC' }));
  });
});
