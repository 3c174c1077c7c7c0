/**
 * Planning an image: options resolved, the hierarchies built, every
 * structure given its blocks. The layout, in blocks of 2048 bytes:
 *
 *   0-15    system area (a hybrid image's MBR and GPT)
 *   16..    primary descriptor, El Torito boot record, Joliet descriptor, terminator
 *           boot catalog; path tables (L, M; Joliet L, M)
 *           ECMA-119 directories, Joliet directories, continuation areas
 *           hidden boot images, file data in tree order (hard links share theirs)
 *   end of the volume; then appended partitions (the ESP); then a hybrid GPT's backup
 */
import { CapacityError, PathError, UsageError } from '../../errors.js';
import type { FileTree } from '../../tree/tree.js';
import { treeFingerprint } from '../../tree/fingerprint.js';
import type { Content, FileNode, TreeNode } from '../../tree/types.js';
import { GPT_TAIL_SECTORS, SECTOR } from '../../partition/index.js';
import { clampRecordSeconds, recordDateFits } from './dates.js';
import { isoHierarchy, jolietHierarchy, type Hierarchy, type IsoDir } from './hierarchy.js';
import { JOLIET_LONG_MAX, JOLIET_MAX, type IsoLevel } from './names.js';
import {
  checkLevel,
  checkText,
  type IsoAppended,
  type IsoBootEntry,
  type IsoHybridOptions,
  type IsoOptions,
} from './options.js';
import { directoryExtent, MAX_SECTION, type RecordContext } from './records.js';
import {
  BLOCK,
  BOOT_INFO_CHECKSUM_START,
  GRUB2_BOOT_INFO_OFFSET,
  SYSTEM_AREA_BLOCKS,
  VIRTUAL_SECTOR,
} from './structs.js';
import { CeAllocator } from './susp.js';

/** A file's data in the image (paths are found again only for error messages: see pathOf). */
export interface PlannedFile {
  node: FileNode;
  extent: number;
}

export interface PlannedBoot {
  entry: IsoBootEntry;
  block: number;
  bytes: number;
  sectors: number;
  /** The image's content when it is a file or a hidden content (patched when written). */
  content?: Content;
}

export interface Prepared {
  tree: FileTree;
  label: string;
  level: IsoLevel;
  rockRidge: boolean;
  joliet: 0 | typeof JOLIET_MAX | typeof JOLIET_LONG_MAX;
  epoch: number;
  texts: { system: string; volumeSet: string; publisher: string; preparer: string; application: string };
  iso: Hierarchy;
  jolietDirs: IsoDir[];
  files: PlannedFile[];
  ctx: RecordContext;
  blocks: {
    pvd: number;
    bootRecord: number;
    svd: number;
    terminator: number;
    catalog: number;
    isoPath: { size: number; l: number; m: number };
    jolietPath: { size: number; l: number; m: number };
    ce: number;
    ceCount: number;
  };
  boot: PlannedBoot[];
  appended: Array<{ part: IsoAppended; offset: number }>;
  hybrid: IsoHybridOptions | undefined;
  volumeBlocks: number;
  size: number;
  bytes: number;
}

const blocksOf = (bytes: number) => Math.ceil(bytes / BLOCK);
/**
 * Placeholder blocks of boot images until the layout places them: a file of
 * the tree, or appended partition N at APPENDED - N.
 */
const IN_TREE = -1;
const APPENDED = -2;

/** One walk: serial numbers, link counts, the files in data order, warnings for what ISO 9660 drops. */
function scan(tree: FileTree, level: IsoLevel, warn: (m: string) => void) {
  const serial = new Map<TreeNode, number>();
  const links = new Map<TreeNode, number>();
  const files: PlannedFile[] = [];
  let xattrs = 0;
  let clamped = 0;
  let bytes = 0;
  for (const e of tree.walk()) {
    const n = e.node;
    if (n.type !== 'dir') links.set(n, (links.get(n) ?? 0) + 1);
    if (serial.has(n)) continue;
    serial.set(n, serial.size + 1);
    if (n.xattrs.size) xattrs++;
    if (!recordDateFits(n.mtime.sec) || !recordDateFits(n.atime.sec) || !recordDateFits(n.ctime.sec)) clamped++;
    if (n.type !== 'file') continue;
    if (level < 3 && n.content.size > 0xffffffff)
      throw new CapacityError(
        'E_LIMIT_ISO_FILE_SIZE',
        `${e.path} is ${n.content.size} bytes; ISO 9660 level ${level} holds files up to 4 GiB - 1 (use level 3)`,
        { path: e.path, actual: n.content.size, expected: 0xffffffff },
      );
    files.push({ node: n, extent: 0 });
    bytes += n.content.size;
  }
  if (xattrs) warn(`${xattrs} entries have extended attributes; ISO 9660 (Rock Ridge) does not store them`);
  if (clamped) warn(`${clamped} entries have times outside 1900-2155, recorded as the nearest date ISO 9660 holds`);
  return { serial, links, files, bytes };
}

