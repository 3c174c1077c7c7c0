/**
 * Building straight into a container: the allocate-on-write devices (qcow2,
 * VHD dynamic, VMDK monolithicSparse), VHD fixed written in place, and the
 * formats that go through a qcow2 spool. The result must read back as the
 * raw build of the same disk, be deterministic, and (where qemu-img is
 * installed) pass qemu-img check/compare like the streamed ones.
 */
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { mkdtempSync, rmSync, writeFileSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MemoryDevice } from '../../src/core/io/device.js';
import { FileDevice } from '../../src/node/io/file.js';
import { buildDisk } from '../../src/core/image/disk.js';
import { createContainerDevice, writeContainer } from '../../src/core/container/write.js';
import { createContainerFile, convertToContainerFile } from '../../src/node/container/file.js';
import { MemoryTarget } from '../../src/core/container/units.js';
import { TinyImageError, UsageError } from '../../src/core/errors.js';
import { have } from '../helpers/prereq.js';
import { run } from '../helpers/prereq.js';
import { KINDS, MiB, noise, readAll, reopen, sameDevice, sampleTree, toContainer } from './helpers.js';
import type { ContainerOptions } from '../../src/core/container/types.js';

const SIZE = 40 * MiB;
const layout = () => ({
  table: 'gpt' as const,
  size: SIZE,
  seed: 'device-tests',
  partitions: [{ name: 'root', type: 'linux', fs: 'ext4' as const, size: 'rest' as const, tree: sampleTree() }],
});

async function buildInto(opts: ContainerOptions): Promise<Uint8Array> {
  const target = new MemoryTarget();
  const dev = createContainerDevice(target, SIZE, opts, () => new MemoryTarget());
  await buildDisk(layout(), dev);
  const s = await dev.finish();
  expect(target.bytes().length).toBe(s.fileSize);
  return target.bytes().slice();
}

describe('building straight into a container', () => {
  let raw: Uint8Array;
  beforeAll(async () => {
    const d = new MemoryDevice(SIZE);
    await buildDisk(layout(), d);
    raw = d.bytes;
  });

  test.each(KINDS)('%s: reads back as the raw build, and a second build gives the same bytes', async (_name, opts) => {
    const a = await buildInto(opts);
    expect(sameDevice(readAll(reopen(a).device), raw)).toBe(true);
    const b = await buildInto(opts);
    expect(Buffer.compare(Buffer.from(a), Buffer.from(b))).toBe(0);
  });

  test.each(KINDS)('%s: streaming the same raw disk twice gives the same bytes', async (_name, opts) => {
    const a = await toContainer(new MemoryDevice(raw), opts);
    const b = await toContainer(new MemoryDevice(raw), opts);
    expect(Buffer.compare(Buffer.from(a), Buffer.from(b))).toBe(0);
  });

  test('ids come from the content and times from the epoch, never the clock', async () => {
    const other = raw.slice();
    other.set(noise(4096, 99), 30 * MiB);
    for (const opts of [
      { format: 'vhd' },
      { format: 'vhd', subformat: 'fixed' },
      { format: 'vmdk' },
      { format: 'vmdk', subformat: 'streamOptimized' },
    ] as ContainerOptions[]) {
      const a = reopen(await toContainer(new MemoryDevice(raw), opts)).info;
      const b = reopen(await toContainer(new MemoryDevice(other), opts)).info;
      const id = (i: typeof a) => String(i.uniqueId ?? i.uuid);
      expect(id(a)).not.toBe(id(b));
      expect(id(a)).toMatch(/^[0-9a-f-]{36}$/);
    }
    const t = reopen(await toContainer(new MemoryDevice(raw), { format: 'vhd', epoch: 1_700_000_000 })).info;
    expect(t.timestamp).toBe('2023-11-14T22:13:20.000Z');
    const given = reopen(
      await toContainer(new MemoryDevice(raw), { format: 'vhd', uuid: '01234567-89ab-cdef-0123-456789abcdef' }),
    ).info;
    expect(given.uniqueId).toBe('01234567-89ab-cdef-0123-456789abcdef');
  });

  test('allocate on write: zeros never allocate, partial writes read back, reads of unwritten units are zeros', async () => {
    for (const opts of [
      { format: 'qcow2', clusterSize: 4096 },
      { format: 'vhd' },
      { format: 'vmdk' },
    ] as ContainerOptions[]) {
      const target = new MemoryTarget();
      const dev = createContainerDevice(target, 8 * MiB, opts);
      dev.writeAt(0, new Uint8Array(3 * MiB)); // zeros: nothing stored
      expect(dev.extents()).toEqual([]);
      dev.writeAt(5 * MiB + 100, Uint8Array.of(1, 2, 3));
      expect(dev.readAt(5 * MiB + 99, 5)).toEqual(Uint8Array.of(0, 1, 2, 3, 0));
      expect(dev.readAt(7 * MiB, 16)).toEqual(new Uint8Array(16));
      dev.writeAt(5 * MiB + 101, new Uint8Array(1)); // a zero write into a stored unit lands
      expect(dev.readAt(5 * MiB + 100, 3)).toEqual(Uint8Array.of(1, 0, 3));
      expect(dev.extents().length).toBe(1);
      expect(() => dev.writeAt(8 * MiB - 1, new Uint8Array(2))).toThrow(RangeError);
      const s = await dev.finish();
      expect(s.allocatedUnits).toBe(1);
      expect(() => dev.writeAt(0, Uint8Array.of(1))).toThrow(UsageError);
      const back = readAll(reopen(target.bytes().slice()).device);
      expect(back[5 * MiB + 100]).toBe(1);
      expect(back[5 * MiB + 102]).toBe(3);
      expect(back.reduce((n, x) => n + x, 0)).toBe(4);
    }
  });

  test('formats written in one pass need a spool target', () => {
    expect(() => createContainerDevice(new MemoryTarget(), MiB, { format: 'sparse' })).toThrow(UsageError);
    expect(() =>
      createContainerDevice(new MemoryTarget(), MiB, { format: 'vmdk', subformat: 'bogus' as never }),
    ).toThrow(UsageError);
    expect(() => createContainerDevice(new MemoryTarget(), 1000, { format: 'qcow2' })).toThrow(UsageError);
    expect(() => createContainerDevice(new MemoryTarget(), MiB, { format: 'qcow2', clusterSize: 3000 })).toThrow(
      UsageError,
    );
  });

  test('VHD fixed pads to 1 MiB (Azure) and the footer follows', async () => {
    const src = new MemoryDevice(MiB + 512);
    src.writeAt(MiB, Uint8Array.of(7));
    const b = await toContainer(src, { format: 'vhd', subformat: 'fixed' });
    expect(b.length).toBe(2 * MiB + 512);
    const c = reopen(b);
    expect(c.device.size).toBe(2 * MiB);
    expect(c.device.readAt(MiB, 1)[0]).toBe(7);
  });
});

