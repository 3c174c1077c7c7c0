/** tinyimage mkfs fat*: end to end through the CLI entry point. */
import { describe, expect, test, beforeAll, afterAll } from 'vitest';
import { mkdirSync, readdirSync, readFileSync, statSync, symlinkSync, writeFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { runCli } from '../helpers/cli.js';
import { openFat } from '../../src/core/fs/fat/index.js';
import { FileDevice } from '../../src/node/io/file.js';
import { missing } from '../helpers/prereq.js';
import { expectFsckClean, expectMtoolsReadBack, runEnv, tmp } from './helpers.js';
import { treeFromHostDir } from '../../src/node/host/tree.js';

const skip = missing({ tools: ['fsck.fat', 'mcopy'] });

const cli = (args: string[]) => runCli(args);

let w: ReturnType<typeof tmp>;
let src: string;
beforeAll(() => {
  w = tmp('fat-cli-');
  src = join(w.dir, 'root');
  mkdirSync(join(src, 'EFI/BOOT'), { recursive: true });
  writeFileSync(join(src, 'EFI/BOOT/BOOTX64.EFI'), Buffer.alloc(200_000, 0x4d));
  writeFileSync(join(src, 'loader.conf'), 'timeout 3\n');
  writeFileSync(join(src, 'Long File Name.txt'), 'long\n');
  symlinkSync('loader.conf', join(src, 'link.conf'));
  symlinkSync(join(src, 'loader.conf'), join(src, 'abs-link.conf'));
  symlinkSync('/nonexistent', join(src, 'dangling'));
});
afterAll(() => w.cleanup());

describe.skipIf(skip)('tinyimage mkfs fat*', () => {
  test('fat32 with label and volume id: fsck-clean, sparse, mtools reads it back, warnings for skipped links', async () => {
    const out = join(w.dir, 'esp.img');
    const r = await cli([
      'mkfs',
      'fat32',
      '--root',
      src,
      '-o',
      out,
      '--label',
      'ESP',
      '--volume-id',
      '1234-ABCD',
      '--json',
      '--sync',
    ]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/warning: \/dangling: symlink to \/nonexistent points to nothing/);
    const summary = JSON.parse(r.stdout);
    expect(summary).toMatchObject({ wrote: 'fat32', output: out, bytes: statSync(out).size });
    expect(r.stderr).toMatch(/^tinyimage: wrote fat32 .*esp\.img: \d+\.\d MiB, 9 entries, \d+\.\d\d s$/m);
    expect(summary.details.type).toBe('fat32');
    expect(summary.details.clusters).toBeGreaterThanOrEqual(65525);
    expectFsckClean(out);
    const st = statSync(out);
    expect(st.blocks * 512).toBeLessThan(st.size / 4);
    const md = runEnv('mdir', ['-i', out, '::/']);
    expect(md.stdout).toContain('Volume Serial Number is 1234-ABCD');
    expect(md.stdout).toContain('Volume in drive : is ESP');
    const expected = treeFromHostDir(src);
    expected.remove('/dangling');
    expected.remove('/link.conf');
    expected.remove('/abs-link.conf');
    expected.addFile('/link.conf', 'timeout 3\n');
    expected.addFile('/abs-link.conf', 'timeout 3\n');
    await expectMtoolsReadBack(out, expected);
    expect(readdirSync(w.dir).filter((n) => n.includes('.tmp'))).toEqual([]);
  });

  test.each(['fat', 'fat12', 'fat16'])('%s with automatic size', async (type) => {
    const out = join(w.dir, `${type}.img`);
    const r = await cli(['mkfs', type, '--root', src, '-o', out, '-q', '--symlinks', 'skip']);
    expect(r.code, r.stderr).toBe(0);
    expectFsckClean(out);
    const dev = FileDevice.open(out);
    const info = openFat(dev).info;
    dev.close();
    if (type === 'fat16') expect(info.clusters).toBeGreaterThanOrEqual(4087);
    expect(info.type).toBe(type === 'fat16' ? 'fat16' : 'fat12');
  });

  test('--list with device nodes (skipped with a warning) and SOURCE_DATE_EPOCH gives identical bytes', async () => {
    const list = join(w.dir, 'list.txt');
    writeFileSync(
      list,
      `dir /etc 755 0 0\nfile /etc/hostname ${join(src, 'loader.conf')} 644 0 0\nnod /dev/console 600 0 0 c 5 1\n`,
    );
    const prev = process.env.SOURCE_DATE_EPOCH;
    process.env.SOURCE_DATE_EPOCH = '1700000000';
    try {
      const a = join(w.dir, 'a.img');
      const b = join(w.dir, 'b.img');
      const ra = await cli(['mkfs', 'fat16', '--list', list, '-o', a, '--size', '8M']);
      const rb = await cli(['mkfs', 'fat16', '--list', list, '-o', b, '--size', '8M']);
      expect(ra.code, ra.stderr).toBe(0);
      expect(rb.code).toBe(0);
      expect(ra.stderr).toMatch(/\/dev\/console: character device cannot be stored on FAT/);
      expect(readFileSync(a).equals(readFileSync(b))).toBe(true);
      expectFsckClean(a);
    } finally {
      if (prev === undefined) delete process.env.SOURCE_DATE_EPOCH;
      else process.env.SOURCE_DATE_EPOCH = prev;
    }
  });

  test('usage errors exit 2; a volume too small exits 1 and leaves no file behind', async () => {
    const out = join(w.dir, 'bad.img');
    expect((await cli(['mkfs', 'fat32', '--root', src])).code).toBe(2);
    expect((await cli(['mkfs', 'fat32', '--root', src, '--list', 'x', '-o', out])).code).toBe(2);
    expect((await cli(['mkfs', 'fat32', '--root', src, '-o', out, '--symlinks', 'maybe'])).code).toBe(2);
    expect((await cli(['mkfs', 'fat32', '--root', src, '-o', out, '--volume-id', 'xyz'])).code).toBe(2);
    const r = await cli(['mkfs', 'fat12', '--root', src, '-o', out, '--size', '64K']);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/needs \d+ clusters/);
    expect(existsSync(out)).toBe(false);
    expect(readdirSync(w.dir).filter((n) => n.includes('.tmp'))).toEqual([]);
    const r2 = await cli(['mkfs', 'fat32', '--root', src, '-o', out, '--size', '16M']);
    expect(r2.code).toBe(1);
    expect(r2.stderr).toMatch(/cannot hold FAT32/);
    const h = await cli(['mkfs', 'fat32', '--help']);
    expect(h.code).toBe(0);
  });
});

describe.skipIf(skip)('tinyimage mkfs fat32: many warnings', () => {
  test('prints ten warnings and how many more were held back; -v prints every one', async () => {
    const many = join(w.dir, 'many');
    mkdirSync(many);
    for (let i = 0; i < 13; i++) symlinkSync(`/nonexistent-${i}`, join(many, `dangling-${i}`));
    const quiet = await cli(['mkfs', 'fat32', '--root', many, '-o', join(w.dir, 'many.img')]);
    expect(quiet.code, quiet.stderr).toBe(0);
    expect(quiet.stderr.match(/warning: \/dangling-\d+: /g)).toHaveLength(10);
    expect(quiet.stderr).toContain('warning: ... and 3 more warnings (13 entries skipped; -v lists them)');
    const verbose = await cli(['mkfs', 'fat32', '--root', many, '-o', join(w.dir, 'many-v.img'), '-v']);
    expect(verbose.code, verbose.stderr).toBe(0);
    expect(verbose.stderr.match(/warning: \/dangling-\d+: /g)).toHaveLength(13);
    expect(verbose.stderr).not.toContain('more warnings');
  });
});
