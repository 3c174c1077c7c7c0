/**
 * Build the `bios` disk end to end from the host's pieces (Debian's kernel and
 * modules, a busybox built from source by the toolchain, grub-pc-bin):
 * used by the boot tests. For a disk to boot by hand, the CLI makes the same
 * one: `tinyimage build --preset bios -o out` (CONTRIBUTING.md, Tests).
 */
import { existsSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { FileDevice } from '../../src/node/io/file.js';
import { treeFromHostDir } from '../../src/node/host/tree.js';
import { pathContent } from '../../src/node/host/content.js';
import { buildBusybox } from '../../src/node/toolchain/index.js';
import { findHostGrub, makeCoreImage } from '../../src/node/system/grub-host.js';
import {
  planBiosDisk,
  writeBiosDisk,
  type BiosDiskOptions,
  type BiosDiskPlan,
  type BiosDiskResult,
} from '../../src/core/system/bios.js';
import { CACHE, debianKernel } from '../helpers/prereq.js';

export const BUSYBOX_SOURCE = join(CACHE, 'sources/busybox_1.35.0.orig.tar.bz2');

/** A busybox built from source with the default configuration (static), through the toolchain wrapper (cached). */
export async function sourceBusybox(): Promise<Uint8Array> {
  const r = await buildBusybox({ source: BUSYBOX_SOURCE, config: 'defconfig', quiet: true });
  return new Uint8Array(readFileSync(r.binary));
}

export interface HostDisk {
  plan: BiosDiskPlan;
  result: BiosDiskResult;
  kernelPath: string;
}

export async function buildHostBiosDisk(out: string, extra: Partial<BiosDiskOptions> = {}): Promise<HostDisk> {
  const k = debianKernel();
  const grub = findHostGrub();
  const core = await makeCoreImage(grub);
  const busybox = extra.busybox ?? (await sourceBusybox());
  const opts: BiosDiskOptions = {
    kernel: pathContent(k.vmlinuz, statSync(k.vmlinuz).size),
    busybox,
    grub: { boot: grub.boot, core, files: grub.files },
    ...(existsSync(k.modules) ? { modules: { tree: treeFromHostDir(k.modules), version: k.version } } : {}),
    epoch: 1_700_000_000,
    ...extra,
  };
  const plan = await planBiosDisk(opts);
  const dev = FileDevice.create(out, plan.size);
  try {
    const result = await writeBiosDisk(plan, opts.grub, dev);
    return { plan, result, kernelPath: k.vmlinuz };
  } finally {
    dev.close();
  }
}
