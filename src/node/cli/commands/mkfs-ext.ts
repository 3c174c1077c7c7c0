/** tinyimage mkfs ext4|ext3|ext2: a sparse image written atomically. */
import { defineCommand, OUTPUT_OPTIONS, type Command } from '../command.js';
import { ext4MinimumSize, prepareExt4 } from '../../../core/fs/ext4/write.js';
import { defaultFeatures, type Ext4Options } from '../../../core/fs/ext4/options.js';
import { FileTree } from '../../../core/tree/tree.js';
import { sourceDateEpoch } from '../../../core/tree/transform.js';
import { CONTAINER_OPTIONS, containerFor, containerWhat } from '../container.js';
import { SOURCE_OPTIONS, withSourceTree, writeImageFile } from '../sources.js';

const OPTIONS = {
  ...SOURCE_OPTIONS,
  ...OUTPUT_OPTIONS,
  ...CONTAINER_OPTIONS,
  size: { type: 'size', help: 'filesystem size (e.g. 64M, 1G); default: the smallest that fits plus --headroom' },
  headroom: {
    type: 'number',
    value: 'PCT',
    help: 'free space added when sizing automatically, percent of the content (default 10, at least 256 KiB)',
  },
  blockSize: { type: 'integer', min: 1024, max: 65536, help: '1024, 2048 or 4096 (default 4096)' },
  inodeSize: { type: 'integer', min: 128, max: 1024, help: '128 or 256 (default 256)' },
  inodes: { type: 'integer', min: 1, help: 'inode count (default: one per 16 KiB, more if needed)' },
  bytesPerInode: { type: 'integer', min: 1024, help: 'one inode per N bytes (default 16384)' },
  reserved: { type: 'number', value: 'PCT', max: 50, help: 'blocks reserved for root, percent (default 5)' },
  label: { type: 'string', value: 'LABEL', help: 'volume label, up to 16 bytes' },
  uuid: {
    type: 'string',
    value: 'UUID',
    help: 'filesystem UUID (default: derived from the type, label and SOURCE_DATE_EPOCH)',
  },
  hashSeed: { type: 'string', value: 'UUID', help: 'htree hash seed (default: derived like the UUID)' },
  hashAlg: { type: 'enum', choices: ['half_md4', 'tea', 'legacy'], help: 'htree hash (default half_md4)' },
  owner: { type: 'owner', help: 'make every file owned by UID:GID' },
  features: { type: 'string', value: 'LIST', help: 'mke2fs -O style toggles, e.g. ^has_journal,^metadata_csum' },
  sync: {
    type: 'boolean',
    help: 'fsync the image before renaming it into place (like mke2fs; default: no fsync, like cp and mcopy)',
  },
} as const;

export function mkfsExtCommand(type: 'ext2' | 'ext3' | 'ext4'): Command {
  return defineCommand({
    name: `mkfs ${type}`,
    summary: `write an ${type} filesystem image`,
    description:
      `Write an ${type} filesystem image from any source (a directory, a tarball, a container image, another ` +
      'image) or a gen_init_cpio list, without root, mkfs or mount. The output is sparse, raw or inside a ' +
      'qcow2, VHD, VMDK or Android sparse container.',
    options: OPTIONS,
    oneOf: [['root', 'list']],
    examples: [
      `tinyimage mkfs ${type} --root rootfs -o root.img --label root --owner 0:0`,
      `tinyimage mkfs ${type} --list rootfs.list -o root.img --size 64M`,
      `tinyimage mkfs ${type} --root rootfs.tar.gz --root overlay/ -o root.qcow2`,
    ],
    notes:
      `Default features: ${defaultFeatures(type).join(' ')}\n` +
      'SOURCE_DATE_EPOCH clamps later timestamps down to it and sets the creation time. ' +
      'Exit status: 0 ok, 1 failure (E_SPACE_FS when the tree does not fit), 2 bad usage.',
    async run({ values: v, ctx, output }) {
      const container = containerFor(v.output, v, '--format', sourceDateEpoch(ctx.env));
      const out = output(container?.format ?? type, containerWhat(type, container));
      const opts: Ext4Options = {
        type,
        blockSize: v.blockSize,
        inodeSize: v.inodeSize,
        inodes: v.inodes,
        bytesPerInode: v.bytesPerInode,
        reservedPercent: v.reserved,
        label: v.label,
        uuid: v.uuid,
        hashSeed: v.hashSeed,
        hashAlg: v.hashAlg,
        features: v.features,
        headroom: v.headroom,
        progress: ctx.progress,
      };
      // validate options (features, sizes, UUIDs) before reading the tree
      ext4MinimumSize(new FileTree(), { ...opts, progress: undefined });
      await withSourceTree(v, ctx, async ({ tree, epoch }) => {
        const prepared = prepareExt4(tree, { ...opts, epoch });
        const size = v.size ?? prepared.minimumSize;
        ctx.log(`writing ${size} bytes (minimum ${prepared.minimumSize})`);
        const r = await writeImageFile(out, size, v.sync, (dev) => prepared.write(dev, size), container);
        const details = r.container ? { ...r.value, container: r.container } : r.value;
        out.done({ bytes: r.bytes, entries: tree.stats().entries, details });
      });
    },
  });
}
