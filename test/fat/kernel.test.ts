/**
 * The Linux kernel as the FAT reader: Debian's kernel boots a tiny
 * initramfs holding our FAT12/16/32 images, mounts each through a loop
 * device with its vfat driver and prints every path and md5sum, plus any
 * FAT-fs complaints from the kernel log.
 */
import { describe, expect, test } from 'vitest';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { cpioChunks } from '../../src/core/archive/cpio/index.js';
import { concatChunks, gzipChunks } from '../../src/core/compress/gzip.js';
import { bootQemu } from '../../src/node/qemu/index.js';
import { FileTree } from '../../src/core/tree/tree.js';
import { MemoryDevice } from '../../src/core/io/device.js';
import { writeFat, type FatType } from '../../src/core/fs/fat/index.js';
import { readContent } from '../../src/core/tree/content.js';
import { debianKernel, missing } from '../helpers/prereq.js';

const BUSYBOX = '/bin/busybox';
const kernel = debianKernel();
const MODS = [
  'kernel/drivers/block/loop.ko',
  'kernel/fs/fat/fat.ko',
  'kernel/fs/fat/vfat.ko',
  'kernel/fs/nls/nls_cp437.ko',
  'kernel/fs/nls/nls_ascii.ko',
];
const skip = missing({
  tools: ['qemu-system-x86_64'],
  files: [kernel.vmlinuz, BUSYBOX, ...MODS.map((m) => join(kernel.modules, m))],
});
const TYPES: Array<[FatType, number]> = [
  ['fat12', 4 << 20],
  ['fat16', 16 << 20],
  ['fat32', 36 << 20],
];

const INIT = `#!/bin/busybox sh
B=/bin/busybox
$B mount -t proc proc /proc
$B mount -t devtmpfs dev /dev
for m in ${MODS.map((m) => `/mods/${m.split('/').pop()}`).join(' ')}; do $B insmod $m || echo "INSMOD-FAILED $m"; done
$B mkdir -p /mnt
for t in ${TYPES.map((t) => t[0]).join(' ')}; do
  if $B mount -t vfat -o loop,ro,utf8,shortname=mixed /imgs/$t.img /mnt; then
    cd /mnt
    $B find . | $B sort | while read -r p; do
      if [ -d "$p" ]; then echo "ENTRY $t D $p"; else echo "ENTRY $t F $p $($B md5sum "$p" | $B cut -c1-32)"; fi
    done
    cd /
    $B umount /mnt
  else
    echo "MOUNT-FAILED $t"
  fi
  $B losetup -d /dev/loop0 2>/dev/null
done
$B dmesg | $B grep -i 'fat-fs' | $B sed 's/^/KLOG /'
echo "END-OF-TEST"
$B poweroff -f
`;

function sample(): FileTree {
  const t = new FileTree({ defaultTime: 1_700_000_000 });
  t.addFile('/README.TXT', 'upper\n');
  t.addFile('/readme.md', 'lower 8.3\n');
  t.addFile('/Makefile', 'mixed\n');
  t.addFile(
    '/a very long file name with spaces.tar.gz',
    new Uint8Array(7000).map((_, i) => i & 0xff),
  );
  t.addFile('/.hidden', 'dot\n');
  t.addFile('/日本語のファイル名.txt', 'cjk\n');
  t.addFile('/émoji 😀 näme.dat', 'astral plane\n');
  t.addFile(
    '/big.bin',
    new Uint8Array(200_000).map((_, i) => (i * 7) & 0xff),
  );
  t.addFile('/empty', '');
  for (let i = 0; i < 700; i++) t.addFile(`/many/entry with a long name ${i}.txt`, `${i}\n`);
  let p = '';
  for (let i = 0; i < 12; i++) p += `/Level ${i}`;
  t.addFile(`${p}/leaf`, 'deep\n');
  return t;
}

describe.skipIf(skip)('the Linux vfat driver reads our images', () => {
  test('FAT12, FAT16 and FAT32: every path and byte, no FAT-fs complaints', async () => {
    const tree = sample();
    const expected: string[] = [];
    for (const e of tree.walk()) {
      if (e.path === '/') continue;
      if (e.node.type === 'dir') expected.push(`D .${e.path}`);
      else if (e.node.type === 'file')
        expected.push(
          `F .${e.path} ${createHash('md5')
            .update(await readContent(e.node.content))
            .digest('hex')}`,
        );
    }
    const rd = new FileTree();
    rd.addFile('/bin/busybox', new Uint8Array(readFileSync(BUSYBOX)), { mode: 0o755 });
    rd.addFile('/init', INIT, { mode: 0o755 });
    rd.mkdir('/proc');
    rd.mkdir('/dev');
    for (const m of MODS)
      rd.addFile(`/mods/${m.split('/').pop()}`, new Uint8Array(readFileSync(join(kernel.modules, m))));
    for (const [type, size] of TYPES) {
      const dev = new MemoryDevice(size);
      await writeFat(tree, dev, { type, label: `T${type.toUpperCase()}`, volumeId: 0x2024abcd });
      rd.addFile(`/imgs/${type}.img`, dev.bytes);
    }
    const dir = mkdtempSync(join(tmpdir(), 'tinyimage-fat-kernel-'));
    try {
      const initrd = join(dir, 'initrd');
      writeFileSync(initrd, await concatChunks(gzipChunks(cpioChunks(rd), { level: 1 })));
      const r = await bootQemu({
        kernel: kernel.vmlinuz,
        initrd,
        append: 'console=ttyS0 quiet panic=-1',
        expect: /END-OF-TEST/,
        timeoutMs: 300_000,
        memory: 512,
      });
      const out = r.output.replace(/\r/g, '');
      expect(out).not.toMatch(/INSMOD-FAILED|MOUNT-FAILED/);
      expect(out.split('\n').filter((l) => l.startsWith('KLOG '))).toEqual([]);
      for (const [type] of TYPES) {
        const got = out
          .split('\n')
          .filter((l) => l.startsWith(`ENTRY ${type} `))
          .map((l) => l.slice(`ENTRY ${type} `.length))
          .filter((l) => l !== 'D .');
        expect(got.sort(), type).toEqual([...expected].sort());
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 400_000);
});
