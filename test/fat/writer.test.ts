/**
 * FAT writer checked by independent tools: fsck.fat -n must be clean and
 * mtools (mdir, mcopy -s) must read every file back identically.
 */
import { describe, expect, test, beforeAll, afterAll } from 'vitest';
import { join } from 'node:path';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import fc from 'fast-check';
import { FileTree } from '../../src/core/tree/tree.js';
import { readContent, streamContent } from '../../src/core/tree/content.js';
import { MemoryDevice } from '../../src/core/io/device.js';
import { writeFat, fatMinimumSize, openFat, type FatType } from '../../src/core/fs/fat/index.js';
import { CapacityError, PathError, UsageError } from '../../src/core/errors.js';
import { foldName } from '../../src/core/fs/fat/names.js';
import { missing } from '../helpers/prereq.js';
import {
  expectFsckClean,
  expectMtoolsReadBack,
  expectSameFiles,
  fsckVerboseText,
  makeImage,
  runEnv,
  tmp,
} from './helpers.js';
import { seededBytes } from '../helpers/bytes.js';

const skip = missing({ tools: ['fsck.fat', 'mcopy', 'mdir'] });
const TYPES: Array<[FatType, number]> = [
  ['fat12', 4 << 20],
  ['fat16', 24 << 20],
  ['fat32', 40 << 20],
];
const EPOCH = 1_700_000_000;

let work: ReturnType<typeof tmp>;
beforeAll(() => {
  work = tmp('fat-writer-');
});
afterAll(() => work.cleanup());

function sampleTree(): FileTree {
  const t = new FileTree({ defaultTime: EPOCH });
  t.addFile('/README.TXT', 'upper 8.3\n');
  t.addFile('/readme.md', 'lower 8.3 with flags\n');
  t.addFile('/Makefile', 'mixed case\n');
  t.addFile('/a very long file name with spaces.tar.gz', seededBytes(5000, 1));
  t.addFile('/.hidden', 'dot file\n');
  t.addFile('/big.bin', seededBytes(300_000, 2));
  t.addFile('/empty', '');
  t.addFile('/odd+chars;[x]=y,z.txt', 'odd');
  t.addFile('/日本語のファイル名.txt', 'cjk');
  t.addFile('/émoji 😀 näme.dat', 'surrogates');
  t.addFile('/sub/dir/nested.c', 'int main(){}\n');
  t.mkdir('/emptydir');
  t.addFile('/x'.padEnd(256, 'y'), 'max length name');
  return t;
}

