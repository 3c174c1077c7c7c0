/**
 * tinyimage/core runs where no Node exists: bundled by esbuild for the
 * browser (no Node built-in can resolve) and run in a node:vm context that
 * has no Buffer, process or require, it writes ext4, FAT32 and cpio images
 * of a small tree that the independent tools accept.
 */
import { describe, expect, it, afterAll, beforeAll } from 'vitest';
import { build } from 'esbuild';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createContext, runInContext } from 'node:vm';
import { missing, REPO, run } from '../helpers/prereq.js';
import { tmpDir } from '../helpers/tmp.js';

const skip = missing({ tools: ['e2fsck', 'fsck.fat', 'cpio', 'debugfs'] });
const t = tmpDir('tinyimage-bundle-');
afterAll(() => t.cleanup());

/** Runs inside the context: the bundle's global `tinyimage` is the core. */
const SCRIPT = `
(async () => {
  const { FileTree, MemoryDevice, writeExt4, ext4MinimumSize, writeFat, fatMinimumSize, cpioChunks, gzipChunks, concatChunks, openDevice } = tinyimage;
  const tree = new FileTree({ defaultTime: 1700000000 });
  tree.addFile('/etc/hostname', 'tiny\\n', { mode: 0o644 });
  tree.addFile('/bin/busybox', new Uint8Array(70000).map((_, i) => i % 251), { mode: 0o755 });
  tree.addSymlink('/bin/sh', 'busybox');
  tree.addDevice('/dev/console', 'char', 5, 1, { mode: 0o600 });
  const ext4 = new MemoryDevice(ext4MinimumSize(tree) + (1 << 20));
  await writeExt4(tree, ext4, { label: 'core' });
  const fatTree = new FileTree({ defaultTime: 1700000000 });
  fatTree.addFile('/EFI/BOOT/README.TXT', 'hello from the core\\n');
  const fat = new MemoryDevice(Math.max(await fatMinimumSize(fatTree, { type: 'fat32' }), 40 << 20));
  await writeFat(fatTree, fat, { type: 'fat32', label: 'CORE' });
  const cpio = await concatChunks(cpioChunks(tree));
  const cpioGz = await concatChunks(gzipChunks(cpioChunks(tree)));
  const back = await openDevice(new MemoryDevice(cpioGz));
  return { ext4: ext4.bytes, fat: fat.bytes, cpio, readBack: back.readdir('/bin') };
})()`;

describe.skipIf(skip)('tinyimage/core in a context without Node', () => {
  let bundle = '';
  beforeAll(async () => {
    const r = await build({
      entryPoints: [join(REPO, 'src/core/index.ts')],
      bundle: true,
      platform: 'browser',
      format: 'iife',
      globalName: 'tinyimage',
      write: false,
      logLevel: 'silent',
    });
    bundle = r.outputFiles[0]!.text;
  });

  it('bundles with no Node built-in reachable', () => {
    expect(bundle.length).toBeGreaterThan(10_000);
    expect(bundle).not.toMatch(/require\(["']node:/);
  });

  it('writes ext4, FAT32 and cpio that e2fsck, fsck.fat and GNU cpio accept', async () => {
    const context = createContext({ TextEncoder, TextDecoder, crypto: globalThis.crypto });
    expect(runInContext('typeof Buffer + typeof process + typeof require', context)).toBe(
      'undefinedundefinedundefined',
    );
    runInContext(bundle, context);
    const out = (await runInContext(SCRIPT, context)) as {
      ext4: Uint8Array;
      fat: Uint8Array;
      cpio: Uint8Array;
      readBack: string[];
    };
    expect(out.readBack).toEqual(['busybox', 'sh']);
    writeFileSync(t.path('core.ext4'), out.ext4);
    writeFileSync(t.path('core.fat'), out.fat);
    writeFileSync(t.path('core.cpio'), out.cpio);
    const e2 = run('e2fsck', ['-fn', t.path('core.ext4')]);
    expect(e2.code, e2.stdout + e2.stderr).toBe(0);
    expect(run('debugfs', ['-R', 'stat /dev/console', t.path('core.ext4')]).stdout).toMatch(
      /Device major\/minor number: 05:01|major\/minor number: 5:1|Device major\/minor number: 05:01/,
    );
    const fsck = run('fsck.fat', ['-n', t.path('core.fat')]);
    expect(fsck.code, fsck.stdout + fsck.stderr).toBe(0);
    const list = run('cpio', ['-it', '--quiet'], { input: out.cpio });
    expect(list.code).toBe(0);
    expect(list.stdout.split('\n')).toEqual(
      expect.arrayContaining(['bin/sh', 'dev/console', 'etc/hostname', 'bin/busybox']),
    );
    const verbose = run('cpio', ['-itv', '--quiet'], { input: out.cpio }).stdout;
    expect(verbose).toMatch(/^crw-------.* 5,\s+1 .* dev\/console$/m);
    expect(verbose).toMatch(/^lrwxrwxrwx.* bin\/sh -> busybox$/m);
  });
});
