import { extractTree } from '../../host/extract.js';
import { run } from '../../toolchain/run.js';
import { defineCommand } from '../command.js';
import { summarize } from '../output.js';
import { fsOf, openReadSource } from '../sources.js';

export const command = defineCommand({
  name: 'extract',
  summary: 'extract an image, archive, partition or any source into a directory (never outside it)',
  description:
    'Extract every entry of an archive (cpio, tar in any codec), a filesystem image (ext2/3/4, FAT, ' +
    'squashfs, ISO 9660), a partition of a disk image (IMAGE:N, also inside qcow2/VHD/VMDK), a container image ' +
    '(oci:DIR, docker-archive:FILE) or standard input (-) into DIR, which must be new or empty.\n\n' +
    "Nothing is ever written outside DIR: absolute names are taken relative to DIR; cpio members with a '..' " +
    'component, a name under a symlink or a file, or a component over 255 bytes are left out with a warning; ' +
    'symlinks are created last and never followed, and parents are checked on every entry. Owners are ' +
    'restored when running as root; device nodes and FIFOs are created only as root (skipped with a warning ' +
    'otherwise); sockets are skipped.',
  args: {
    image: {
      value: 'IMAGE[:PART]',
      help: 'an image, IMAGE:PART of a disk, a directory, a tar or cpio archive (any codec), -, oci:DIR[:TAG] or docker-archive:FILE[:REF]',
    },
    dir: { value: 'DIR', help: 'a new or empty directory' },
  },
  options: { json: { type: 'boolean', help: 'print the summary as one JSON object on standard output' } },
  examples: ['tinyimage extract out/disk.img:1 rootfs-copy'],
  async run({ values: v, args, ctx }) {
    const src = await openReadSource(args.image, ctx);
    try {
      const img = fsOf(src, args.image);
      for (const w of img.warnings) ctx.warn(w);
      const root = typeof process.getuid === 'function' && process.getuid() === 0;
      const r = await extractTree(img.tree, args.dir, {
        warn: ctx.warn,
        ...(root
          ? {
              mknod: async (path, n) => {
                if (n.type === 'fifo') await run('mkfifo', [path]);
                else if (n.type === 'chardev' || n.type === 'blockdev')
                  await run('mknod', [path, n.type === 'chardev' ? 'c' : 'b', String(n.major), String(n.minor)]);
              },
            }
          : {}),
      });
      const note = r.skipped.length ? `skipped ${r.skipped.length}` : undefined;
      const io = { ...ctx, json: v.json };
      summarize(io, 'extracted', args.image, `into ${args.dir}`, args.dir, { entries: r.entries, note, details: r });
    } finally {
      src.close();
    }
  },
});