/** Bytes of a path table over `dirs`. */
function pathTableSize(dirs: IsoDir[], joliet: boolean): number {
  let n = 0;
  for (const d of dirs) {
    const len = idLen(d, joliet);
    n += 8 + len + (len % 2);
  }
  return n;
}

/** Length of a directory's identifier as recorded (the root's is one zero byte). */
export function idLen(d: IsoDir, joliet: boolean): number {
  if (d.parent === d) return 1;
  return joliet ? d.id.length * 2 : d.id.length;
}

function resolveOptions(opts: IsoOptions) {
  const level = checkLevel(opts.level);
  const label = checkText('label', opts.label, 32) ?? 'ISOIMAGE';
  const epoch = opts.epoch ?? 0;
  if (!Number.isFinite(epoch))
    throw new UsageError('E_USAGE_ISO_EPOCH', `epoch must be seconds since 1970, got ${epoch}`, { actual: epoch });
  const texts = {
    system: checkText('system id', opts.systemId, 32) ?? 'LINUX',
    volumeSet: checkText('volume set id', opts.volumeSetId, 128) ?? '',
    publisher: checkText('publisher', opts.publisher, 128) ?? '',
    preparer: checkText('preparer', opts.preparer, 128) ?? 'TINYIMAGE',
    application: checkText('application', opts.application, 128) ?? '',
  };
  const joliet = opts.joliet === false ? 0 : opts.joliet === 'long' ? JOLIET_LONG_MAX : JOLIET_MAX;
  const hybrid = opts.hybrid === true ? {} : opts.hybrid || undefined;
  return {
    level,
    label,
    epoch,
    texts,
    joliet: joliet as Prepared['joliet'],
    rockRidge: opts.rockRidge ?? true,
    hybrid,
  };
}

/** Plan the image for `tree`: everything but the bytes of file contents. */
export function prepare(tree: FileTree, opts: IsoOptions): Prepared {
  const warn = opts.warn ?? (() => {});
  const o = resolveOptions(opts);
  const s = scan(tree, o.level, warn);
  // rr_moved (hidden from Rock Ridge readers) looks like the root
  const r = tree.root;
  const rrMovedMeta = {
    mode: r.mode,
    uid: r.uid,
    gid: r.gid,
    mtime: r.mtime,
    atime: r.atime,
    ctime: r.ctime,
    xattrs: new Map(),
  };
  const iso = isoHierarchy(tree, { level: o.level, rockRidge: o.rockRidge, rrMovedMeta, warn });
  const jolietDirs = o.joliet ? jolietHierarchy(tree, o.joliet) : [];
  const fileExtent = new Map<TreeNode, number>();
  const ctx: RecordContext = {
    rockRidge: o.rockRidge,
    serial: (n) => s.serial.get(n) ?? 0,
    links: (n) => s.links.get(n) ?? 1,
    extent: (n) => fileExtent.get(n) ?? 0,
    seconds: (t) => clampRecordSeconds(t.sec),
  };
  const p: Prepared = {
    tree,
    ...o,
    iso,
    jolietDirs,
    files: s.files,
    ctx,
    blocks: {} as Prepared['blocks'],
    boot: [],
    appended: [],
    volumeBlocks: 0,
    size: 0,
    bytes: s.bytes,
  };
  let b = layoutMetadata(p, opts);
  for (const entry of opts.boot?.entries ?? []) {
    const pb = bootImage(p, entry, opts.appended ?? []);
    if (pb.content && typeof entry.image === 'object' && 'content' in entry.image) {
      pb.block = b;
      b += blocksOf(pb.bytes);
    }
    p.boot.push(pb);
  }
  for (const f of s.files) {
    if (f.node.content.size === 0 || fileExtent.has(f.node)) continue;
    f.extent = b;
    fileExtent.set(f.node, b);
    b += blocksOf(f.node.content.size);
  }
  for (const pb of p.boot) if (pb.block === IN_TREE) pb.block = fileExtent.get(fileOf(p, pb.entry)!)!;
  p.volumeBlocks = b;
  layoutTail(p, opts.appended ?? []);
  return p;
}

function fileOf(p: Prepared, entry: IsoBootEntry): FileNode | undefined {
  if (typeof entry.image !== 'string') return undefined;
  const n = p.tree.get(entry.image);
  return n?.type === 'file' ? n : undefined;
}

