/**
 * The inode and directory tables, emitted in post-order (plan.ts): each
 * non-directory's inode when first met, each directory's entries and then
 * its inode once all of its children are written.
 */
import { CapacityError } from '../../errors.js';
import type { FileTree } from '../../tree/tree.js';
import { encodeDev, type DirNode, type TreeNode } from '../../tree/types.js';
import type { BlockCompressor } from './compress.js';
import { MetaWriter } from './meta.js';
import type { Plan, WalkEvent } from './plan.js';
import {
  DEV_INODE,
  DIR_COUNT_MAX,
  DIR_ENTRY,
  DIR_HEADER,
  DIR_INDEX,
  DIR_INODE,
  EXTENDED_OFFSET,
  INODE,
  INVALID_XATTR,
  IPC_INODE,
  LDEV_INODE,
  LDIR_INODE,
  LIPC_INODE,
  LREG_INODE,
  METADATA_SIZE,
  REG_INODE,
  SYMLINK_INODE,
  refBlock,
  refOffset,
} from './structs.js';
import type { FileData } from './writedata.js';
import type { XattrTable } from './writexattr.js';

const enc = new TextEncoder();
const U32 = 0x100000000;
/** Longest symlink target the kernel follows (PATH_MAX - 1). */
const SYMLINK_MAX = 4095;

const BASIC_TYPE: Record<TreeNode['type'], number> = {
  dir: INODE.dir,
  file: INODE.file,
  symlink: INODE.symlink,
  blockdev: INODE.blockdev,
  chardev: INODE.chardev,
  fifo: INODE.fifo,
  socket: INODE.socket,
};

export interface InodeContext {
  tree: FileTree;
  plan: Plan;
  /** File data by inode number - 1. */
  data: Array<FileData | undefined>;
  xattrs: XattrTable | undefined;
  allRoot: boolean;
  /** Times are clamped to what squashfs keeps: unsigned 32-bit seconds. */
  onClamp: () => void;
}

interface Child {
  name: Uint8Array;
  ref: number;
  num: number;
  type: number;
}

export class InodeWriter {
  readonly inodes: MetaWriter;
  readonly dirs: MetaWriter;
  /** Inode reference by inode number - 1 (the export table). */
  readonly refs: Float64Array;
  rootRef = 0;

  constructor(
    comp: BlockCompressor,
    private readonly c: InodeContext,
  ) {
    this.inodes = new MetaWriter(comp);
    this.dirs = new MetaWriter(comp);
    this.refs = new Float64Array(c.plan.count).fill(-1);
  }

  /**
   * Emit what one post-order event calls for (events must come in
   * postOrder's order). A promise only when something had to be waited for:
   * a file's blocks still being written, extended attributes, or a
   * compressor without compressSync.
   */
  handle(e: WalkEvent): Promise<void> | undefined {
    if (e.kind === 'leaf') {
      const num = this.c.plan.numbers.get(e.node)!;
      if (this.refs[num - 1]! >= 0) return undefined;
      const node = e.node;
      if (node.type === 'file' && node.xattrs.size === 0 && !this.c.plan.links.has(node)) {
        // the common case, without an object per inode
        this.refs[num - 1] = this.inodes.ref();
        const d = this.c.data[num - 1]!;
        return d.ready ? d.ready.then(() => this.regular(node, num, d)) : this.regular(node, num, d);
      }
      return this.leaf(node, e.path);
    }
    return this.dir(e.node, e.path, e.names);
  }

  private readonly reg = new Uint8Array(REG_INODE.size);
  private readonly regView = new DataView(this.reg.buffer);

  /** A file without xattrs or hard links: REG_INODE written field by field when it fits, else LREG_INODE. */
  private regular(node: TreeNode & { type: 'file' }, num: number, d: FileData): Promise<void> | undefined {
    const size = node.content.size;
    if (d.start >= U32 || size >= U32 || d.sparse > 0) return this.file(node, INVALID_XATTR, 1);
    const { plan, allRoot } = this.c;
    let mtime = node.mtime.sec;
    if (mtime < 0 || mtime >= U32) {
      mtime = Math.min(U32 - 1, Math.max(0, mtime));
      this.c.onClamp();
    }
    const v = this.regView;
    v.setUint16(0, INODE.file, true);
    v.setUint16(2, node.mode & 0o7777, true);
    v.setUint16(4, plan.ids.get(allRoot ? 0 : node.uid)!, true);
    v.setUint16(6, plan.ids.get(allRoot ? 0 : node.gid)!, true);
    v.setUint32(8, mtime, true);
    v.setUint32(12, num, true);
    v.setUint32(16, d.start, true);
    v.setUint32(20, d.fragment, true);
    v.setUint32(24, d.fragOffset, true);
    v.setUint32(28, size, true);
    const p = this.inodes.write(this.reg);
    if (!d.blocks.length) return p;
    const list = blockList(d.blocks);
    return p ? p.then(() => this.inodes.write(list)) : this.inodes.write(list);
  }

