/**
 * tinyimage mkfs fat32|fat16|fat12 (and fat/vfat: type from the size).
 * Called by mkfs.ts; writes the image atomically through withOutputFile.
 */
import { parseCommandArgs, parseOwner, parseSize, type CommandContext } from '../command.js';
import { UsageError } from '../../../core/errors.js';
import { fatMinimumSize, planFat, writeFat, type FatOptions, type FatType } from '../../../core/fs/fat/index.js';
import { treeFromCpioListFile, treeFromHostDir } from '../../host/tree.js';
import { withOutputFile } from '../../host/output.js';
import { FileDevice } from '../../io/file.js';
import type { BlockDevice } from '../../../core/io/device.js';
import { clampTimes, sourceDateEpoch } from '../../../core/tree/transform.js';
import type { FileTree } from '../../../core/tree/tree.js';
import type { DirNode } from '../../../core/tree/types.js';
import { resolve } from 'node:path';

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

export const MKFS_FAT_USAGE = `usage: tinyimage mkfs fat32|fat16|fat12 (--root DIR | --list FILE) -o OUT [options]

Write a FAT filesystem image (VFAT long names) from a host directory or a
gen_init_cpio list. 'fat' (or 'vfat') picks FAT12/16/32 from the size as
mkfs.fat does.

Options:
  --root DIR               contents of DIR become the root directory
  --list FILE              what a gen_init_cpio list describes
  -o, --output OUT         output image (written atomically, sparse)
  --size SIZE              image size (e.g. 64M, 1G); default: smallest that
                           fits plus 10% headroom, respecting the type's
                           minimum cluster count (FAT32: 65525 clusters)
  --label L                volume label, up to 11 characters (stored upper case)
  --volume-id HEX          volume serial number, e.g. 1234ABCD or 1234-ABCD
                           (default: derived from the label and SOURCE_DATE_EPOCH)
  --hidden-sectors N       sectors before the volume (partition start LBA)
  --symlinks MODE          follow (default: store the target inside the tree),
                           skip, or error
  --owner UID:GID          accepted for symmetry with ext*; FAT has no owners
  --sync                   fsync the image before renaming it into place
  --json                   print a JSON summary on stdout
  -q, --quiet              no progress line

Hard links become copies; devices, FIFOs and sockets are skipped with a
warning. Names FAT forbids (\\ / : * ? " < > | control characters) and names
differing only in case within one directory are errors.
SOURCE_DATE_EPOCH clamps later timestamps down to it.
Exit status: 0 ok, 1 failure, 2 bad usage.`;

export async function runMkfsFat(
  type: 'fat12' | 'fat16' | 'fat32' | undefined,
  argv: string[],
  ctx: CommandContext,
): Promise<number> {
  const cmd = `mkfs ${type ?? 'fat'}`;
  if (argv.includes('--help') || argv.includes('-h')) {
    ctx.stdout.write(MKFS_FAT_USAGE + '\n');
    return 0;
  }
  const { values, positionals } = parseCommandArgs(cmd, argv, {
    root: { type: 'string' },
    list: { type: 'string' },
    output: { type: 'string', short: 'o' },
    size: { type: 'string' },
    label: { type: 'string' },
    'volume-id': { type: 'string' },
    'hidden-sectors': { type: 'string' },
    symlinks: { type: 'string' },
    owner: { type: 'string' },
    sync: { type: 'boolean' },
    json: { type: 'boolean' },
    quiet: { type: 'boolean', short: 'q' },
  });
  const usage = (msg: string, data: Record<string, unknown> = {}) =>
    new UsageError('E_USAGE_ARGS', `${cmd}: ${msg}\nTry 'tinyimage mkfs ${type ?? 'fat'} --help'.`, data);
  if (positionals.length) throw usage(`unexpected argument '${positionals[0]}'`);
  if ((values.root === undefined) === (values.list === undefined))
    throw usage('give exactly one of --root DIR or --list FILE');
  const out = values.output;
  if (!out) throw usage('-o OUT is required');
  if (values.owner !== undefined) parseOwner(values.owner);
  const symlinks = values.symlinks ?? 'follow';
  if (symlinks !== 'follow' && symlinks !== 'skip' && symlinks !== 'error')
    throw usage(`--symlinks must be follow, skip or error, got '${symlinks}'`, {
      field: '--symlinks',
      actual: symlinks,
    });
  let volumeId: number | undefined;
  if (values['volume-id'] !== undefined) {
    const v = values['volume-id'].replace(/^0x/i, '').replace('-', '');
    if (!/^[0-9a-fA-F]{1,8}$/.test(v))
      throw usage(`--volume-id must be up to 8 hex digits (e.g. 1234ABCD or 1234-ABCD), got '${values['volume-id']}'`, {
        field: '--volume-id',
        actual: values['volume-id'],
      });
    volumeId = parseInt(v, 16) >>> 0;
  }
  let hiddenSectors: number | undefined;
  if (values['hidden-sectors'] !== undefined) {
    const h = values['hidden-sectors'];
    if (!/^\d+$/.test(h) || Number(h) > 0xffffffff)
      throw usage(`--hidden-sectors must be a decimal 32-bit count, got '${h}'`, {
        field: '--hidden-sectors',
        actual: h,
      });
    hiddenSectors = Number(h);
  }
  const epoch = sourceDateEpoch(ctx.env);
  const tree =
    values.root !== undefined
      ? treeFromHostDir(values.root)
      : treeFromCpioListFile(values.list!, epoch !== undefined ? { defaultTime: epoch } : {});
  if (epoch !== undefined) clampTimes(tree, epoch);
  if (values.root !== undefined) rebaseAbsoluteLinks(tree, resolve(values.root));
  const MAX_WARN = 10;
  let warnings = 0;
  const opts: FatOptions = {
    type: type as FatType | undefined,
    label: values.label,
    volumeId,
    hiddenSectors,
    symlinks,
    warn: (m) => {
      if (++warnings <= MAX_WARN) ctx.warn(m);
    },
    epoch,
    progress: ctx.progress,
  };
  opts.plan = planFat(tree, opts);
  let size: number;
  if (values.size !== undefined) {
    size = parseSize(values.size);
    if (size % 512 !== 0)
      throw usage(`--size must be a multiple of 512 bytes, got ${size}`, { field: '--size', actual: size });
  } else {
    size = fatMinimumSize(tree, opts);
  }
  const summary = await withOutputFile(out, async (tmp) => {
    const dev = FileDevice.create(tmp, size);
    // fsync only with --sync: like mcopy/cp the image is complete when the rename
    // happens, but durability across a power cut is left to the page cache.
    const out: BlockDevice = {
      size: dev.size,
      readAt: (o, l) => dev.readAt(o, l),
      writeAt: (o, d) => dev.writeAt(o, d),
      flush: () => {
        if (values.sync) dev.flush();
      },
    };
    try {
      return await writeFat(tree, out, opts);
    } finally {
      dev.close();
    }
  });
  if (warnings > MAX_WARN)
    ctx.warn(
      `... and ${warnings - MAX_WARN} more warnings (${summary.skipped.length} entries skipped in all; --json lists them)`,
    );
  if (values.json) ctx.stdout.write(JSON.stringify({ output: out, ...summary }) + '\n');
  return 0;
}