describe.skipIf(skip)('writeFat + fsck.fat + mtools', () => {
  test.each(TYPES)('%s: sample tree is fsck-clean and reads back identically with mcopy', async (type, size) => {
    const img = join(work.dir, `sample-${type}.img`);
    const t = sampleTree();
    const { summary, dev } = await makeImage(t, img, size, { type, label: 'Tiny Img', epoch: EPOCH });
    expect(summary.type).toBe(type);
    expectFsckClean(img);
    await expectMtoolsReadBack(img, t);
    const vol = openFat(dev);
    await expectSameFiles(vol.tree, t);
    expect(vol.info.type).toBe(type);
    expect(vol.info.label).toBe('TINY IMG');
    const md = runEnv('mdir', ['-i', img, '::/']);
    expect(md.stdout).toContain('Volume in drive : is TINY IMG');
    const hex = summary.volumeId.toString(16).toUpperCase().padStart(8, '0');
    expect(md.stdout).toContain(`Volume Serial Number is ${hex.slice(0, 4)}-${hex.slice(4)}`);
    // 8.3 names with lower-case flags need no long name; mtools shows them lower case
    expect(md.stdout).toMatch(/^readme\s+md\s/m);
    expect(md.stdout).toMatch(/^README\s+TXT\s/m);
  });

  test.each(TYPES)('%s: thousands of entries in one directory (and a large root)', async (type, size) => {
    const t = new FileTree({ defaultTime: EPOCH });
    const n = type === 'fat12' ? 1500 : 4000;
    for (let i = 0; i < n; i++) t.addFile(`/many/a common long prefix ${i}.text`, `${i}\n`);
    for (let i = 0; i < 700; i++) t.addFile(`/root entry ${i}`, '');
    const img = join(work.dir, `many-${type}.img`);
    await makeImage(t, img, size, { type });
    expectFsckClean(img);
    await expectMtoolsReadBack(img, t);
  });

  test.each(TYPES)('%s: same names in different case across directories, deep tree', async (type, size) => {
    const t = new FileTree({ defaultTime: EPOCH });
    t.addFile('/a/Readme', '1');
    t.addFile('/b/README', '2');
    t.addFile('/c/readme', '3');
    t.addFile('/d/ReadMe.Txt', '4');
    let p = '';
    for (let i = 0; i < 40; i++) p += `/level ${i}`;
    t.addFile(`${p}/leaf.txt`, 'deep');
    const img = join(work.dir, `case-${type}.img`);
    await makeImage(t, img, size, { type });
    expectFsckClean(img);
    await expectMtoolsReadBack(img, t);
  });

  test('FAT32 directories spanning many clusters, files spanning many clusters', async () => {
    const t = new FileTree({ defaultTime: EPOCH });
    for (let i = 0; i < 600; i++) t.addFile(`/d/file with a long name number ${i}.bin`, seededBytes(i * 7, i));
    t.addFile('/huge.bin', seededBytes(3_000_000, 9));
    const img = join(work.dir, 'span32.img');
    const { dev } = await makeImage(t, img, 40 << 20, { type: 'fat32' });
    const vol = openFat(dev);
    expect(vol.info.clusterSize).toBe(512); // so /d needs ~ (600 * 4 entries * 32) / 512 = 150 clusters
    expectFsckClean(img);
    await expectMtoolsReadBack(img, t);
  });

  test('FAT32 details: backup boot sector, FSInfo free count and hint, hidden sectors, media bytes', async () => {
    const t = sampleTree();
    const img = join(work.dir, 'details.img');
    const { dev, summary } = await makeImage(t, img, 40 << 20, { type: 'fat32', hiddenSectors: 2048 });
    const b = dev.bytes;
    expect([...b.subarray(0, 3)]).toEqual([0xeb, 0x58, 0x90]);
    expect(Buffer.from(b.subarray(0, 1024)).equals(Buffer.from(b.subarray(6 * 512, 8 * 512)))).toBe(true);
    const vol = openFat(dev);
    expect(vol.info.hiddenSectors).toBe(2048);
    expect(vol.info.fsInfoFree).toBe(vol.info.freeClusters);
    expect(vol.info.fsInfoFree).toBe(summary.freeClusters);
    expect(vol.info.fsInfoNextFree).toBe(summary.usedClusters + 2);
    expect(vol.info.reservedSectors).toBe(32);
    const fat0 = vol.info.reservedSectors * 512;
    expect([...b.subarray(fat0, fat0 + 8)]).toEqual([0xf8, 0xff, 0xff, 0x0f, 0xff, 0xff, 0xff, 0x0f]);
    const fat1 = fat0 + vol.info.fatSectors * 512;
    expect(
      Buffer.from(b.subarray(fat0, fat1)).equals(Buffer.from(b.subarray(fat1, fat1 + vol.info.fatSectors * 512))),
    ).toBe(true);
    expect(new TextDecoder().decode(b.subarray(90, 510))).toContain('This is not a bootable disk');
    expect([b[510], b[511]]).toEqual([0x55, 0xaa]);
    const v = fsckVerboseText(img);
    expect(v).not.toMatch(/differ|wrong|corrupt/i);
    expect(v).toContain('2048 hidden sectors');
  });

  test('FAT12/16 boot sector and both FATs start with the media byte', async () => {
    for (const [type, size] of TYPES.slice(0, 2)) {
      const dev = new MemoryDevice(size);
      await writeFat(sampleTree(), dev, { type: type as FatType });
      const b = dev.bytes;
      expect([...b.subarray(0, 3)]).toEqual([0xeb, 0x3c, 0x90]);
      expect(new TextDecoder().decode(b.subarray(54, 62))).toBe(type === 'fat12' ? 'FAT12   ' : 'FAT16   ');
      const info = openFat(dev).info;
      for (const k of [0, 1]) {
        const o = (info.reservedSectors + k * info.fatSectors) * 512;
        expect([...b.subarray(o, o + 3)]).toEqual(type === 'fat12' ? [0xf8, 0xff, 0xff] : [0xf8, 0xff, 0xff]);
      }
    }
  });

  test('timestamps: UTC at 2-second resolution, clamped to 1980..2107', async () => {
    const t = new FileTree();
    t.addFile('/t2023', 'a', { mtime: Date.UTC(2023, 4, 6, 7, 8, 9) / 1000 });
    t.addFile('/old', 'b', { mtime: 100 });
    t.addFile('/future', 'c', { mtime: Date.UTC(2200, 0, 1) / 1000 });
    const img = join(work.dir, 'times.img');
    const { dev } = await makeImage(t, img, 4 << 20);
    expectFsckClean(img);
    const tree = openFat(dev).tree;
    expect(tree.get('/t2023')!.mtime.sec).toBe(Date.UTC(2023, 4, 6, 7, 8, 8) / 1000);
    expect(tree.get('/old')!.mtime.sec).toBe(Date.UTC(1980, 0, 1) / 1000);
    expect(tree.get('/future')!.mtime.sec).toBe(Date.UTC(2107, 11, 31, 23, 59, 58) / 1000);
    const md = runEnv('mdir', ['-i', img, '::/t2023']);
    expect(md.stdout).toMatch(/2023-05-06\s+7:08/);
  });

  test('deterministic: same tree and options give identical bytes; volume id from label and epoch', async () => {
    const a = new MemoryDevice(24 << 20);
    const b = new MemoryDevice(24 << 20);
    const sa = await writeFat(sampleTree(), a, { label: 'X', epoch: EPOCH });
    const sb = await writeFat(sampleTree(), b, { label: 'X', epoch: EPOCH });
    expect(Buffer.from(a.bytes).equals(Buffer.from(b.bytes))).toBe(true);
    expect(sa.volumeId).toBe(sb.volumeId);
    const c = new MemoryDevice(24 << 20);
    const sc = await writeFat(sampleTree(), c, { label: 'Y', epoch: EPOCH });
    expect(sc.volumeId).not.toBe(sa.volumeId);
    const d = new MemoryDevice(24 << 20);
    const sd = await writeFat(sampleTree(), d, { volumeId: 0x1234abcd });
    expect(sd.volumeId).toBe(0x1234abcd);
    expect(openFat(d).info.volumeIdString).toBe('1234-ABCD');
  });

  test('property: random trees are fsck-clean and read back identically (mtools and our reader)', async () => {
    const nameChars = fc.constantFrom(..."aAbBzZ09 _-.~!#$%&()+,;=[]@^{}'éÜß日本😀".split(/(?:)/u));
    const name = fc
      .array(nameChars, { minLength: 1, maxLength: 30 })
      .map((a) => a.join(''))
      .filter((n) => n !== '.' && n !== '..' && !n.endsWith('.') && !n.endsWith(' ') && n.length <= 255);
    type Spec = { [name: string]: Spec | number };
    const dirSpec: fc.Memo<Spec> = fc.memo((depth) =>
      fc.dictionary(name, depth <= 1 ? fc.nat(3000) : fc.oneof(fc.nat(3000), dirSpec(depth - 1)), { maxKeys: 8 }),
    );
    let run = 0;
    await fc.assert(
      fc.asyncProperty(dirSpec(3), fc.constantFrom<FatType>('fat12', 'fat16', 'fat32'), async (spec, type) => {
        const t = new FileTree({ defaultTime: EPOCH });
        let seed = 0;
        const build = (s: Spec, path: string) => {
          const seen = new Set<string>();
          for (const [n, v] of Object.entries(s)) {
            if (seen.has(foldName(n))) continue; // FAT is case-insensitive: one of a pair only
            seen.add(foldName(n));
            const p = `${path}/${n}`;
            if (typeof v === 'number') t.addFile(p, seededBytes(v, ++seed));
            else {
              t.mkdir(p);
              build(v, p);
            }
          }
        };
        build(spec, '');
        const img = join(work.dir, `prop-${run++ % 4}.img`);
        const { dev } = await makeImage(t, img, TYPES.find((x) => x[0] === type)![1], { type });
        expectFsckClean(img);
        await expectMtoolsReadBack(img, t);
        await expectSameFiles(openFat(dev).tree, t);
      }),
      { numRuns: Number(process.env.FAT_PROPERTY_RUNS ?? 30), seed: Number(process.env.FAT_PROPERTY_SEED ?? 42) },
    );
  });
});

