/**
 * The Linux kernel itself as the reader: Debian's kernel unpacks our
 * archive (an uncompressed archive followed by gzip'd ones, like the
 * early-microcode layout: one member from fflate, the core's encoder, and
 * one from the Node encoder, whose machine code is compressed in libdeflate
 * pieces and its text with zlib, all in ONE deflate stream) and /init
 * reports what it sees: hard links are one inode with the data
 * (init/initramfs.c maybe_link), devices have their numbers, setuid
 * survives.
 */
import { describe, expect, test } from 'vitest';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { cpioChunks } from '../../src/core/archive/cpio/index.js';
import { concatChunks, fflateGzip } from '../../src/core/compress/gzip.js';
import { parallelGzip } from '../../src/node/compress/gzip.js';
import { bootQemu } from '../../src/node/qemu/index.js';
import { FileTree } from '../../src/core/tree/tree.js';
import { debianKernel, missing } from '../helpers/prereq.js';

const BUSYBOX = '/bin/busybox';
const kernel = debianKernel();
const skip = missing({ tools: ['qemu-system-x86_64'], files: [kernel.vmlinuz, BUSYBOX] });

const INIT = `#!/bin/busybox sh
B=/bin/busybox
$B mount -t proc proc /proc
echo "LINKS $($B stat -c '%i:%h:%s' /data/a /data/sub/b /z/c | $B tr '\\n' ' ')"
echo "EMPTY $($B stat -c '%i:%h:%s' /data/e1 /data/e2 | $B tr '\\n' ' ')"
echo "DATA $($B md5sum /data/sub/b | $B cut -c1-32)"
echo "DEV $($B stat -c '%t:%T' /dev/tdev)"
echo "MODE $($B stat -c '%a %u:%g' /bin/suid)"
echo "EARLY $($B cat /early/x)"
echo "EARLY2 $($B cat /early2/y)"
echo "ELF $($B md5sum /data/elf | $B cut -c1-32)"
echo "END-OF-TEST"
$B poweroff -f
`;

describe.skipIf(skip)('the kernel unpacks our archive', () => {
  test('hard links, devices, modes and a raw+gzip+gzip concatenation', async () => {
    const payload = new Uint8Array(300_001).map((_, i) => (i * 131 + (i >> 9)) & 0xff);
    const md5 = createHash('md5').update(payload).digest('hex');
    // 3 MiB of Node's own machine code: several 1 MiB blocks for libdeflate
    const elf = new Uint8Array(readFileSync(process.execPath).subarray(0, 3 << 20));
    const elfMd5 = createHash('md5').update(elf).digest('hex');
    const t = new FileTree();
    t.addFile('/bin/busybox', new Uint8Array(readFileSync(BUSYBOX)), { mode: 0o755 });
    t.addFile('/init', INIT, { mode: 0o755 });
    t.mkdir('/proc');
    t.addDevice('/dev/console', 'char', 5, 1, { mode: 0o600 });
    t.addDevice('/dev/tdev', 'block', 0x103, 0x45, { mode: 0o600 });
    t.addFile('/data/a', payload, { mode: 0o644 });
    t.addHardLink('/data/sub/b', '/data/a');
    t.addHardLink('/z/c', '/data/a');
    t.addFile('/data/e1', '', { mode: 0o644 });
    t.addHardLink('/data/e2', '/data/e1');
    t.addFile('/bin/suid', 'x', { mode: 0o4755, uid: 12, gid: 34 });
    t.addFile('/data/elf', elf, { mode: 0o644 });
    const early = new FileTree();
    early.addFile('/early/x', 'early-archive-ok\n');
    const raw = await concatChunks(cpioChunks(early));
    const early2 = new FileTree();
    early2.addFile('/early2/y', 'fflate-member-ok\n');
    const small = await concatChunks(fflateGzip(cpioChunks(early2)));
    // the Node encoder (what the CLI writes): the kernel rejects a gzip member that ends inside a cpio archive
    const gz = await concatChunks(parallelGzip(cpioChunks(t), { threads: 2 }));
    const dir = mkdtempSync(join(tmpdir(), 'tinyimage-cpio-kernel-'));
    try {
      const initrd = join(dir, 'initrd');
      writeFileSync(initrd, Buffer.concat([raw, small, gz]));
      const r = await bootQemu({
        kernel: kernel.vmlinuz,
        initrd,
        append: 'console=ttyS0 quiet panic=-1',
        expect: /END-OF-TEST/,
        timeoutMs: 240_000,
      });
      const out = r.output.replace(/\r/g, '');
      const links = /LINKS (\S+) (\S+) (\S+)/.exec(out);
      expect(links, out.slice(-2000)).not.toBeNull();
      const [a, b, c] = [links![1]!, links![2]!, links![3]!];
      expect(a).toBe(b);
      expect(a).toBe(c);
      expect(a.split(':').slice(1)).toEqual(['3', String(payload.length)]);
      const empty = /EMPTY (\S+) (\S+)/.exec(out)!;
      expect(empty[1]).toBe(empty[2]);
      expect(empty[1]!.split(':').slice(1)).toEqual(['2', '0']);
      expect(out).toContain(`DATA ${md5}`);
      expect(out).toContain('DEV 103:45');
      expect(out).toContain('MODE 4755 12:34');
      expect(out).toContain('EARLY early-archive-ok');
      expect(out).toContain('EARLY2 fflate-member-ok');
      expect(out).toContain(`ELF ${elfMd5}`);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 300_000);
});