  /** Compress the last, partial blocks. */
  async finish(): Promise<void> {
    await this.inodes.finish();
    await this.dirs.finish();
  }

  private async put(w: MetaWriter, b: Uint8Array): Promise<void> {
    const p = w.write(b);
    if (p) await p;
  }

  private base(node: TreeNode, type: number) {
    const { plan, allRoot } = this.c;
    let mtime = node.mtime.sec;
    if (mtime < 0 || mtime >= U32) {
      mtime = Math.min(U32 - 1, Math.max(0, mtime));
      this.c.onClamp();
    }
    return {
      inodeType: type,
      mode: node.mode & 0o7777,
      uid: plan.ids.get(allRoot ? 0 : node.uid)!,
      guid: plan.ids.get(allRoot ? 0 : node.gid)!,
      mtime,
      inodeNumber: plan.numbers.get(node)!,
    };
  }

  private async xattrId(node: TreeNode, path: string): Promise<number> {
    return this.c.xattrs ? this.c.xattrs.idFor(node.xattrs, path) : INVALID_XATTR;
  }

  /** Start an inode: remember where it is. */
  private mark(node: TreeNode): number {
    const ref = this.inodes.ref();
    this.refs[this.c.plan.numbers.get(node)! - 1] = ref;
    return ref;
  }

  private async leaf(node: Exclude<TreeNode, DirNode>, path: string): Promise<void> {
    const xattr = await this.xattrId(node, path);
    const nlink = this.c.plan.links.get(node) ?? 1;
    const ext = xattr !== INVALID_XATTR;
    this.mark(node);
    switch (node.type) {
      case 'file':
        return this.file(node, xattr, nlink);
      case 'symlink': {
        const target = enc.encode(node.target);
        if (target.length > SYMLINK_MAX) {
          throw new CapacityError(
            'E_LIMIT_SQUASHFS_SYMLINK',
            `symlink ${path}: target of ${target.length} bytes, the limit is ${SYMLINK_MAX}`,
            { path, actual: target.length, expected: SYMLINK_MAX },
          );
        }
        const type = ext ? INODE.lsymlink : INODE.symlink;
        await this.put(
          this.inodes,
          SYMLINK_INODE.encode({ ...this.base(node, type), nlink, symlinkSize: target.length }),
        );
        await this.put(this.inodes, target);
        if (ext) await this.put(this.inodes, u32(xattr));
        return;
      }
      case 'chardev':
      case 'blockdev': {
        const type = BASIC_TYPE[node.type] + (ext ? EXTENDED_OFFSET : 0);
        const rdev = encodeDev(node.major, node.minor);
        const b = this.base(node, type);
        await this.put(
          this.inodes,
          ext ? LDEV_INODE.encode({ ...b, nlink, rdev, xattr }) : DEV_INODE.encode({ ...b, nlink, rdev }),
        );
        return;
      }
      case 'fifo':
      case 'socket': {
        const b = this.base(node, BASIC_TYPE[node.type] + (ext ? EXTENDED_OFFSET : 0));
        await this.put(
          this.inodes,
          ext ? LIPC_INODE.encode({ ...b, nlink, xattr }) : IPC_INODE.encode({ ...b, nlink }),
        );
        return;
      }
    }
  }

  private async file(node: TreeNode & { type: 'file' }, xattr: number, nlink: number): Promise<void> {
    const d = this.c.data[this.c.plan.numbers.get(node)! - 1]!;
    if (d.ready) await d.ready;
    const size = node.content.size;
    const ext = xattr !== INVALID_XATTR || nlink > 1 || d.start >= U32 || size >= U32 || d.sparse > 0;
    const b = this.base(node, ext ? INODE.lfile : INODE.file);
    const head = ext
      ? LREG_INODE.encode({
          ...b,
          startBlock: d.start,
          fileSize: size,
          sparse: d.sparse,
          nlink,
          fragment: d.fragment,
          offset: d.fragOffset,
          xattr,
        })
      : REG_INODE.encode({ ...b, startBlock: d.start, fragment: d.fragment, offset: d.fragOffset, fileSize: size });
    await this.put(this.inodes, head);
    if (d.blocks.length) await this.put(this.inodes, blockList(d.blocks));
  }

