import { existsSync, statSync } from 'node:fs';
import { UsageError } from '../../../core/errors.js';
import { DIFF_FIELDS, diffTrees, formatDiff, type DiffField } from '../../../core/diff/index.js';
import { treeFromHostDir } from '../../host/tree.js';
import { isDisk, openImage, parseImageRef } from '../../open.js';
import type { FileTree } from '../../../core/tree/tree.js';
import { parseCommandArgs, type Command } from '../command.js';

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

export const command: Command = {
  name: 'diff',
  summary: 'compare two trees',
  usage: `usage: tinyimage diff A B [--json] [--ignore PATH]... [--ignore-field FIELD,...] [--mtime] [--no-content]
                      [--owned-entries]

Compares two trees: host directories, cpio/cpio.gz archives, ext2/3/4 or FAT
images, or partitions of disk images (IMAGE:N). Prints one line per
difference ('+' only in B, '-' only in A, '~' changed with the fields that
differ) and exits 1 when they differ, 0 when they match.

  --ignore PATH          leave out PATH and everything below it; a glob over
                         absolute tree paths (* ** ? [..] {a,b}); repeatable
  --ignore-field F,...   do not compare these fields: ${FIELDS.join(', ')}
  --mtime                compare modification times too
  --no-content           do not compare file contents
  --owned-entries        also report what a filesystem makes itself when only
                         one side has it (/lost+found on ext2/3/4)`,
  async run(argv, ctx) {
    const { values: v, positionals } = parseCommandArgs('diff', argv, {
      json: { type: 'boolean' },
      ignore: { type: 'string', multiple: true },
      'ignore-field': { type: 'string' },
      'owned-entries': { type: 'boolean' },
      mtime: { type: 'boolean' },
      'no-content': { type: 'boolean' },
    });
    if (positionals.length !== 2) throw new UsageError('E_USAGE_ARGS', 'diff: expected two trees A B');
    const ignoreFields = (v['ignore-field'] ?? '').split(',').filter(Boolean) as DiffField[];
    for (const f of ignoreFields)
      if (!FIELDS.includes(f))
        throw new UsageError(
          'E_USAGE_ARGS',
          `diff: unknown field '${f}' in --ignore-field (fields: ${FIELDS.join(', ')})`,
        );
    const a = await load(positionals[0]!, ctx.warn);
    try {
      const b = await load(positionals[1]!, ctx.warn);
      try {
        const d = await diffTrees(a.tree, b.tree, {
          ignore: v.ignore ?? [],
          ignoreFields,
          reportOwned: v['owned-entries'] === true,
          mtime: v.mtime === true,
          content: v['no-content'] !== true,
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
};