describe('entries FAT cannot hold', () => {
  test('symlinks follow their target inside the tree by default; dangling and looping ones warn and are skipped', async () => {
    const t = new FileTree();
    t.addFile('/etc/real.conf', 'conf');
    t.addSymlink('/etc/alias.conf', 'real.conf');
    t.addSymlink('/abs', '/etc/real.conf');
    t.addSymlink('/dirlink', 'etc');
    t.addSymlink('/chain', 'abs');
    t.addSymlink('/dangling', '/nope');
    t.addSymlink('/etc/loop', '..');
    t.addSymlink('/self', 'self');
    const warnings: string[] = [];
    const dev = new MemoryDevice(4 << 20);
    const s = await writeFat(t, dev, { warn: (m) => warnings.push(m) });
    const tree = openFat(dev).tree;
    const text = async (p: string) => {
      const n = tree.get(p);
      return n?.type === 'file' ? new TextDecoder().decode(n.content.readAt!(0, 100)) : n?.type;
    };
    expect(await text('/etc/alias.conf')).toBe('conf');
    expect(await text('/abs')).toBe('conf');
    expect(await text('/chain')).toBe('conf');
    expect(await text('/dirlink/real.conf')).toBe('conf');
    expect(tree.get('/dangling')).toBeUndefined();
    expect(tree.get('/etc/loop')).toBeUndefined();
    expect(tree.get('/self')).toBeUndefined();
    expect(s.skipped.sort()).toEqual(['/dangling', '/dirlink/loop', '/etc/loop', '/self']);
    expect(warnings.join('\n')).toMatch(/\/dangling: symlink to \/nope points to nothing/);
    expect(warnings.join('\n')).toMatch(/\/etc\/loop: .*loop/);
  });

  test('symlinks: skip mode warns, error mode throws a PathError', async () => {
    const t = new FileTree();
    t.addFile('/f', 'x');
    t.addSymlink('/l', 'f');
    const warnings: string[] = [];
    await writeFat(t, new MemoryDevice(4 << 20), { symlinks: 'skip', warn: (m) => warnings.push(m) });
    expect(warnings).toHaveLength(1);
    await expect(writeFat(t, new MemoryDevice(4 << 20), { symlinks: 'error' })).rejects.toThrow(PathError);
    await expect(writeFat(t, new MemoryDevice(4 << 20), { symlinks: 'bogus' as 'skip' })).rejects.toThrow(UsageError);
  });

  test('hard links become copies; devices, FIFOs and sockets are skipped with a warning', async () => {
    const t = new FileTree();
    t.addFile('/a', 'shared');
    t.addHardLink('/b', '/a');
    t.addDevice('/dev/null', 'char', 1, 3);
    t.addDevice('/dev/sda', 'block', 8, 0);
    t.addFifo('/fifo');
    t.addSocket('/sock');
    const warnings: string[] = [];
    const dev = new MemoryDevice(4 << 20);
    const s = await writeFat(t, dev, { warn: (m) => warnings.push(m) });
    expect(s.hardLinkCopies).toBe(1);
    expect(warnings).toHaveLength(4);
    expect(warnings.join('\n')).toMatch(/\/dev\/null: character device cannot be stored on FAT/);
    const tree = openFat(dev).tree;
    expect(tree.get('/a')).not.toBe(tree.get('/b'));
    expect(
      new TextDecoder().decode(
        (tree.get('/b') as { content: { readAt(a: number, b: number): Uint8Array } }).content.readAt(0, 10),
      ),
    ).toBe('shared');
    expect(tree.get('/dev')?.type).toBe('dir');
  });

  test('forbidden characters and case-only differences are PathErrors naming the path', async () => {
    for (const bad of ['a:b', 'what?', 'x*y', 'q"q', 'l<r', 'pi|pe', 'back\\slash', 'ctl\u0001', 'trailing.']) {
      const t = new FileTree();
      t.addFile(`/dir/${bad}`, 'x');
      const err = await writeFat(t, new MemoryDevice(4 << 20)).catch((e) => e);
      expect(err).toBeInstanceOf(PathError);
      expect(err.data.path).toBe(`/dir/${bad}`);
    }
    const t = new FileTree();
    t.addFile('/d/Readme.txt', '1');
    t.addFile('/d/README.TXT', '2');
    const err = await writeFat(t, new MemoryDevice(4 << 20)).catch((e) => e);
    expect(err).toBeInstanceOf(PathError);
    expect(err.code).toBe('E_PATH_FAT_CASE');
    expect(err.message).toMatch(/\/d\/Readme\.txt and \/d\/README\.TXT differ only in case/);
  });

  test('files of 4 GiB or more are a CapacityError; too small volumes say how much is needed', async () => {
    const t = new FileTree();
    t.addFile(
      '/huge',
      streamContent(2 ** 32, async function* () {
        /* never read */
      }),
    );
    const err = await writeFat(t, new MemoryDevice(4 << 20)).catch((e) => e);
    expect(err).toBeInstanceOf(CapacityError);
    expect(err.message).toMatch(/\/huge is 4294967296 bytes; FAT files hold at most 4 GiB - 1/);
    const t2 = new FileTree();
    t2.addFile('/big', new Uint8Array(3 << 20));
    const err2 = await writeFat(t2, new MemoryDevice(1 << 20)).catch((e) => e);
    expect(err2).toBeInstanceOf(CapacityError);
    expect(err2.message).toMatch(/needs \d+ clusters.*use at least \d+ bytes/);
    await expect(writeFat(new FileTree(), new MemoryDevice(8 << 20), { type: 'fat32' })).rejects.toThrow(
      /cannot hold FAT32/,
    );
    await expect(writeFat(new FileTree(), new MemoryDevice(8 << 20), { label: 'way too long label' })).rejects.toThrow(
      UsageError,
    );
  });

  test('a directory needing more than 65520 entries is a CapacityError naming it', async () => {
    const t = new FileTree();
    for (let i = 0; i < 22_000; i++) t.addFile(`/full/long name number ${i}`, '');
    const err = await writeFat(t, new MemoryDevice(64 << 20)).catch((e) => e);
    expect(err).toBeInstanceOf(CapacityError);
    expect(err.code).toBe('E_LIMIT_FAT_DIR_ENTRIES');
    expect(err.data.path).toBe('/full');
  });

  test('content whose stream disagrees with its size fails', async () => {
    const t = new FileTree();
    t.addFile(
      '/liar',
      streamContent(2 << 20, async function* () {
        yield new Uint8Array(100);
      }),
    );
    await expect(writeFat(t, new MemoryDevice(8 << 20))).rejects.toThrow(/liar.*declared/);
  });
});

