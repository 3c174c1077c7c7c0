/**
 * FAT geometry: FAT type, sectors per cluster, reserved sectors, FAT length
 * and cluster count for a volume size, following mkfs.fat's rules (512-byte
 * sectors, two FATs, structures aligned to the cluster size above 8192
 * sectors, FAT32 cluster sizes per Microsoft's table, FAT32 by default from
 * 512 MiB) and keeping clear of the ambiguous cluster counts:
 * FAT12 <= 4084, FAT16 4087..65524, FAT32 >= 65525.
 */
import { CapacityError, UsageError } from '../../errors.js';

export type FatType = 'fat12' | 'fat16' | 'fat32';

export const SECTOR = 512;
export const NUM_FATS = 2;
export const MAX_CLUSTERS_12 = 4084;
export const MIN_CLUSTERS_16 = 4087;
export const MAX_CLUSTERS_16 = 65524;
export const MIN_CLUSTERS_32 = 65525;
export const MAX_CLUSTERS_32 = 0x0ffffff5 - 2;
export const DEFAULT_ROOT_ENTRIES = 512;
/** FAT32 volumes can be at most 2^32 - 1 sectors. */
export const MAX_SECTORS = 0xffffffff;

export interface FatGeometry {
  type: FatType;
  totalSectors: number;
  sectorsPerCluster: number;
  reservedSectors: number;
  fatSectors: number;
  /** Root directory entries (FAT12/16; 0 for FAT32). */
  rootEntries: number;
  rootSectors: number;
  /** First sector of the data area (cluster 2). */
  dataStart: number;
  clusters: number;
  sectorsPerTrack: number;
  heads: number;
}

const BITS: Record<FatType, number> = { fat12: 12, fat16: 16, fat32: 32 };

function alignUp(n: number, a: number): number {
  return Math.ceil(n / a) * a;
}

/** Layout for a fixed type and cluster size, or undefined when nothing fits. */
export function layoutFor(
  totalSectors: number,
  type: FatType,
  spc: number,
  rootEntriesWanted: number,
): FatGeometry | undefined {
  const align = totalSectors > 8192 ? spc : 1;
  const reservedSectors = alignUp(type === 'fat32' ? 32 : 1, align);
  const rootSectors = type === 'fat32' ? 0 : alignUp(Math.ceil((rootEntriesWanted * 32) / SECTOR), align);
  const rootEntries = type === 'fat32' ? 0 : (rootSectors * SECTOR) / 32;
  if (rootEntries > 0xffff) return undefined;
  const avail = totalSectors - reservedSectors - rootSectors;
  if (avail <= 0) return undefined;
  // Estimate as mkfs.fat does (data and both FATs share the space), then fix up until the FAT maps every cluster.
  const bits = BITS[type];
  let clusters = Math.floor((avail * SECTOR * 8 + NUM_FATS * 2 * bits) / (spc * SECTOR * 8 + NUM_FATS * bits));
  let fatSectors = alignUp(Math.ceil(Math.ceil(((clusters + 2) * bits) / 8) / SECTOR), align);
  for (let iter = 0; ; iter++) {
    clusters = Math.floor((avail - NUM_FATS * fatSectors) / spc);
    if (clusters <= 0) return undefined;
    if ((clusters + 2) * bits <= fatSectors * SECTOR * 8) break;
    if (iter > 64) return undefined;
    fatSectors += align;
  }
  const small = totalSectors * SECTOR < 512 * 1024 * 1024;
  return {
    type,
    totalSectors,
    sectorsPerCluster: spc,
    reservedSectors,
    fatSectors,
    rootEntries,
    rootSectors,
    dataStart: reservedSectors + NUM_FATS * fatSectors + rootSectors,
    clusters,
    sectorsPerTrack: small ? 32 : 63,
    heads: small ? 64 : 255,
  };
}

function validCount(type: FatType, clusters: number): boolean {
  if (type === 'fat12') return clusters <= MAX_CLUSTERS_12;
  if (type === 'fat16') return clusters >= MIN_CLUSTERS_16 && clusters <= MAX_CLUSTERS_16;
  return clusters >= MIN_CLUSTERS_32 && clusters <= MAX_CLUSTERS_32;
}

