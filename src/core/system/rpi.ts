/**
 * The Raspberry Pi SD-card image, as the boards' firmware expects it: an MBR
 * disk whose first partition is FAT32 (type 0x0c) holding the firmware's
 * files (bootcode.bin, start*.elf, fixup*.dat, given by the caller: Debian's
 * main archive does not carry them), config.txt, cmdline.txt, the arm64
 * kernel as kernel8.img, the board device trees under the mainline kernel's
 * names (upstream_kernel=1) with any overlays, and the module initramfs; the
 * second partition is the ext4 root with the busybox distro, found by
 * root=PARTUUID=<signature>-02.
 *
 * No host access here: the caller passes the kernel, busybox, the kernel's
 * device-tree directory, its modules and the firmware as trees or bytes.
 */
import { UsageError } from '../errors.js';
import type { BlockDevice } from '../io/device.js';
import { FileTree } from '../tree/tree.js';
import { treeFingerprint } from '../tree/fingerprint.js';
import { bytesContent } from '../tree/content.js';
import type { Content, TreeNode } from '../tree/types.js';
import { crc32 } from '../binary/crc.js';
import { derivedU32, partuuid } from '../partition/index.js';
import { ext4MinimumSize, type Ext4Options } from '../fs/ext4/index.js';
import { buildDisk, diskSize, type DiskLayout, type DiskResult } from '../image/disk.js';
import { cpioChunks } from '../archive/cpio/index.js';
import { concatChunks, gzipChunks } from '../compress/gzip.js';
import { identifyKernel, isGzip } from '../boot/kernel.js';
import { buildRootfs, type DistroOptions } from '../distro/index.js';
import { addModules, modulesInitramfsTree, scanModules } from '../initramfs/modules.js';
import type { Progress } from '../progress.js';
import { checkBiosBusybox, type BiosModules } from './bios.js';
import { smallestFat32Size } from './uefi.js';

import { rpiBoard, RPI_INITRD, RPI_KERNEL, type RpiBoard } from './rpi-boards.js';

export {
  DEFAULT_RPI_BOARD,
  readRpiConfigTxt,
  rpiBoard,
  RPI_BOARDS,
  RPI_INITRD,
  RPI_KERNEL,
  type RpiBoard,
  type RpiBoardName,
} from './rpi-boards.js';

const MiB = 1 << 20;

/** Modules the initramfs loads to reach a root on the SD card: the SD host drivers of the Pi 3 (sdhost) and Pi 4 (emmc2), ext4. */
export const RPI_ROOT_MODULES = ['mmc_block', 'bcm2835', 'sdhci_iproc', 'ext4'] as const;

/** Files of the boot partition that tinyimage writes (the firmware directory's own copies are left out). */
const OWN_FILES = new Set(['config.txt', 'cmdline.txt', RPI_KERNEL, RPI_INITRD]);

export interface RpiImageOptions {
  /** The arm64 kernel Image (uncompressed), installed as kernel8.img. */
  kernel: Uint8Array | Content;
  busybox: Uint8Array | Content;
  /** The kernel's device-tree directory (Debian: /usr/lib/linux-image-VERSION): broadcom/*.dtb, overlays/. */
  dtbs: FileTree;
  /** Board (default '3b'): its device tree must be in `dtbs`, its serial port gets the console. */
  board?: string;
  /** The firmware files (bootcode.bin, start*.elf, fixup*.dat, overlays/...), copied to the boot partition. */
  firmware?: FileTree;
  /** Distribution kernel modules: an initramfs loads the SD card drivers and ext4 (RPI_ROOT_MODULES). */
  modules?: BiosModules;
  /** The rootfs recipe (busybox, epoch and root source are filled in; consoles default to tty1 and the board's serial). */
  distro?: Omit<DistroOptions, 'busybox' | 'epoch' | 'rootSource'>;
  /** The command line's console part (default "console=tty1 console=<serial>,115200": the last one gets /dev/console). */
  console?: string;
  /** Extra kernel arguments after root=... and the consoles. */
  append?: string;
  /** Extra config.txt lines, appended after tinyimage's. */
  config?: readonly string[];
  /** Boot partition size in bytes (whole MiB; default the larger of 64 MiB and what its files need). */
  bootSize?: number;
  /** Whole disk size in bytes (whole MiB); the root partition takes the rest. */
  diskSize?: number;
  /** Round the disk up to a power of two (QEMU's SD card emulation requires one); the root partition takes the rest. */
  powerOfTwo?: boolean;
  /** Free space in the root filesystem when sizing automatically (default 16 MiB). */
  freeSpace?: number;
  signature?: number;
  /** Seed for the signature and filesystem ids (default: derived from the contents). */
  seed?: string;
  /** More inputs of the default seed (a fingerprint of what `overlay` adds), so different overlays give different ids. */
  seedInputs?: string;
  epoch?: number;
  ext4?: Omit<Ext4Options, 'size' | 'epoch' | 'progress'>;
  /** Files to add to (or replace in) the root filesystem after the recipe. */
  overlay?: (root: FileTree) => void;
  progress?: Progress;
}

