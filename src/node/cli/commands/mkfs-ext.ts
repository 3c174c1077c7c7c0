/**
 * tinyimage mkfs ext4|ext3|ext2. Called by mkfs.ts; writes the image
 * atomically (withOutputFile) as a sparse file.
 */
import { parseCommandArgs, parseOwner, parseSize, type CommandContext } from '../command.js';
import { UsageError } from '../../../core/errors.js';
import { ext4MinimumSize, prepareExt4, defaultFeatures, type Ext4Options } from '../../../core/fs/ext4/index.js';
import { treeFromCpioListFile, treeFromHostDir } from '../../host/tree.js';
import { withOutputFile } from '../../host/output.js';
import { FileDevice } from '../../io/file.js';
import type { BlockDevice } from '../../../core/io/device.js';
import { clampTimes, sourceDateEpoch, squashOwner } from '../../../core/tree/transform.js';

export const MKFS_EXT_USAGE = `usage: tinyimage mkfs ext4|ext3|ext2 (--root DIR | --list FILE) -o OUT [options]

Write an ext2/ext3/ext4 filesystem image from a host directory or a
gen_init_cpio list, without root, mkfs or mount. The output is sparse.

Options:
  --root DIR           contents of DIR become the root directory
  --list FILE          what a gen_init_cpio list describes
  -o, --output OUT     output image (written atomically)
  --size SIZE          filesystem size (e.g. 64M, 1G); default: the smallest
                       that fits plus --headroom
  --headroom PCT       free space added when sizing automatically, percent of
                       the content (default 10, at least 256 KiB)
  --block-size N       1024, 2048 or 4096 (default 4096)
  --inode-size N       128 or 256 (default 256)
  --inodes N           inode count (default: one per 16 KiB, more if needed)
  --bytes-per-inode N  one inode per N bytes (default 16384)
  --reserved PCT       blocks reserved for root, percent (default 5)
  --label L            volume label, up to 16 bytes
  --uuid U             filesystem UUID (default: derived from the type, label
                       and SOURCE_DATE_EPOCH)
  --hash-seed U        htree hash seed UUID (default: derived like the UUID)
  --hash-alg A         htree hash: half_md4 (default), tea or legacy
  --owner UID:GID      make every file owned by UID:GID
  --features LIST      mke2fs -O style toggles, e.g. ^has_journal,^metadata_csum
  --sync               fsync the image before renaming it into place (like
                       mke2fs; default: no fsync, like cp and mcopy)
  --json               print a JSON summary on stdout
  -q, --quiet          no progress line

Default features:
  ext4: ${defaultFeatures('ext4').join(' ')}
  ext3: ${defaultFeatures('ext3').join(' ')}
  ext2: ${defaultFeatures('ext2').join(' ')}
SOURCE_DATE_EPOCH clamps later timestamps down to it and sets the creation
time. Exit status: 0 ok, 1 failure (E_SPACE_FS when the tree does not fit),
2 bad usage.`;

function int(v: string | undefined, field: string): number | undefined {
  if (v === undefined) return undefined;
  if (!/^\d+$/.test(v))
    throw new UsageError('E_USAGE_ARGS', `${field} must be a decimal number, got '${v}'`, { field, actual: v });
  return Number(v);
}

export async function runMkfsExt(type: 'ext2' | 'ext3' | 'ext4', argv: string[], ctx: CommandContext): Promise<number> {
  const cmd = `mkfs ${type}`;
  if (argv.includes('--help') || argv.includes('-h')) {
    ctx.stdout.write(MKFS_EXT_USAGE + '\n');
    return 0;
  }
  const { values, positionals } = parseCommandArgs(cmd, argv, {
    root: { type: 'string' },
    list: { type: 'string' },
    output: { type: 'string', short: 'o' },
    size: { type: 'string' },
    headroom: { type: 'string' },
    'block-size': { type: 'string' },
    'inode-size': { type: 'string' },
    inodes: { type: 'string' },
    'bytes-per-inode': { type: 'string' },
    reserved: { type: 'string' },
    label: { type: 'string' },
    uuid: { type: 'string' },
    'hash-seed': { type: 'string' },
    'hash-alg': { type: 'string' },
    owner: { type: 'string' },
    features: { type: 'string' },
    sync: { type: 'boolean' },
    json: { type: 'boolean' },
    quiet: { type: 'boolean', short: 'q' },
  });
  const usage = (msg: string, data: Record<string, unknown> = {}) =>
    new UsageError('E_USAGE_ARGS', `${cmd}: ${msg}\nTry 'tinyimage mkfs ${type} --help'.`, data);
  if (positionals.length) throw usage(`unexpected argument '${positionals[0]}'`);
  if ((values.root === undefined) === (values.list === undefined))
    throw usage('give exactly one of --root DIR or --list FILE');
  const out = values.output;
  if (!out) throw usage('-o OUT is required');
  const owner = values.owner !== undefined ? parseOwner(values.owner) : undefined;
  const epoch = sourceDateEpoch(ctx.env);
  const headroom = values.headroom !== undefined ? Number(values.headroom) : undefined;
  if (headroom !== undefined && !(headroom >= 0))
    throw usage(`--headroom must be a non-negative percentage, got '${values.headroom}'`, { field: '--headroom' });
  const reserved = values.reserved !== undefined ? Number(values.reserved) : undefined;
  if (reserved !== undefined && !(reserved >= 0 && reserved <= 50))
    throw usage(`--reserved must be a percentage between 0 and 50, got '${values.reserved}'`, { field: '--reserved' });
  const opts: Ext4Options = {
    type,
    blockSize: int(values['block-size'], '--block-size'),
    inodeSize: int(values['inode-size'], '--inode-size'),
    inodes: int(values.inodes, '--inodes'),
    bytesPerInode: int(values['bytes-per-inode'], '--bytes-per-inode'),
    reservedPercent: reserved,
    label: values.label,
    uuid: values.uuid,
    hashSeed: values['hash-seed'],
    hashAlg: values['hash-alg'] as Ext4Options['hashAlg'],
    features: values.features,
    headroom,
    epoch,
    progress: values.quiet ? undefined : ctx.progress,
  };
  // validate options (features, sizes, UUIDs) before reading the tree
  ext4MinimumSize(new (await import('../../../core/tree/tree.js')).FileTree(), { ...opts, progress: undefined });
  const tree =
    values.root !== undefined
      ? treeFromHostDir(values.root)
      : treeFromCpioListFile(values.list!, epoch !== undefined ? { defaultTime: epoch } : {});
  if (owner) squashOwner(tree, owner.uid, owner.gid);
  if (epoch !== undefined) clampTimes(tree, epoch);
  const prepared = prepareExt4(tree, opts);
  const size = values.size !== undefined ? parseSize(values.size) : prepared.minimumSize;
  const summary = await withOutputFile(out, async (tmp) => {
    const file = FileDevice.create(tmp, size);
    // fsync only with --sync: the image is complete when the rename happens,
    // durability across a power cut is left to the page cache (cp, mcopy, mkfs fat)
    const dev: BlockDevice = {
      size: file.size,
      readAt: (o, l) => file.readAt(o, l),
      writeAt: (o, d) => file.writeAt(o, d),
      flush: () => {
        if (values.sync) file.flush();
      },
    };
    try {
      return await prepared.write(dev, size);
    } finally {
      file.close();
    }
  });
  if (values.json) ctx.stdout.write(JSON.stringify({ output: out, ...summary }) + '\n');
  return 0;
}
