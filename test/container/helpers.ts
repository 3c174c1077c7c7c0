/**
 * Fixtures shared by the container tests: a small GPT disk with an ext4
 * partition (text, a random-bytes file that does not compress, holes), and
 * helpers to write every container kind into memory and read it back.
 */
import { MemoryDevice, type BlockDevice } from '../../src/core/io/device.js';
import { buildDisk } from '../../src/core/image/disk.js';
import { FileTree } from '../../src/core/tree/tree.js';
import { MemoryTarget } from '../../src/core/container/units.js';
import { writeContainer, type WriteContainerOptions } from '../../src/core/container/write.js';
import { openContainer } from '../../src/core/container/open.js';
import type { ContainerOptions, OpenedContainer } from '../../src/core/container/types.js';

export const MiB = 1024 * 1024;

/** Deterministic pseudo-random bytes (xorshift32). */
export function noise(n: number, seed = 1): Uint8Array {
  const out = new Uint8Array(n);
  let s = seed >>> 0 || 1;
  for (let i = 0; i < n; i++) {
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    out[i] = s & 0xff;
  }
  return out;
}

export function sampleTree(): FileTree {
  const t = new FileTree({ defaultTime: 1_700_000_000 });
  t.addFile('/etc/inittab', '::sysinit:/etc/init.d/rcS\n'.repeat(40));
  t.addFile('/bin/busybox', noise(3 * MiB + 123, 9), { mode: 0o755 });
  t.addSymlink('/bin/sh', 'busybox');
  t.addHardLink('/bin/ash', '/bin/busybox');
  for (let i = 0; i < 60; i++) t.addFile(`/usr/share/doc/file-${i}.txt`, `line ${i}\n`.repeat(i * 40));
  t.addDevice('/dev/console', 'char', 5, 1, { mode: 0o600 });
  t.mkdir('/tmp', { mode: 0o1777 });
  return t;
}

/** A 40 MiB GPT disk with one ext4 partition holding sampleTree(). */
export async function sampleDisk(size = 40 * MiB): Promise<{ dev: MemoryDevice; tree: FileTree }> {
  const tree = sampleTree();
  const dev = new MemoryDevice(size);
  await buildDisk(
    {
      table: 'gpt',
      size,
      seed: 'container-tests',
      partitions: [{ name: 'root', type: 'linux', fs: 'ext4', size: 'rest', tree }],
    },
    dev,
  );
  return { dev, tree };
}

/** Every container kind the writers make, with the options that select it. */
export const KINDS: Array<[name: string, opts: ContainerOptions]> = [
  ['qcow2', { format: 'qcow2' }],
  ['qcow2-compressed', { format: 'qcow2', compress: true }],
  ['vhd-dynamic', { format: 'vhd' }],
  ['vhd-fixed', { format: 'vhd', subformat: 'fixed' }],
  ['vmdk-sparse', { format: 'vmdk' }],
  ['vmdk-stream', { format: 'vmdk', subformat: 'streamOptimized' }],
  ['android-sparse', { format: 'sparse' }],
];

/** Write `src` as a container in memory; returns the container's bytes. */
export async function toContainer(src: BlockDevice, opts: WriteContainerOptions): Promise<Uint8Array> {
  const t = new MemoryTarget();
  const s = await writeContainer(src, t, opts);
  const bytes = t.bytes().slice();
  if (bytes.length !== s.fileSize) throw new Error(`summary says ${s.fileSize} bytes, target holds ${bytes.length}`);
  return bytes;
}

export function reopen(bytes: Uint8Array): OpenedContainer {
  const c = openContainer(new MemoryDevice(bytes));
  if (!c) throw new Error('not detected as a container');
  return c;
}

/** The whole device, read in odd-sized pieces (to cross unit boundaries). */
export function readAll(dev: BlockDevice, piece = 321_111): Uint8Array {
  const out = new Uint8Array(dev.size);
  for (let off = 0; off < dev.size; off += piece) {
    const n = Math.min(piece, dev.size - off);
    if (dev.readInto) dev.readInto(off, out.subarray(off, off + n));
    else out.set(dev.readAt(off, n), off);
  }
  return out;
}

/** `a` equals `b` on b's length and is zero beyond (containers may round the size up). */
export function sameDevice(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length < b.length) return false;
  for (let i = 0; i < b.length; i++) if (a[i] !== b[i]) return false;
  for (let i = b.length; i < a.length; i++) if (a[i] !== 0) return false;
  return true;
}
