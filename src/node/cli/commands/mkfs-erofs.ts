/** tinyimage mkfs erofs: an uncompressed EROFS image, planned first and written atomically. */
import { cappedWarnings, defineCommand, OUTPUT_OPTIONS, type Command } from '../command.js';
import { prepareErofs, type ErofsOptions } from '../../../core/fs/erofs/write.js';
import { FileTree } from '../../../core/tree/tree.js';
import { sourceDateEpoch } from '../../../core/tree/transform.js';
import { CONTAINER_OPTIONS, containerFor, containerWhat } from '../container.js';
import { SOURCE_OPTIONS, withSourceTree, writeImageFile } from '../sources.js';

const OPTIONS = {
  ...SOURCE_OPTIONS,
  ...OUTPUT_OPTIONS,
  ...CONTAINER_OPTIONS,
  label: { type: 'string', value: 'LABEL', help: 'volume name, up to 16 bytes' },
  uuid: {
    type: 'string',
    value: 'UUID',
    help: "filesystem UUID (default: derived from the tree's metadata, the label and SOURCE_DATE_EPOCH)",
  },
  owner: { type: 'owner', help: 'make every file owned by UID:GID' },
  allRoot: { type: 'boolean', help: 'make every file owned by root (mkfs.erofs --all-root)' },
  noInline: {
    type: 'boolean',
    help: 'keep all data in whole blocks, no tails beside the inodes (mkfs.erofs -E noinline_data)',
  },
  noXattrs: { type: 'boolean', help: 'leave extended attributes out' },
  sharedXattrs: {
    type: 'integer',
    min: 0,
    value: 'N',
    help: 'store an attribute once, shared, when N or more inodes carry it (default 3; 0: never by count)',
  },
  sync: { type: 'boolean', help: 'fsync the image before renaming it into place' },
} as const;

export function mkfsErofsCommand(): Command {
  return defineCommand({
    name: 'mkfs erofs',
    summary: 'write an EROFS image (uncompressed)',
    description:
      'Write an uncompressed EROFS image (the read-only filesystem of Android and composefs) from any source ' +
      '(a directory, a tarball, a container image, another image) or a gen_init_cpio list, without ' +
      'mkfs.erofs, root or mount. Raw, or inside a virtual disk container (--format).',
    options: OPTIONS,
    oneOf: [['root', 'list']],
    examples: [
      'tinyimage mkfs erofs --root rootfs -o root.erofs --all-root',
      'tinyimage mkfs erofs --list rootfs.list -o root.erofs --label root --no-inline',
    ],
    notes:
      'Compact 32-byte inodes where the time, owner, size and link count fit, extended ones elsewhere; tails ' +
      'of files, symlinks and directories kept beside their inodes; files whose holes are known stored ' +
      'chunk-based. SOURCE_DATE_EPOCH clamps later timestamps down to it and is the build time (the time of ' +
      'every compact inode). Exit status: 0 ok, 1 failure, 2 bad usage.',
    async run({ values: v, ctx, output }) {
      const epoch = sourceDateEpoch(ctx.env);
      const container = containerFor(v.output, v, '--format', epoch);
      const out = output(container?.format ?? 'erofs', containerWhat('erofs', container));
      const warnings = cappedWarnings(ctx);
      const opts: ErofsOptions = {
        label: v.label,
        uuid: v.uuid,
        allRoot: v.allRoot,
        inlineData: !v.noInline,
        xattrs: !v.noXattrs,
        sharedXattrs: v.sharedXattrs,
        progress: ctx.progress,
        warn: warnings.warn,
      };
      // validate options (label, UUID) before reading the tree
      prepareErofs(new FileTree(), { ...opts, progress: undefined });
      await withSourceTree(v, ctx, async ({ tree }) => {
        const prepared = prepareErofs(tree, { ...opts, ...(epoch !== undefined ? { buildTime: epoch } : {}) });
        ctx.log(`writing ${prepared.size} bytes`);
        const r = await writeImageFile(out, prepared.size, v.sync, (dev) => prepared.write(dev), container);
        warnings.finish();
        out.done({
          bytes: r.bytes,
          entries: tree.stats().entries,
          details: r.container ? { ...r.value, container: r.container } : r.value,
        });
      });
    },
  });
}