/** Blocks of the descriptors, path tables, directories and continuation areas; returns the next free block. */
function layoutMetadata(p: Prepared, opts: IsoOptions): number {
  let b = SYSTEM_AREA_BLOCKS;
  const hasBoot = (opts.boot?.entries.length ?? 0) > 0;
  const bl = p.blocks;
  bl.pvd = b++;
  bl.bootRecord = hasBoot ? b++ : -1;
  bl.svd = p.joliet ? b++ : -1;
  bl.terminator = b++;
  bl.catalog = hasBoot ? b++ : -1;
  const table = (dirs: IsoDir[], joliet: boolean) => {
    const size = dirs.length ? pathTableSize(dirs, joliet) : 0;
    const l = size ? b : 0;
    b += blocksOf(size);
    const m = size ? b : 0;
    b += blocksOf(size);
    return { size, l, m };
  };
  bl.isoPath = table(p.iso.dirs, false);
  bl.jolietPath = table(p.jolietDirs, true);
  // sizing pass: record lengths do not depend on where things are
  const ce = new CeAllocator(0);
  for (const d of p.iso.dirs) d.size = directoryExtent(d, p.ctx, ce, false).size;
  for (const d of p.jolietDirs) d.size = directoryExtent(d, p.ctx, ce, true).size;
  for (const d of [...p.iso.dirs, ...p.jolietDirs]) {
    d.extent = b;
    b += d.size / BLOCK;
  }
  bl.ce = b;
  bl.ceCount = ce.blocks;
  return b + ce.blocks;
}

function bootImage(p: Prepared, entry: IsoBootEntry, appended: IsoAppended[]): PlannedBoot {
  const img = entry.image;
  let bytes: number;
  let content: Content | undefined;
  if (typeof img === 'string') {
    const n = p.tree.get(img);
    if (n?.type !== 'file' || n.content.size === 0)
      throw new PathError('E_PATH_ISO_BOOT_IMAGE', `El Torito boot image ${img} is not a non-empty file of the tree`, {
        path: img,
      });
    content = n.content;
    bytes = n.content.size;
  } else if ('content' in img) {
    content = img.content;
    bytes = img.content.size;
  } else {
    const part = appended[img.appended];
    if (!part)
      throw new UsageError(
        'E_USAGE_ISO_BOOT',
        `El Torito entry names appended partition ${img.appended}, which does not exist`,
        {
          actual: img.appended,
        },
      );
    bytes = part.size;
  }
  if ((entry.bootInfoTable || entry.grub2BootInfo) && !content)
    throw new UsageError(
      'E_USAGE_ISO_BOOT',
      'a boot info table can only be patched into a boot image file, not a partition',
      {},
    );
  const need = entry.grub2BootInfo ? GRUB2_BOOT_INFO_OFFSET + 8 : entry.bootInfoTable ? BOOT_INFO_CHECKSUM_START : 0;
  if (bytes < need)
    throw new UsageError(
      'E_USAGE_ISO_BOOT',
      `boot image of ${bytes} bytes is too small for its boot info (${need} bytes)`,
      {
        actual: bytes,
      },
    );
  const sectors =
    entry.loadSectors ?? (entry.platform === 'bios' ? 4 : Math.min(0xffff, Math.ceil(bytes / VIRTUAL_SECTOR)));
  if (!Number.isInteger(sectors) || sectors < 1 || sectors > 0xffff)
    throw new UsageError('E_USAGE_ISO_BOOT', `El Torito load size must be 1..65535 sectors, got ${sectors}`, {
      actual: sectors,
    });
  const block = typeof img === 'object' && 'appended' in img ? APPENDED - img.appended : IN_TREE;
  return { entry, block, bytes, sectors, ...(content ? { content } : {}) };
}

/** Appended partitions after the volume, then room for a hybrid GPT's backup; sets p.size. */
function layoutTail(p: Prepared, appended: IsoAppended[]): void {
  let off = p.volumeBlocks * BLOCK;
  for (const part of appended) {
    if (!Number.isSafeInteger(part.size) || part.size <= 0 || part.size % SECTOR !== 0)
      throw new UsageError(
        'E_USAGE_ISO_APPENDED',
        `appended partition size must be a positive multiple of 512, got ${part.size}`,
        {
          actual: part.size,
        },
      );
    p.appended.push({ part, offset: off });
    off += Math.ceil(part.size / BLOCK) * BLOCK;
  }
  for (const pb of p.boot) if (pb.block <= APPENDED) pb.block = p.appended[APPENDED - pb.block]!.offset / BLOCK;
  if (p.hybrid) off = Math.ceil((off + GPT_TAIL_SECTORS * SECTOR) / BLOCK) * BLOCK;
  p.size = off;
  if (p.volumeBlocks > 0xffffffff)
    throw new CapacityError(
      'E_LIMIT_ISO_SIZE',
      `the volume needs ${p.volumeBlocks} blocks, more than ISO 9660 addresses`,
      {
        actual: p.volumeBlocks,
      },
    );
}

/** The first path of `node` in `tree` (for messages; walks the tree). */
export function pathOf(tree: FileTree, node: TreeNode): string {
  for (const e of tree.walk()) if (e.node === node) return e.path;
  return '(not in the tree)';
}

/** Default seed of a hybrid image's GUIDs: the tree's metadata and the label. */
export function hybridSeed(p: Prepared): string {
  return p.hybrid?.seed ?? `tinyimage-iso:${p.label}:${p.epoch}:${treeFingerprint(p.tree)}`;
}

export { MAX_SECTION };
