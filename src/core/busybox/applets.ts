/**
 * Busybox applets read out of the binary's own tables, without running it
 * (so a binary for any architecture works).
 *
 * Busybox's build generates (applets/applet_tables.c -> include/applet_tables.h):
 *   - `applet_names`: every applet name, sorted (strcmp order), each followed
 *     by a NUL, the whole list ending with an extra NUL;
 *   - `applet_install_loc` (with FEATURE_INSTALLER): ceil(n/2) bytes, two
 *     applets per byte: applet 2k in the low nibble, applet 2k+1 in the high
 *     nibble; values 0..4 = /, /bin, /sbin, /usr/bin, /usr/sbin. When n is
 *     odd the last high nibble is 0.
 * Neither table has a symbol in a stripped binary, so both are found by
 * shape: the longest NUL-separated sorted run of applet-like names ending in
 * an empty string, then the ceil(n/2)-byte window of valid nibbles whose
 * values agree best with the install locations that have been stable in
 * busybox for many years (ls in /bin, ifconfig in /sbin, awk in /usr/bin,
 * chroot in /usr/sbin, ...).
 */
import { FormatError } from '../errors.js';
import { bytesContent } from '../tree/content.js';
import type { FileTree, MetaInput } from '../tree/tree.js';
import type { Content } from '../tree/types.js';

export type AppletDir = '/' | '/bin' | '/sbin' | '/usr/bin' | '/usr/sbin';

export interface Applet {
  name: string;
  /** Install directory; '/' only for the rare root applets (linuxrc). */
  dir: AppletDir;
}

/** Index = busybox's bb_install_loc_t value. */
export const INSTALL_DIRS: readonly AppletDir[] = ['/', '/bin', '/sbin', '/usr/bin', '/usr/sbin'];

/**
 * Install locations that have not changed in busybox's applet definitions for
 * a long time. Used only to pick the install-location table among candidate
 * byte windows; a table that disagrees with most of them is rejected.
 */
const ANCHORS: Record<string, number> = {
  // /bin
  ash: 1,
  cat: 1,
  chmod: 1,
  cp: 1,
  date: 1,
  dd: 1,
  echo: 1,
  grep: 1,
  ln: 1,
  ls: 1,
  mkdir: 1,
  mount: 1,
  mv: 1,
  ps: 1,
  rm: 1,
  sed: 1,
  sh: 1,
  sleep: 1,
  umount: 1,
  // /sbin
  halt: 2,
  ifconfig: 2,
  init: 2,
  insmod: 2,
  mdev: 2,
  modprobe: 2,
  poweroff: 2,
  reboot: 2,
  rmmod: 2,
  swapon: 2,
  switch_root: 2,
  // /usr/bin
  '[': 3,
  '[[': 3,
  awk: 3,
  basename: 3,
  cut: 3,
  dirname: 3,
  env: 3,
  find: 3,
  head: 3,
  sort: 3,
  tail: 3,
  test: 3,
  tr: 3,
  uniq: 3,
  wc: 3,
  xargs: 3,
  yes: 3,
  // /usr/sbin
  chroot: 4,
  crond: 4,
  httpd: 4,
  telnetd: 4,
  // /
  linuxrc: 0,
};

/** Bytes that can be in an install-location table (two nibbles 0..4), and their zero nibbles. */
const VALID_LOC = new Uint8Array(256);
const ZERO_NIBBLES = new Uint8Array(256);
for (let b = 0; b < 256; b++) {
  VALID_LOC[b] = (b & 15) <= 4 && b >> 4 <= 4 ? 1 : 0;
  ZERO_NIBBLES[b] = ((b & 15) === 0 ? 1 : 0) + (b >> 4 === 0 ? 1 : 0);
}

const NAME_BYTE = new Uint8Array(256);
for (const c of 'abcdefghijklmnopqrstuvwxyz0123456789._-[]+') NAME_BYTE[c.charCodeAt(0)] = 1;

/** strcmp order on byte strings. */
function byteLess(d: Uint8Array, a: number, aEnd: number, b: number, bEnd: number): boolean {
  const la = aEnd - a,
    lb = bEnd - b;
  const n = Math.min(la, lb);
  for (let i = 0; i < n; i++) {
    const x = d[a + i]!,
      y = d[b + i]!;
    if (x !== y) return x < y;
  }
  return la < lb;
}

interface NamesRun {
  start: number;
  end: number;
  names: string[];
}

