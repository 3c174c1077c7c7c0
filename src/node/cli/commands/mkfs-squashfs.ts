/** tinyimage mkfs squashfs: a squashfs 4.0 image, written front to back and renamed into place. */
import { sourceDateEpoch } from '../../../core/tree/transform.js';
import { defineCommand, OUTPUT_OPTIONS, type Command } from '../command.js';
import { CONTAINER_OPTIONS, containerFor, containerWhat } from '../container.js';
import { writeSquashfsOutput } from '../formats.js';
import { SOURCE_OPTIONS, withSourceTree } from '../sources.js';

const KiB = 1024;

const OPTIONS = {
  ...SOURCE_OPTIONS,
  ...OUTPUT_OPTIONS,
  ...CONTAINER_OPTIONS,
  compress: { type: 'enum', choices: ['gzip', 'zstd'], default: 'gzip', help: 'block compression (gzip or zstd)' },
  level: {
    type: 'integer',
    min: 1,
    max: 22,
    help: 'gzip level 1-9 (default 9) or zstd level 1-22 (default 15), like mksquashfs',
  },
  blockSize: {
    type: 'size',
    help: 'data block size, a power of two from 4K to 1M (default 128K)',
  },
  allRoot: { type: 'boolean', help: 'make every file owned by root (mksquashfs -all-root)' },
  owner: { type: 'owner', help: 'make every file owned by UID:GID' },
  noFragments: {
    type: 'boolean',
    help: 'no fragment blocks: small files take whole blocks (mksquashfs -no-fragments)',
  },
  tailPacking: { type: 'boolean', help: 'pack the tails of large files into fragments too (-always-use-fragments)' },
  noDuplicates: { type: 'boolean', help: 'store duplicate files again (mksquashfs -no-duplicates)' },
  noExports: { type: 'boolean', help: 'no export table (mksquashfs -no-exports)' },
  noXattrs: { type: 'boolean', help: 'leave extended attributes out (mksquashfs -no-xattrs)' },
  threads: { type: 'integer', min: 1, max: 256, help: 'blocks compressed at once (default: two per core)' },
  sync: { type: 'boolean', help: 'fsync the image before renaming it into place' },
} as const;

export function mkfsSquashfsCommand(): Command {
  return defineCommand({
    name: 'mkfs squashfs',
    summary: 'write a squashfs 4.0 image (gzip or zstd)',
    description:
      'Write a squashfs 4.0 image from any source (a directory, a tarball, a container image, another image) ' +
      'or a gen_init_cpio list, without mksquashfs: fragments, duplicate detection, holes, xattrs, hard ' +
      'links, every node type, the export table. Raw, or inside a virtual disk container (--format).',
    options: OPTIONS,
    oneOf: [['root', 'list']],
    examples: [
      'tinyimage mkfs squashfs --root rootfs -o root.sqfs --all-root',
      'tinyimage mkfs squashfs --root oci:alpine --block-size 1M -o root.sqfs',
      'tinyimage mkfs squashfs --root rootfs --compress zstd --level 19 -o root.sqfs',
    ],
    notes:
      'SOURCE_DATE_EPOCH clamps later timestamps down to it and is the creation time (else the newest mtime ' +
      'in the tree). squashfs keeps whole seconds from 1970 to 2106. See docs/squashfs.md.',
    async run({ values: v, ctx, output, usage }) {
      const bs = v.blockSize;
      if (bs !== undefined && (bs < 4 * KiB || bs > 1024 * KiB || (bs & (bs - 1)) !== 0))
        throw usage(`--block-size must be a power of two from 4K to 1M, got ${bs}`, { field: '--block-size' });
      const epoch = sourceDateEpoch(ctx.env);
      const container = containerFor(v.output, v, '--format', epoch);
      const out = output(container?.format ?? 'squashfs', containerWhat('squashfs', container));
      await withSourceTree(v, ctx, async ({ tree }) => {
        const r = await writeSquashfsOutput(tree, out, {
          epoch,
          progress: ctx.progress,
          warn: ctx.warn,
          level: v.level,
          sync: v.sync,
          container,
          squashfs: {
            compression: v.compress,
            ...(bs !== undefined ? { blockSize: bs } : {}),
            ...(v.threads !== undefined ? { threads: v.threads } : {}),
            allRoot: v.allRoot,
            fragments: !v.noFragments,
            tailPacking: v.tailPacking,
            dedupe: !v.noDuplicates,
            exportTable: !v.noExports,
            xattrs: !v.noXattrs,
          },
        });
        out.done({ bytes: r.bytes, entries: tree.stats().entries, details: r.details });
      });
    },
  });
}
