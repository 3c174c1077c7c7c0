/** tinyimage repack SRC... -o OUT [--to FORMAT]: any sources, stacked, to any format tinyimage writes. */
import { sourceDateEpoch } from '../../../core/tree/transform.js';
import { defineCommand, OUTPUT_OPTIONS } from '../command.js';
import { CONTAINER_OPTIONS, containerFor, containerWhat } from '../container.js';
import { TREE_FORMATS, treeFormatFor } from '../formats.js';
import { withSourceTree } from '../sources.js';

const FORMATS = Object.keys(TREE_FORMATS) as [string, ...string[]];

export const command = defineCommand({
  name: 'repack',
  summary: 'any sources (tarballs, container images, images, directories) to any format tinyimage writes',
  description:
    'Read SRC (several are stacked: later ones win, whiteouts honoured) and write it as OUT, without ' +
    'unpacking anything to disk: a tar (plain, gzip or zstd), a newc cpio (plain or gzip), an ext2/3/4, ' +
    'FAT12/16/32, squashfs, EROFS or ISO 9660 image. The format comes from the name of OUT (.tar, .tar.gz/.tgz, .tar.zst, .cpio, .cpio.gz, ' +
    '.ext2/.ext3/.ext4, .sqfs/.squashfs, .erofs, .iso) or from --to; images can be written inside a qcow2, VHD, VMDK or ' +
    'Android sparse container (--format, or the name: --to ext4 -o root.qcow2).',
  args: {
    sources: {
      value: 'SRC',
      variadic: true,
      help: 'a directory, a tar or cpio archive (any codec), an image or IMAGE:N, -, oci:DIR[:TAG], docker-archive:FILE[:REF]',
    },
  },
  options: {
    ...OUTPUT_OPTIONS,
    to: { type: 'enum', choices: FORMATS, value: 'FORMAT', help: `the format of OUT: ${FORMATS.join(', ')}` },
    ...CONTAINER_OPTIONS,
    owner: { type: 'owner', help: 'make every entry owned by UID:GID' },
    size: { type: 'size', help: 'image size (ext*, fat*); default: the smallest that fits plus headroom' },
    label: { type: 'string', value: 'LABEL', help: 'volume label (ext*, fat*, erofs, iso9660)' },
    level: {
      type: 'integer',
      min: 1,
      max: 19,
      help: 'compression level: gzip 1-9 (tar.gz, cpio.gz: default 6; squashfs: 9), zstd 1-19 (tar.zst: default 3)',
    },
    sync: { type: 'boolean', help: 'fsync the output before renaming it into place' },
  },
  examples: [
    'tinyimage repack rootfs.tar.gz -o root.ext4',
    'tinyimage repack oci:alpine:latest overlay/ -o root.sqfs',
    'tinyimage repack docker-archive:image.tar --to ext4 -o root.qcow2',
    'tinyimage repack disk.img:2 -o - --to tar | tar -tv',
  ],
  notes:
    '-o - streams tar, tar.gz, tar.zst, cpio and cpio.gz. SOURCE_DATE_EPOCH clamps later timestamps down to it ' +
    '(and sets the squashfs creation time). Sources are read in place or spooled (compressed input, ' +
    'standard input) and closed after OUT is written.',
  async run({ values: v, args, ctx, output, usage }) {
    const epoch = sourceDateEpoch(ctx.env);
    const [key, f] = treeFormatFor(v.output, v.to);
    const container = containerFor(v.output, v, '--format', epoch);
    if (container && !f.image)
      throw usage(`--format ${container.format} holds a disk or filesystem image (ext4, fat32, squashfs), not ${key}`, {
        field: '--format',
      });
    if (v.level !== undefined && v.level > 9 && key !== 'tar.zst')
      throw usage(`--level ${v.level}: gzip levels go from 1 to 9 (up to 19 is for tar.zst)`, { field: '--level' });
    if ((v.size !== undefined || v.label !== undefined) && !/^(ext|fat)/.test(key))
      throw usage(`--size and --label are for ext2/3/4 and FAT images, not ${key}`);
    const out = output(container?.format ?? f.output, containerWhat(key, container));
    await withSourceTree({ root: args.sources, owner: v.owner }, ctx, async ({ tree }) => {
      const r = await f.write(tree, out, {
        epoch,
        progress: ctx.progress,
        warn: ctx.warn,
        size: v.size,
        label: v.label,
        level: v.level,
        sync: v.sync,
        container,
      });
      out.done({ bytes: r.bytes, entries: tree.stats().entries, details: { format: key, ...asObject(r.details) } });
    });
  },
});

function asObject(d: unknown): Record<string, unknown> {
  return typeof d === 'object' && d !== null ? (d as Record<string, unknown>) : {};
}
