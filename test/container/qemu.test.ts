/**
 * Independent checks of every container writer and reader against QEMU's
 * qemu-img and AOSP's simg2img/img2simg, on a GPT disk with an ext4
 * partition: `qemu-img info` identifies each file, `qemu-img check` finds
 * qcow2 clean, `qemu-img compare` says each is identical to the raw disk,
 * simg2img restores the sparse image byte for byte; and our readers read
 * what qemu-img convert and img2simg wrote identically. openImage opens
 * `disk.<container>:1` as the partition's filesystem.
 */
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { missing, run } from '../helpers/prereq.js';
import { convertToContainerFile } from '../../src/node/container/file.js';
import { openImage } from '../../src/node/open.js';
import { diffTrees } from '../../src/core/diff/index.js';
import { FileDevice } from '../../src/node/io/file.js';
import { openContainer } from '../../src/core/container/open.js';
import { KINDS, readAll, sameDevice, sampleDisk } from './helpers.js';
import type { FileTree } from '../../src/core/tree/tree.js';

const skip = missing({ tools: ['qemu-img', 'simg2img', 'img2simg'] });
const QEMU_FORMAT: Record<string, string> = { qcow2: 'qcow2', vhd: 'vpc', vmdk: 'vmdk' };

describe.skipIf(skip)('containers against qemu-img and simg2img', () => {
  let dir: string;
  let raw: Uint8Array;
  let tree: FileTree;
  const out = (name: string) => join(dir, name);

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'tinyimage-container-'));
    const d = await sampleDisk();
    raw = d.dev.bytes;
    tree = d.tree;
    writeFileSync(out('disk.raw'), raw);
    for (const [name, opts] of KINDS) await convertToContainerFile(out('disk.raw'), out(`ours-${name}`), opts);
  });
  afterAll(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  test.each(KINDS.filter(([, o]) => o.format !== 'sparse'))(
    '%s: qemu-img info identifies it with the right virtual size',
    (name, o) => {
      // a fixed VHD has nothing at offset 0 to probe (QEMU needs -f for it); every other kind is probed
      const r = run('qemu-img', [
        'info',
        '--output=json',
        ...(name === 'vhd-fixed' ? ['-f', 'vpc'] : []),
        out(`ours-${name}`),
      ]);
      expect(r.code, r.stderr).toBe(0);
      const info = JSON.parse(r.stdout);
      expect(info.format).toBe(QEMU_FORMAT[o.format]);
      expect(info['virtual-size']).toBe(raw.length);
      if (name === 'vmdk-stream') expect(info['format-specific'].data['create-type']).toBe('streamOptimized');
      if (name === 'vmdk-sparse') expect(info['format-specific'].data['create-type']).toBe('monolithicSparse');
    },
  );

  test.each(['qcow2', 'qcow2-compressed'])('%s: qemu-img check finds no errors, leaks or corruption', (name) => {
    const r = run('qemu-img', ['check', '--output=json', out(`ours-${name}`)]);
    expect(r.code, r.stdout + r.stderr).toBe(0);
    const c = JSON.parse(r.stdout);
    expect(c['check-errors']).toBe(0);
    expect(c.leaks ?? 0).toBe(0);
    expect(c.corruptions ?? 0).toBe(0);
    if (name === 'qcow2-compressed') expect(c['compressed-clusters']).toBeGreaterThan(0);
  });

  test.each(KINDS.filter(([, o]) => o.format !== 'sparse'))(
    '%s: qemu-img compare says identical to the raw disk',
    (name, o) => {
      const r = run('qemu-img', [
        'compare',
        '-f',
        'raw',
        '-F',
        QEMU_FORMAT[o.format]!,
        out('disk.raw'),
        out(`ours-${name}`),
      ]);
      expect(r.stdout + r.stderr).toContain('Images are identical');
      expect(r.code).toBe(0);
    },
  );

  test('simg2img restores the Android sparse image byte for byte; img2simg writes the same bytes as we do', () => {
    expect(run('simg2img', [out('ours-android-sparse'), out('back.raw')]).code).toBe(0);
    expect(Buffer.compare(readFileSync(out('back.raw')), Buffer.from(raw))).toBe(0);
    expect(run('img2simg', [out('disk.raw'), out('theirs.simg')]).code).toBe(0);
    expect(Buffer.compare(readFileSync(out('theirs.simg')), readFileSync(out('ours-android-sparse')))).toBe(0);
  });

  const THEIRS: Array<[string, string[]]> = [
    ['qcow2', ['-O', 'qcow2']],
    ['qcow2 -c', ['-O', 'qcow2', '-c']],
    ['qcow2 v2 (compat=0.10)', ['-O', 'qcow2', '-o', 'compat=0.10']],
    ['qcow2 4 KiB clusters', ['-O', 'qcow2', '-o', 'cluster_size=4096']],
    ['vpc dynamic', ['-O', 'vpc']],
    ['vpc fixed', ['-O', 'vpc', '-o', 'subformat=fixed']],
    ['vmdk monolithicSparse', ['-O', 'vmdk']],
    ['vmdk streamOptimized', ['-O', 'vmdk', '-o', 'subformat=streamOptimized']],
    ['vmdk monolithicFlat (descriptor + extent)', ['-O', 'vmdk', '-o', 'subformat=monolithicFlat']],
    ['vmdk twoGbMaxExtentSparse (descriptor + sparse extents)', ['-O', 'vmdk', '-o', 'subformat=twoGbMaxExtentSparse']],
  ];
  test.each(THEIRS)('our reader reads qemu-img convert %s identically', async (name, args) => {
    const file = out(`theirs-${name.replace(/\W+/g, '_')}.img`);
    const r = run('qemu-img', ['convert', '-f', 'raw', ...args, out('disk.raw'), file]);
    expect(r.code, r.stderr).toBe(0);
    const img = await openImage(`${file}:1`);
    try {
      expect(img.container?.virtualSize).toBeGreaterThanOrEqual(raw.length);
    } finally {
      img.close();
    }
    const f = FileDevice.open(file);
    const opened: FileDevice[] = [f];
    try {
      const c = openContainer(f, {
        resolve: (n) => {
          const d = FileDevice.open(join(dir, n));
          opened.push(d);
          return d;
        },
      })!;
      expect(sameDevice(readAll(c.device), raw)).toBe(true);
    } finally {
      for (const d of opened) d.close();
    }
  });

  test('our reader reads img2simg output identically', () => {
    const f = FileDevice.open(out('theirs.simg'));
    try {
      const c = openContainer(f)!;
      expect(c.info.kind).toBe('android-sparse');
      expect(sameDevice(readAll(c.device), raw)).toBe(true);
    } finally {
      f.close();
    }
  });

  test.each(KINDS)('openImage opens ours-%s:1 as the ext4 partition, the same tree', async (name) => {
    const img = await openImage(`${out(`ours-${name}`)}:1`);
    try {
      expect(img.kind).toBe('ext4');
      expect(img.container?.kind).toBe(name === 'qcow2-compressed' ? 'qcow2' : name);
      const diff = await diffTrees(tree, (img as unknown as { tree: FileTree }).tree, { mtime: true });
      expect(diff.filter((d) => d.path !== '/lost+found')).toEqual([]);
    } finally {
      img.close();
    }
  });
});
