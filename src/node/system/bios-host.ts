/**
 * Host side of the BIOS disk for the CLI/spec: read the kernel, busybox and
 * modules directory from paths, find GRUB, and write disk.img atomically.
 */
import { existsSync, readdirSync, readFileSync, statSync, truncateSync } from 'node:fs';
import { basename, join } from 'node:path';
import { UsageError } from '../../core/errors.js';
import { FileDevice, hostError } from '../io/file.js';
import { withOutputFile } from '../host/output.js';
import { treeFromHostDir } from '../host/tree.js';
import { pathContent } from '../host/content.js';
import { findHostGrub, makeCoreImage } from './grub-host.js';
import { nodeGzipCompressor } from '../squashfs/compress.js';
import {
  planBiosDisk,
  writeBiosDisk,
  type BiosDiskOptions,
  type BiosDiskResult,
  type BiosGrub,
  type BiosModules,
} from '../../core/system/bios.js';

/**
 * A modules directory given on the command line: either lib/modules/VERSION
 * itself (it holds kernel/ or modules.builtin) or a root that has exactly one
 * lib/modules/VERSION below it (an unpacked kernel package).
 */
export function hostModules(dir: string, opts: Omit<BiosModules, 'tree' | 'version'> = {}): BiosModules {
  let st;
  try {
    st = statSync(dir);
  } catch (e) {
    throw hostError(e, dir, 'read modules directory');
  }
  if (!st.isDirectory()) throw new UsageError('E_USAGE_MODULES', `--modules ${dir} is not a directory`, { path: dir });
  let modDir = dir;
  if (
    !existsSync(join(dir, 'kernel')) &&
    !existsSync(join(dir, 'modules.builtin')) &&
    !existsSync(join(dir, 'modules.order'))
  ) {
    const base = join(dir, 'lib/modules');
    const versions = existsSync(base) ? readdirSync(base).filter((v) => statSync(join(base, v)).isDirectory()) : [];
    if (versions.length !== 1) {
      throw new UsageError(
        'E_USAGE_MODULES',
        `--modules ${dir}: expected lib/modules/VERSION itself or a root with exactly one lib/modules/VERSION (found ${versions.length ? versions.join(', ') : 'none'})`,
        { path: dir },
      );
    }
    modDir = join(base, versions[0]!);
  }
  return { tree: treeFromHostDir(modDir), version: basename(modDir), ...opts };
}

/** GRUB's boot.img, a fresh core.img and the module directory of the host's grub-pc-bin. */
export async function hostBiosGrub(
  opts: { dir?: string; mkimage?: string; signal?: AbortSignal } = {},
): Promise<BiosGrub> {
  const g = findHostGrub({
    ...(opts.dir ? { dir: opts.dir } : {}),
    ...(opts.mkimage ? { mkimage: opts.mkimage } : {}),
  });
  const core = await makeCoreImage(g, opts.signal ? { signal: opts.signal } : {});
  return { boot: g.boot, core, files: g.files };
}

export interface BiosDiskFileOptions extends Omit<BiosDiskOptions, 'kernel' | 'busybox' | 'grub' | 'modules'> {
  /** Kernel image path (bzImage / vmlinuz). */
  kernel: string;
  /** Static busybox binary path. */
  busybox: string;
  /** Modules directory path (see hostModules), or already-loaded modules. */
  modules?: string | BiosModules;
  /** GRUB pieces (default: the host's grub-pc-bin). */
  grub?: BiosGrub;
}

function fileContent(path: string, what: string) {
  let st;
  try {
    st = statSync(path);
  } catch (e) {
    throw hostError(e, path, `read ${what}`);
  }
  if (!st.isFile()) throw new UsageError('E_USAGE_FILE', `${what} ${path} is not a regular file`, { path });
  return pathContent(path, st.size);
}

/** Build `out` (e.g. DIR/disk.img) from host paths; the file appears only when complete. */
export async function buildBiosDiskFile(out: string, o: BiosDiskFileOptions): Promise<BiosDiskResult> {
  const kernel = fileContent(o.kernel, 'kernel');
  let busybox: Uint8Array;
  try {
    busybox = new Uint8Array(readFileSync(o.busybox));
  } catch (e) {
    throw hostError(e, o.busybox, 'read busybox');
  }
  const modules = typeof o.modules === 'string' ? hostModules(o.modules) : o.modules;
  const { kernel: _k, busybox: _b, modules: _m, grub: _g, ...rest } = o;
  const grub = o.grub ?? (await hostBiosGrub());
  const opts: BiosDiskOptions = { ...rest, kernel, busybox, grub, ...(modules ? { modules } : {}) };
  // a squashfs root compresses on every core with node:zlib unless a compressor is given
  if (opts.rootFormat === 'squashfs' && !opts.readOnlyRoot?.squashfs?.compressor)
    opts.readOnlyRoot = {
      ...opts.readOnlyRoot,
      squashfs: { ...opts.readOnlyRoot?.squashfs, compressor: nodeGzipCompressor() },
    };
  const plan = await planBiosDisk(opts);
  return withOutputFile(out, async (tmp) => {
    const dev = FileDevice.create(tmp, plan.size);
    let r: BiosDiskResult;
    try {
      r = await writeBiosDisk(plan, grub, dev, o.progress);
    } finally {
      dev.close();
    }
    // a squashfs root is planned at an upper bound: the disk ends where its partition does
    if (r.size < plan.size) truncateSync(tmp, r.size);
    return r;
  });
}