describe('fatMinimumSize', () => {
  test.each([undefined, 'fat12', 'fat16', 'fat32'] as const)(
    'type %s: the minimum size fits, with headroom',
    async (type) => {
      const t = sampleTree();
      const size = fatMinimumSize(t, { type });
      const s = await writeFat(t, new MemoryDevice(size), { type });
      if (type) expect(s.type).toBe(type);
      expect(s.freeClusters * s.clusterSize).toBeGreaterThanOrEqual(s.bytes * 0.1 - s.clusterSize);
      if (type === 'fat32') expect(s.clusters).toBeGreaterThanOrEqual(65525);
      if (type === 'fat12') expect(size).toBeLessThan(2 << 20);
    },
  );
});

describe('fatMinimumSize is tight', () => {
  test.each(['fat12', 'fat16', 'fat32'] as const)(
    '%s with headroom 0: fits, and one step smaller does not',
    async (type) => {
      const t = new FileTree();
      for (let i = 0; i < 40; i++) t.addFile(`/f${i}.bin`, new Uint8Array(type === 'fat32' ? 200_000 + i : 30_000 + i));
      const size = fatMinimumSize(t, { type, headroom: 0 });
      await writeFat(t, new MemoryDevice(size), { type });
      const step = size > 8 << 20 ? 1 << 20 : 64 << 10;
      await expect(writeFat(t, new MemoryDevice(size - step), { type })).rejects.toThrow(CapacityError);
    },
  );
});