export interface RpiImagePlan {
  layout: DiskLayout;
  size: number;
  signature: number;
  /** PARTUUID of the root partition ("1234abcd-02"). */
  partuuid: string;
  board: RpiBoard;
  cmdline: string;
  config: string;
  initrd?: { size: number; modules: string[] };
}

/** config.txt: 64-bit mode, our kernel and initramfs, mainline device-tree names, the serial console's UART. */
export function rpiConfigTxt(o: { initrd: boolean; board: RpiBoard; extra?: readonly string[] }): string {
  const lines = [
    '# Raspberry Pi firmware configuration, written by tinyimage',
    '# start the ARM cores in 64-bit mode with our arm64 kernel',
    'arm_64bit=1',
    `kernel=${RPI_KERNEL}`,
    ...(o.initrd
      ? ['# the module initramfs, loaded right after the kernel', `initramfs ${RPI_INITRD} followkernel`]
      : []),
    "# device trees under the mainline kernel's names (bcm2837-rpi-3-b.dtb rather than bcm2710-rpi-3-b.dtb)",
    'upstream_kernel=1',
    `# the UART on GPIO 14/15, at a fixed clock: the serial console (${o.board.serial})`,
    'enable_uart=1',
    ...(o.extra ?? []),
  ];
  for (const l of o.extra ?? [])
    if (/[\r\n]/.test(l))
      throw new UsageError('E_USAGE_RPI_CONFIG', 'a config.txt line may not contain a newline', { field: 'config' });
  return lines.join('\n') + '\n';
}

function readHead(c: Uint8Array | Content, n: number): Uint8Array | undefined {
  return c instanceof Uint8Array ? c.subarray(0, n) : c.readAt?.(0, Math.min(n, c.size));
}

/** The kernel must be an uncompressed arm64 Image (the Pi 3's firmware does not decompress kernel8.img). */
function checkKernel(kernel: Uint8Array | Content): void {
  const head = readHead(kernel, 4096);
  if (!head) return;
  if (isGzip(head))
    throw new UsageError('E_USAGE_RPI_KERNEL', 'kernel8.img must be an uncompressed arm64 Image: decompress it first', {
      field: 'kernel',
    });
  const k = identifyKernel(head);
  if (k.arch !== 'arm64')
    throw new UsageError(
      'E_USAGE_ARCH_MISMATCH',
      `a Raspberry Pi needs an arm64 kernel, but the kernel is ${k.description} (${k.arch})`,
      { field: 'kernel', expected: 'arm64', actual: k.arch },
    );
}

/** A copy of a file node for the boot partition: its contents, mode 0644, the image's time (not the host file's). */
function bootFile(boot: FileTree, path: string, node: TreeNode, epoch: number): void {
  if (node.type !== 'file') return;
  boot.addFile(path, node.content, { mode: 0o644, mtime: epoch }, { replace: true });
}

/** The device trees of the Raspberry Pi boards and the overlays of a kernel's device-tree directory. */
function addDeviceTrees(boot: FileTree, dtbs: FileTree, board: RpiBoard, epoch: number): void {
  const dir = dtbs.get('/broadcom')?.type === 'dir' ? '/broadcom' : '/';
  const found: string[] = [];
  for (const e of dtbs.walk()) {
    if (e.node.type !== 'file' || e.depth === 0) continue;
    const parent = e.path.slice(0, e.path.length - e.name.length - 1) || '/';
    if (parent === dir && /^bcm2\d{3}-rpi.*\.dtb$/.test(e.name)) {
      bootFile(boot, `/${e.name}`, e.node, epoch);
      found.push(e.name);
    } else if (/\/overlays$/.test(parent) && /\.dtbo$/.test(e.name)) {
      boot.mkdir('/overlays', { mtime: epoch });
      bootFile(boot, `/overlays/${e.name}`, e.node, epoch);
    }
  }
  if (!found.includes(board.dtb))
    throw new UsageError(
      'E_USAGE_RPI_DTB',
      `the kernel's device trees have no ${board.dtb} for the ${board.name} ` +
        `(found ${found.length ? found.join(', ') : 'no bcm2*-rpi*.dtb'} in ${dir}); give the kernel package's ` +
        'device-tree directory (Debian: usr/lib/linux-image-VERSION)',
      { field: 'dtbs', expected: board.dtb },
    );
}

