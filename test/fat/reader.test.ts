/** openFat on images written by the real tools, round trips, and corrupt images. */
import { describe, expect, test } from 'vitest';
import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { gunzipSync } from 'node:zlib';
import { join } from 'node:path';
import { openFat, writeFat } from '../../src/core/fs/fat/index.js';
import { MemoryDevice } from '../../src/core/io/device.js';
import { FileTree } from '../../src/core/tree/tree.js';
import { readContent } from '../../src/core/tree/content.js';
import { treeFromHostDir } from '../../src/node/host/tree.js';
import { FormatError } from '../../src/core/errors.js';
import { DIRENT } from '../../src/core/fs/fat/structs.js';
import { missing, REPO } from '../helpers/prereq.js';
import { expectSameFiles, MTOOLS_ENV, tmp } from './helpers.js';
import { execFileSync } from 'node:child_process';

const FIX = join(REPO, 'fixtures/fat');

async function allFiles(tree: FileTree): Promise<Map<string, Uint8Array>> {
  const m = new Map<string, Uint8Array>();
  for (const e of tree.walk()) if (e.node.type === 'file') m.set(e.path, await readContent(e.node.content));
  return m;
}

describe('reading images made by mkfs.fat + mcopy (fixtures)', () => {
  const manifest = readFileSync(join(FIX, 'manifest.txt'), 'utf8')
    .trim()
    .split('\n')
    .map((l) => {
      const [sha, size, ...p] = l.split(' ');
      return { sha: sha!, size: Number(size), path: p.join(' ') };
    });
  test.each(['fat12', 'fat16', 'fat32'] as const)(
    '%s fixture: every file, name, size and hash as mcopy stored them',
    async (type) => {
      const dev = new MemoryDevice(new Uint8Array(gunzipSync(readFileSync(join(FIX, `mcopy-${type}.img.gz`)))));
      const vol = openFat(dev);
      expect(vol.info.type).toBe(type);
      expect(vol.info.label).toBe('FIXTURE');
      expect(vol.info.volumeId).toBe(0x1234abcd);
      expect(vol.info.oemName).toBe('mkfs.fat');
      expect(vol.info.fatCount).toBe(2);
      const files = await allFiles(vol.tree);
      expect([...files.keys()].sort()).toEqual(manifest.map((m) => m.path).sort());
      for (const m of manifest) {
        const data = files.get(m.path)!;
        expect(data.length, m.path).toBe(m.size);
        expect(createHash('sha256').update(data).digest('hex'), m.path).toBe(m.sha);
      }
      expect(vol.tree.get('/EMPTYDIR')?.type).toBe('dir');
      expect(vol.tree.get('/lower/notes.txt')?.type).toBe('file'); // 8.3 with NT lower-case flags
      if (type === 'fat32') expect(vol.info.fsInfoFree).toBe(vol.info.freeClusters);
    },
  );

  test('a fragmented file reads correctly through streams and random access', async () => {
    const dev = new MemoryDevice(new Uint8Array(gunzipSync(readFileSync(join(FIX, 'mcopy-fat12.img.gz')))));
    const node = openFat(dev).tree.get('/fragmented.txt');
    if (node?.type !== 'file') throw new Error('missing');
    const whole = await readContent(node.content);
    const parts: Uint8Array[] = [];
    for await (const c of node.content.stream()) parts.push(c);
    expect(Buffer.concat(parts).equals(Buffer.from(whole))).toBe(true);
    expect(Buffer.from(node.content.readAt!(20_000, 5000)).equals(Buffer.from(whole.subarray(20_000, 25_000)))).toBe(
      true,
    );
    expect(new TextDecoder().decode(whole).split('\n')[19_999]).toBe('20000');
  });
});

