/** tinyimage mkfs fat32|fat16|fat12 (and fat/vfat: the type from the size): a sparse image written atomically. */
import { statSync } from 'node:fs';
import { resolve } from 'node:path';
import { cappedWarnings, defineCommand, OUTPUT_OPTIONS, type Command } from '../command.js';
import { fatMinimumSize, planFat, writeFat, type FatOptions, type FatType } from '../../../core/fs/fat/writer.js';
import type { FileTree } from '../../../core/tree/tree.js';
import type { DirNode } from '../../../core/tree/types.js';
import { sourceDateEpoch } from '../../../core/tree/transform.js';
import { CONTAINER_OPTIONS, containerFor, containerWhat } from '../container.js';
import { SOURCE_OPTIONS, withSourceTree, writeImageFile } from '../sources.js';

const SECTOR = 512;

/**
 * Absolute symlink targets that point inside the --root directory (as host
 * paths) are made tree-absolute, so 'follow' finds them inside the tree.
 */
function rebaseAbsoluteLinks(tree: FileTree, root: string): void {
  const prefix = root.endsWith('/') ? root : `${root}/`;
  const stack: DirNode[] = [tree.root];
  while (stack.length) {
    for (const child of stack.pop()!.children.values()) {
      if (child.type === 'dir') stack.push(child);
      else if (child.type === 'symlink' && child.target.startsWith(prefix))
        child.target = '/' + child.target.slice(prefix.length);
    }
  }
}

const isHostDir = (p: string) => statSync(p, { throwIfNoEntry: false })?.isDirectory() === true;

const OPTIONS = {
  ...SOURCE_OPTIONS,
  ...OUTPUT_OPTIONS,
  ...CONTAINER_OPTIONS,
  size: {
    type: 'size',
    help:
      "image size (e.g. 64M, 1G), a multiple of 512; default: the smallest that fits plus 10% headroom, respecting the type's " +
      'minimum cluster count (FAT32: 65525 clusters)',
  },
  label: { type: 'string', value: 'LABEL', help: 'volume label, up to 11 characters (stored upper case)' },
  volumeId: {
    type: 'string',
    value: 'HEX',
    help: 'volume serial number, e.g. 1234ABCD or 1234-ABCD (default: derived from the label and SOURCE_DATE_EPOCH)',
  },
  hiddenSectors: { type: 'integer', max: 0xffffffff, help: 'sectors before the volume (partition start LBA)' },
  symlinks: {
    type: 'enum',
    choices: ['follow', 'skip', 'error'],
    default: 'follow',
    help: 'follow: store the target inside the tree; skip; or error',
  },
  owner: { type: 'owner', help: 'accepted for symmetry with ext*; FAT has no owners' },
  sync: { type: 'boolean', help: 'fsync the image before renaming it into place' },
} as const;

export function mkfsFatCommand(type: 'fat12' | 'fat16' | 'fat32' | undefined): Command {
  const name = `mkfs ${type ?? 'fat'}`;
  return defineCommand({
    name,
    summary: type ? `write a ${type.toUpperCase()} filesystem image` : 'write a FAT image, FAT12/16/32 chosen by size',
    description:
      'Write a FAT filesystem image (VFAT long names) from any source (a directory, a tarball, a container ' +
      'image, another image) or a gen_init_cpio list, raw or inside a virtual disk container. ' +
      "'fat' (or 'vfat') picks FAT12/16/32 from the size as mkfs.fat does.",
    options: OPTIONS,
    oneOf: [['root', 'list']],
    examples: [`tinyimage ${name} --root esp -o esp.img --label ESP`],
    notes:
      'Hard links become copies; devices, FIFOs and sockets are skipped with a warning. Names FAT forbids ' +
      '(\\ / : * ? " < > | control characters) and names differing only in case within one directory are ' +
      'errors. SOURCE_DATE_EPOCH clamps later timestamps down to it.',
    async run({ values: v, ctx, output, usage }) {
      const container = containerFor(v.output, v, '--format', sourceDateEpoch(ctx.env));
      const out = output(container?.format ?? type ?? 'fat', containerWhat(type ?? 'fat', container));
      let volumeId: number | undefined;
      if (v.volumeId !== undefined) {
        const hex = v.volumeId.replace(/^0x/i, '').replace('-', '');
        if (!/^[0-9a-fA-F]{1,8}$/.test(hex))
          throw usage(`--volume-id must be up to 8 hex digits (e.g. 1234ABCD or 1234-ABCD), got '${v.volumeId}'`, {
            field: '--volume-id',
            actual: v.volumeId,
          });
        volumeId = parseInt(hex, 16) >>> 0;
      }
      if (v.size !== undefined && v.size % SECTOR !== 0)
        throw usage(`--size must be a multiple of 512 bytes, got ${v.size}`, { field: '--size', actual: v.size });
      await withSourceTree({ root: v.root, list: v.list }, ctx, async ({ tree, epoch }) => {
        for (const r of v.root) if (isHostDir(r)) rebaseAbsoluteLinks(tree, resolve(r));
        const warnings = cappedWarnings(ctx);
        const opts: FatOptions = {
          type: type as FatType | undefined,
          label: v.label,
          volumeId,
          hiddenSectors: v.hiddenSectors,
          symlinks: v.symlinks,
          warn: warnings.warn,
          epoch,
          progress: ctx.progress,
        };
        opts.plan = planFat(tree, opts);
        const size = v.size ?? fatMinimumSize(tree, opts);
        const r = await writeImageFile(out, size, v.sync, (dev) => writeFat(tree, dev, opts), container, {
          writeBehind: true,
        });
        const summary = r.value;
        warnings.finish(`${summary.skipped.length} entries skipped`);
        const details = r.container ? { ...summary, container: r.container } : summary;
        out.done({ bytes: r.bytes, entries: tree.stats().entries, details });
      });
    },
  });
}