/** mkfs.fat's FAT32 default: 0.5k clusters up to 260 MiB, 4k to 8 GiB, 8k to 16 GiB, 16k to 32 GiB, then 32k. */
export function fat32DefaultSpc(bytes: number): number {
  const mb = Math.floor(bytes / (1024 * 1024));
  return mb > 32 * 1024 ? 64 : mb > 16 * 1024 ? 32 : mb > 8 * 1024 ? 16 : mb > 260 ? 8 : 1;
}

/**
 * Choose the geometry for a volume of `bytes`. `type` forces the FAT type
 * (CapacityError when the size cannot hold it); `spc` forces the cluster size.
 */
export function chooseGeometry(
  bytes: number,
  opts: { type?: FatType | undefined; rootEntries?: number; spc?: number | undefined } = {},
): FatGeometry {
  const totalSectors = Math.floor(bytes / SECTOR);
  if (totalSectors > MAX_SECTORS) {
    throw new CapacityError(
      'E_LIMIT_FAT_SIZE',
      `FAT volumes hold at most ${MAX_SECTORS} sectors of 512 bytes (2 TiB); ${bytes} bytes asked`,
      { expected: MAX_SECTORS * SECTOR, actual: bytes },
    );
  }
  if (
    opts.spc !== undefined &&
    (!Number.isInteger(opts.spc) || opts.spc < 1 || opts.spc > 128 || (opts.spc & (opts.spc - 1)) !== 0)
  ) {
    throw new UsageError(
      'E_USAGE_FAT_CLUSTER',
      `sectors per cluster must be a power of two from 1 to 128, got ${opts.spc}`,
      { actual: opts.spc },
    );
  }
  const rootEntries = Math.max(DEFAULT_ROOT_ENTRIES, opts.rootEntries ?? 0);
  let type = opts.type;
  if (!type && bytes >= 512 * 1024 * 1024) type = 'fat32';
  const candidates = (start: number, lowFirst: number[] = []): number[] => {
    if (opts.spc) return [opts.spc];
    const out: number[] = [];
    for (let s = start; s <= 128; s *= 2) out.push(s);
    return [...out, ...lowFirst];
  };
  if (!type) {
    // mkfs.fat: start at 4 sectors per cluster, double until FAT12 or FAT16 fits; prefer the type with more clusters.
    for (const spc of candidates(4, [2, 1])) {
      const g12 = layoutFor(totalSectors, 'fat12', spc, rootEntries);
      const g16 = layoutFor(totalSectors, 'fat16', spc, rootEntries);
      const c12 = g12 && validCount('fat12', g12.clusters) ? g12.clusters : 0;
      const c16 = g16 && validCount('fat16', g16.clusters) ? g16.clusters : 0;
      if (c12 || c16) return c16 > c12 ? g16! : g12!;
    }
    throw tooSmall(bytes, 'any FAT type');
  }
  const order = type === 'fat32' ? candidates(fat32DefaultSpc(bytes)) : candidates(4, [2, 1]);
  // FAT32 with the default cluster size too big for the minimum count: try smaller clusters.
  if (type === 'fat32' && !opts.spc) for (let s = fat32DefaultSpc(bytes) / 2; s >= 1; s /= 2) order.push(s);
  let best: FatGeometry | undefined;
  for (const spc of order) {
    const g = layoutFor(totalSectors, type, spc, rootEntries);
    if (!g) continue;
    if (validCount(type, g.clusters)) return g;
    best ??= g;
  }
  throw tooSmall(bytes, type, best);
}

function tooSmall(bytes: number, what: string, g?: FatGeometry): CapacityError {
  const min =
    what === 'fat16'
      ? `at least ${MIN_CLUSTERS_16} clusters (about ${Math.ceil(((MIN_CLUSTERS_16 * 512 + 64 * 1024) / 1024 / 1024) * 10) / 10 + 0.1} MiB or more)`
      : what === 'fat32'
        ? `at least ${MIN_CLUSTERS_32} clusters (about 33 MiB or more)`
        : what === 'fat12'
          ? `at most ${MAX_CLUSTERS_12} clusters of up to 64 KiB (at most about 255 MiB)`
          : 'room for the FATs, the root directory and one cluster';
  return new CapacityError(
    'E_SPACE_FAT_SIZE',
    `a ${bytes}-byte volume cannot hold ${what === 'any FAT type' ? 'a FAT filesystem' : what.toUpperCase()}: it needs ${min}${g ? `; this size gives ${g.clusters} clusters` : ''}`,
    { expected: what, actual: bytes },
  );
}
