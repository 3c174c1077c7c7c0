import { existsSync, statSync } from 'node:fs';
import { UsageError } from '../../../core/errors.js';
import { DIFF_FIELDS, diffTrees, formatDiff, type DiffField } from '../../../core/diff/index.js';
import { treeFromHostDir } from '../../host/tree.js';
import { isDisk, openImage, parseImageRef } from '../../open.js';
import type { FileTree } from '../../../core/tree/tree.js';
import { defineCommand } from '../command.js';

const FIELDS = DIFF_FIELDS;

async function load(ref: string, warn: (m: string) => void): Promise<{ tree: FileTree; close: () => void }> {
  const { path } = parseImageRef(ref);
  if (existsSync(ref) && statSync(ref).isDirectory()) return { tree: treeFromHostDir(ref), close: () => {} };
  if (!existsSync(path)) throw new UsageError('E_USAGE_NOT_FOUND', `${ref}: no such file or directory`, { path: ref });
  const img = await openImage(ref);
  if (isDisk(img)) {
    img.close();
    throw new UsageError('E_USAGE_IS_DISK', `${ref} is a partitioned disk; name a partition, e.g. ${ref}:1`);
  }
  for (const w of img.warnings) warn(`${ref}: ${w}`);
  return { tree: img.tree, close: () => img.close() };
}

export const command = defineCommand({
  name: 'diff',
  summary: 'compare two trees (directories, archives, images, specs)',
  description:
    'Compare two trees: host directories, cpio/cpio.gz archives, ext2/3/4, FAT or ISO 9660 images, or partitions of ' +
    "disk images (IMAGE:N). Print one line per difference ('+' only in B, '-' only in A, '~' changed with the " +
    'fields that differ) and exit 1 when they differ, 0 when they match.',
  args: { a: { value: 'A', help: 'a directory, archive, image or IMAGE:N' }, b: { value: 'B', help: 'the same' } },
  options: {
    json: { type: 'boolean', help: 'the differences as a JSON array' },
    ignore: {
      type: 'string',
      value: 'PATH',
      repeatable: true,
      help: 'leave out PATH and everything below it: a glob over absolute tree paths (* ** ? [..] {a,b})',
    },
    ignoreField: { type: 'string', value: 'FIELD,...', help: `fields not compared: ${FIELDS.join(', ')}` },
    mtime: { type: 'boolean', help: 'compare modification times too' },
    noContent: { type: 'boolean', help: 'compare sizes but not contents' },
    ownedEntries: {
      type: 'boolean',
      help: 'also report what a filesystem makes itself when only one side has it (/lost+found on ext2/3/4)',
    },
  },
  examples: [
    'tinyimage diff rootfs out/root.img',
    "tinyimage diff --ignore '/var/log/**' --ignore-field uid,gid rootfs out/disk.img:1",
  ],
  async run({ values: v, args, ctx, usage }) {
    const ignoreFields = (v.ignoreField ?? '').split(',').filter(Boolean) as DiffField[];
    for (const f of ignoreFields)
      if (!FIELDS.includes(f)) throw usage(`unknown field '${f}' in --ignore-field (fields: ${FIELDS.join(', ')})`);
    const a = await load(args.a, ctx.warn);
    try {
      const b = await load(args.b, ctx.warn);
      try {
        const d = await diffTrees(a.tree, b.tree, {
          ignore: v.ignore,
          ignoreFields,
          mtime: v.mtime,
          content: !v.noContent,
          reportOwned: v.ownedEntries,
        });
        if (v.json) ctx.stdout.write(JSON.stringify(d, null, 2) + '\n');
        else if (d.length) ctx.stdout.write(formatDiff(d) + '\n');
        return d.length ? 1 : 0;
      } finally {
        b.close();
      }
    } finally {
      a.close();
    }
  },
});
