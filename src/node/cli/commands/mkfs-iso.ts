/** tinyimage mkfs iso9660: an ISO 9660 image with Rock Ridge and Joliet, written atomically. */
import { cappedWarnings, defineCommand, OUTPUT_OPTIONS, type Command } from '../command.js';
import { planIso9660, writeIso9660 } from '../../../core/fs/iso9660/write.js';
import type { IsoOptions } from '../../../core/fs/iso9660/options.js';
import { SOURCE_OPTIONS, withSourceTree, writeImageFile } from '../sources.js';

const OPTIONS = {
  ...SOURCE_OPTIONS,
  ...OUTPUT_OPTIONS,
  label: {
    type: 'string',
    value: 'LABEL',
    help: 'volume identifier, up to 32 printable ASCII characters (default ISOIMAGE)',
  },
  level: {
    type: 'integer',
    min: 1,
    max: 3,
    default: 3,
    help: 'ISO 9660 level: 1 (8.3 names), 2 (31 characters), 3 (31 characters, files above 4 GiB)',
  },
  joliet: {
    type: 'enum',
    choices: ['on', 'long', 'off'],
    default: 'on',
    help: 'Joliet names for Windows: 64 characters (on), 103 (long) or none (off)',
  },
  noRockRidge: {
    type: 'boolean',
    help: 'leave out Rock Ridge (POSIX names, modes, owners, links, devices): only files and directories remain',
  },
  owner: { type: 'owner', help: 'make every file owned by UID:GID' },
  sync: { type: 'boolean', help: 'fsync the image before renaming it into place' },
} as const;

export function mkfsIsoCommand(): Command {
  return defineCommand({
    name: 'mkfs iso9660',
    summary: 'write an ISO 9660 image (Rock Ridge, Joliet)',
    description:
      'Write an ISO 9660 image from any source (a directory, a tarball, a container image, another image) or a gen_init_cpio list: Rock Ridge keeps POSIX names, ' +
      'modes, owners, times, symbolic and hard links, devices and deep directories; Joliet adds Unicode names ' +
      'for Windows. Bootable live images come from `tinyimage build --preset iso`.',
    options: OPTIONS,
    oneOf: [['root', 'list']],
    examples: ['tinyimage mkfs iso9660 --root cdroot -o cd.iso --label MYDISC'],
    notes:
      'SOURCE_DATE_EPOCH clamps later timestamps down to it and sets the volume dates: the same tree gives the ' +
      'same bytes. Times are recorded in whole seconds, 1900-2155; extended attributes are not stored.',
    async run({ values: v, ctx, output }) {
      const out = output('iso9660');
      await withSourceTree(v, ctx, async ({ tree, epoch }) => {
        const warnings = cappedWarnings(ctx);
        const opts: IsoOptions = {
          label: v.label,
          level: v.level as 1 | 2 | 3,
          joliet: v.joliet === 'off' ? false : v.joliet === 'long' ? 'long' : true,
          rockRidge: !v.noRockRidge,
          epoch,
          progress: ctx.progress,
          warn: warnings.warn,
        };
        opts.plan = planIso9660(tree, opts);
        const size = opts.plan.size;
        const { value: summary } = await writeImageFile(
          out,
          size,
          v.sync,
          (dev) => writeIso9660(tree, dev, opts),
          undefined,
          {
            writeBehind: true,
          },
        );
        warnings.finish();
        out.done({ bytes: size, entries: tree.stats().entries, details: summary });
      });
    },
  });
}