/** The firmware's files, without the ones tinyimage writes; it must look like the Pi firmware. */
function addFirmware(boot: FileTree, firmware: FileTree, epoch: number): void {
  const names = [...firmware.root.children.keys()];
  if (!names.some((n) => /^start\d*\w*\.elf$/.test(n) || n === 'bootcode.bin'))
    throw new UsageError(
      'E_USAGE_RPI_FIRMWARE',
      `the firmware directory has no start*.elf or bootcode.bin (it has ${names.slice(0, 8).join(', ') || 'nothing'}); ` +
        "give the boot/ directory of the Raspberry Pi firmware or Debian's raspi-firmware files",
      { field: 'firmware' },
    );
  for (const e of firmware.walk()) {
    if (e.depth === 0 || OWN_FILES.has(e.path.slice(1))) continue;
    if (e.node.type === 'dir') boot.mkdir(e.path, { mtime: epoch });
    else bootFile(boot, e.path, e.node, epoch);
  }
}

function rootfsOptions(o: RpiImageOptions, board: RpiBoard, rootSource: string): DistroOptions {
  return {
    consoles: ['tty1', board.serial],
    ...(o.distro ?? {}),
    busybox: o.busybox,
    epoch: o.epoch ?? 0,
    rootSource,
    rootType: o.ext4?.type ?? 'ext4',
  };
}

/** The default seed: the root tree's metadata, the kernel's size and first bytes, the device trees, firmware and modules. */
function rpiSeed(o: RpiImageOptions, board: RpiBoard): string {
  const probe = buildRootfs(rootfsOptions(o, board, 'PARTUUID='));
  const head = readHead(o.kernel, 4096);
  const size = o.kernel instanceof Uint8Array ? o.kernel.length : o.kernel.size;
  const boot = `${treeFingerprint(o.dtbs)}:${o.firmware ? treeFingerprint(o.firmware) : ''}`;
  const more = o.seedInputs !== undefined ? `:${o.seedInputs}` : '';
  return `rpi:${board.dtb}:${treeFingerprint(probe)}:${size}:${head ? crc32(head).toString(16) : ''}:${boot}:${o.modules?.version ?? ''}${more}`;
}

/** The root tree with the modules, and the module initramfs when there are modules. */
async function rootAndInitrd(
  o: RpiImageOptions,
  board: RpiBoard,
  rootSource: string,
): Promise<{ root: FileTree; initrd?: { bytes: Uint8Array; modules: string[] } }> {
  const epoch = o.epoch ?? 0;
  const root = buildRootfs(rootfsOptions(o, board, rootSource));
  if (!o.modules) return { root };
  o.progress?.start('reading kernel modules');
  const index = await scanModules(o.modules.tree);
  const load = o.modules.initramfs ?? RPI_ROOT_MODULES;
  const { tree, modules } = modulesInitramfsTree({
    busybox: o.busybox,
    index,
    version: o.modules.version,
    load,
    optional: o.modules.initramfs ? [] : RPI_ROOT_MODULES,
    epoch,
  });
  addModules(root, index, o.modules.version, {
    source: o.modules.tree,
    ...(o.modules.all === false ? { subset: modules } : {}),
  });
  const bytes = await concatChunks(gzipChunks(cpioChunks(tree)));
  o.progress?.done();
  return { root, initrd: { bytes, modules: modules.map((m) => m.name) } };
}

function bootTree(
  o: RpiImageOptions,
  board: RpiBoard,
  files: { initrd?: Uint8Array; config: string; cmdline: string },
): FileTree {
  const epoch = o.epoch ?? 0;
  const boot = new FileTree({ defaultTime: epoch });
  if (o.firmware) addFirmware(boot, o.firmware, epoch);
  addDeviceTrees(boot, o.dtbs, board, epoch);
  const kernel = o.kernel instanceof Uint8Array ? bytesContent(o.kernel) : o.kernel;
  boot.addFile(`/${RPI_KERNEL}`, kernel, { mode: 0o644 }, { replace: true });
  if (files.initrd) boot.addFile(`/${RPI_INITRD}`, files.initrd, { mode: 0o644 }, { replace: true });
  boot.addFile('/config.txt', files.config, { mode: 0o644 }, { replace: true });
  boot.addFile('/cmdline.txt', files.cmdline + '\n', { mode: 0o644 }, { replace: true });
  return boot;
}

function checkMiB(n: number | undefined, field: string, min: number): void {
  if (n === undefined) return;
  if (!Number.isSafeInteger(n) || n % MiB !== 0 || n < min)
    throw new UsageError(
      'E_USAGE_DISK_SIZE',
      `${field} must be a whole number of MiB and at least ${min / MiB} MiB, got ${n}`,
      {
        field,
        actual: n,
      },
    );
}

