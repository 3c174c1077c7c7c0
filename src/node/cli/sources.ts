/**
 * What the writing commands share: the source tree options, a sparse image
 * file behind a BlockDevice, and the toolchain builds' options.
 */
import { copyFileSync } from 'node:fs';
import { dirname } from 'node:path';
import type { BlockDevice } from '../../core/io/device.js';
import { clampTimes, sourceDateEpoch, squashOwner } from '../../core/tree/transform.js';
import type { FileTree } from '../../core/tree/tree.js';
import { checkOutputDir, withOutputFile } from '../host/output.js';
import { treeFromCpioListFile, treeFromHostDir } from '../host/tree.js';
import { FileDevice } from '../io/file.js';
import type { CommandContext } from './command.js';
import type { CliOutput } from './output.js';
import type { OptionTable, Owner } from './options.js';

/** --root DIR | --list FILE (declare `oneOf: [['root', 'list']]` with them). */
export const SOURCE_OPTIONS = {
  root: { type: 'path', value: 'DIR', help: 'the contents of DIR become the root directory' },
  list: { type: 'path', value: 'FILE', help: 'what a gen_init_cpio list describes (device nodes need no root)' },
} as const satisfies OptionTable;

/** The source tree with --owner and SOURCE_DATE_EPOCH applied. */
export function sourceTree(
  values: { root?: string | undefined; list?: string | undefined; owner?: Owner | undefined },
  ctx: CommandContext,
): { tree: FileTree; epoch: number | undefined } {
  const epoch = sourceDateEpoch(ctx.env);
  ctx.log(`reading ${values.root !== undefined ? `directory ${values.root}` : `list ${values.list}`}`);
  const tree =
    values.root !== undefined
      ? treeFromHostDir(values.root)
      : treeFromCpioListFile(values.list!, { defaultTime: epoch ?? 0, env: ctx.env });
  if (values.owner) squashOwner(tree, values.owner.uid, values.owner.gid);
  if (epoch !== undefined) clampTimes(tree, epoch);
  return { tree, epoch };
}

/**
 * A sparse image file of `size` bytes written atomically through `out`.
 * fsync only with `sync`: like cp and mcopy the image is complete when the
 * rename happens; durability across a power cut is left to the page cache.
 */
export function writeImageFile<T>(
  out: CliOutput,
  size: number,
  sync: boolean,
  write: (dev: BlockDevice) => Promise<T>,
): Promise<T> {
  return out.writeFile(async (tmp) => {
    const file = FileDevice.create(tmp, size);
    const dev: BlockDevice = {
      size: file.size,
      readAt: (o, l) => file.readAt(o, l),
      writeAt: (o, d) => file.writeAt(o, d),
      flush: () => {
        if (sync) file.flush();
      },
    };
    try {
      return await write(dev);
    } finally {
      file.close();
    }
  });
}

/** Options shared by `kernel build` and `busybox build`. */
export const TOOLCHAIN_OPTIONS = {
  enable: {
    type: 'string',
    value: 'OPT',
    repeatable: true,
    help: 'set an option: NAME, NAME=m, NAME=123, NAME="text"',
  },
  disable: { type: 'string', value: 'OPT', repeatable: true, help: 'unset an option' },
  jobs: { type: 'integer', short: 'j', min: 1, help: 'parallel make jobs (default: number of CPUs)' },
  saveConfig: { type: 'path', value: 'FILE', help: 'also write the final .config here' },
  cache: { type: 'path', value: 'DIR', help: 'cache directory (default $TINYIMAGE_CACHE or ~/.cache/tinyimage)' },
  arch: {
    type: 'enum',
    choices: ['x86_64', 'arm64'],
    default: 'x86_64',
    help: "target architecture; another than the host's is cross-compiled (gcc-aarch64-linux-gnu)",
  },
} as const satisfies OptionTable;

/** What `kernel build` and `busybox build` pass alike to the toolchain (--save-config's directory checked first). */
export function toolchainInputs(
  v: {
    enable: string[];
    disable: string[];
    jobs?: number | undefined;
    cache?: string | undefined;
    saveConfig?: string | undefined;
    arch: 'x86_64' | 'arm64';
  },
  ctx: CommandContext,
) {
  if (v.saveConfig !== undefined) checkOutputDir(dirname(v.saveConfig), v.saveConfig);
  const epoch = sourceDateEpoch(ctx.env);
  const common = { enable: v.enable, disable: v.disable, jobs: v.jobs, cacheDir: v.cache, epoch, arch: v.arch };
  return { ...common, progress: ctx.progress, quiet: ctx.quiet, env: ctx.env };
}

/** Copy a toolchain build's product to the output (and its .config to --save-config), then the summary line. */
export async function writeToolchainProduct(
  out: CliOutput,
  product: string,
  r: { config: string; cached: boolean },
  saveConfig: string | undefined,
  mode?: number,
): Promise<void> {
  const bytes = await out.copyFile(product, mode);
  if (saveConfig !== undefined) await withOutputFile(saveConfig, (tmp) => copyFileSync(r.config, tmp));
  out.done({ bytes, note: r.cached ? 'from cache' : 'built', details: { cached: r.cached } });
}
