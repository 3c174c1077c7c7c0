/**
 * The ISO 9660 writer checked by independent readers: isoinfo (genisoimage)
 * for the descriptors and the three name spaces, xorriso (libisofs) for
 * extraction as root, which must give back exactly the tree we wrote.
 */
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { closeSync, openSync, readFileSync, readSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { FileTree } from '../../src/core/tree/tree.js';
import { sparseContent } from '../../src/core/tree/content.js';
import { CapacityError, PathError, UsageError } from '../../src/core/errors.js';
import { iso9660Size, openIso9660 } from '../../src/core/fs/iso9660/index.js';
import { FileDevice } from '../../src/node/io/file.js';
import { missing, run } from '../helpers/prereq.js';
import { tmpDir } from '../helpers/tmp.js';
import { expectExtractedTree, expectSameTree, isoKeeps, writeIsoFile, xorrisoExtract } from './helpers.js';
import { seededBytes } from '../helpers/bytes.js';

const skip = missing({ tools: ['isoinfo', 'xorriso'] });
const tmp = tmpDir('tinyimage-isowrite-');
afterAll(() => tmp.cleanup());
const EPOCH = 1_700_000_000;

/** Every node type, odd modes and owners, long and Unicode names, deep directories, hard links, long link targets. */
export function sampleTree(): FileTree {
  const t = new FileTree({ defaultTime: EPOCH });
  t.addFile('/hello.txt', 'hello\n', { mode: 0o4750, uid: 1000, gid: 100 });
  t.addFile('/README', 'upper\n');
  t.addFile('/readme', 'lower\n', { mtime: -86_400 * 365 });
  t.addFile('/empty', '');
  t.addFile('/big.bin', seededBytes(300_000, 1), { mtime: 4_102_444_800 });
  t.addFile('/.hidden', 'dot file\n', { mode: 0o600 });
  t.addFile('/ünïcödé 日本語 😀.txt', 'unicode\n');
  t.addFile('/' + 'n'.repeat(255), 'a 255-byte name\n');
  t.addFile('/docs/' + 'é'.repeat(127), 'a 254-byte name in two-byte characters\n');
  t.addSymlink('/link', 'hello.txt');
  t.addSymlink('/abs', '/usr/lib/../share/./x');
  t.addSymlink('/dangling', '../nowhere/at/all');
  // 995 bytes in four SL entries, in a continuation area (libisofs reads link targets up to 1023 bytes)
  t.addSymlink('/longlink', 'segment/'.repeat(124) + 'end');
  t.addDevice('/dev/null', 'char', 1, 3, { mode: 0o666 });
  t.addDevice('/dev/sda1', 'block', 8, 1, { mode: 0o660, gid: 6 });
  t.addDevice('/dev/big', 'char', 259, 300_000);
  t.addFifo('/dev/fifo', { mode: 0o620 });
  t.addSocket('/run/sock', { mode: 0o777 });
  t.mkdir('/tmp', { mode: 0o1777 });
  t.addHardLink('/hello-again', '/hello.txt');
  t.addHardLink('/docs/hello-3', '/hello.txt');
  let deep = '';
  for (let i = 1; i <= 12; i++) {
    deep += `/level${i}`;
    t.mkdir(deep, { mode: 0o750, uid: i });
    t.addFile(`${deep}/file${i}`, `depth ${i}\n`);
  }
  t.addHardLink(`${deep}/linked-from-deep`, '/big.bin');
  for (let i = 0; i < 300; i++) t.addFile(`/many/entry-${String(i).padStart(4, '0')}-with-a-longer-name.dat`, `${i}`);
  return t;
}

const img = (name: string) => join(tmp.dir, name);
let tree: FileTree;

describe.skipIf(skip)('ISO 9660 writer, checked by isoinfo and xorriso', () => {
  beforeAll(async () => {
    tree = sampleTree();
    await writeIsoFile(tree, img('sample.iso'), { label: 'SAMPLE', epoch: EPOCH });
  });

  test('isoinfo -d: Rock Ridge, Joliet, the label and the volume size', () => {
    const d = run('isoinfo', ['-d', '-i', img('sample.iso')]).stdout;
    expect(d).toContain('Volume id: SAMPLE');
    expect(d).toContain('Rock Ridge signatures version 1 found');
    expect(d).toContain('Joliet with UCS level 3 found');
    expect(d).toContain('Logical block size is: 2048');
    expect(d).toContain(`Volume size is: ${statSync(img('sample.iso')).size / 2048}`);
    expect(d).toContain('Data preparer id: TINYIMAGE');
  });

  test('isoinfo -l -R lists the Rock Ridge names, modes and sizes', () => {
    // (isoinfo shows neither setuid nor sticky bits)
    const l = run('isoinfo', ['-l', '-R', '-i', img('sample.iso')]).stdout;
    expect(l).toMatch(/-rwxr-x---\s+3\s+\S+\s+\S+\s+6 .*\]\s+hello\.txt\s*$/m);
    expect(l).toMatch(/drwxrwxrwx\s.*\]\s+tmp\s*$/m);
    expect(l).toMatch(/-rw-r--r--\s.*\s300000 .*\]\s+big\.bin\s*$/m);
    expect(l).toMatch(/lrwxrwxrwx\s.*\]\s+link -> hello\.txt\s*$/m);
    expect(l).toContain('n'.repeat(255));
    expect(l).toContain('ünïcödé 日本語 😀.txt');
    // isoinfo follows no CL link: it shows the relocated directory where it lies
    expect(l).toContain('Directory listing of /level1/level2/level3/level4/level5/level6/level7/');
    expect(l).toContain('Directory listing of /rr_moved/level8/level9/');
  });

  test('isoinfo -l without Rock Ridge: level 3 identifiers; -J: Joliet names', () => {
    const l = run('isoinfo', ['-l', '-i', img('sample.iso')]).stdout;
    expect(l).toMatch(/\]\s+HELLO\.TXT;1\s*$/m);
    expect(l).toMatch(/\]\s+README\.;1\s*$/m);
    expect(l).toMatch(/\]\s+README1\.;1\s*$/m);
    expect(l).toMatch(/\]\s+RR_MOVED\s*$/m);
    const j = run('isoinfo', ['-l', '-J', '-i', img('sample.iso')]).stdout;
    expect(j).toMatch(/\]\s+entry-0299-with-a-longer-name\.dat;1\s*$/m);
    expect(j).toMatch(/\]\s+n{64};1\s*$/m);
    expect(j).toMatch(/ _\.txt;1\s*$/m);
    // Joliet has no symbolic links or devices
    expect(j).not.toMatch(/\]\s+link\s*$/m);
  });

  test('xorriso extracts exactly the tree that was written (as root: owners and devices)', async () => {
    if (process.getuid?.() !== 0) return void console.warn('skipping: extraction with owners and devices needs root');
    const out = xorrisoExtract(img('sample.iso'), join(tmp.dir, 'extracted'));
    await expectExtractedTree(img('sample.iso'), isoKeeps(sampleTree()), out);
  });

  test('our reader reads it back identically, hard links included', async () => {
    const dev = FileDevice.open(img('sample.iso'));
    try {
      const v = openIso9660(dev);
      expect(v.info).toMatchObject({ label: 'SAMPLE', rockRidge: true, joliet: true, names: 'rockridge' });
      await expectSameTree(isoKeeps(sampleTree()), v.tree);
      expect(v.tree.get('/hello.txt')).toBe(v.tree.get('/docs/hello-3'));
      const joliet = openIso9660(dev, { names: 'joliet' });
      expect(joliet.tree.get('/many/entry-0299-with-a-longer-name.dat')).toBeDefined();
      const plain = openIso9660(dev, { names: 'iso9660' });
      expect(plain.tree.get('/readme1')?.type).toBe('file');
    } finally {
      dev.close();
    }
  });

  test('the same tree gives the same bytes; another epoch only other volume dates', async () => {
    await writeIsoFile(sampleTree(), img('again.iso'), { label: 'SAMPLE', epoch: EPOCH });
    const a = readFileSync(img('sample.iso'));
    expect(Buffer.compare(a, readFileSync(img('again.iso')))).toBe(0);
    await writeIsoFile(sampleTree(), img('later.iso'), { label: 'SAMPLE', epoch: EPOCH + 1 });
    const b = readFileSync(img('later.iso'));
    const differ: number[] = [];
    for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) differ.push(Math.floor(i / 2048));
    expect([...new Set(differ)]).toEqual([16, 17]);
  });
});

