/**
 * A tar archive as a FileTree: members in archive order, later members
 * replacing earlier ones of the same name (as `tar -x` does; a directory
 * over a directory only updates its metadata), hard links as shared nodes,
 * contents left in the source (content.ts).
 *
 * Names are made safe, never trusted: leading '/' are stripped (GNU tar
 * does the same and says so), '.' and empty components dropped, and a name
 * or hard-link target with a '..' component is an error (or skipped, with
 * `unsafe: 'skip'`). Symlink targets are kept verbatim: they are data of
 * the image and nothing here follows them; a member under a symlink (a/b
 * after a -> /etc) is an error because the tree cannot put it anywhere.
 */
import { FileTree } from '../../tree/tree.js';
import { MAX_NAME_BYTES } from '../../tree/path.js';
import type { DirNode, NodeMeta, TreeNode } from '../../tree/types.js';
import { ACL_XATTR, aclTextToXattr, type AclIdResolver } from './acl.js';
import { TarFileContent, TarSparseContent } from './content.js';
import { tarError, tarMembers, type TarMember, type TarScanOptions, type TarSource } from './read.js';

export interface TarReadOptions extends TarScanOptions {
  /** Members whose name or link target has a '..' component: 'error' (default) or 'skip' with a warning. */
  unsafe?: 'error' | 'skip';
  /**
   * Hard links to a name no earlier member has: 'error' (default), or
   * 'collect' them in `links` (layers: applyLayer resolves them against the lower layers).
   */
  danglingLinks?: 'error' | 'collect';
  /** Resolves user/group names in text ACLs (SCHILY.acl.*) that carry no numeric id. */
  aclIds?: AclIdResolver;
  /** Put the members into this tree instead of a new one. */
  tree?: FileTree;
}

export interface TarTree {
  tree: FileTree;
  warnings: string[];
  /** Hard links left for the caller (danglingLinks: 'collect'). */
  links: Array<{ path: string; target: string; offset: number }>;
  /** Directories no member listed (made for members inside them); they carry default metadata. */
  implicitDirs: Set<DirNode>;
  members: number;
}

const enc = new TextEncoder();

/** Safe tree components of a member name, or undefined to skip it. */
function safeParts(
  name: string,
  m: TarMember,
  what: string,
  opts: TarReadOptions,
  warn: (s: string) => void,
): string[] | undefined {
  const parts: string[] = [];
  for (const c of name.split('/')) {
    if (c === '' || c === '.') continue;
    if (c === '..') {
      if (opts.unsafe === 'skip') {
        warn(`tar: skipped ${JSON.stringify(m.name)} at offset ${m.offset}: its ${what} has a '..' component`);
        return undefined;
      }
      throw tarError(
        'E_FORMAT_TAR_UNSAFE_NAME',
        `${what} ${JSON.stringify(name)} has a '..' component; refusing it (nothing is written outside the image)`,
        m.offset,
        m.name,
      );
    }
    if (c.length * 3 > MAX_NAME_BYTES && enc.encode(c).length > MAX_NAME_BYTES) {
      throw tarError(
        'E_FORMAT_TAR_NAME',
        `a component of its ${what} is longer than ${MAX_NAME_BYTES} bytes`,
        m.offset,
        m.name,
      );
    }
    parts.push(c);
  }
  return parts;
}

class Inserter {
  private dirs = new Map<string, DirNode>();
  readonly implicit = new Set<DirNode>();
  constructor(private readonly tree: FileTree) {}

  parent(parts: string[], m: TarMember): DirNode {
    const key = parts.slice(0, -1).join('/');
    const hit = this.dirs.get(key);
    if (hit) return hit;
    let dir = this.tree.root;
    for (let i = 0; i < parts.length - 1; i++) {
      const c = parts[i]!;
      let next = dir.children.get(c);
      if (!next) {
        next = { type: 'dir', ...this.tree.meta('dir'), children: new Map() };
        this.implicit.add(next);
        dir.children.set(c, next);
      } else if (next.type !== 'dir') {
        throw tarError(
          'E_FORMAT_TAR_NOT_DIR',
          `/${parts.slice(0, i + 1).join('/')} is a ${next.type}, not a directory, so this member has nowhere to go`,
          m.offset,
          m.name,
        );
      }
      dir = next;
    }
    this.dirs.set(key, dir);
    return dir;
  }

  lookup(parts: string[]): TreeNode | undefined {
    let n: TreeNode = this.tree.root;
    for (const c of parts) {
      if (n.type !== 'dir') return undefined;
      const next: TreeNode | undefined = n.children.get(c);
      if (!next) return undefined;
      n = next;
    }
    return n;
  }

  put(parts: string[], node: TreeNode, m: TarMember): void {
    const dir = this.parent(parts, m);
    const name = parts[parts.length - 1]!;
    const old = dir.children.get(name);
    if (old?.type === 'dir' && node.type === 'dir') {
      Object.assign(old, metaOf(node));
      this.implicit.delete(old);
      return;
    }
    if (old?.type === 'dir') this.dirs.clear(); // paths under it may be cached
    dir.children.set(name, node);
  }
}

