/**
 * Ext4Options -> a resolved configuration: feature set per type (mke2fs's
 * defaults minus resize_inode), `-O`-style toggles, block/inode sizes,
 * UUID and hash seed (uuid v5 from the label and epoch unless given).
 */
import { v5 as uuidv5, parse as uuidParse } from 'uuid';
import { UsageError } from '../../errors.js';
import type { Progress } from '../../progress.js';
import { featureBit, featureNames, type FeatureSet } from './structs.js';

export type ExtType = 'ext2' | 'ext3' | 'ext4';

export interface Ext4Options {
  /** ext4 (default), ext3 or ext2: selects the default feature set. */
  type?: ExtType;
  /** Filesystem size in bytes (default: the device size for writeExt4). */
  size?: number;
  /** 1024, 2048 or 4096 (default 4096). */
  blockSize?: number;
  /** 128 or 256 (default 256). */
  inodeSize?: number;
  /** Exact inode count (rounded up to whole inode-table blocks per group). */
  inodes?: number;
  /** One inode per this many bytes (default 16384), raised when the tree needs more. */
  bytesPerInode?: number;
  /** Blocks reserved for root, percent (default 5). */
  reservedPercent?: number;
  /** Volume label, at most 16 bytes. */
  label?: string;
  /** Filesystem UUID (default: uuid v5 of type, label, epoch and the tree's metadata fingerprint). */
  uuid?: string;
  /** htree hash seed as a UUID (default: uuid v5 like the UUID). */
  hashSeed?: string;
  /** htree hash for directories (s_def_hash_version), like mke2fs -E hash_alg= (default half_md4). */
  hashAlg?: 'half_md4' | 'tea' | 'legacy';
  /** mke2fs -O style toggles: "^has_journal,+uninit_bg,^metadata_csum". */
  features?: string;
  /** Free space to add when sizing automatically, percent of the content (default 10). */
  headroom?: number;
  /** Filesystem creation/write time in seconds (default 0; the CLI passes SOURCE_DATE_EPOCH). */
  epoch?: number;
  /** Journal size in blocks (default like mke2fs, by filesystem size). */
  journalBlocks?: number;
  progress?: Progress;
}

const BASE: Record<ExtType, string[]> = {
  ext2: ['ext_attr', 'dir_index', 'filetype', 'sparse_super', 'large_file'],
  ext3: ['has_journal', 'ext_attr', 'dir_index', 'filetype', 'sparse_super', 'large_file'],
  ext4: [
    'has_journal',
    'ext_attr',
    'dir_index',
    'filetype',
    'extent',
    '64bit',
    'flex_bg',
    'sparse_super',
    'large_file',
    'huge_file',
    'dir_nlink',
    'extra_isize',
    'metadata_csum',
  ],
};

/** Features this writer can produce (ext4's defaults, uninit_bg and inline_data); anything else is rejected. */
export const SUPPORTED_FEATURES = new Set([...BASE.ext4, 'uninit_bg', 'inline_data']);

/** The default feature names of a type, in dumpe2fs order. */
export function defaultFeatures(type: ExtType): string[] {
  return featureNames(toSet(BASE[type]));
}

function toSet(names: Iterable<string>): FeatureSet {
  const s: FeatureSet = { compat: 0, incompat: 0, ro_compat: 0 };
  for (const n of names) {
    const fb = featureBit(n)!;
    s[fb[0]] = (s[fb[0]] | fb[1]) >>> 0;
  }
  return s;
}

/** Apply "^a,+b,c" toggles to the type's defaults. */
export function resolveFeatures(type: ExtType, toggles: string | undefined): Set<string> {
  const on = new Set(BASE[type]);
  const explicitOff = new Set<string>();
  const explicitOn = new Set<string>();
  for (const raw of (toggles ?? '').split(/[,\s]+/)) {
    if (!raw) continue;
    const off = raw.startsWith('^') || raw.startsWith('-');
    const name0 = raw.replace(/^[-+^]/, '');
    if (name0 === 'none') {
      on.clear();
      continue;
    }
    const fb = featureBit(name0);
    if (!fb)
      throw new UsageError(
        'E_USAGE_FEATURE',
        `unknown ext4 feature '${name0}' (known: ${[...SUPPORTED_FEATURES].join(', ')})`,
        { field: 'features', actual: name0 },
      );
    const canonical = featureNames({ compat: 0, incompat: 0, ro_compat: 0, [fb[0]]: fb[1] } as FeatureSet)[0]!;
    if (off) {
      on.delete(canonical);
      explicitOff.add(canonical);
      continue;
    }
    if (!SUPPORTED_FEATURES.has(canonical)) {
      throw new UsageError(
        'E_USAGE_FEATURE',
        `feature '${canonical}' is not supported by this writer (supported: ${[...SUPPORTED_FEATURES].join(', ')})`,
        { field: 'features', actual: canonical },
      );
    }
    on.add(canonical);
    explicitOn.add(canonical);
  }
  if (on.has('metadata_csum')) on.delete('uninit_bg');
  else if (type === 'ext4' && !explicitOff.has('uninit_bg') && explicitOff.has('metadata_csum')) on.add('uninit_bg');
  if (on.has('64bit') && !on.has('extent')) {
    throw new UsageError('E_USAGE_FEATURE', "the 64bit feature needs 'extent' (turn off 64bit too: ^64bit)", {
      field: 'features',
    });
  }
  if ((on.has('huge_file') || on.has('dir_nlink') || on.has('extra_isize')) && !on.has('extent') && type === 'ext4') {
    // allowed by the kernel; nothing to do
  }
  for (const f of on)
    if (!SUPPORTED_FEATURES.has(f))
      throw new UsageError('E_USAGE_FEATURE', `feature '${f}' is not supported by this writer`, {
        field: 'features',
        actual: f,
      });
  return on;
}

