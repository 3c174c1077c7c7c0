/**
 * The VMDK descriptor: the text that names the disk's type, content id and
 * extents. Embedded in sector 1 of monolithicSparse and streamOptimized
 * files (written the way QEMU writes it), or a file of its own that points
 * at flat or sparse extent files.
 */
import { FormatError } from '../../errors.js';
import { SECTOR } from './structs.js';

export interface DescriptorInput {
  cid: number;
  createType: 'monolithicSparse' | 'streamOptimized';
  sectors: number;
  fileName: string;
  adapterType: string;
  uuid: string;
}

export function formatDescriptor(d: DescriptorInput): string {
  const cylinders = Math.min(Math.floor(d.sectors / (16 * 63)), 16383);
  const name = d.fileName.replace(/["\n\r]/g, '_');
  return [
    '# Disk DescriptorFile',
    'version=1',
    `CID=${d.cid.toString(16).padStart(8, '0')}`,
    'parentCID=ffffffff',
    `createType="${d.createType}"`,
    '',
    '# Extent description',
    `RW ${d.sectors} SPARSE "${name}"`,
    '',
    '# The Disk Data Base',
    '#DDB',
    '',
    'ddb.virtualHWVersion = "4"',
    `ddb.geometry.cylinders = "${cylinders}"`,
    'ddb.geometry.heads = "16"',
    'ddb.geometry.sectors = "63"',
    `ddb.adapterType = "${d.adapterType}"`,
    `ddb.uuid.image = "${d.uuid}"`,
    '',
  ].join('\n');
}

export interface DescriptorExtent {
  access: string;
  sectors: number;
  type: string;
  file: string;
  /** Sector offset in the file (FLAT extents). */
  offset: number;
}

export interface Descriptor {
  createType: string;
  cid?: string;
  parentCid?: string;
  extents: DescriptorExtent[];
  ddb: Record<string, string>;
}

const EXTENT_RE = /^(RW|RDONLY|NOACCESS)\s+(\d+)\s+(\w+)(?:\s+"([^"]*)"(?:\s+(\d+))?)?\s*$/;
/** Largest descriptor read (QEMU reads at most 1 MiB). */
export const MAX_DESCRIPTOR = 1 << 20;

export function parseDescriptor(text: string): Descriptor {
  const d: Descriptor = { createType: '', extents: [], ddb: {} };
  for (const raw of text.split(/\r?\n/)) {
    const line = raw.replace(/\0.*$/, '').trim();
    if (!line || line.startsWith('#')) continue;
    const ext = EXTENT_RE.exec(line);
    if (ext) {
      d.extents.push({
        access: ext[1]!,
        sectors: Number(ext[2]),
        type: ext[3]!,
        file: ext[4] ?? '',
        offset: Number(ext[5] ?? 0),
      });
      continue;
    }
    const kv = /^([\w.]+)\s*=\s*"?([^"]*)"?$/.exec(line);
    if (!kv) continue;
    const [, key, value] = kv as unknown as [string, string, string];
    if (key === 'createType') d.createType = value;
    else if (key === 'CID') d.cid = value;
    else if (key === 'parentCID') d.parentCid = value;
    else if (key.startsWith('ddb.')) d.ddb[key] = value;
  }
  for (const e of d.extents) {
    if (!Number.isSafeInteger(e.sectors * SECTOR) || !Number.isSafeInteger(e.offset * SECTOR)) {
      throw new FormatError(
        'E_FORMAT_VMDK_DESCRIPTOR',
        `VMDK descriptor: extent "${e.file}" of ${e.sectors} sectors is too large`,
        { format: 'vmdk', structure: 'descriptor' },
      );
    }
  }
  return d;
}

/** Does this text start like a descriptor file? */
export function looksLikeDescriptor(head: Uint8Array): boolean {
  const t = new TextDecoder('latin1').decode(head.subarray(0, 64));
  return /^\s*# Disk DescriptorFile/.test(t);
}
