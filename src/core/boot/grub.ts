/**
 * GRUB for BIOS machines, installed without grub-install / grub-bios-setup.
 *
 * What grub-bios-setup does for an MBR disk with an embedding gap, done here
 * on a BlockDevice:
 *  - boot.img (512 bytes) goes to LBA 0, keeping the disk's own bytes at
 *    0x1B8..0x1FD (disk signature + partition table) and at 0x03..0x59 (a
 *    possible BPB); the "boot drive check" jump at 0x66 becomes two NOPs (hard
 *    disk, so BIOSes that pass a wrong DL still boot from 0x80); the boot
 *    drive byte at 0x64 is 0xFF ("use DL"); the u64 at 0x5C holds the LBA of
 *    core.img's first sector.
 *  - core.img (diskboot.img + compressed kernel + embedded modules, made by
 *    grub-mkimage) goes to LBA 1.. in the gap before the first partition. The
 *    blocklist at the end of its first sector (u64 start, u16 sectors, u16
 *    segment; entries grow downwards) is rewritten to point at the rest of
 *    the image, loaded from segment 0x820 (0x800 + one sector), followed by
 *    a zero terminator.
 *  - No Reed-Solomon redundancy is added: core.img's redundancy field stays
 *    as grub-mkimage wrote it (0), which GRUB's decoder treats as "nothing to
 *    recover".
 *
 * Everything here is pure (bytes in, bytes out). Finding the host's
 * grub-pc-bin files and running grub-mkimage is in grub-host.ts.
 */
import { CapacityError, FormatError, UsageError } from '../errors.js';
import { defineStruct } from '../binary/struct.js';
import type { BlockDevice } from '../io/device.js';
import { MBR_ENTRY } from '../partition/index.js';
import type { FileTree } from '../tree/tree.js';
import type { Content } from '../tree/types.js';

const SECTOR = 512;

/** The fields of GRUB's boot.img (grub-core/boot/i386/pc/boot.S) that setup touches. */
export const GrubBootSector = defineStruct('grub_boot_sector', SECTOR, [
  { name: 'jump', offset: 0x00, type: 'bytes', length: 3 },
  { name: 'bpb', offset: 0x03, type: 'bytes', length: 0x5a - 0x03 },
  { name: 'kernelSector', offset: 0x5c, type: 'u64le' },
  { name: 'bootDrive', offset: 0x64, type: 'u8' },
  { name: 'driveCheck', offset: 0x66, type: 'bytes', length: 2 },
  { name: 'windowsNtMagic', offset: 0x1b8, type: 'bytes', length: 6 },
  { name: 'partitionTable', offset: 0x1be, type: 'bytes', length: 64 },
  { name: 'signature', offset: 0x1fe, type: 'u16le' },
] as const);

/** One blocklist entry at the end of diskboot.img (struct grub_pc_bios_boot_blocklist, packed). */
export const GrubBlocklist = defineStruct('grub_pc_bios_boot_blocklist', 12, [
  { name: 'start', offset: 0, type: 'u64le' },
  { name: 'len', offset: 8, type: 'u16le' },
  { name: 'segment', offset: 10, type: 'u16le' },
] as const);

/** Segment where boot.img loads diskboot.img (GRUB_BOOT_I386_PC_KERNEL_SEG). */
export const GRUB_KERNEL_SEG = 0x800;
const NOP = 0x90;
/** Highest number of sectors the i386-pc loader can take (it loads below 0x78000 from 0x8000). */
const MAX_CORE_SECTORS = (0x78000 - 0x8200) >> 9;

export interface GrubBiosImages {
  /** boot.img, exactly 512 bytes ending in 55 AA. */
  boot: Uint8Array;
  /** core.img from `grub-mkimage -O i386-pc`: diskboot.img + the rest. */
  core: Uint8Array;
}

export interface GrubInstallOptions {
  /** First sector of the first partition (end of the gap). Default: read from the MBR on `dev`. */
  firstPartitionSector?: number;
  /** Where core.img starts (default 1, right after the MBR). */
  coreSector?: number;
}

