/**
 * ext2/3/4 feature bits (s_feature_compat, s_feature_incompat,
 * s_feature_ro_compat) as named constants, with the names mke2fs -O takes and
 * dumpe2fs prints. The one place every feature bit is spelled: the writer,
 * the reader and image detection (src/core/open) all use these.
 */

/** s_feature_compat: a kernel that does not know the bit may still mount read-write. */
export const COMPAT = {
  DIR_PREALLOC: 0x1,
  IMAGIC_INODES: 0x2,
  HAS_JOURNAL: 0x4,
  EXT_ATTR: 0x8,
  RESIZE_INODE: 0x10,
  DIR_INDEX: 0x20,
  LAZY_BG: 0x40,
  SNAPSHOT_BITMAP: 0x80,
  EXCLUDE_BITMAP: 0x100,
  SPARSE_SUPER2: 0x200,
  FAST_COMMIT: 0x400,
  STABLE_INODES: 0x800,
  ORPHAN_FILE: 0x1000,
} as const;

/** s_feature_ro_compat: an unknown bit allows read-only mounts only. */
export const RO_COMPAT = {
  SPARSE_SUPER: 0x1,
  LARGE_FILE: 0x2,
  BTREE_DIR: 0x4,
  HUGE_FILE: 0x8,
  GDT_CSUM: 0x10,
  DIR_NLINK: 0x20,
  EXTRA_ISIZE: 0x40,
  SNAPSHOT: 0x80,
  QUOTA: 0x100,
  BIGALLOC: 0x200,
  METADATA_CSUM: 0x400,
  REPLICA: 0x800,
  READONLY: 0x1000,
  PROJECT: 0x2000,
  SHARED_BLOCKS: 0x4000,
  VERITY: 0x8000,
  ORPHAN_PRESENT: 0x10000,
} as const;

/** s_feature_incompat: an unknown bit forbids mounting. */
export const INCOMPAT = {
  COMPRESSION: 0x1,
  FILETYPE: 0x2,
  RECOVER: 0x4,
  JOURNAL_DEV: 0x8,
  META_BG: 0x10,
  EXTENTS: 0x40,
  BIT64: 0x80,
  MMP: 0x100,
  FLEX_BG: 0x200,
  EA_INODE: 0x400,
  DIRDATA: 0x1000,
  CSUM_SEED: 0x2000,
  LARGEDIR: 0x4000,
  INLINE_DATA: 0x8000,
  ENCRYPT: 0x10000,
  CASEFOLD: 0x20000,
} as const;

export type FeatureKind = 'compat' | 'incompat' | 'ro_compat';

/** Feature bits with the names mke2fs -O takes and dumpe2fs prints. */
export const FEATURES: ReadonlyArray<readonly [kind: FeatureKind, bit: number, name: string]> = [
  ['compat', COMPAT.DIR_PREALLOC, 'dir_prealloc'],
  ['compat', COMPAT.IMAGIC_INODES, 'imagic_inodes'],
  ['compat', COMPAT.HAS_JOURNAL, 'has_journal'],
  ['compat', COMPAT.EXT_ATTR, 'ext_attr'],
  ['compat', COMPAT.RESIZE_INODE, 'resize_inode'],
  ['compat', COMPAT.DIR_INDEX, 'dir_index'],
  ['compat', COMPAT.LAZY_BG, 'lazy_bg'],
  ['compat', COMPAT.SNAPSHOT_BITMAP, 'snapshot_bitmap'],
  ['compat', COMPAT.EXCLUDE_BITMAP, 'exclude_bitmap'],
  ['compat', COMPAT.SPARSE_SUPER2, 'sparse_super2'],
  ['compat', COMPAT.FAST_COMMIT, 'fast_commit'],
  ['compat', COMPAT.STABLE_INODES, 'stable_inodes'],
  ['compat', COMPAT.ORPHAN_FILE, 'orphan_file'],
  ['ro_compat', RO_COMPAT.SPARSE_SUPER, 'sparse_super'],
  ['ro_compat', RO_COMPAT.LARGE_FILE, 'large_file'],
  ['ro_compat', RO_COMPAT.BTREE_DIR, 'btree_dir'],
  ['ro_compat', RO_COMPAT.HUGE_FILE, 'huge_file'],
  ['ro_compat', RO_COMPAT.GDT_CSUM, 'uninit_bg'],
  ['ro_compat', RO_COMPAT.DIR_NLINK, 'dir_nlink'],
  ['ro_compat', RO_COMPAT.EXTRA_ISIZE, 'extra_isize'],
  ['ro_compat', RO_COMPAT.SNAPSHOT, 'snapshot'],
  ['ro_compat', RO_COMPAT.QUOTA, 'quota'],
  ['ro_compat', RO_COMPAT.BIGALLOC, 'bigalloc'],
  ['ro_compat', RO_COMPAT.METADATA_CSUM, 'metadata_csum'],
  ['ro_compat', RO_COMPAT.REPLICA, 'replica'],
  ['ro_compat', RO_COMPAT.READONLY, 'read-only'],
  ['ro_compat', RO_COMPAT.PROJECT, 'project'],
  ['ro_compat', RO_COMPAT.SHARED_BLOCKS, 'shared_blocks'],
  ['ro_compat', RO_COMPAT.VERITY, 'verity'],
  ['ro_compat', RO_COMPAT.ORPHAN_PRESENT, 'orphan_present'],
  ['incompat', INCOMPAT.COMPRESSION, 'compression'],
  ['incompat', INCOMPAT.FILETYPE, 'filetype'],
  ['incompat', INCOMPAT.RECOVER, 'needs_recovery'],
  ['incompat', INCOMPAT.JOURNAL_DEV, 'journal_dev'],
  ['incompat', INCOMPAT.META_BG, 'meta_bg'],
  ['incompat', INCOMPAT.EXTENTS, 'extent'],
  ['incompat', INCOMPAT.BIT64, '64bit'],
  ['incompat', INCOMPAT.MMP, 'mmp'],
  ['incompat', INCOMPAT.FLEX_BG, 'flex_bg'],
  ['incompat', INCOMPAT.EA_INODE, 'ea_inode'],
  ['incompat', INCOMPAT.DIRDATA, 'dirdata'],
  ['incompat', INCOMPAT.CSUM_SEED, 'metadata_csum_seed'],
  ['incompat', INCOMPAT.LARGEDIR, 'large_dir'],
  ['incompat', INCOMPAT.INLINE_DATA, 'inline_data'],
  ['incompat', INCOMPAT.ENCRYPT, 'encrypt'],
  ['incompat', INCOMPAT.CASEFOLD, 'casefold'],
];