function nextPowerOfTwo(n: number): number {
  let p = MiB;
  while (p < n) p *= 2;
  return p;
}

/** The partition layout: FAT32 boot partition, ext4 root (fit + free space, or the rest of a given size). */
async function rpiLayout(o: RpiImageOptions, boot: FileTree, root: FileTree, signature: number, seed: string) {
  const epoch = o.epoch ?? 0;
  const fat = { label: 'BOOT', epoch };
  const bootSize = o.bootSize ?? Math.max(64 * MiB, await smallestFat32Size(boot, fat));
  const ext4: Ext4Options = { label: 'root', ...(o.ext4 ?? {}), epoch };
  const rootFit = Math.ceil((ext4MinimumSize(root, ext4) + (o.freeSpace ?? 16 * MiB)) / MiB) * MiB;
  const layout = (size: number | undefined): DiskLayout => ({
    table: 'mbr',
    diskId: signature,
    seed,
    ...(size !== undefined ? { size } : {}),
    ...(o.progress ? { progress: o.progress } : {}),
    partitions: [
      { type: 'fat32', fs: 'fat32', size: bootSize, tree: boot, options: fat },
      { type: 'linux', fs: 'ext4', size: size !== undefined ? 'rest' : rootFit, tree: root, options: ext4 },
    ],
  });
  if (o.diskSize !== undefined) return layout(o.powerOfTwo ? nextPowerOfTwo(o.diskSize) : o.diskSize);
  const natural = diskSize(layout(undefined));
  return o.powerOfTwo ? layout(nextPowerOfTwo(natural)) : layout(natural);
}

/** Build the trees (boot files, root, module initramfs) and the disk layout, before any disk exists. */
export async function planRpiImage(o: RpiImageOptions): Promise<RpiImagePlan> {
  const board = rpiBoard(o.board);
  checkKernel(o.kernel);
  checkBiosBusybox(o);
  checkMiB(o.bootSize, 'bootSize', 33 * MiB); // FAT32's smallest volume
  checkMiB(o.diskSize, 'diskSize', 4 * MiB);
  const seed = o.seed ?? rpiSeed(o, board);
  const signature = (o.signature ?? derivedU32(`mbr-signature:${seed}`)) >>> 0;
  const pu = partuuid(signature, 2);
  const { root, initrd } = await rootAndInitrd(o, board, `PARTUUID=${pu}`);
  const append = o.append?.trim();
  if (append && /[\n\r]/.test(append))
    throw new UsageError('E_USAGE_CMDLINE', 'append: the kernel command line may not contain a newline', {
      field: 'append',
    });
  const console = o.console ?? `console=tty1 console=${board.serial},115200`;
  // without an initramfs the kernel mounts the root itself and must wait for the SD card to be probed
  const cmdline = [`root=PARTUUID=${pu}`, 'rw', initrd ? '' : 'rootwait', console, append].filter(Boolean).join(' ');
  const config = rpiConfigTxt({ initrd: !!initrd, board, ...(o.config ? { extra: o.config } : {}) });
  const boot = bootTree(o, board, { ...(initrd ? { initrd: initrd.bytes } : {}), config, cmdline });
  o.overlay?.(root);
  const layout = await rpiLayout(o, boot, root, signature, seed);
  return {
    layout,
    size: layout.size!,
    signature,
    partuuid: pu,
    board,
    cmdline,
    config,
    ...(initrd ? { initrd: { size: initrd.bytes.length, modules: initrd.modules } } : {}),
  };
}

/** Write a planned image onto `dev` (exactly plan.size bytes, or more: the root partition takes the rest). */
export async function writeRpiImage(plan: RpiImagePlan, dev: BlockDevice): Promise<DiskResult> {
  if (dev.size < plan.size)
    throw new UsageError('E_USAGE_DISK_SIZE', `the device has ${dev.size} bytes, the image needs ${plan.size}`, {
      expected: plan.size,
      actual: dev.size,
    });
  const [boot, root] = plan.layout.partitions;
  const layout: DiskLayout = { ...plan.layout, size: dev.size, partitions: [boot!, { ...root!, size: 'rest' }] };
  return buildDisk(layout, dev);
}

/** Build the SD-card image; `dev` is a device or a function that makes one once the size is known. */
export async function buildRpiImage(
  o: RpiImageOptions,
  dev: BlockDevice | ((size: number) => BlockDevice),
): Promise<RpiImagePlan & { disk: DiskResult }> {
  const plan = await planRpiImage(o);
  const d = typeof dev === 'function' ? dev(plan.size) : dev;
  return { ...plan, disk: await writeRpiImage(plan, d) };
}