export interface GrubInstallResult {
  coreSector: number;
  coreSectors: number;
  /** Sectors available in the gap (from coreSector to the first partition). */
  gapSectors: number;
}

/** Lowest start LBA of a used MBR partition entry, or undefined when the table is empty. */
export function firstPartitionSector(mbr: Uint8Array): number | undefined {
  if (mbr.length < SECTOR || mbr[0x1fe] !== 0x55 || mbr[0x1ff] !== 0xaa) return undefined;
  let first: number | undefined;
  for (let i = 0; i < 4; i++) {
    const e = MBR_ENTRY.decode(mbr, 0x1be + 16 * i);
    if (e.type === 0 || e.sectors === 0) continue;
    if (first === undefined || e.lbaStart < first) first = e.lbaStart;
  }
  return first;
}

function checkImages(images: GrubBiosImages): void {
  const { boot, core } = images;
  if (boot.length !== SECTOR || boot[0x1fe] !== 0x55 || boot[0x1ff] !== 0xaa) {
    throw new FormatError(
      'E_FORMAT_GRUB_BOOT_IMG',
      `boot.img must be 512 bytes ending in 55 AA (got ${boot.length} bytes)`,
      { structure: 'boot.img', actual: boot.length, expected: SECTOR },
    );
  }
  if (core.length < 2 * SECTOR) {
    throw new FormatError(
      'E_FORMAT_GRUB_CORE_IMG',
      `core.img is ${core.length} bytes; an i386-pc core image is at least 2 sectors`,
      { structure: 'core.img', actual: core.length },
    );
  }
}

/**
 * Install GRUB's boot sector and core image on an MBR disk. The partition
 * table must already be written (its bytes are kept).
 */
export function installGrubBios(
  dev: BlockDevice,
  images: GrubBiosImages,
  opts: GrubInstallOptions = {},
): GrubInstallResult {
  checkImages(images);
  const coreSector = opts.coreSector ?? 1;
  if (!Number.isSafeInteger(coreSector) || coreSector < 1)
    throw new UsageError('E_USAGE_GRUB_CORE_SECTOR', `core.img sector must be >= 1, got ${coreSector}`, {
      actual: coreSector,
    });
  const mbr = dev.readAt(0, SECTOR);
  const first = opts.firstPartitionSector ?? firstPartitionSector(mbr);
  if (first === undefined) {
    throw new UsageError(
      'E_USAGE_GRUB_NO_PARTITION',
      'GRUB embedding needs an MBR partition table with at least one partition (write the table before installing GRUB)',
      { structure: 'mbr' },
    );
  }
  const coreSectors = Math.ceil(images.core.length / SECTOR);
  const gapSectors = first - coreSector;
  if (coreSectors > gapSectors) {
    throw new CapacityError(
      'E_SPACE_GAP',
      `core.img needs ${coreSectors} sectors but the gap before the first partition (sector ${first}) has only ${Math.max(0, gapSectors)}; start the first partition at 1 MiB (sector 2048)`,
      { expected: coreSectors, actual: gapSectors, field: 'first partition start', offset: first * SECTOR },
    );
  }
  if (coreSectors > MAX_CORE_SECTORS) {
    throw new CapacityError(
      'E_LIMIT_GRUB_CORE',
      `core.img is ${coreSectors} sectors; the i386-pc loader takes at most ${MAX_CORE_SECTORS}`,
      { expected: MAX_CORE_SECTORS, actual: coreSectors },
    );
  }

  // core.img: rewrite the blocklist of its first sector.
  const core = new Uint8Array(coreSectors * SECTOR);
  core.set(images.core);
  const firstEntry = SECTOR - GrubBlocklist.size;
  // Clear the existing list (entries grow downwards until one with len 0).
  for (let off = firstEntry; off >= 0x100; off -= GrubBlocklist.size) {
    const e = GrubBlocklist.decode(core, off);
    core.fill(0, off, off + GrubBlocklist.size);
    if (e.len === 0) break;
  }
  // The rest of the image is contiguous: one entry plus a terminator.
  GrubBlocklist.encode(
    { start: coreSector + 1, len: coreSectors - 1, segment: GRUB_KERNEL_SEG + (SECTOR >> 4) },
    core,
    firstEntry,
  );
  GrubBlocklist.encode({ start: 0, len: 0, segment: 0 }, core, firstEntry - GrubBlocklist.size);

  // boot.img: keep the disk's BPB area, signature and table; patch the fields.
  const boot = images.boot.slice();
  const old = GrubBootSector.decode(mbr);
  GrubBootSector.encode(
    {
      bpb: old.bpb,
      windowsNtMagic: old.windowsNtMagic,
      partitionTable: old.partitionTable,
      driveCheck: new Uint8Array([NOP, NOP]),
      bootDrive: 0xff,
      kernelSector: coreSector,
      signature: 0xaa55,
    },
    boot,
  );

  dev.writeAt(coreSector * SECTOR, core);
  dev.writeAt(0, boot);
  return { coreSector, coreSectors, gapSectors };
}

