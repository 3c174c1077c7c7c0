/**
 * FAT12/16/32 reader: BlockDevice -> FileTree with lazy contents read from
 * the device. Validates the BPB against the device size before allocating
 * anything, reads the first FAT once (bounded by the device), and checks
 * every cluster chain for out-of-range clusters, free or bad entries, loops
 * and chains shorter than the size claims: corruption is a FormatError,
 * never a hang or a huge allocation.
 */
import { formatFailure } from '../../errors.js';
import type { BlockDevice } from '../../io/device.js';
import { FileTree } from '../../tree/tree.js';
import type { Content, DirNode, FileNode, TreeNode } from '../../tree/types.js';
import type { FatType } from './layout.js';
import { decodeShortName, fromDosDateTime, shortNameChecksum } from './names.js';
import {
  ATTR_DIRECTORY,
  ATTR_LONG_NAME,
  ATTR_READ_ONLY,
  ATTR_VOLUME_ID,
  BOOT_SIGNATURE_OFFSET,
  BPB,
  DIRENT,
  EBPB16,
  EBPB32,
  FSINFO,
  FSINFO_LEAD,
  FSINFO_STRUCT,
  LFN,
  LFN_LAST,
} from './structs.js';

export interface FatInfo {
  type: FatType;
  sectorSize: number;
  clusterSize: number;
  clusters: number;
  freeClusters: number;
  /** Label from the root directory's volume entry, else the boot sector ('' when none). */
  label: string;
  volumeId: number;
  /** Volume id as DOS/blkid print it, e.g. "C436-DC2B". */
  volumeIdString: string;
  oemName: string;
  hiddenSectors: number;
  fatCount: number;
  totalSectors: number;
  reservedSectors: number;
  fatSectors: number;
  rootEntries: number;
  media: number;
  /** FAT32 FSInfo free count and next-free hint (undefined elsewhere or when invalid). */
  fsInfoFree?: number | undefined;
  fsInfoNextFree?: number | undefined;
}

export interface FatVolume {
  tree: FileTree;
  info: FatInfo;
}

const CHUNK = 1 << 20;

const fail = formatFailure('FAT', 'fat');

function ascii(b: Uint8Array): string {
  let s = '';
  for (const c of b) s += String.fromCharCode(c);
  return s;
}

