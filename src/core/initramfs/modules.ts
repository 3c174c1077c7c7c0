/**
 * Kernel modules of a distribution kernel, without depmod.
 *
 * A kernel package unpacked without its post-install step has no
 * modules.dep / modules.alias. Every module carries the same facts in its
 * own ELF `.modinfo` section (NUL-separated `key=value` strings): `depends=`
 * (comma list of module names), `softdep=` ("pre: a b post: c"), `alias=`
 * (shell patterns such as `pci:v00008086d0000100Esv*sd*bc*sc*i*` or plain
 * names like `crypto-crc32c`). This file reads them, computes the closure of
 * named modules (depends + softdep pre/post, names resolved by module name
 * first, then by alias pattern), writes modules.dep / modules.alias (depmod's
 * formats) and modules.dep.bb (busybox's small modprobe), and builds an
 * initramfs whose /init loads the modules, waits for root=PARTUUID=..., mounts
 * it and switch_roots.
 *
 * The parts: elf.ts (ELF sections), modinfo.ts (module facts, the index),
 * closure.ts (what a list of modules needs), depmod.ts (depmod's files),
 * modules-init.ts (the /init script); this file builds the initramfs tree.
 *
 * Compressed modules: `.ko.gz` is read through fflate; `.ko.xz` and `.ko.zst`
 * have no decoder in the dependencies, so they raise E_USAGE_MODULE_COMPRESSED
 * (Debian 12's kernels ship plain `.ko`).
 */
import { FileTree } from '../tree/tree.js';
import { bytesContent } from '../tree/content.js';
import type { Content } from '../tree/types.js';
import { hardModules, moduleClosure, type ClosureOptions } from './closure.js';
import { addModules } from './depmod.js';
import type { ModuleIndex, ModuleInfo } from './modinfo.js';
import { INITRAMFS_APPLETS, modulesInitScript } from './modules-init.js';

export { Elf64Header, Elf64SectionHeader } from './elf.js';
export {
  moduleNameOf,
  parseModinfo,
  readModuleInfo,
  readModuleInfoBytes,
  scanModules,
  type ModuleIndex,
  type ModuleInfo,
} from './modinfo.js';
export { globMatch, hardModules, moduleClosure, resolveModule, type ClosureOptions } from './closure.js';
export {
  addModules,
  modulesAlias,
  modulesDep,
  modulesDepBb,
  modulesSoftdep,
  type AddModulesOptions,
} from './depmod.js';
export { INITRAMFS_APPLETS, modulesInitScript } from './modules-init.js';

/** Disk drivers an initramfs loads by default to reach a root on IDE, AHCI, virtio or NVMe disks. */
export const DISK_MODULES = [
  'ata_piix',
  'ata_generic',
  'ahci',
  'sd_mod',
  'virtio_pci',
  'virtio_blk',
  'virtio_scsi',
  'nvme',
] as const;

/** Modules an initramfs loads by default to reach a root on IDE, AHCI, virtio or NVMe disks with ext4. */
export const DEFAULT_ROOT_MODULES = [...DISK_MODULES, 'ext4'] as const;

/** Filesystems a root may have; each is mounted by the module of its name (when not built in). */
export type RootFsType = 'ext4' | 'squashfs' | 'erofs';

export interface ModulesInitramfsOptions {
  busybox: Uint8Array | Content;
  index: ModuleIndex;
  version: string;
  /** Modules to load (default DISK_MODULES, missing ones skipped, and the root's filesystem). */
  load?: readonly string[];
  /**
   * The root's filesystem (default ext4): its module is loaded too; for
   * squashfs and EROFS it must be a module or built in (they have their
   * decompressors built in in Debian's kernels).
   */
  rootFs?: RootFsType;
  /** Default time of the tree's entries (SOURCE_DATE_EPOCH). */
  epoch?: number;
  skipped?: ClosureOptions['skipped'];
}

/** An initramfs tree: busybox, the closure of the root-disk modules, /init. */
export function modulesInitramfsTree(o: ModulesInitramfsOptions): { tree: FileTree; modules: ModuleInfo[] } {
  const tree = new FileTree({ defaultTime: o.epoch ?? 0 });
  const fs = o.rootFs ?? 'ext4';
  const names = o.load ?? [...DISK_MODULES, fs];
  // the ext4 default stays optional as it always was; a read-only root's module must be there
  const modules = moduleClosure(o.index, names, {
    optional: o.load ? [] : fs === 'ext4' ? DEFAULT_ROOT_MODULES : DISK_MODULES,
    ...(o.skipped ? { skipped: o.skipped } : {}),
  });
  for (const d of ['/bin', '/sbin', '/usr/bin', '/usr/sbin', '/proc', '/sys', '/dev', '/newroot', '/tmp'])
    tree.mkdir(d);
  tree.addDevice('/dev/console', 'char', 5, 1, { mode: 0o600 });
  tree.addDevice('/dev/null', 'char', 1, 3, { mode: 0o666 });
  tree.addFile('/bin/busybox', o.busybox instanceof Uint8Array ? bytesContent(o.busybox) : o.busybox, { mode: 0o755 });
  for (const a of INITRAMFS_APPLETS) tree.addSymlink(`/bin/${a}`, 'busybox');
  addModules(tree, o.index, o.version, { subset: modules });
  const hard = hardModules(o.index, names);
  const soft = new Set(modules.filter((m) => !hard.has(m.name)).map((m) => m.path));
  tree.addFile(
    '/init',
    modulesInitScript(
      o.version,
      modules.map((m) => m.path),
      soft,
    ),
    { mode: 0o755 },
  );
  return { tree, modules };
}
