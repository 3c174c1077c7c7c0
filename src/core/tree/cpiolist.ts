/**
 * The Linux kernel's gen_init_cpio list format (usr/gen_init_cpio.c), read
 * the way that program reads it:
 *
 *   file <name> <location> <mode> <uid> <gid> [<hard links>...]
 *   dir <name> <mode> <uid> <gid>
 *   nod <name> <mode> <uid> <gid> <dev_type: b|c> <maj> <min>
 *   slink <name> <target> <mode> <uid> <gid>
 *   pipe <name> <mode> <uid> <gid>
 *   sock <name> <mode> <uid> <gid>
 *
 * - A line is a comment only when '#' is its first character; elsewhere '#'
 *   is part of a name. Fields are separated by spaces and tabs (a trailing
 *   CR is white space too); there are no quotes or escapes, so a name cannot
 *   hold white space.
 * - A line holding only its type word, or only white space, is skipped.
 * - `${VAR}` in a file's <location> is replaced by the variable's value
 *   (empty when unset), from the environment the caller passes.
 * - Fields after the last one a type uses are ignored, as sscanf does.
 * - Modes are octal permission bits (the type comes from the keyword);
 *   uid/gid and device numbers decimal.
 *
 * A `file` keeps its host file's modification time (gen_init_cpio stores
 * st_mtime); every other entry gets the default time (gen_init_cpio's -t).
 * Device nodes need no root: they are entries in the tree, not host files.
 * Locations are resolved through a callback (the Node layer reads host
 * files), keeping this parser pure.
 */
import { UsageError } from '../errors.js';
import { FileTree, toTimespec, type MetaInput } from './tree.js';
import type { Content, Timespec } from './types.js';

/** What a `file` line's location resolves to. */
export interface ResolvedFile {
  content: Content;
  /** The host file's modification time (kept; SOURCE_DATE_EPOCH clamping is the caller's). */
  mtime?: Timespec;
}

export interface CpioListOptions {
  /** Resolve a `file` line's <location> (after `${VAR}` expansion) to its content. */
  resolve: (location: string, line: number) => Content | ResolvedFile;
  /** Variables for `${VAR}` in locations (the Node layer passes process.env). */
  env?: Record<string, string | undefined>;
  /** Time of entries other than files, and of files whose resolver gives none (seconds). */
  defaultTime?: number;
  /** Name used in error messages. */
  source?: string;
  tree?: FileTree;
}

interface EntryBase {
  /** 1-based line number. */
  line: number;
  /** The name as written, without one leading '/' (what gen_init_cpio stores). */
  name: string;
  mode: number;
  uid: number;
  gid: number;
}

/** One list line, in list order: what `kernelCpioChunks` writes byte for byte like gen_init_cpio. */
export type CpioListEntry =
  | (EntryBase & { kind: 'file'; location: string; links: string[]; content: Content; mtime: Timespec | undefined })
  | (EntryBase & { kind: 'dir' | 'pipe' | 'sock' })
  | (EntryBase & { kind: 'nod'; device: 'b' | 'c'; major: number; minor: number })
  | (EntryBase & { kind: 'slink'; target: string });

const KINDS = ['file', 'dir', 'nod', 'slink', 'pipe', 'sock'] as const;
/** Arguments each kind needs (after the keyword). */
const NEEDS: Record<(typeof KINDS)[number], number> = { file: 5, dir: 4, nod: 7, slink: 5, pipe: 4, sock: 4 };
/** How long `${VAR}` expansion may make a location: gen_init_cpio's PATH_MAX buffer. */
const PATH_MAX = 4096;

/** Replace `${VAR}` in `location` with values from `env`, left to right, as gen_init_cpio does. */
export function expandLocation(location: string, env: Record<string, string | undefined> = {}): string {
  let out = location;
  let from = 0;
  for (let guard = 0; guard < PATH_MAX; guard++) {
    const start = out.indexOf('${', from);
    const end = start < 0 ? -1 : out.indexOf('}', start + 2);
    if (end < 0) break;
    const value = env[out.slice(start + 2, end)] ?? '';
    out = out.slice(0, start) + value + out.slice(end + 1);
    from = start + value.length;
    if (out.length > PATH_MAX) break;
  }
  return out;
}

/** Parse a list into its entries, in order. */
export function parseCpioList(text: string, opts: CpioListOptions): CpioListEntry[] {
  return [...listEntries(text, opts)];
}

/** The entries of a list one line at a time (no array of lines or of entries). */
function* listEntries(text: string, opts: CpioListOptions): Generator<CpioListEntry> {
  const src = opts.source ?? 'list';
  let lineNo = 0;
  for (let start = 0; start <= text.length;) {
    let end = text.indexOf('\n', start);
    if (end < 0) end = text.length;
    const entry = parseLine(text.slice(start, end), ++lineNo, src, opts);
    if (entry) yield entry;
    start = end + 1;
  }
}