function metaOf(n: NodeMeta): NodeMeta {
  return { mode: n.mode, uid: n.uid, gid: n.gid, mtime: n.mtime, atime: n.atime, ctime: n.ctime, xattrs: n.xattrs };
}

function memberMeta(m: TarMember, opts: TarReadOptions, warn: (s: string) => void): NodeMeta {
  for (const [k, v] of [
    ['uid', m.uid],
    ['gid', m.gid],
  ] as const) {
    if (!(v >= 0 && v <= 0xffffffff))
      throw tarError('E_FORMAT_TAR_OWNER', `${k} ${v} is not a 32-bit id`, m.offset, m.name, { field: k, actual: v });
  }
  const xattrs = m.xattrs ? new Map(m.xattrs) : new Map<string, Uint8Array>();
  for (const kind of ['access', 'default'] as const) {
    const text = m.acl?.[kind];
    if (text === undefined || xattrs.has(ACL_XATTR[kind])) continue; // the raw xattr, when stored too, is exact
    const r = aclTextToXattr(text, kind, opts.aclIds);
    if ('xattr' in r) xattrs.set(ACL_XATTR[kind], r.xattr);
    else if ('error' in r)
      warn(`tar: ${JSON.stringify(m.name)} at offset ${m.offset}: ${kind} ACL left out: ${r.error}`);
  }
  return {
    mode: m.mode,
    uid: m.uid,
    gid: m.gid,
    mtime: m.mtime,
    atime: m.atime ?? m.mtime,
    ctime: m.ctime ?? m.mtime,
    xattrs,
  };
}

function nodeOf(src: TarSource, m: TarMember, meta: NodeMeta): TreeNode | undefined {
  switch (m.type) {
    case 'dir':
      return { type: 'dir', ...meta, children: new Map() };
    case 'file':
      return {
        type: 'file',
        ...meta,
        content: m.sparse
          ? new TarSparseContent(src, m.dataOffset, m.size, m.sparse)
          : new TarFileContent(src, m.dataOffset, m.size),
      };
    case 'symlink':
      if (!m.linkname || m.linkname.includes('\0'))
        throw tarError('E_FORMAT_TAR_LINK', 'symlink with an empty target', m.offset, m.name);
      return { type: 'symlink', ...meta, target: m.linkname };
    case 'chardev':
    case 'blockdev':
      if (m.devmajor > 0xfff || m.devminor > 0xfffff)
        throw tarError(
          'E_FORMAT_TAR_DEVICE',
          `device ${m.devmajor}:${m.devminor} is outside Linux's range (major 0..4095, minor 0..1048575)`,
          m.offset,
          m.name,
        );
      return { type: m.type, ...meta, major: m.devmajor, minor: m.devminor };
    case 'fifo':
      return { type: 'fifo', ...meta };
    case 'hardlink':
      return undefined;
  }
}

/** Read every member of a tar archive into a FileTree with lazy contents. */
export function readTar(src: TarSource, opts: TarReadOptions = {}): TarTree {
  const tree = opts.tree ?? new FileTree();
  const warnings: string[] = [];
  const warn = (s: string) => {
    warnings.push(s);
    opts.warn?.(s);
  };
  const ins = new Inserter(tree);
  const links: TarTree['links'] = [];
  let members = 0;
  let stripped = false;
  for (const m of tarMembers(src, { warn })) {
    members++;
    if (m.name.startsWith('/') && !stripped) {
      stripped = true;
      warn(`tar: removing leading '/' from member names (first: ${JSON.stringify(m.name)} at offset ${m.offset})`);
    }
    const parts = safeParts(m.name, m, 'name', opts, warn);
    if (!parts) continue;
    const meta = memberMeta(m, opts, warn);
    if (parts.length === 0) {
      if (m.type !== 'dir')
        throw tarError('E_FORMAT_TAR_ROOT', `a ${m.type} cannot replace the root directory`, m.offset, m.name);
      Object.assign(tree.root, meta);
      continue;
    }
    if (m.type === 'hardlink') {
      const tparts = safeParts(m.linkname, m, 'hard-link target', opts, warn);
      if (!tparts) continue;
      const target = ins.lookup(tparts);
      if (target?.type === 'dir')
        throw tarError(
          'E_FORMAT_TAR_LINK',
          `hard link to a directory (${JSON.stringify(m.linkname)})`,
          m.offset,
          m.name,
        );
      if (!target || tparts.length === 0) {
        if (opts.danglingLinks === 'collect') {
          links.push({ path: '/' + parts.join('/'), target: '/' + tparts.join('/'), offset: m.offset });
          continue;
        }
        throw tarError(
          'E_FORMAT_TAR_LINK',
          `hard link to ${JSON.stringify(m.linkname)}, which no earlier member created`,
          m.offset,
          m.name,
        );
      }
      ins.put(parts, target, m);
      continue;
    }
    ins.put(parts, nodeOf(src, m, meta)!, m);
  }
  return { tree, warnings, links, implicitDirs: ins.implicit, members };
}
