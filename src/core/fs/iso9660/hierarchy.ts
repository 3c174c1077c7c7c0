/**
 * The two directory hierarchies of an image, built from the tree once:
 * the ECMA-119 one (with Rock Ridge: every node, directories deeper than 8
 * levels moved to /rr_moved with CL/PL/RE links) and the Joliet one
 * (directories and regular files, any depth). Both are in path table order:
 * by level, then parent, then identifier. Per entry this keeps a few
 * references and the identifier strings; file contents are not touched.
 */
import { CapacityError } from '../../errors.js';
import { sortedNames, type FileTree } from '../../tree/tree.js';
import type { DirNode, FileNode, NodeMeta, TreeNode } from '../../tree/types.js';
import { IsoNamer, JolietNamer, sortByIdentifier, sortIsoIdentifiers, type IsoLevel } from './names.js';

/** ECMA-119 limits the hierarchy to 8 levels (the root is level 1). */
export const MAX_LEVELS = 8;
export const RR_MOVED = 'rr_moved';
/** Path tables number directories with 16 bits. */
const MAX_DIRS = 0xffff;

export interface IsoEntry {
  /** The real name (Rock Ridge NM). */
  name: string;
  /** The identifier as recorded. */
  id: string;
  node: TreeNode;
  /** The directory of a directory entry (for a relocation placeholder: the relocated directory). */
  dir?: IsoDir | undefined;
  /** 'placeholder': CL record where a relocated directory was; 'moved': its RE record in rr_moved. */
  reloc?: 'placeholder' | 'moved' | undefined;
}

export interface IsoDir {
  node: DirNode;
  /** Identifier in its parent of this hierarchy ('' for the root). */
  id: string;
  /** Parent in this hierarchy (the root is its own parent). */
  parent: IsoDir;
  /** Parent in the tree (differs for relocated directories: their PL target). */
  treeParent: IsoDir;
  entries: IsoEntry[];
  level: number;
  /** 1-based path table number. */
  number: number;
  /** First block and byte size of the directory's extent (set by the layout). */
  extent: number;
  size: number;
  /** Subdirectories in the tree (Rock Ridge link count is 2 + this). */
  subdirs: number;
  relocated: boolean;
  /** This is the relocation directory itself (hidden from Rock Ridge readers by RE). */
  rrMoved: boolean;
}

export interface Hierarchy {
  dirs: IsoDir[];
  relocated: number;
}

function newDir(node: DirNode, parent: IsoDir | undefined, level: number, id = ''): IsoDir {
  const d = {
    node,
    id,
    entries: [],
    level,
    number: 0,
    extent: 0,
    size: 0,
    subdirs: 0,
    relocated: false,
    rrMoved: false,
  } as unknown as IsoDir;
  d.parent = parent ?? d;
  d.treeParent = d.parent;
  return d;
}

/** Directories in path table order, numbered from 1; each directory's entries sorted by identifier. */
function order(root: IsoDir, joliet: boolean): IsoDir[] {
  const out: IsoDir[] = [root];
  for (let i = 0; i < out.length; i++) {
    const d = out[i]!;
    d.number = i + 1;
    if (joliet) sortByIdentifier(d.entries, (e) => e.id);
    else sortIsoIdentifiers(d.entries, (e) => e.id);
    for (const e of d.entries) if (e.dir && e.reloc !== 'placeholder') out.push(e.dir);
  }
  if (out.length > MAX_DIRS)
    throw new CapacityError(
      'E_LIMIT_ISO_DIRS',
      `the tree has ${out.length} directories; ISO 9660 path tables number at most ${MAX_DIRS}`,
      { actual: out.length, expected: MAX_DIRS },
    );
  return out;
}

export interface IsoTreeOptions {
  level: IsoLevel;
  rockRidge: boolean;
  /** Metadata of a created rr_moved directory. */
  rrMovedMeta: NodeMeta;
  warn: (message: string) => void;
}

/**
 * The ECMA-119 hierarchy. Without Rock Ridge only directories and regular
 * files are recorded (others are reported through `warn`) and deep
 * directories are kept where they are, as most writers do.
 */
export function isoHierarchy(tree: FileTree, o: IsoTreeOptions): Hierarchy {
  const root = newDir(tree.root, undefined, 1);
  let rrMoved: IsoDir | undefined;
  let movedNamer: IsoNamer | undefined;
  let relocated = 0;
  const queue: IsoDir[] = [root];
  const namers = new Map<IsoDir, IsoNamer>([[root, new IsoNamer(o.level)]]);
  const reserved = o.rockRidge ? RR_MOVED.toUpperCase() : undefined;
  for (let qi = 0; qi < queue.length; qi++) {
    const d = queue[qi]!;
    const namer = namers.get(d)!;
    namers.delete(d);
    // the root's identifiers keep clear of RR_MOVED, so a relocation directory never collides
    if (d === root && reserved) namer.name(RR_MOVED, true);
    for (const name of sortedNames(d.node)) {
      const node = d.node.children.get(name)!;
      if (node.type !== 'dir') {
        if (!o.rockRidge && node.type !== 'file') {
          o.warn(`${node.type} ${name} left out: without Rock Ridge ISO 9660 records only files and directories`);
          continue;
        }
        d.entries.push({ name, id: namer.name(name, false), node });
        continue;
      }
      d.subdirs++;
      const id = namer.name(name, true);
      const level = d.level + 1;
      if (o.rockRidge && level > MAX_LEVELS) {
        if (!rrMoved) {
          const rrNode: DirNode = { type: 'dir', ...o.rrMovedMeta, children: new Map() };
          rrMoved = newDir(rrNode, root, 2, reserved!);
          rrMoved.rrMoved = true;
          movedNamer = new IsoNamer(o.level);
          root.entries.push({ name: RR_MOVED, id: reserved!, node: rrNode, dir: rrMoved, reloc: 'moved' });
        }
        const sub = newDir(node, rrMoved, rrMoved.level + 1, movedNamer!.name(name, true));
        sub.treeParent = d;
        sub.relocated = true;
        relocated++;
        d.entries.push({ name, id, node, dir: sub, reloc: 'placeholder' });
        rrMoved.entries.push({ name, id: sub.id, node, dir: sub, reloc: 'moved' });
        namers.set(sub, new IsoNamer(o.level));
        queue.push(sub);
        continue;
      }
      const sub = newDir(node, d, level, id);
      d.entries.push({ name, id, node, dir: sub });
      namers.set(sub, new IsoNamer(o.level));
      queue.push(sub);
    }
  }
  return { dirs: order(root, false), relocated };
}

/** The Joliet hierarchy: directories and regular files; other types are left out (Joliet cannot hold them). */
export function jolietHierarchy(tree: FileTree, max: number): IsoDir[] {
  const root = newDir(tree.root, undefined, 1);
  const queue: IsoDir[] = [root];
  for (let qi = 0; qi < queue.length; qi++) {
    const d = queue[qi]!;
    const namer = new JolietNamer(max);
    for (const name of sortedNames(d.node)) {
      const node = d.node.children.get(name)!;
      if (node.type === 'file') d.entries.push({ name, id: namer.name(name, false), node: node as FileNode });
      else if (node.type === 'dir') {
        const sub = newDir(node, d, d.level + 1, namer.name(name, true));
        d.subdirs++;
        d.entries.push({ name, id: sub.id, node, dir: sub });
        queue.push(sub);
      }
    }
  }
  return order(root, true);
}