describe('host files', () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'tinyimage-container-dev-'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  test('FileDevice.writtenExtents lists the 4 KiB blocks written with data, and converting with them gives the same file', async () => {
    const p = join(dir, 'fresh.img');
    const f = FileDevice.create(p, 10 * MiB);
    f.writeAt(0, new Uint8Array(8192)); // zeros, never written: stays a hole
    f.writeAt(4096 * 3 + 10, Uint8Array.of(1));
    f.writeAt(4096 * 4, noise(5000));
    f.writeAt(9 * MiB, Uint8Array.of(2));
    const ext = f.writtenExtents()!;
    expect(ext).toEqual([
      { offset: 3 * 4096, length: 3 * 4096 },
      { offset: 9 * MiB, length: 4096 },
    ]);
    const a = await toContainer(f, { format: 'qcow2', extents: ext });
    const b = await toContainer(f, { format: 'qcow2' });
    expect(Buffer.compare(Buffer.from(a), Buffer.from(b))).toBe(0);
    f.close();
    expect(FileDevice.open(p).writtenExtents()).toBeUndefined();
  });

  test.each(KINDS)(
    '%s: createContainerFile builds in place, leaves no temporary file, and qemu-img agrees',
    async (name, opts) => {
      const out = join(dir, `direct-${name}`);
      const file = createContainerFile(out, SIZE, opts);
      await buildDisk(layout(), file.device);
      const s = await file.finish();
      expect(statSync(out).size).toBe(s.fileSize);
      const raw = join(dir, 'raw.img');
      const d = FileDevice.create(raw, SIZE);
      await buildDisk(layout(), d);
      d.close();
      if (opts.format === 'sparse') {
        if (!have('simg2img')) return;
        expect(run('simg2img', [out, join(dir, 'back.img')]).code).toBe(0);
        expect(run('cmp', [raw, join(dir, 'back.img')]).code).toBe(0);
      } else if (have('qemu-img')) {
        const f = { qcow2: 'qcow2', vhd: 'vpc', vmdk: 'vmdk' }[opts.format];
        expect(run('qemu-img', ['compare', '-f', 'raw', '-F', f, raw, out]).stdout).toContain('identical');
        if (f === 'qcow2') expect(run('qemu-img', ['check', out]).code).toBe(0);
      }
      const again = join(dir, `convert-${name}`);
      await convertToContainerFile(raw, again, opts);
      const { readdirSync } = await import('node:fs');
      expect(readdirSync(dir).filter((n) => n.endsWith('.tmp'))).toEqual([]);
    },
  );

  test('a failed build leaves nothing behind', async () => {
    const out = join(dir, 'aborted.qcow2');
    const file = createContainerFile(out, MiB, { format: 'qcow2' });
    file.device.writeAt(0, Uint8Array.of(1));
    file.abort();
    const { readdirSync, existsSync } = await import('node:fs');
    expect(existsSync(out)).toBe(false);
    expect(readdirSync(dir).filter((n) => n.includes('aborted'))).toEqual([]);
    await expect(convertToContainerFile(join(dir, 'missing.img'), out, { format: 'qcow2' })).rejects.toBeInstanceOf(
      TinyImageError,
    );
    writeFileSync(join(dir, 'odd.img'), new Uint8Array(1000));
    await expect(convertToContainerFile(join(dir, 'odd.img'), out, { format: 'qcow2' })).rejects.toBeInstanceOf(
      UsageError,
    );
    expect(readdirSync(dir).filter((n) => n.includes('aborted') || n.endsWith('.tmp'))).toEqual([]);
  });

  test('tinyimage inspect names the container and describes the disk inside', async () => {
    const { main } = await import('../../src/node/cli/main.js');
    const { Writable } = await import('node:stream');
    const raw = join(dir, 'inspect.raw');
    const d = FileDevice.create(raw, SIZE);
    await buildDisk(layout(), d);
    d.close();
    const out = join(dir, 'inspect.vhd');
    await convertToContainerFile(raw, out, { format: 'vhd' });
    let text = '';
    const stdout = new Writable({
      write(c, _e, cb) {
        text += c.toString();
        cb();
      },
    });
    const stderr = new Writable({
      write(_c, _e, cb) {
        cb();
      },
    });
    expect(await main(['inspect', out, '--json'], { stdout, stderr } as never)).toBe(0);
    const report = JSON.parse(text);
    expect(report.container).toMatchObject({ kind: 'vhd-dynamic', virtualSize: SIZE, creatorApp: 'win ' });
    expect(report.kind).toBe('gpt');
    expect(report.partitions[0].filesystem.kind).toBe('ext4');
    text = '';
    expect(await main(['inspect', `${out}:1`], { stdout, stderr } as never)).toBe(0);
    expect(text.split('\n')[0]).toContain('vhd-dynamic container');
  });

  test('writeContainer reports the file size it wrote', async () => {
    const t = new MemoryTarget();
    const s = await writeContainer(new MemoryDevice(2 * MiB), t, { format: 'vmdk' });
    expect(t.bytes().length).toBe(s.fileSize);
    expect(s.allocatedUnits).toBe(0);
  });
});