export function openFat(dev: BlockDevice): FatVolume {
  if (dev.size < 512)
    throw fail('E_FORMAT_FAT_TRUNCATED', `device of ${dev.size} bytes is too small for a boot sector`, {
      expected: 512,
      actual: dev.size,
    });
  const boot = dev.readAt(0, 512);
  const bpb = BPB.decode(boot);
  const jmp = bpb.jmpBoot;
  const sig = boot[BOOT_SIGNATURE_OFFSET] === 0x55 && boot[BOOT_SIGNATURE_OFFSET + 1] === 0xaa;
  if (!(jmp[0] === 0xeb && jmp[2] === 0x90) && jmp[0] !== 0xe9 && !sig) {
    throw fail('E_FORMAT_FAT_MAGIC', 'no boot sector jump or 0x55AA signature: not a FAT filesystem', {
      structure: 'boot sector',
      offset: 0,
    });
  }
  const bps = bpb.bytesPerSector;
  if (![512, 1024, 2048, 4096].includes(bps))
    throw fail('E_FORMAT_FAT_BPB', `bytes per sector ${bps} is not 512, 1024, 2048 or 4096`, {
      field: 'bytesPerSector',
      actual: bps,
    });
  const spc = bpb.sectorsPerCluster;
  if (spc < 1 || spc > 128 || (spc & (spc - 1)) !== 0)
    throw fail('E_FORMAT_FAT_BPB', `sectors per cluster ${spc} is not a power of two up to 128`, {
      field: 'sectorsPerCluster',
      actual: spc,
    });
  if (bpb.reservedSectors < 1)
    throw fail('E_FORMAT_FAT_BPB', 'no reserved sectors', { field: 'reservedSectors', actual: 0 });
  if (bpb.numFats < 1 || bpb.numFats > 16)
    throw fail('E_FORMAT_FAT_BPB', `number of FATs ${bpb.numFats} out of range`, {
      field: 'numFats',
      actual: bpb.numFats,
    });
  const totalSectors = bpb.totalSectors16 || bpb.totalSectors32;
  const isFat32 = bpb.fatSize16 === 0;
  const e32 = EBPB32.decode(boot, BPB.size);
  const e16 = EBPB16.decode(boot, BPB.size);
  const fatSectors = isFat32 ? e32.fatSize32 : bpb.fatSize16;
  if (fatSectors === 0) throw fail('E_FORMAT_FAT_BPB', 'FAT size is 0', { field: 'fatSize', actual: 0 });
  if (isFat32 && bpb.rootEntries !== 0)
    throw fail('E_FORMAT_FAT_BPB', `FAT32 volume with ${bpb.rootEntries} fixed root entries`, {
      field: 'rootEntries',
      actual: bpb.rootEntries,
    });
  const cs = bps * spc;
  if (totalSectors * bps > dev.size) {
    throw fail(
      'E_FORMAT_FAT_TRUNCATED',
      `filesystem claims ${totalSectors} sectors (${totalSectors * bps} bytes) but the device has ${dev.size} bytes`,
      { field: 'totalSectors', expected: dev.size, actual: totalSectors * bps },
    );
  }
  const rootSectors = Math.ceil((bpb.rootEntries * 32) / bps);
  const fatStart = bpb.reservedSectors;
  const dataStart = fatStart + bpb.numFats * fatSectors + rootSectors;
  if (dataStart >= totalSectors)
    throw fail('E_FORMAT_FAT_BPB', `data area starts at sector ${dataStart}, past the end (${totalSectors} sectors)`, {
      field: 'totalSectors',
      actual: totalSectors,
    });
  const clusters = Math.floor((totalSectors - dataStart) / spc);
  const type: FatType = isFat32 ? 'fat32' : clusters < 4085 ? 'fat12' : 'fat16';
  if (!isFat32 && clusters >= 65525)
    throw fail('E_FORMAT_FAT_BPB', `${clusters} clusters is too many for a FAT12/16 volume`, {
      field: 'clusters',
      actual: clusters,
    });
  const entBytes = type === 'fat32' ? 4 : type === 'fat16' ? 2 : 1.5;
  const fatLen = Math.ceil((clusters + 2) * entBytes);
  if (fatLen > fatSectors * bps)
    throw fail('E_FORMAT_FAT_BPB', `FAT of ${fatSectors} sectors cannot map ${clusters} clusters`, {
      field: 'fatSize',
      actual: fatSectors,
    });

  // Decode the active FAT: the first, unless FAT32 mirroring is off (extFlags bit 7), then the one it names.
  const activeFat = isFat32 && e32.extFlags & 0x80 ? e32.extFlags & 0x0f : 0;
  if (activeFat >= bpb.numFats)
    throw fail('E_FORMAT_FAT_BPB', `active FAT ${activeFat} does not exist (${bpb.numFats} FATs)`, {
      field: 'extFlags',
      actual: e32.extFlags,
    });
  const raw = dev.readAt((fatStart + activeFat * fatSectors) * bps, fatLen);
  const fat = new Uint32Array(clusters + 2);
  if (type === 'fat32') {
    const v = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
    for (let i = 0; i < clusters + 2; i++) fat[i] = v.getUint32(i * 4, true) & 0x0fffffff;
  } else if (type === 'fat16') {
    for (let i = 0; i < clusters + 2; i++) fat[i] = raw[i * 2]! | (raw[i * 2 + 1]! << 8);
  } else {
    for (let i = 0; i < clusters + 2; i++) {
      const o = (i * 3) >> 1;
      const w = raw[o]! | ((raw[o + 1] ?? 0) << 8);
      fat[i] = i & 1 ? w >>> 4 : w & 0xfff;
    }
  }
  const EOC = type === 'fat32' ? 0x0ffffff8 : type === 'fat16' ? 0xfff8 : 0xff8;
  const BAD = EOC - 1;
  let free = 0;
  for (let i = 2; i < clusters + 2; i++) if (fat[i] === 0) free++;
  const maxCluster = clusters + 1;
  /** Clusters already owned by a chain: a second claim is a loop or a cross-link. */
  const claimed = new Uint8Array(clusters + 2);

  /** Runs [first cluster, count] of a chain; `limit` clusters at most (files), else until EOC. */
  const chainRuns = (start: number, limit: number | undefined, what: string): Array<[number, number]> => {
    const runs: Array<[number, number]> = [];
    let c = start;
    let steps = 0;
    const max = limit ?? clusters;
    while (true) {
      if (c < 2 || c > maxCluster)
        throw fail('E_FORMAT_FAT_CLUSTER', `${what}: cluster ${c} is outside 2..${maxCluster}`, {
          path: what,
          actual: c,
        });
      if (claimed[c])
        throw fail('E_FORMAT_FAT_LOOP', `${what}: cluster ${c} is already used (a loop or a cross-linked chain)`, {
          path: what,
          actual: c,
        });
      claimed[c] = 1;
      const last = runs[runs.length - 1];
      if (last && last[0] + last[1] === c) last[1]++;
      else runs.push([c, 1]);
      steps++;
      if (limit !== undefined && steps === limit) return runs;
      const n = fat[c]!;
      if (n >= EOC) {
        if (limit !== undefined)
          throw fail(
            'E_FORMAT_FAT_CHAIN_SHORT',
            `${what}: cluster chain ends after ${steps} clusters, the size needs ${limit}`,
            { path: what, expected: limit, actual: steps },
          );
        return runs;
      }
      if (n === 0)
        throw fail('E_FORMAT_FAT_CHAIN', `${what}: cluster ${c} links to a free cluster`, { path: what, actual: c });
      if (n === BAD)
        throw fail('E_FORMAT_FAT_CHAIN', `${what}: cluster chain reaches a bad cluster`, { path: what, actual: c });
      if (steps >= max)
        throw fail('E_FORMAT_FAT_LOOP', `${what}: cluster chain is longer than the volume (a loop)`, {
          path: what,
          actual: steps,
        });
      c = n;
    }
  };
  const clusterOffset = (c: number) => (dataStart + (c - 2) * spc) * bps;
  let dirBytesRead = 0;
  const readRuns = (runs: Array<[number, number]>): Uint8Array => {
    const total = runs.reduce((n, r) => n + r[1], 0) * cs;
    dirBytesRead += total;
    if (dirBytesRead > dev.size)
      throw fail(
        'E_FORMAT_FAT_LOOP',
        'directories overlap (cross-linked chains): more directory data than the volume holds',
        {},
      );
    const out = new Uint8Array(total);
    let o = 0;
    for (const [c, n] of runs) {
      out.set(dev.readAt(clusterOffset(c), n * cs), o);
      o += n * cs;
    }
    return out;
  };

  const tree = new FileTree();
  let label = '';
  const rootClusterOk = !isFat32 || (e32.rootCluster >= 2 && e32.rootCluster <= maxCluster);
  if (!rootClusterOk)
    throw fail('E_FORMAT_FAT_BPB', `root directory cluster ${e32.rootCluster} is outside 2..${maxCluster}`, {
      field: 'rootCluster',
      actual: e32.rootCluster,
    });

  const fileContent = (runs: Array<[number, number]>, size: number): Content => {
    const readAt = (pos: number, len: number): Uint8Array => {
      const end = Math.min(size, pos + Math.max(0, len));
      if (pos >= end) return new Uint8Array(0);
      const out = new Uint8Array(end - pos);
      let base = 0;
      for (const [c, n] of runs) {
        const rlen = n * cs;
        const s = Math.max(pos, base);
        const e = Math.min(end, base + rlen);
        if (s < e) out.set(dev.readAt(clusterOffset(c) + (s - base), e - s), s - pos);
        base += rlen;
        if (base >= end) break;
      }
      return out;
    };
    return {
      size,
      readAt,
      async *stream() {
        for (let p = 0; p < size; p += CHUNK) yield readAt(p, CHUNK);
      },
    };
  };

  const visitedDirs = new Set<number>();
  const queue: Array<{ node: DirNode; data: Uint8Array; path: string; root: boolean }> = [];
  const rootData = isFat32
    ? (visitedDirs.add(e32.rootCluster), readRuns(chainRuns(e32.rootCluster, undefined, '/')))
    : dev.readAt((fatStart + bpb.numFats * fatSectors) * bps, rootSectors * bps);
  queue.push({ node: tree.root, data: rootData, path: '/', root: true });
  let entriesSeen = 0;
  while (queue.length) {
    const { node, data, path, root } = queue.shift()!;
    let lfnUnits: number[][] = [];
    let lfnExpect = 0;
    let lfnSum = -1;
    for (let off = 0; off + 32 <= data.length; off += 32) {
      const first = data[off]!;
      if (first === 0) break;
      if (first === 0xe5) {
        lfnExpect = 0;
        continue;
      }
      const attr = data[off + 11]!;
      if ((attr & 0x3f) === ATTR_LONG_NAME) {
        const l = LFN.decode(data, off);
        const ordN = l.ord & 0x1f;
        const units: number[] = [];
        for (const part of [l.name1, l.name2, l.name3])
          for (let i = 0; i < part.length; i += 2) units.push(part[i]! | (part[i + 1]! << 8));
        if (l.ord & LFN_LAST) {
          lfnUnits = [];
          lfnUnits[ordN] = units;
          lfnExpect = ordN - 1;
          lfnSum = ordN >= 1 && ordN <= 20 ? l.checksum : -1;
          if (lfnSum < 0) lfnExpect = 0;
        } else if (lfnExpect > 0 && ordN === lfnExpect && l.checksum === lfnSum) {
          lfnUnits[ordN] = units;
          lfnExpect--;
        } else {
          lfnSum = -1;
          lfnExpect = 0;
        }
        continue;
      }
      const e = DIRENT.decode(data, off);
      const haveLfn = lfnSum >= 0 && lfnExpect === 0 && shortNameChecksum(e.name) === lfnSum;
      const units = haveLfn ? lfnUnits.slice(1).flat() : [];
      lfnSum = -1;
      lfnExpect = 0;
      if (attr & ATTR_VOLUME_ID) {
        if (root && !(attr & ATTR_DIRECTORY) && !label) label = ascii(e.name).replace(/ +$/, '');
        continue;
      }
      if (++entriesSeen > clusters * (cs / 32) + 65536)
        throw fail('E_FORMAT_FAT_LOOP', 'more directory entries than the volume can hold', {});
      let name: string;
      if (haveLfn) {
        const z = units.indexOf(0);
        name = String.fromCharCode(...(z >= 0 ? units.slice(0, z) : units));
      } else {
        name = decodeShortName(e.name, e.ntRes);
      }
      if (name === '.' || name === '..') continue;
      const cpath = path === '/' ? `/${name}` : `${path}/${name}`;
      if (name === '' || name.includes('/') || name.includes('\0'))
        throw fail('E_FORMAT_FAT_NAME', `invalid name ${JSON.stringify(name)} in ${path}`, { path: cpath });
      if (node.children.has(name))
        throw fail('E_FORMAT_FAT_NAME', `${cpath} appears twice in its directory`, { path: cpath });
      const cluster = isFat32 ? (e.clusterHi << 16) | e.clusterLo : e.clusterLo;
      const w = fromDosDateTime(e.writeDate, e.writeTime);
      const c = fromDosDateTime(e.createDate, e.createTime, e.createTimeTenth);
      const a = fromDosDateTime(e.accessDate, 0);
      const ro = (attr & ATTR_READ_ONLY) !== 0;
      if (attr & ATTR_DIRECTORY) {
        const meta = tree.meta('dir', { mode: ro ? 0o555 : 0o755, mtime: w, atime: a, ctime: c });
        const dir: DirNode = { type: 'dir', ...meta, children: new Map() };
        node.children.set(name, dir);
        if (cluster === 0) throw fail('E_FORMAT_FAT_CLUSTER', `directory ${cpath} has no cluster`, { path: cpath });
        if (visitedDirs.has(cluster))
          throw fail(
            'E_FORMAT_FAT_LOOP',
            `directory ${cpath} reuses cluster ${cluster} of another directory (a loop)`,
            { path: cpath, actual: cluster },
          );
        visitedDirs.add(cluster);
        queue.push({ node: dir, data: readRuns(chainRuns(cluster, undefined, cpath)), path: cpath, root: false });
      } else {
        const size = e.fileSize;
        const need = Math.ceil(size / cs);
        if (need > clusters)
          throw fail('E_FORMAT_FAT_SIZE', `${cpath} claims ${size} bytes, more than the volume holds`, {
            path: cpath,
            actual: size,
          });
        const runs = need === 0 ? [] : chainRuns(cluster, need, cpath);
        const meta = tree.meta('file', { mode: ro ? 0o444 : 0o644, mtime: w, atime: a, ctime: c });
        const file: FileNode = { type: 'file', ...meta, content: fileContent(runs, size) };
        node.children.set(name, file as TreeNode);
      }
    }
  }

  const bootLabel = ascii(isFat32 ? e32.volumeLabel : e16.volumeLabel).replace(/ +$/, '');
  const hasExt = (isFat32 ? e32.bootSignature : e16.bootSignature) === 0x29;
  const volumeId = hasExt ? (isFat32 ? e32.volumeId : e16.volumeId) : 0;
  let fsInfoFree: number | undefined;
  let fsInfoNextFree: number | undefined;
  if (isFat32 && e32.fsInfoSector > 0 && e32.fsInfoSector < bpb.reservedSectors) {
    const fi = FSINFO.decode(dev.readAt(e32.fsInfoSector * bps, 512));
    if (fi.leadSignature === FSINFO_LEAD && fi.structSignature === FSINFO_STRUCT) {
      fsInfoFree = fi.freeCount;
      fsInfoNextFree = fi.nextFree;
    }
  }
  const hex = volumeId.toString(16).toUpperCase().padStart(8, '0');
  return {
    tree,
    info: {
      type,
      sectorSize: bps,
      clusterSize: cs,
      clusters,
      freeClusters: free,
      label: label || (hasExt && bootLabel !== 'NO NAME' ? bootLabel : ''),
      volumeId,
      volumeIdString: `${hex.slice(0, 4)}-${hex.slice(4)}`,
      oemName: ascii(bpb.oemName).replace(/ +$/, ''),
      hiddenSectors: bpb.hiddenSectors,
      fatCount: bpb.numFats,
      totalSectors,
      reservedSectors: bpb.reservedSectors,
      fatSectors,
      rootEntries: bpb.rootEntries,
      media: bpb.media,
      fsInfoFree,
      fsInfoNextFree,
    },
  };
}
