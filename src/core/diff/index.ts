/**
 * Structured differences between two trees: added, removed, and changed
 * entries with the fields that differ. Works on any two FileTrees, so a host
 * directory, a spec's output and an image compare the same way.
 */
import { Minimatch } from 'minimatch';
import { bytesEqual, toHex } from '../binary/bytes.js';
import { UsageError } from '../errors.js';
import { compareNames } from '../tree/path.js';
import type { FileTree } from '../tree/tree.js';
import type { TreeNode } from '../tree/types.js';

export type DiffField =
  'type' | 'mode' | 'uid' | 'gid' | 'size' | 'content' | 'target' | 'device' | 'xattrs' | 'links' | 'mtime';

export interface FieldChange {
  field: DiffField;
  a: unknown;
  b: unknown;
}
export interface DiffEntry {
  path: string;
  change: 'added' | 'removed' | 'changed';
  /** For 'changed': which fields differ and their values. */
  fields?: FieldChange[];
  type?: string;
}

export interface DiffOptions {
  /**
   * Paths to leave out, with everything below them: absolute globs over tree
   * paths (`*` within a name, `**` across names, `?`, `[...]`, `{a,b}`), e.g.
   * `['/var/log/**', '/etc/machine-id']`.
   */
  ignore?: string[];
  /** Fields not to compare (e.g. ['uid','gid'] when comparing a host dir with a root-owned image). */
  ignoreFields?: DiffField[];
  /**
   * Also report entries a filesystem makes itself when only one side has
   * them: `/lost+found` (an empty directory) on ext2/3/4. Default false: a
   * directory and the ext4 image made from it do not differ.
   */
  reportOwned?: boolean;
  /** Compare file contents byte by byte (default true). */
  content?: boolean;
  /** Compare modification times (default false: formats differ in resolution). */
  mtime?: boolean;
}

function index(tree: FileTree): Map<string, TreeNode> {
  const m = new Map<string, TreeNode>();
  for (const e of tree.walk()) m.set(e.path, e.node);
  return m;
}

/** Paths sharing each node (hard-link groups), keyed by node. */
function groups(m: Map<string, TreeNode>): Map<TreeNode, string[]> {
  const g = new Map<TreeNode, string[]>();
  for (const [p, n] of m) if (n.type !== 'dir') g.set(n, [...(g.get(n) ?? []), p]);
  return g;
}

async function sameContent(a: TreeNode & { type: 'file' }, b: TreeNode & { type: 'file' }): Promise<boolean> {
  if (a.content.size !== b.content.size) return false;
  const ia = a.content.stream()[Symbol.asyncIterator]();
  const ib = b.content.stream()[Symbol.asyncIterator]();
  let ca: Uint8Array = new Uint8Array(0),
    cb: Uint8Array = new Uint8Array(0);
  let ea = false,
    eb = false;
  for (;;) {
    if (ca.length === 0 && !ea) {
      const r = await ia.next();
      if (r.done) ea = true;
      else ca = r.value;
      continue;
    }
    if (cb.length === 0 && !eb) {
      const r = await ib.next();
      if (r.done) eb = true;
      else cb = r.value;
      continue;
    }
    if (ca.length === 0 || cb.length === 0) {
      await ia.return?.();
      await ib.return?.();
      return ca.length === cb.length && ea && eb;
    }
    const n = Math.min(ca.length, cb.length);
    if (!bytesEqual(ca.subarray(0, n), cb.subarray(0, n))) {
      await ia.return?.();
      await ib.return?.();
      return false;
    }
    ca = ca.subarray(n);
    cb = cb.subarray(n);
  }
}

function xattrKey(x: Map<string, Uint8Array>): string {
  return [...x.entries()]
    .sort(([a], [b]) => (a < b ? -1 : 1))
    .map(([k, v]) => `${k}=${toHex(v)}`)
    .join(',');
}

export const DIFF_FIELDS: readonly DiffField[] = [
  'type',
  'mode',
  'uid',
  'gid',
  'size',
  'content',
  'target',
  'device',
  'xattrs',
  'links',
  'mtime',
];

/** Filesystem-made entries: ext's lost+found, an empty directory at the root. */
const OWNED: ReadonlyArray<{ path: string; owned: (n: TreeNode) => boolean }> = [
  { path: '/lost+found', owned: (n) => n.type === 'dir' && n.children.size === 0 },
];