export interface Config {
  type: ExtType;
  features: Set<string>;
  set: FeatureSet;
  blockSize: number;
  inodeSize: number;
  bytesPerInode: number;
  inodes: number | undefined;
  reservedPercent: number;
  label: Uint8Array;
  uuid: Uint8Array;
  hashSeed: Uint8Array;
  headroom: number;
  epoch: number;
  journalBlocks: number | undefined;
  /** DX_HASH value (signed variant; the unsigned one is used via s_flags). */
  hashVersion: number;
  has(f: string): boolean;
}

/** Namespace for tinyimage's derived ext UUIDs (a fixed random UUID). */
const NS = 'a3c1f3d2-6a35-4c5e-9b7e-2f0d1c8e4b61';

/** `fingerprint`: the tree's (treeFingerprint), so default ids differ between different trees. */
export function resolveConfig(opts: Ext4Options = {}, fingerprint = ''): Config {
  const type = opts.type ?? 'ext4';
  if (type !== 'ext2' && type !== 'ext3' && type !== 'ext4')
    throw new UsageError('E_USAGE_FS_TYPE', `unknown ext type '${String(type)}' (ext2, ext3 or ext4)`, {
      actual: type,
    });
  const blockSize = opts.blockSize ?? 4096;
  if (![1024, 2048, 4096].includes(blockSize))
    throw new UsageError('E_USAGE_BLOCK_SIZE', `block size must be 1024, 2048 or 4096, got ${blockSize}`, {
      field: 'blockSize',
      actual: blockSize,
    });
  const inodeSize = opts.inodeSize ?? 256;
  if (inodeSize !== 128 && inodeSize !== 256)
    throw new UsageError('E_USAGE_INODE_SIZE', `inode size must be 128 or 256, got ${inodeSize}`, {
      field: 'inodeSize',
      actual: inodeSize,
    });
  const features = resolveFeatures(type, opts.features);
  if (inodeSize === 128) features.delete('extra_isize');
  if (features.has('inline_data') && (inodeSize === 128 || !features.has('ext_attr'))) {
    throw new UsageError('E_USAGE_FEATURE', 'inline_data needs 256-byte inodes and the ext_attr feature', {
      field: 'features',
      actual: 'inline_data',
    });
  }
  const label = new TextEncoder().encode(opts.label ?? '');
  if (label.length > 16)
    throw new UsageError(
      'E_USAGE_LABEL',
      `label '${opts.label}' is ${label.length} bytes; ext labels hold at most 16`,
      { field: 'label', actual: opts.label },
    );
  const epoch = opts.epoch ?? 0;
  if (!Number.isInteger(epoch) || epoch < 0)
    throw new UsageError('E_USAGE_EPOCH', `epoch must be a non-negative integer, got ${epoch}`, {
      field: 'epoch',
      actual: epoch,
    });
  const parseU = (v: string, field: string) => {
    if (!/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(v))
      throw new UsageError('E_USAGE_UUID', `${field} '${v}' is not a UUID`, { field, actual: v });
    return Uint8Array.from(
      v
        .replace(/-/g, '')
        .match(/../g)!
        .map((h) => parseInt(h, 16)),
    );
  };
  const seedName = `${type}\0${opts.label ?? ''}\0${epoch}${fingerprint ? `\0${fingerprint}` : ''}`;
  const uuid =
    opts.uuid !== undefined ? parseU(opts.uuid, 'uuid') : Uint8Array.from(uuidParse(uuidv5(`uuid\0${seedName}`, NS)));
  const hashSeed =
    opts.hashSeed !== undefined
      ? parseU(opts.hashSeed, 'hashSeed')
      : Uint8Array.from(uuidParse(uuidv5(`hash_seed\0${seedName}`, NS)));
  const num = (v: number | undefined, field: string, min: number, max: number, def: number) => {
    const x = v ?? def;
    if (typeof x !== 'number' || !Number.isFinite(x) || x < min || x > max)
      throw new UsageError('E_USAGE_OPTION', `${field} must be between ${min} and ${max}, got ${x}`, {
        field,
        actual: x,
      });
    return x;
  };
  const bytesPerInode = num(opts.bytesPerInode, 'bytesPerInode', 1024, 1 << 26, 16384);
  const reservedPercent = num(opts.reservedPercent, 'reservedPercent', 0, 50, 5);
  const headroom = num(opts.headroom, 'headroom', 0, 10000, 10);
  if (opts.inodes !== undefined) num(opts.inodes, 'inodes', 16, 0xfffffff0, 0);
  if (opts.journalBlocks !== undefined) num(opts.journalBlocks, 'journalBlocks', 1024, 10240000, 0);
  const hashAlg = opts.hashAlg ?? 'half_md4';
  const hashVersion = ({ legacy: 0, half_md4: 1, tea: 2 } as Record<string, number>)[hashAlg];
  if (hashVersion === undefined)
    throw new UsageError('E_USAGE_OPTION', `hashAlg must be half_md4, tea or legacy, got '${hashAlg}'`, {
      field: 'hashAlg',
      actual: hashAlg,
    });
  const set = toSet(features);
  return {
    type,
    features,
    set,
    blockSize,
    inodeSize,
    bytesPerInode,
    inodes: opts.inodes,
    reservedPercent,
    label,
    uuid,
    hashSeed,
    headroom,
    epoch,
    journalBlocks: opts.journalBlocks,
    hashVersion,
    has: (f) => features.has(f),
  };
}