/**
 * The longest run of NUL-terminated, strictly increasing applet-like names
 * followed by an empty string. The first name may carry leading bytes of
 * whatever precedes the table; readBusyboxApplets trims them.
 */
export function findAppletNames(d: Uint8Array): NamesRun | undefined {
  let best: { start: number; end: number; count: number } | undefined;
  // Current run state.
  let runStart = -1,
    count = 0,
    prevS = -1,
    prevE = -1;
  let i = 0;
  const n = d.length;
  while (i < n) {
    // Try to read one name at i.
    let j = i;
    while (j < n && NAME_BYTE[d[j]!]) j++;
    // The first name of a run may directly follow other data (the install-location
    // table often ends right before it, and its last byte can be a digit).
    const isName = j > i && j < n && d[j] === 0 && j - i <= 64;
    if (isName) {
      if (runStart >= 0 && prevE === i - 1 && byteLess(d, prevS, prevE, i, j)) {
        count++;
      } else {
        runStart = i;
        count = 1;
      }
      prevS = i;
      prevE = j;
      // Run ends properly here when an empty string follows.
      if (j + 1 < n && d[j + 1] === 0 && count >= 2 && (!best || count > best.count))
        best = { start: runStart, end: j + 1, count };
      i = j + 1;
    } else {
      runStart = -1;
      count = 0;
      i = j > i ? j : i + 1;
    }
  }
  if (!best) return undefined;
  const text = new TextDecoder('latin1').decode(d.subarray(best.start, best.end - 1));
  return { start: best.start, end: best.end, names: text.split('\0') };
}

/**
 * Locate the packed install-location table for `names` in `d`. Returns the
 * per-applet location values, or undefined when no window agrees with the
 * anchors well enough.
 */
export function findInstallLocations(
  d: Uint8Array,
  names: string[],
  near?: number,
): { offset: number; locs: number[] } | undefined {
  const count = names.length;
  const len = Math.ceil(count / 2);
  const anchors: Array<[index: number, loc: number]> = [];
  names.forEach((nm, k) => {
    const a = ANCHORS[nm];
    if (a !== undefined) anchors.push([k, a]);
  });
  // Real tables have almost no zero nibbles (only root applets and the odd
  // count's padding); runs of zero bytes are everywhere in binaries.
  const maxZeros = Math.max(2, Math.floor(count / 40)) + (count % 2);
  let best: { off: number; score: number } | undefined;
  let candidates = 0;
  let run = 0; // valid bytes ending at k
  let zeros = 0; // zero nibbles in the last min(run, len) bytes
  for (let k = 0; k < d.length; k++) {
    const b = d[k]!;
    if (!VALID_LOC[b]) {
      run = 0;
      zeros = 0;
      continue;
    }
    run++;
    zeros += ZERO_NIBBLES[b]!;
    if (run > len) zeros -= ZERO_NIBBLES[d[k - len]!]!;
    if (run < len || zeros > maxZeros) continue;
    const off = k - len + 1;
    if (count % 2 === 1 && b >> 4 !== 0) continue;
    candidates++;
    let score = 0;
    for (const [idx, loc] of anchors) {
      const x = d[off + (idx >> 1)]!;
      if (((idx & 1 ? x >> 4 : x) & 15) === loc) score++;
    }
    const better =
      !best ||
      score > best.score ||
      (score === best.score && near !== undefined && Math.abs(off - near) < Math.abs(best.off - near));
    if (better) best = { off, score };
  }
  if (!best) return undefined;
  // Without enough anchors any window of valid nibbles would do: trust only a single candidate.
  if (anchors.length >= 3 ? best.score < Math.ceil(anchors.length * 0.8) : candidates !== 1) return undefined;
  const locs: number[] = [];
  for (let k = 0; k < count; k++) {
    const b = d[best.off + (k >> 1)]!;
    locs.push((k & 1 ? b >> 4 : b) & 15);
  }
  return { offset: best.off, locs };
}

export interface ReadAppletsOptions {
  /**
   * Called only when the tables cannot be found (for instance a busybox built
   * without FEATURE_INSTALLER): returns the text of `busybox --list-full`.
   * The library never runs the binary itself; the CLI passes a function that
   * does (through src/toolchain's run()).
   */
  fallback?: () => string;
}