const noTools = missing({ tools: ['mkfs.fat', 'mcopy'] });
describe.skipIf(noTools)('reading fresh mkfs.fat + mcopy images', () => {
  test.each([
    ['12', 3000],
    ['16', 20000],
    ['32', 40000],
  ])('FAT%s', async (fat, kib) => {
    const t = tmp('fat-live-');
    try {
      const src = join(t.dir, 'src');
      mkdirSync(join(src, 'a/b/c'), { recursive: true });
      for (let i = 0; i < 120; i++)
        writeFileSync(join(src, 'a', `Some Long Name ${i}.txt`), `content ${i}\n`.repeat(i));
      writeFileSync(join(src, 'a/b/c/ÄÖÜ äöü.bin'), Buffer.alloc(9000, 7));
      writeFileSync(join(src, 'UPPER.TXT'), 'U');
      writeFileSync(join(src, 'lower.txt'), 'l');
      const img = join(t.dir, 'x.img');
      execFileSync('mkfs.fat', ['-C', '-F', fat, img, String(kib)], { stdio: 'ignore' });
      execFileSync('mcopy', ['-s', '-i', img, join(src, 'a'), join(src, 'UPPER.TXT'), join(src, 'lower.txt'), '::/'], {
        env: MTOOLS_ENV,
        stdio: 'ignore',
      });
      const vol = openFat(new MemoryDevice(new Uint8Array(readFileSync(img))));
      expect(vol.info.type).toBe(`fat${fat}`);
      await expectSameFiles(vol.tree, treeFromHostDir(src));
    } finally {
      t.cleanup();
    }
  });
});

describe('our images round-trip through our reader', () => {
  test.each(['fat12', 'fat16', 'fat32'] as const)('%s', async (type) => {
    const t = new FileTree({ defaultTime: 1_600_000_000 });
    for (let i = 0; i < 50; i++) t.addFile(`/d${i % 5}/File Name ${i}.txt`, 'x'.repeat(i * 100));
    t.addFile('/ro.txt', 'read only', { mode: 0o444 });
    const dev = new MemoryDevice(type === 'fat32' ? 40 << 20 : 8 << 20);
    await writeFat(t, dev, { type });
    const vol = openFat(dev);
    await expectSameFiles(vol.tree, t);
    expect(vol.tree.get('/ro.txt')!.mode).toBe(0o444);
    expect(vol.tree.get('/d0')!.mtime.sec).toBe(1_600_000_000);
  });
});

// ---------------------------------------------------------------- corruption

async function smallImage(type: 'fat16' | 'fat32') {
  const t = new FileTree({ defaultTime: 1_600_000_000 });
  t.addFile('/dir/file.bin', new Uint8Array(10_000).fill(1));
  t.addFile('/top.txt', 'top');
  const dev = new MemoryDevice(type === 'fat32' ? 40 << 20 : 8 << 20);
  await writeFat(t, dev, { type });
  return dev;
}

function fatOffset(dev: MemoryDevice): number {
  const v = new DataView(dev.bytes.buffer);
  return v.getUint16(14, true) * 512;
}

/** Opening and reading every file must either work or throw a FormatError. */
async function openAndReadAll(dev: MemoryDevice): Promise<void> {
  const vol = openFat(dev);
  for (const e of vol.tree.walk()) if (e.node.type === 'file') await readContent(e.node.content);
}

function dirEntryOffset(dev: MemoryDevice, name: string): number {
  const b = dev.bytes;
  const want = new TextEncoder().encode(name.padEnd(11, ' '));
  for (let o = 0; o + 32 <= b.length; o += 32) {
    let ok = true;
    for (let i = 0; i < 11 && ok; i++) ok = b[o + i] === want[i];
    if (ok && b[o + 11] !== 0x0f) return o;
  }
  throw new Error(`no entry ${name}`);
}