  private async dir(node: DirNode, path: string, names: string[]): Promise<void> {
    const { plan } = this.c;
    const children: Child[] = [];
    let subdirs = 0;
    for (const name of names) {
      const child = node.children.get(name)!;
      if (child.type === 'dir') subdirs++;
      const num = plan.numbers.get(child)!;
      children.push({ name: enc.encode(name), ref: this.refs[num - 1]!, num, type: BASIC_TYPE[child.type] });
    }
    const listing = buildListing(children);
    const startPos = this.dirs.pos();
    await this.put(this.dirs, listing.bytes);
    const xattr = await this.xattrId(node, path);
    const parent = node === this.c.tree.root ? plan.count + 1 : this.parentOf(path);
    const startRef = this.dirs.refAt(startPos);
    const fileSize = listing.bytes.length + 3;
    const nlink = 2 + subdirs;
    const ref = this.mark(node);
    if (node === this.c.tree.root) this.rootRef = ref;
    if (xattr === INVALID_XATTR && listing.index.length === 0 && fileSize <= 0xffff) {
      await this.put(
        this.inodes,
        DIR_INODE.encode({
          ...this.base(node, INODE.dir),
          startBlock: refBlock(startRef),
          nlink,
          fileSize,
          offset: refOffset(startRef),
          parentInode: parent,
        }),
      );
      return;
    }
    await this.put(
      this.inodes,
      LDIR_INODE.encode({
        ...this.base(node, INODE.ldir),
        nlink,
        fileSize,
        startBlock: refBlock(startRef),
        parentInode: parent,
        iCount: listing.index.length,
        offset: refOffset(startRef),
        xattr,
      }),
    );
    for (const ix of listing.index) {
      const at = refBlock(this.dirs.refAt(startPos + ix.index));
      await this.put(this.inodes, DIR_INDEX.encode({ index: ix.index, startBlock: at, size: ix.name.length - 1 }));
      await this.put(this.inodes, ix.name);
    }
  }

  private parentOf(path: string): number {
    const cut = path.lastIndexOf('/');
    const parentPath = cut <= 0 ? '/' : path.slice(0, cut);
    return this.c.plan.numbers.get(this.c.tree.get(parentPath)!)!;
  }
}

/** A file's block size words, little-endian. */
function blockList(blocks: Uint32Array): Uint8Array {
  const list = new Uint8Array(blocks.length * 4);
  const v = new DataView(list.buffer);
  for (let i = 0; i < blocks.length; i++) v.setUint32(i * 4, blocks[i]!, true);
  return list;
}

function u32(n: number): Uint8Array {
  const b = new Uint8Array(4);
  new DataView(b.buffer).setUint32(0, n, true);
  return b;
}

/**
 * A directory's entries: runs of up to 256 entries under a header naming the
 * inode-table block they share and a base inode number. A new run also
 * starts where the listing passes another 8 KiB since the last index point,
 * and that run's first name goes into the directory index (the kernel's
 * lookup reads one metadata block per name that way).
 */
export function buildListing(children: Child[]): {
  bytes: Uint8Array;
  index: Array<{ index: number; name: Uint8Array }>;
} {
  let size = 0;
  for (const c of children) size += DIR_ENTRY.size + c.name.length;
  // at most one header per entry
  const out = new Uint8Array(size + DIR_HEADER.size * children.length);
  const index: Array<{ index: number; name: Uint8Array }> = [];
  let p = 0,
    headerAt = -1,
    count = 0,
    block = -1,
    base = 0,
    indexPoint = 0;
  // DIR_HEADER and DIR_ENTRY field by field (one view, no object per entry)
  const v = new DataView(out.buffer, out.byteOffset, out.byteLength);
  const closeHeader = () => {
    if (headerAt < 0) return;
    v.setUint32(headerAt, count - 1, true);
    v.setUint32(headerAt + 4, block, true);
    v.setUint32(headerAt + 8, base, true);
  };
  for (const c of children) {
    const cBlock = refBlock(c.ref);
    const delta = c.num - base;
    const overflow = headerAt >= 0 && p + DIR_ENTRY.size + c.name.length - indexPoint > METADATA_SIZE;
    if (headerAt < 0 || count === DIR_COUNT_MAX || cBlock !== block || delta > 32767 || delta < -32768 || overflow) {
      closeHeader();
      if (overflow) {
        index.push({ index: p, name: c.name });
        indexPoint = p;
      }
      headerAt = p;
      p += DIR_HEADER.size;
      count = 0;
      block = cBlock;
      base = c.num;
    }
    v.setUint16(p, refOffset(c.ref), true);
    v.setUint16(p + 2, (c.num - base) & 0xffff, true);
    v.setUint16(p + 4, c.type, true);
    v.setUint16(p + 6, c.name.length - 1, true);
    out.set(c.name, p + DIR_ENTRY.size);
    p += DIR_ENTRY.size + c.name.length;
    count++;
  }
  closeHeader();
  return { bytes: out.subarray(0, p), index };
}