test('streaming writers refill a scan buffer only once its writes settled: slow async writes, reads that come at once', async () => {
  // every 2 MiB batch holds data, some all-zero clusters inside it, runs across batch boundaries
  const C = 64 * 1024;
  const data = noise(11 * MiB, 11);
  const zeroUnits = [0, 3, 31, 32, 33, 64, 100, 150, 151, 175];
  for (const u of zeroUnits) data.fill(0, u * C, (u + 1) * C);
  const src = Object.assign(new MemoryDevice(data.length), {
    readIntoAsync: async (offset: number, target: Uint8Array) =>
      target.set(data.subarray(offset, offset + target.length)),
  });
  // the write copies the bytes only later, as a thread would: a buffer reused too early would be stored wrong
  const slowTarget = () => {
    const t = new MemoryTarget();
    return Object.assign(t, {
      writeAtAsync: (offset: number, bytes: Uint8Array) =>
        new Promise<void>((resolve) => setTimeout(() => (t.writeAt(offset, bytes), resolve()), 0)),
    });
  };
  for (const [name, opts] of KINDS.filter(([, o]) => !o.compress && o.subformat !== 'streamOptimized')) {
    const t = slowTarget();
    const s = await writeContainer(src, t, opts);
    expect(sameDevice(readAll(reopen(t.bytes()).device), data), name).toBe(true);
    if (opts.format === 'qcow2') expect(s.allocatedUnits).toBe(data.length / C - zeroUnits.length);
  }
});