/** Parse GRUB's moddep.lst ("name: dep dep ..."). */
export function parseModdep(text: string): Map<string, string[]> {
  const m = new Map<string, string[]>();
  for (const line of text.split('\n')) {
    const i = line.indexOf(':');
    if (i <= 0) continue;
    m.set(
      line.slice(0, i).trim(),
      line
        .slice(i + 1)
        .trim()
        .split(/\s+/)
        .filter(Boolean),
    );
  }
  return m;
}

/** Modules `names` need, themselves included, in a stable order. Unknown names throw. */
export function grubModuleClosure(moddep: Map<string, string[]>, names: readonly string[]): string[] {
  const out = new Set<string>();
  const visit = (n: string, from?: string) => {
    if (out.has(n)) return;
    const deps = moddep.get(n);
    if (!deps)
      throw new UsageError(
        'E_USAGE_GRUB_MODULE',
        `GRUB module '${n}'${from ? ` (needed by ${from})` : ''} is not in moddep.lst`,
        { actual: n },
      );
    out.add(n);
    for (const d of deps) visit(d, n);
  };
  for (const n of names) visit(n);
  return [...out].sort();
}

/** Modules built into core.img: enough to read /boot/grub from an ext2/3/4 partition of an MBR disk. */
export const GRUB_CORE_MODULES = ['biosdisk', 'part_msdos', 'ext2'] as const;
/** Modules built into the El Torito core image: enough to read /boot/grub from the ISO 9660 disc or disk. */
export const GRUB_ELTORITO_MODULES = ['biosdisk', 'iso9660'] as const;
/** Modules installed to /boot/grub/i386-pc (plus their dependencies). */
export const GRUB_RUNTIME_MODULES = [
  'normal',
  'linux',
  'ext2',
  'part_msdos',
  'biosdisk',
  'echo',
  'search',
  'gzio',
  'serial',
  'terminal',
  'test',
  'configfile',
  'boot',
  'minicmd',
  'halt',
  'reboot',
  'sleep',
  'ls',
  'cat',
] as const;

export interface GrubConfigOptions {
  /** The kernel command line, without BOOT_IMAGE (e.g. "root=PARTUUID=1234abcd-01 rw console=tty0 console=ttyS0"). */
  cmdline: string;
  /** Path of the kernel on the root partition (default /boot/vmlinuz). */
  kernel?: string;
  /** Path of the initramfs on the root partition, when there is one. */
  initrd?: string;
  /** Seconds the menu waits (default 0). */
  timeout?: number;
  /** Serial port speed (default 115200); null for no serial terminal. */
  serialSpeed?: number | null;
  /** Menu entry title (default "Linux"). */
  title?: string;
  /** Modules loaded before the menu (default part_msdos and ext2, for the BIOS disk's root). */
  insmod?: readonly string[];
}