describe('corrupt images give typed FormatErrors', () => {
  const expectFormat = async (dev: MemoryDevice, code: string | RegExp) => {
    const err = await openAndReadAll(dev).then(
      () => undefined,
      (e) => e,
    );
    expect(err).toBeInstanceOf(FormatError);
    expect(err.code).toMatch(code);
  };

  test('not a FAT boot sector, bad BPB fields, filesystem larger than the device', async () => {
    let dev = await smallImage('fat16');
    dev.bytes.fill(0, 0, 512);
    await expectFormat(dev, 'E_FORMAT_FAT_MAGIC');
    dev = await smallImage('fat16');
    dev.bytes[11] = 3;
    dev.bytes[12] = 0;
    await expectFormat(dev, 'E_FORMAT_FAT_BPB');
    dev = await smallImage('fat16');
    dev.bytes[13] = 3;
    await expectFormat(dev, 'E_FORMAT_FAT_BPB');
    dev = await smallImage('fat32');
    new DataView(dev.bytes.buffer).setUint32(32, 0xfffffff0, true);
    await expectFormat(dev, 'E_FORMAT_FAT_TRUNCATED');
    await expectFormat(new MemoryDevice(100), 'E_FORMAT_FAT_TRUNCATED');
    const big = await smallImage('fat16');
    await expectFormat(new MemoryDevice(big.bytes.slice(0, 1 << 20)), 'E_FORMAT_FAT_TRUNCATED');
  });

  test('cluster chain loop, out-of-range cluster, chain to a free cluster, forged size', async () => {
    for (const type of ['fat16', 'fat32'] as const) {
      const w = type === 'fat32' ? 4 : 2;
      // file.bin's chain: make its second cluster point back to its first
      let dev = await smallImage(type);
      let e = DIRENT.decode(dev.bytes, dirEntryOffset(dev, 'FILE    BIN'));
      let first = (e.clusterHi << 16) | e.clusterLo;
      const setFat = (d: MemoryDevice, c: number, v: number) => {
        const o = fatOffset(d) + c * w;
        if (w === 4) new DataView(d.bytes.buffer).setUint32(o, v, true);
        else new DataView(d.bytes.buffer).setUint16(o, v, true);
      };
      setFat(dev, first + 1, first);
      await expectFormat(dev, 'E_FORMAT_FAT_LOOP');
      dev = await smallImage(type);
      setFat(dev, first + 1, 0x0ffffff0 & (w === 4 ? 0x0fffffff : 0xfff0));
      await expectFormat(dev, 'E_FORMAT_FAT_CLUSTER');
      dev = await smallImage(type);
      setFat(dev, first + 1, 0);
      await expectFormat(dev, /E_FORMAT_FAT_CHAIN/);
      dev = await smallImage(type);
      const off = dirEntryOffset(dev, 'FILE    BIN');
      new DataView(dev.bytes.buffer).setUint32(off + 28, 0xffffffff, true);
      await expectFormat(dev, /E_FORMAT_FAT_(SIZE|CHAIN_SHORT)/);
      // a subdirectory whose chain is the root's (FAT32) or another dir: loop
      dev = await smallImage(type);
      const doff = dirEntryOffset(dev, 'DIR        ');
      e = DIRENT.decode(dev.bytes, doff);
      first = (e.clusterHi << 16) | e.clusterLo;
      const topOff = dirEntryOffset(dev, 'TOP     TXT');
      const top = DIRENT.decode(dev.bytes, topOff);
      new DataView(dev.bytes.buffer).setUint16(topOff + 26, first, true);
      new DataView(dev.bytes.buffer).setUint16(topOff + 20, 0, true);
      void top;
      await expectFormat(dev, 'E_FORMAT_FAT_LOOP');
    }
  });

  test('a long-name entry with a wrong checksum falls back to the 8.3 name', async () => {
    const t = new FileTree();
    t.addFile('/A Long Name.txt', 'x');
    const dev = new MemoryDevice(4 << 20);
    await writeFat(t, dev);
    const b = dev.bytes;
    for (let o = 0; o < b.length; o += 32)
      if (b[o + 11] === 0x0f) {
        b[o + 13] ^= 0xff;
        break;
      }
    const vol = openFat(dev);
    expect([...vol.tree.root.children.keys()]).toEqual(['ALONGN~1.TXT']);
  });

  test('random byte corruption never hangs and only ever throws FormatError', async () => {
    const base = await smallImage('fat16');
    const base32 = await smallImage('fat32');
    let rnd = 12345;
    const next = () => {
      rnd = (rnd * 1103515245 + 12345) >>> 0;
      return rnd;
    };
    const started = Date.now();
    for (let i = 0; i < 400; i++) {
      const dev = i % 2 ? base32 : base;
      const hot = i % 2 ? 40 * 512 + 64 * 1024 : 64 * 1024; // boot sector, FATs and first directories
      const saved = dev.bytes.slice(0, hot);
      for (let k = 0; k < 1 + (next() % 8); k++) dev.bytes[next() % hot] = next() & 0xff;
      try {
        await openAndReadAll(dev);
      } catch (e) {
        if (!(e instanceof FormatError)) throw new Error(`iteration ${i}: ${(e as Error).stack}`, { cause: e });
      } finally {
        dev.bytes.set(saved, 0);
      }
    }
    expect(Date.now() - started).toBeLessThan(60_000);
  });
});