/** Parse `busybox --list-full` output ("bin/ls", "usr/sbin/chroot", "linuxrc"). */
export function parseListFull(text: string): Applet[] {
  const out: Applet[] = [];
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (!line) continue;
    const slash = line.lastIndexOf('/');
    const dir = ('/' + (slash < 0 ? '' : line.slice(0, slash))).replace(/\/+$/, '') || '/';
    const name = line.slice(slash + 1);
    if (!INSTALL_DIRS.includes(dir as AppletDir) || !name)
      throw new FormatError('E_FORMAT_BUSYBOX_LIST', `busybox --list-full: unexpected line '${line}'`, {
        format: 'busybox',
        actual: line,
      });
    out.push({ name, dir: dir as AppletDir });
  }
  if (out.length === 0)
    throw new FormatError('E_FORMAT_BUSYBOX_LIST', 'busybox --list-full printed no applets', { format: 'busybox' });
  return out;
}

/**
 * The applets of a busybox binary with their install directories, in the
 * binary's (sorted) order. Throws FormatError E_FORMAT_BUSYBOX when the
 * tables cannot be found and no fallback is given.
 */
export function readBusyboxApplets(binary: Uint8Array, opts: ReadAppletsOptions = {}): Applet[] {
  const found = findAppletNames(binary);
  if (found) {
    // A short string stored just before the table can look like a first,
    // smaller name ("5\0" before "[\0"): retry without up to 3 leading names.
    for (let drop = 0; drop <= Math.min(3, found.names.length - 2); drop++) {
      const names = found.names.slice(drop);
      const hit = findInstallLocations(binary, names, found.start);
      if (!hit) continue;
      if (drop === 0) {
        // The install-location table may end right where the names begin, its
        // last byte read as part of the first name ("3[" for "["): cut it off.
        const firstEnd = found.start + names[0]!.length;
        const tableEnd = hit.offset + Math.ceil(names.length / 2);
        if (hit.offset < firstEnd && tableEnd > found.start) {
          if (tableEnd >= firstEnd) continue;
          names[0] = names[0]!.slice(tableEnd - found.start);
        }
      }
      return names.map((name, k) => ({ name, dir: INSTALL_DIRS[hit.locs[k]!]! }));
    }
  }
  if (opts.fallback) return parseListFull(opts.fallback());
  throw new FormatError(
    'E_FORMAT_BUSYBOX',
    found
      ? `found ${found.names.length} applet names but no applet_install_loc table (busybox built without FEATURE_INSTALLER?)`
      : 'no busybox applet name table found: is this a busybox binary?',
    {
      format: 'busybox',
      structure: found ? 'applet_install_loc' : 'applet_names',
      ...(found ? { offset: found.start } : {}),
    },
  );
}

export interface AddBusyboxOptions {
  /** Where the binary goes (default /bin/busybox). Symlinks point at this absolute path, as `busybox --install -s` makes them. */
  path?: string;
  /** Applets to use instead of reading them from the binary (e.g. from --list-full). */
  applets?: Applet[];
  /** Passed to readBusyboxApplets. */
  fallback?: () => string;
  /** Metadata for the binary (default mode 0755, root:root) and the links. */
  meta?: MetaInput;
  /** Replace an existing /bin/busybox (default false: an error). */
  replace?: boolean;
}

/**
 * Add /bin/busybox (0755) and one absolute symlink per applet at its install
 * location. Names that already exist in the tree are skipped (like
 * `busybox --install -s`, which never overwrites). Returns the applets that
 * got a link.
 */
export function addBusybox(tree: FileTree, binary: Uint8Array | Content, opts: AddBusyboxOptions = {}): Applet[] {
  const path = opts.path ?? '/bin/busybox';
  let applets = opts.applets;
  if (!applets) {
    const bytes = binary instanceof Uint8Array ? binary : binary.readAt?.(0, binary.size);
    if (!bytes)
      throw new FormatError(
        'E_FORMAT_BUSYBOX',
        'addBusybox: the busybox content has no random access; pass `applets` or the bytes',
        { format: 'busybox' },
      );
    applets = readBusyboxApplets(bytes, opts.fallback ? { fallback: opts.fallback } : {});
  }
  const content = binary instanceof Uint8Array ? bytesContent(binary) : binary;
  const meta = opts.meta ?? {};
  tree.addFile(path, content, { mode: 0o755, ...meta }, { replace: opts.replace ?? false });
  const linkMeta: MetaInput = { ...meta, mode: 0o777 };
  const added: Applet[] = [];
  for (const a of applets) {
    const p = a.dir === '/' ? `/${a.name}` : `${a.dir}/${a.name}`;
    if (p === path || tree.has(p)) continue;
    tree.addSymlink(p, path, linkMeta);
    added.push(a);
  }
  return added;
}