describe.skipIf(skip)('levels, Joliet and Rock Ridge options', () => {
  test('level 1 names are 8.3; without Rock Ridge only files and directories remain', async () => {
    const warnings: string[] = [];
    await writeIsoFile(sampleTree(), img('plain.iso'), {
      level: 1,
      rockRidge: false,
      joliet: false,
      warn: (m) => warnings.push(m),
    });
    const d = run('isoinfo', ['-d', '-i', img('plain.iso')]).stdout;
    expect(d).toContain('NO Rock Ridge present');
    expect(d).toContain('NO Joliet present');
    const l = run('isoinfo', ['-l', '-i', img('plain.iso')]).stdout;
    for (const m of l.matchAll(/\]\s+(\S+)\s*$/gm)) {
      const id = m[1]!;
      if (id === '.' || id === '..') continue;
      expect(id).toMatch(/^[A-Z0-9_]{1,8}(\.[A-Z0-9_]{0,3};1)?$/);
    }
    expect(warnings.some((w) => w.includes('symlink link left out'))).toBe(true);
    const v = openIso9660(FileDevice.open(img('plain.iso')));
    expect(v.info.names).toBe('iso9660');
    expect(v.tree.get('/hello.txt')?.type).toBe('file');
  });

  test("joliet: 'long' keeps 103 characters", async () => {
    const t = new FileTree({ defaultTime: EPOCH });
    t.addFile('/' + 'q'.repeat(150), 'x');
    await writeIsoFile(t, img('long.iso'), { joliet: 'long', rockRidge: false });
    const j = run('isoinfo', ['-l', '-J', '-i', img('long.iso')]).stdout;
    expect(j).toContain('q'.repeat(103));
    expect(j).not.toContain('q'.repeat(104));
  });

  test('a file above 4 GiB is stored in several extents at level 3, refused at level 2', async () => {
    const size = 4 * 2 ** 30 + 5_000_000;
    const marks = [
      { offset: 0, data: seededBytes(4096, 7) },
      { offset: 0xfffff800 - 100, data: seededBytes(300, 8) },
      { offset: size - 1000, data: seededBytes(1000, 9) },
    ];
    const t = new FileTree({ defaultTime: EPOCH });
    t.addFile('/huge.img', sparseContent(size, marks));
    t.addFile('/after', 'after the big one\n');
    expect(() => iso9660Size(t, { level: 2 })).toThrow(CapacityError);
    const s = await writeIsoFile(t, img('huge.iso'));
    expect(s.multiExtent).toBe(1);
    // the holes were not written
    expect(statSync(img('huge.iso')).blocks * 512).toBeLessThan(64 << 20);
    const l = run('xorriso', ['-indev', img('huge.iso'), '-find', '/', '-exec', 'lsdl']).stdout;
    expect(l).toMatch(new RegExp(`${size}\\s.*'/huge\\.img'`));
    // isoinfo lists one record per extent: the first 4 GiB - 2 KiB (multi-extent flag set), then the rest
    const recs = [
      ...run('isoinfo', ['-l', '-R', '-i', img('huge.iso')]).stdout.matchAll(
        /\s(\d+) \w{3} .*\[\s*(\d+) (\w+)\s*\]?\s*huge\.img/g,
      ),
    ];
    expect(recs.map((m) => Number(m[1]))).toEqual([0xfffff800, size - 0xfffff800]);
    const [first, second] = recs.map((m) => Number(m[2]));
    expect(second! - first!).toBe(0xfffff800 / 2048);
    // the bytes are where the records say
    const fd = openSync(img('huge.iso'), 'r');
    try {
      for (const m of marks) {
        const got = Buffer.alloc(m.data.length);
        readSync(fd, got, 0, got.length, first! * 2048 + m.offset);
        expect(Buffer.compare(got, m.data)).toBe(0);
      }
    } finally {
      closeSync(fd);
    }
    const v = openIso9660(FileDevice.open(img('huge.iso')));
    const f = v.tree.get('/huge.img');
    expect(f?.type === 'file' && f.content.size).toBe(size);
    if (f?.type !== 'file') return;
    for (const m of marks) expect(Buffer.compare(f.content.readAt!(m.offset, m.data.length), m.data)).toBe(0);
    expect(f.content.readAt!(2 ** 32, 16)).toEqual(new Uint8Array(16));
  }, 60_000);

  test('bad options are usage errors; a missing boot image a path error', () => {
    const t = sampleTree();
    expect(() => iso9660Size(t, { label: 'x'.repeat(33) })).toThrow(UsageError);
    expect(() => iso9660Size(t, { label: 'é' })).toThrow(UsageError);
    expect(() => iso9660Size(t, { level: 4 as 3 })).toThrow(UsageError);
    expect(() => iso9660Size(t, { boot: { entries: [{ platform: 'bios', image: '/boot/none.img' }] } })).toThrow(
      PathError,
    );
    expect(() => iso9660Size(t, { boot: { entries: [{ platform: 'efi', image: { appended: 0 } }] } })).toThrow(
      UsageError,
    );
  });
});