function parseLine(raw: string, lineNo: number, src: string, opts: CpioListOptions): CpioListEntry | undefined {
  if (raw.startsWith('#')) return undefined;
  const fields = raw.split(/[ \t\r\v\f]+/).filter((f) => f !== '');
  // an indented comment: gen_init_cpio reports an unknown type and goes on, which writes nothing either
  if (fields.length <= 1 || fields[0]!.startsWith('#')) return undefined;
  const bad = (why: string) =>
    new UsageError('E_USAGE_CPIO_LIST', `${src}:${lineNo}: ${why}: ${raw.trim()}`, { path: src, line: lineNo });
  const kind = fields[0] as (typeof KINDS)[number];
  if (!KINDS.includes(kind)) {
    throw bad(`unknown entry type '${fields[0]}' (expected file, dir, nod, slink, pipe or sock)`);
  }
  const f = fields.slice(1);
  if (f.length < NEEDS[kind]) throw bad(`'${kind}' needs ${NEEDS[kind]} fields`);
  const octal = (s: string, what: string) => {
    if (!/^[0-7]+$/.test(s)) throw bad(`${what} must be octal`);
    const n = parseInt(s, 8);
    if (n > 0o7777) throw bad(`${what} has bits beyond 07777`);
    return n;
  };
  const dec = (s: string, what: string, max = 0xffffffff) => {
    if (!/^\d+$/.test(s) || Number(s) > max) throw bad(`${what} must be a decimal number up to ${max}`);
    return Number(s);
  };
  const meta = (i: number) => ({ mode: octal(f[i]!, 'mode'), uid: dec(f[i + 1]!, 'uid'), gid: dec(f[i + 2]!, 'gid') });
  const name = f[0]!.startsWith('/') ? f[0]!.slice(1) : f[0]!;
  const base = { line: lineNo, name };
  switch (kind) {
    case 'file': {
      const location = expandLocation(f[1]!, opts.env);
      const r = opts.resolve(location, lineNo);
      const resolved = 'content' in r ? r : { content: r };
      const links = f.slice(5).map((n) => (n.startsWith('/') ? n.slice(1) : n));
      return { ...base, kind, ...meta(2), location, links, content: resolved.content, mtime: resolved.mtime };
    }
    case 'nod': {
      if (f[4] !== 'b' && f[4] !== 'c') throw bad(`device type must be 'b' or 'c'`);
      const major = dec(f[5]!, 'major', 0xfff);
      return { ...base, kind, ...meta(1), device: f[4], major, minor: dec(f[6]!, 'minor', 0xfffff) };
    }
    case 'slink':
      return { ...base, kind, target: f[1]!, ...meta(2) };
    default:
      return { ...base, kind, ...meta(1) };
  }
}

/**
 * Build a tree from a list: later lines replace earlier ones of the same
 * name, as unpacking does. Each line goes into the tree as it is read: a
 * list of 200,000 files is never held as 200,000 parsed entries.
 */
export function treeFromCpioList(text: string, opts: CpioListOptions): FileTree {
  const tree = opts.tree ?? new FileTree({ defaultTime: opts.defaultTime ?? 0 });
  const src = opts.source ?? 'list';
  for (const e of listEntries(text, opts)) {
    try {
      addEntry(tree, e, opts.defaultTime);
    } catch (err) {
      if (err instanceof Error && 'code' in err) err.message = `${src}:${e.line}: ${err.message}`;
      throw err;
    }
  }
  return tree;
}

function addEntry(tree: FileTree, e: CpioListEntry, defaultTime: number | undefined): void {
  const m: MetaInput = { mode: e.mode, uid: e.uid, gid: e.gid };
  const replace = { replace: true };
  switch (e.kind) {
    case 'file':
      tree.addFile(e.name, e.content, { ...m, mtime: e.mtime ?? toTimespec(defaultTime ?? tree.defaultTime) }, replace);
      for (const alias of e.links) tree.addHardLink(alias, e.name, replace);
      return;
    case 'dir':
      tree.mkdir(e.name, m);
      return;
    case 'nod':
      tree.addDevice(e.name, e.device === 'b' ? 'block' : 'char', e.major, e.minor, m, replace);
      return;
    case 'slink':
      tree.addSymlink(e.name, e.target, m, replace);
      return;
    case 'pipe':
      tree.addFifo(e.name, m, replace);
      return;
    case 'sock':
      tree.addSocket(e.name, m, replace);
      return;
  }
}