/** Other spellings mke2fs accepts. */
export const FEATURE_ALIASES: Readonly<Record<string, string>> = {
  extents: 'extent',
  gdt_csum: 'uninit_bg',
  uninit_groups: 'uninit_bg',
  largedir: 'large_dir',
  fname_encoding: 'casefold',
};

export interface FeatureSet {
  compat: number;
  incompat: number;
  ro_compat: number;
}

export function featureBit(name: string): readonly [FeatureKind, number] | undefined {
  const n = FEATURE_ALIASES[name] ?? name;
  const f = FEATURES.find((x) => x[2] === n);
  return f ? [f[0], f[1]] : undefined;
}

/** Feature names in dumpe2fs order (compat, incompat, ro_compat; by bit). Unknown bits print as FEATURE_C12 style. */
export function featureNames(set: FeatureSet): string[] {
  const out: string[] = [];
  const letter = { compat: 'C', incompat: 'I', ro_compat: 'R' } as const;
  for (const kind of ['compat', 'incompat', 'ro_compat'] as const) {
    for (let b = 0; b < 32; b++) {
      if (((set[kind] >>> b) & 1) === 0) continue;
      const bit = 2 ** b;
      const f = FEATURES.find((x) => x[0] === kind && x[1] === bit);
      out.push(f ? f[2] : `FEATURE_${letter[kind]}${b}`);
    }
  }
  return out;
}

export function hasFeature(set: FeatureSet, name: string): boolean {
  const fb = featureBit(name);
  return fb !== undefined && ((set[fb[0]] >>> 0) & fb[1]) !== 0;
}

/** Every incompat bit this code knows a name for. */
export const KNOWN_INCOMPAT = FEATURES.filter((f) => f[0] === 'incompat').reduce((a, f) => a | f[1], 0);

/** What an ext3 may carry beyond ext2's bits; anything more makes it ext4 (blkid's rule). */
const EXT3_INCOMPAT = INCOMPAT.FILETYPE | INCOMPAT.RECOVER | INCOMPAT.META_BG;
const EXT3_RO_COMPAT = RO_COMPAT.SPARSE_SUPER | RO_COMPAT.LARGE_FILE | RO_COMPAT.BTREE_DIR;

/** ext2, ext3 or ext4 by the feature words, as blkid decides: a journal makes ext3, anything beyond ext3's bits ext4. */
export function extType(set: FeatureSet): 'ext2' | 'ext3' | 'ext4' {
  if ((set.incompat & ~EXT3_INCOMPAT) !== 0 || (set.ro_compat & ~EXT3_RO_COMPAT) !== 0) return 'ext4';
  return set.compat & COMPAT.HAS_JOURNAL ? 'ext3' : 'ext2';
}