function quoteGrub(s: string): string {
  return `'${s.replace(/'/g, `'\\''`)}'`;
}

/** A grub.cfg for one Linux entry, on the serial and the screen console. */
export function grubConfig(o: GrubConfigOptions): string {
  const kernel = o.kernel ?? '/boot/vmlinuz';
  const speed = o.serialSpeed === undefined ? 115200 : o.serialSpeed;
  const timeout = o.timeout ?? 0;
  if (!Number.isInteger(timeout) || timeout < 0)
    throw new UsageError(
      'E_USAGE_GRUB_TIMEOUT',
      `GRUB timeout must be a whole number of seconds >= 0, got ${timeout}`,
      { actual: timeout },
    );
  if (/[\n\r]/.test(o.cmdline))
    throw new UsageError('E_USAGE_CMDLINE', 'the kernel command line may not contain a newline', { actual: o.cmdline });
  const lines = ['# Written by tinyimage', ...(o.insmod ?? ['part_msdos', 'ext2']).map((m) => `insmod ${m}`)];
  if (speed !== null) {
    lines.push(`serial --unit=0 --speed=${speed}`, 'terminal_input serial console', 'terminal_output serial console');
  }
  lines.push(`set timeout=${timeout}`, 'set default=0', '');
  lines.push(`menuentry ${quoteGrub(o.title ?? 'Linux')} {`);
  lines.push('  insmod gzio');
  lines.push(`  echo 'Loading ${kernel} ...'`);
  lines.push(`  linux ${kernel} ${o.cmdline}`);
  if (o.initrd) lines.push(`  echo 'Loading ${o.initrd} ...'`, `  initrd ${o.initrd}`);
  lines.push('}', '');
  return lines.join('\n');
}

export interface GrubFiles {
  /** The contents of /usr/lib/grub/i386-pc (or equivalent): name -> bytes. Needs moddep.lst and the .mod files. */
  get(name: string): Uint8Array | Content | undefined;
}

export interface AddGrubFilesOptions {
  /** grub.cfg text. */
  config: string;
  /** Extra modules to install (the defaults are GRUB_RUNTIME_MODULES). */
  modules?: readonly string[];
  /** Directory in the tree (default /boot/grub). */
  dir?: string;
}

/**
 * Put /boot/grub/grub.cfg, /boot/grub/i386-pc/*.mod (closure of the runtime
 * modules) and GRUB's *.lst index files into `tree`. Returns the module names.
 */
export function addGrubFiles(tree: FileTree, files: GrubFiles, opts: AddGrubFilesOptions): string[] {
  const dir = opts.dir ?? '/boot/grub';
  const moddepRaw = files.get('moddep.lst');
  if (!moddepRaw || !(moddepRaw instanceof Uint8Array)) {
    throw new UsageError(
      'E_USAGE_GRUB_FILES',
      'the GRUB file set has no moddep.lst (pass the i386-pc directory of grub-pc-bin)',
      { path: 'moddep.lst' },
    );
  }
  const moddep = parseModdep(new TextDecoder().decode(moddepRaw));
  const mods = grubModuleClosure(moddep, [...GRUB_RUNTIME_MODULES, ...(opts.modules ?? [])]);
  tree.mkdir(`${dir}/i386-pc`);
  for (const m of mods) {
    const c = files.get(`${m}.mod`);
    if (!c)
      throw new UsageError('E_USAGE_GRUB_FILES', `GRUB module file ${m}.mod is missing from the GRUB file set`, {
        path: `${m}.mod`,
      });
    tree.addFile(`${dir}/i386-pc/${m}.mod`, c, { mode: 0o644 }, { replace: true });
  }
  for (const lst of [
    'moddep.lst',
    'command.lst',
    'fs.lst',
    'partmap.lst',
    'parttool.lst',
    'terminal.lst',
    'video.lst',
    'crypto.lst',
  ]) {
    const c = files.get(lst);
    if (c) tree.addFile(`${dir}/i386-pc/${lst}`, c, { mode: 0o644 }, { replace: true });
  }
  tree.addFile(`${dir}/grub.cfg`, opts.config, { mode: 0o644 }, { replace: true });
  return mods;
}
