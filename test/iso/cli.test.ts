/**
 * ISO 9660 through the CLI and the spec: mkfs iso9660, then ls, cat,
 * extract, diff and inspect on the image (and on a hybrid image's ESP
 * through IMAGE:2); the iso kind and section of build specs.
 */
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { mkdirSync, readFileSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { runCli } from '../helpers/cli.js';
import { tmpDir } from '../helpers/tmp.js';
import { FileTree } from '../../src/core/tree/tree.js';
import { bytesContent } from '../../src/core/tree/content.js';
import { fatMinimumSize, writeFat } from '../../src/core/fs/fat/index.js';
import { iso9660Size, writeIso9660 } from '../../src/core/fs/iso9660/index.js';
import { FileDevice } from '../../src/node/io/file.js';
import { loadSpec } from '../../src/node/build/load.js';
import { validateSpec } from '../../src/node/build/spec.js';
import { UsageError } from '../../src/core/errors.js';

const tmp = tmpDir('tinyimage-isocli-');
afterAll(() => tmp.cleanup());
const src = join(tmp.dir, 'root');
const iso = join(tmp.dir, 'cd.iso');

beforeAll(() => {
  mkdirSync(join(src, 'docs/deep/er/and/deeper/still/more/levels/than/eight'), { recursive: true });
  writeFileSync(join(src, 'README.md'), '# a disc\n');
  writeFileSync(join(src, 'docs/deep/er/and/deeper/still/more/levels/than/eight/x.txt'), 'x\n');
  writeFileSync(join(src, 'Ünïcödé name with spaces.txt'), 'u\n');
  symlinkSync('README.md', join(src, 'readme-link'));
});

describe('tinyimage mkfs iso9660 and the readers', () => {
  test('mkfs iso9660 writes the image; SOURCE_DATE_EPOCH makes it reproducible', async () => {
    const env = { SOURCE_DATE_EPOCH: '1700000000' };
    const r = await runCli(['mkfs', 'iso9660', '--root', src, '-o', iso, '--label', 'MYDISC', '--json'], env);
    expect(r.code, r.stderr).toBe(0);
    const s = JSON.parse(r.stdout);
    expect(s.bytes).toBe(statSync(iso).size);
    expect(s.details).toMatchObject({ label: 'MYDISC', rockRidge: true, joliet: true, relocated: 1 });
    const again = join(tmp.dir, 'again.iso');
    expect((await runCli(['mkfs', 'iso', '--root', src, '-o', again, '--label', 'MYDISC', '-q'], env)).code).toBe(0);
    expect(Buffer.compare(readFileSync(iso), readFileSync(again))).toBe(0);
  });

  test('ls, cat, extract, diff and inspect read it', async () => {
    const ls = await runCli(['ls', iso]);
    expect(ls.stdout.split('\n')).toEqual(expect.arrayContaining(['README.md', 'docs', 'readme-link']));
    expect((await runCli(['cat', iso, '/readme-link'])).stdout).toBe('# a disc\n');
    const deep = await runCli(['cat', iso, '/docs/deep/er/and/deeper/still/more/levels/than/eight/x.txt']);
    expect(deep.stdout).toBe('x\n');
    const out = join(tmp.dir, 'out');
    expect((await runCli(['extract', iso, out])).code).toBe(0);
    expect(readFileSync(join(out, 'Ünïcödé name with spaces.txt'), 'utf8')).toBe('u\n');
    const diff = await runCli(['diff', src, iso]);
    expect(diff.code, diff.stdout + diff.stderr).toBe(0);
    const info = JSON.parse((await runCli(['inspect', iso, '--json'])).stdout);
    expect(info).toMatchObject({ kind: 'iso9660', label: 'MYDISC', rockRidge: true, joliet: true, names: 'rockridge' });
  });

  test('-o - is refused; a bad label is a usage error naming it', async () => {
    const r = await runCli(['mkfs', 'iso9660', '--root', src, '-o', '-']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/not possible for iso9660/);
    const l = await runCli(['mkfs', 'iso9660', '--root', src, '-o', join(tmp.dir, 'x.iso'), '--label', 'é']);
    expect(l.code).toBe(2);
    expect(l.stderr).toMatch(/label must be at most 32 printable ASCII characters/);
  });

  test('a hybrid image opens as ISO 9660, and IMAGE:2 as its appended ESP', async () => {
    const esp = new FileTree();
    esp.addFile('/EFI/BOOT/BOOTX64.EFI', bytesContent(new Uint8Array(70_000).fill(0x4d)));
    const espSize = Math.ceil(fatMinimumSize(esp, { label: 'ESP' }) / 2048) * 2048;
    const t = new FileTree();
    t.addFile('/hello', 'hi\n');
    const opts = {
      hybrid: true,
      appended: [{ size: espSize, type: 'esp', write: (dev: any) => writeFat(esp, dev, { label: 'ESP' }) }],
      boot: { entries: [{ platform: 'efi' as const, image: { appended: 0 } }] },
    };
    const path = join(tmp.dir, 'hybrid.iso');
    const dev = FileDevice.create(path, iso9660Size(t, opts));
    await writeIso9660(t, dev, opts);
    dev.close();
    expect((await runCli(['ls', path])).stdout.trim()).toBe('hello');
    expect((await runCli(['ls', `${path}:2`, '/EFI/BOOT'])).stdout.trim()).toBe('BOOTX64.EFI');
    const info = JSON.parse((await runCli(['inspect', path, '--json'])).stdout);
    expect(info).toMatchObject({ kind: 'iso9660', partitionTable: 'gpt' });
    expect(info.elTorito).toEqual([expect.stringMatching(/^efi block \d+, \d+ sectors$/)]);
  });
});

describe('the iso kind of build specs', () => {
  test('the iso preset loads; iso.files paths are resolved', () => {
    const { spec } = loadSpec({
      preset: 'iso',
      overrides: { kernel: 'k', busybox: 'b', iso: { files: { '/live/root.squashfs': 'r.sqfs' } } },
    });
    expect(spec.kind).toBe('iso');
    expect(spec.iso).toMatchObject({ output: 'live.iso', label: 'TINYLINUX' });
    expect(spec.iso?.files?.['/live/root.squashfs']).toBe(join(process.cwd(), 'r.sqfs'));
  });

  test.each([
    [{ kind: 'uefi', iso: { label: 'X' } }, /iso: the iso section is for kind 'iso', not 'uefi'/],
    [{ kind: 'iso', disk: { output: 'x.img' } }, /disk: the iso kind writes no disk/],
    [{ kind: 'iso', iso: { label: 'é' } }, /iso.label: expected up to 32 printable ASCII characters/],
    [{ kind: 'iso', iso: { files: { 'relative/path': '/x' } } }, /expected an absolute path in the image/],
  ])('%j is refused', (raw, why) => {
    expect(() => validateSpec(raw, 'spec.yaml')).toThrow(UsageError);
    expect(() => validateSpec(raw, 'spec.yaml')).toThrow(why);
  });
});