function pathFilter(globs: string[]): (path: string) => boolean {
  for (const g of globs) {
    if (!g.startsWith('/')) {
      const hint = (DIFF_FIELDS as readonly string[]).includes(g) ? ` ('${g}' is a field: use ignoreFields)` : '';
      throw new UsageError('E_USAGE_IGNORE', `ignore path '${g}' must be absolute, like /var/log/**${hint}`, {
        field: 'ignore',
        actual: g,
      });
    }
  }
  // a pattern also covers everything below what it matches
  const ms = globs.map((g) => new Minimatch(g.replace(/\/+$/, '') || '/', { dot: true, platform: 'linux' }));
  return (path) => {
    for (let p = path; ; p = p.slice(0, p.lastIndexOf('/')) || '/') {
      if (ms.some((m) => m.match(p))) return true;
      if (p === '/') return false;
    }
  };
}

export async function diffTrees(a: FileTree, b: FileTree, opts: DiffOptions = {}): Promise<DiffEntry[]> {
  const ignore = new Set(opts.ignoreFields ?? []);
  const skip = pathFilter(opts.ignore ?? []);
  if (opts.mtime !== true) ignore.add('mtime');
  if (opts.content === false) ignore.add('content');
  const ma = index(a),
    mb = index(b);
  const ga = groups(ma),
    gb = groups(mb);
  const out: DiffEntry[] = [];
  const paths = [...new Set([...ma.keys(), ...mb.keys()])].sort((x, y) => {
    // parents before children, byte order within a directory
    const px = x.split('/'),
      py = y.split('/');
    for (let i = 0; i < Math.min(px.length, py.length); i++) {
      const c = compareNames(px[i]!, py[i]!);
      if (c) return c;
    }
    return px.length - py.length;
  });
  for (const p of paths) {
    const na = ma.get(p),
      nb = mb.get(p);
    if (skip(p)) continue;
    const only = na && nb ? undefined : (na ?? nb)!;
    if (only && !opts.reportOwned && OWNED.some((o) => o.path === p && o.owned(only))) continue;
    if (!na) {
      out.push({ path: p, change: 'added', type: nb!.type });
      continue;
    }
    if (!nb) {
      out.push({ path: p, change: 'removed', type: na.type });
      continue;
    }
    const f: FieldChange[] = [];
    const add = (field: DiffField, x: unknown, y: unknown) => {
      if (!ignore.has(field) && x !== y) f.push({ field, a: x, b: y });
    };
    add('type', na.type, nb.type);
    if (na.type === nb.type) {
      add('mode', na.mode, nb.mode);
      add('uid', na.uid, nb.uid);
      add('gid', na.gid, nb.gid);
      add('mtime', `${na.mtime.sec}.${na.mtime.nsec}`, `${nb.mtime.sec}.${nb.mtime.nsec}`);
      add('xattrs', xattrKey(na.xattrs), xattrKey(nb.xattrs));
      if (na.type === 'file' && nb.type === 'file') {
        add('size', na.content.size, nb.content.size);
        if (!ignore.has('content') && na.content.size === nb.content.size && !(await sameContent(na, nb)))
          f.push({ field: 'content', a: 'differs', b: 'differs' });
      }
      if (na.type === 'symlink' && nb.type === 'symlink') add('target', na.target, nb.target);
      if ((na.type === 'chardev' || na.type === 'blockdev') && (nb.type === 'chardev' || nb.type === 'blockdev'))
        add('device', `${na.major}:${na.minor}`, `${nb.major}:${nb.minor}`);
      if (na.type !== 'dir') add('links', (ga.get(na) ?? []).join(' '), (gb.get(nb) ?? []).join(' '));
    }
    if (f.length) out.push({ path: p, change: 'changed', type: na.type, fields: f });
  }
  return out;
}

/** A readable report, one line per difference. */
export function formatDiff(d: DiffEntry[]): string {
  const show = (field: DiffField, v: unknown) =>
    field === 'mode' && typeof v === 'number' ? `0${v.toString(8)}` : v === '' ? '(none)' : String(v);
  return d
    .map((e) => {
      if (e.change === 'added') return `+ ${e.path} (${e.type})`;
      if (e.change === 'removed') return `- ${e.path} (${e.type})`;
      return `~ ${e.path}: ${e.fields!.map((c) => (c.field === 'content' ? 'content differs' : `${c.field} ${show(c.field, c.a)} -> ${show(c.field, c.b)}`)).join(', ')}`;
    })
    .join('\n');
}
