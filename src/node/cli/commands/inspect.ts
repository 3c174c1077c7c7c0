import { isDiskSource, openReadSource } from '../sources.js';
import type { FsImage } from '../../open.js';
import { defineCommand } from '../command.js';

// ext s_default_mount_opts, named as dumpe2fs prints them: the journalling mode (bits 5-6) first, then the flags in bit order
const MOUNT_OPTS: Array<[number, string]> = [
  [0x1, 'debug'],
  [0x2, 'bsdgroups'],
  [0x4, 'user_xattr'],
  [0x8, 'acl'],
  [0x10, 'uid16'],
  [0x100, 'nobarrier'],
  [0x200, 'block_validity'],
  [0x400, 'discard'],
  [0x800, 'nodelalloc'],
];
const JOURNAL_MODES = ['', 'journal_data', 'journal_data_ordered', 'journal_data_writeback'];

export function mountOptionNames(bits: number): string {
  const names = [JOURNAL_MODES[(bits >>> 5) & 3]!, ...MOUNT_OPTS.filter(([b]) => bits & b).map(([, n]) => n)].filter(
    Boolean,
  );
  return names.join(' ') || '(none)';
}

function fsSummary(fs: Pick<FsImage, 'tree' | 'info' | 'offset' | 'size' | 'warnings'> & { kind: string }) {
  const s = fs.tree.stats();
  const mo = fs.info.defaultMountOptions;
  return {
    kind: fs.kind,
    offset: fs.offset,
    size: fs.size,
    ...fs.info,
    ...(typeof mo === 'number' ? { defaultMountOptionNames: mountOptionNames(mo) } : {}),
    entries: s.entries,
    files: s.files,
    directories: s.dirs,
    fileBytes: s.bytes,
    ...(fs.warnings.length ? { warnings: fs.warnings } : {}),
  };
}

function textBlock(o: Record<string, unknown>, indent: string): string {
  return Object.entries(o)
    .filter(([, v]) => (v !== undefined && typeof v !== 'object') || Array.isArray(v))
    .map(([k, v]) =>
      k === 'warnings'
        ? (v as string[]).map((w) => `${indent}warning: ${w}`).join('\n')
        : `${indent}${k}: ${Array.isArray(v) ? v.join(' ') : String(v)}`,
    )
    .join('\n');
}

export const command = defineCommand({
  name: 'inspect',
  summary: 'describe an image: partition table, filesystems, usage',
  description:
    "Describe an image: its partition table (MBR/GPT: disk id, each partition's start, size, type, PARTUUID, " +
    'name, flags) and every filesystem found (type, key superblock / boot sector fields, block and inode ' +
    'usage, entries and bytes of file data). Works on cpio/cpio.gz archives, ext2/3/4, FAT, squashfs and ' +
    'ISO 9660 images and partitioned disks, raw or inside a qcow2, VHD, VMDK or Android sparse container (named ' +
    'first), and on any other source (tar in any codec, oci:DIR, docker-archive:FILE, a directory, -).',
  args: { image: { value: 'IMAGE[:PART]', help: 'an archive, a filesystem image, a disk, or partition PART of it' } },
  options: { json: { type: 'boolean', help: 'the report as one JSON object' } },
  examples: ['tinyimage inspect out/disk.img', 'tinyimage inspect --json out/usb.img:1'],
  async run({ values: v, args, ctx }) {
    const img = await openReadSource(args.image, ctx);
    try {
      let report: Record<string, unknown>;
      if (isDiskSource(img)) {
        report = {
          image: args.image,
          kind: img.kind,
          size: img.size,
          diskId: img.table.diskId,
          sectorSize: img.table.sectorSize,
          ...(img.table.warnings?.length ? { warnings: img.table.warnings } : {}),
          ...(img.alsoFound.length ? { alsoFound: img.alsoFound } : {}),
          partitions: img.partitions.map(({ fs, fsError, attributes, ...p }) => ({
            ...p,
            ...(attributes !== undefined ? { attributes: `0x${attributes.toString(16)}` } : {}),
            ...(fs ? { filesystem: fsSummary(fs) } : { filesystem: null, ...(fsError ? { error: fsError } : {}) }),
          })),
        };
      } else {
        report = { image: args.image, ...fsSummary(img) };
      }
      if (img.container) report = { image: args.image, container: img.container, ...report };
      if (v.json) {
        ctx.stdout.write(JSON.stringify(report, null, 2) + '\n');
        return 0;
      }
      const lines: string[] = [];
      const c = img.container;
      if (c)
        lines.push(`${args.image}: ${c.kind} container, virtual size ${c.virtualSize} bytes, file ${c.fileSize} bytes`);
      if (isDiskSource(img)) {
        lines.push(`${args.image}: ${img.kind.toUpperCase()} disk, ${img.size} bytes, disk id ${img.table.diskId}`);
        for (const w of img.table.warnings ?? []) lines.push(`  warning: ${w}`);
        for (const a of img.alsoFound) lines.push(`  also found: ${a}`);
        for (const p of report.partitions as Array<Record<string, unknown>>) {
          const { filesystem, ...rest } = p;
          lines.push(`partition ${rest.index}:`);
          lines.push(textBlock(rest, '  '));
          if (filesystem) lines.push('  filesystem:', textBlock(filesystem as Record<string, unknown>, '    '));
        }
      } else {
        lines.push(`${args.image}: ${img.kind}`);
        lines.push(textBlock(report, '  '));
      }
      ctx.stdout.write(lines.join('\n') + '\n');
      return 0;
    } finally {
      img.close();
    }
  },
});
