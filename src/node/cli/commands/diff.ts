import { DIFF_FIELDS, diffTrees, formatDiff, type DiffField } from '../../../core/diff/index.js';
import type { FileTree } from '../../../core/tree/tree.js';
import { defineCommand, type CommandContext } from '../command.js';
import { fsOf, openReadSource } from '../sources.js';

const FIELDS = DIFF_FIELDS;

async function load(ref: string, ctx: CommandContext): Promise<{ tree: FileTree; close: () => void }> {
  const src = await openReadSource(ref, ctx);
  try {
    const fs = fsOf(src, ref);
    for (const w of fs.warnings) ctx.warn(`${ref}: ${w}`);
    return { tree: fs.tree, close: () => src.close() };
  } catch (e) {
    src.close();
    throw e;
  }
}

export const command = defineCommand({
  name: 'diff',
  summary: 'compare two trees (directories, archives, images, container images)',
  description:
    'Compare two trees: host directories, archives (cpio, tar in any codec), ext2/3/4, FAT, squashfs or ISO 9660 ' +
    'images, partitions of disk images (IMAGE:N), container images (oci:DIR[:TAG], docker-archive:FILE[:REF]) ' +
    "or standard input (-, for one of them). Print one line per difference ('+' only in B, '-' only in A, '~' changed with the " +
    'fields that differ) and exit 1 when they differ, 0 when they match.',
  args: {
    a: { value: 'A', help: 'a directory, archive, image, IMAGE:N, -, oci:DIR or docker-archive:FILE' },
    b: { value: 'B', help: 'the same' },
  },
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
    if (args.a === '-' && args.b === '-') throw usage('standard input (-) can be only one of A and B');
    const a = await load(args.a, ctx);
    try {
      const b = await load(args.b, ctx);
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