describe.skipIf(skip || !process.env.TINYIMAGE_BENCH_TREE)('bench tree (TINYIMAGE_BENCH_TREE=/work/bench-tree)', () => {
  // FAT12 holds at most 4084 clusters: a subdirectory of the tree stands in for it.
  test.each([
    ['fat32', ''],
    ['fat16', ''],
    ['fat12', '/dir32'],
  ] as const)(
    '%s image of the benchmark tree%s is fsck-clean and mcopy reads it back',
    async (type, sub) => {
      const { treeFromHostDir } = await import('../../src/node/host/tree.js');
      const { FileDevice } = await import('../../src/node/io/file.js');
      const src = process.env.TINYIMAGE_BENCH_TREE! + sub;
      const t = treeFromHostDir(src);
      const warnings: string[] = [];
      const size = fatMinimumSize(t, { type });
      const img = join(work.dir, `bench-${type}.img`);
      const dev = FileDevice.create(img, size);
      const s = await writeFat(t, dev, { type, warn: (m) => warnings.push(m) });
      dev.close();
      expect(s.type).toBe(type);
      expect(s.files).toBeGreaterThan(1000);
      expectFsckClean(img);
      // mcopy everything out and compare against what the FAT image holds (our reader)
      const ro = FileDevice.open(img);
      const vol = openFat(ro);
      await expectMtoolsReadBack(img, vol.tree);
      // every regular file of the host tree is in the image with the same bytes
      let checked = 0;
      for (const e of t.walk()) {
        if (e.node.type !== 'file') continue;
        const got = vol.tree.get(e.path);
        expect(got?.type, e.path).toBe('file');
        if (got?.type !== 'file') continue;
        expect(got.content.size, e.path).toBe(e.node.content.size);
        if (checked++ % 10 === 0)
          expect(Buffer.from(await readContent(got.content)).equals(readFileSync(join(src, e.path))), e.path).toBe(
            true,
          );
      }
      expect(checked).toBeGreaterThan(1000);
      ro.close();
      rmSync(img, { force: true });
    },
    1_800_000,
  );
});

describe('symlinked directories', () => {
  test('a directory reached through several links is copied each time; fsck-clean', async () => {
    const t = new FileTree({ defaultTime: EPOCH });
    t.addFile('/lib/x/data.bin', seededBytes(3000, 5));
    t.addSymlink('/a', 'lib');
    t.addSymlink('/usr/lib', '../lib');
    t.addSymlink('/usr/lib64', '/usr/lib');
    const dev = new MemoryDevice(4 << 20);
    const s = await writeFat(t, dev);
    expect(s.files).toBe(4);
    const tree = openFat(dev).tree;
    for (const p of ['/lib/x/data.bin', '/a/x/data.bin', '/usr/lib/x/data.bin', '/usr/lib64/x/data.bin'])
      expect(tree.get(p)?.type, p).toBe('file');
    if (!skip) {
      const img = join(work.dir, 'links.img');
      writeFileSync(img, dev.bytes);
      expectFsckClean(img);
    }
  });
});
