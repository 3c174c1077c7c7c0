/**
 * Kernel modules of a distribution kernel, without depmod.
 *
 * A kernel package unpacked without its post-install step has no
 * modules.dep / modules.alias. Every module carries the same facts in its
 * own ELF `.modinfo` section (NUL-separated `key=value` strings): `depends=`
 * (comma list of module names), `softdep=` ("pre: a b post: c"), `alias=`
 * (shell patterns such as `pci:v00008086d0000100Esv*sd*bc*sc*i*` or plain
 * names like `crypto-crc32c`). This file reads them, computes the closure of
 * named modules (depends + softdep pre/post, names resolved by module name
 * first, then by alias pattern), writes modules.dep / modules.alias (depmod's
 * formats) and modules.dep.bb (busybox's small modprobe), and builds an
 * initramfs whose /init loads the modules, waits for root=PARTUUID=..., mounts
 * it and switch_roots.
 *
 * Compressed modules: `.ko.gz` is read through fflate; `.ko.xz` and `.ko.zst`
 * have no decoder in the dependencies, so they raise E_USAGE_MODULE_COMPRESSED
 * (Debian 12's kernels ship plain `.ko`).
 */
import { gunzipSync } from 'fflate';
import { FormatError, UsageError } from '../errors.js';
import { Elf64Header, Elf64SectionHeader, SHT_NOBITS } from '../binary/elf.js';
import { FileTree } from '../tree/tree.js';
import { bytesContent, readContent } from '../tree/content.js';
import type { Content, TreeNode } from '../tree/types.js';

export { Elf64Header, Elf64SectionHeader };

export interface ModuleInfo {
  /** Module name as the kernel knows it ('-' replaced by '_'), e.g. "crc32c_intel". */
  name: string;
  /** Path relative to the modules directory, e.g. "kernel/fs/ext4/ext4.ko". */
  path: string;
  depends: string[];
  softdepPre: string[];
  softdepPost: string[];
  aliases: string[];
  content: Content;
}

export interface ModuleIndex {
  modules: Map<string, ModuleInfo>;
  /** Names of modules built into the kernel (from modules.builtin), if that file was there. */
  builtin: Set<string>;
}

/** "kernel/arch/x86/crypto/crc32c-intel.ko" -> "crc32c_intel". */
export function moduleNameOf(path: string): string {
  const base = path.slice(path.lastIndexOf('/') + 1);
  return base.replace(/\.ko(\.(gz|xz|zst))?$/, '').replace(/-/g, '_');
}

/** The raw bytes of an ELF section by name, or undefined when absent. */
function elfSection(
  read: (off: number, len: number) => Uint8Array,
  size: number,
  want: string,
  where: string,
): Uint8Array | undefined {
  if (size < Elf64Header.size)
    throw new FormatError('E_FORMAT_ELF', `${where}: ${size} bytes is too short for an ELF header`, {
      path: where,
      actual: size,
    });
  const h = Elf64Header.decode(read(0, Elf64Header.size));
  const id = h.ident;
  if (id[0] !== 0x7f || id[1] !== 0x45 || id[2] !== 0x4c || id[3] !== 0x46)
    throw new FormatError('E_FORMAT_ELF', `${where}: not an ELF file`, { path: where, field: 'e_ident' });
  if (id[4] !== 2 || id[5] !== 1)
    throw new FormatError(
      'E_FORMAT_ELF_CLASS',
      `${where}: only little-endian 64-bit ELF modules are supported (class ${id[4]}, data ${id[5]})`,
      { path: where, field: 'e_ident' },
    );
  if (h.shentsize !== Elf64SectionHeader.size)
    throw new FormatError('E_FORMAT_ELF', `${where}: section header size ${h.shentsize}, expected 64`, {
      path: where,
      field: 'e_shentsize',
      actual: h.shentsize,
    });
  if (h.shoff + h.shnum * 64 > size || h.shstrndx >= h.shnum)
    throw new FormatError('E_FORMAT_ELF', `${where}: section header table lies outside the file`, {
      path: where,
      field: 'e_shoff',
      offset: h.shoff,
    });
  const table = read(h.shoff, h.shnum * 64);
  const sections = Array.from({ length: h.shnum }, (_, i) => Elf64SectionHeader.decode(table, i * 64));
  const strtab = sections[h.shstrndx]!;
  if (strtab.offset + strtab.size > size)
    throw new FormatError('E_FORMAT_ELF', `${where}: section name table lies outside the file`, {
      path: where,
      field: 'shstrtab',
    });
  const names = read(strtab.offset, strtab.size);
  const wantBytes = new TextEncoder().encode(want);
  for (const s of sections) {
    if (s.type === SHT_NOBITS || s.name + wantBytes.length >= names.length) continue;
    let ok = names[s.name + wantBytes.length] === 0;
    for (let i = 0; ok && i < wantBytes.length; i++) ok = names[s.name + i] === wantBytes[i];
    if (!ok) continue;
    if (s.offset + s.size > size)
      throw new FormatError('E_FORMAT_ELF', `${where}: section ${want} lies outside the file`, {
        path: where,
        field: want,
        offset: s.offset,
      });
    return read(s.offset, s.size);
  }
  return undefined;
}

/** Parse the `.modinfo` strings of a module. */
export function parseModinfo(modinfo: Uint8Array): Map<string, string[]> {
  const m = new Map<string, string[]>();
  const text = new TextDecoder().decode(modinfo);
  for (const s of text.split('\0')) {
    const i = s.indexOf('=');
    if (i <= 0) continue;
    const k = s.slice(0, i);
    const list = m.get(k) ?? [];
    list.push(s.slice(i + 1));
    m.set(k, list);
  }
  return m;
}

/** Read one module's dependency facts from its bytes (plain or gzip). */
export function readModuleInfoBytes(path: string, bytes: Uint8Array, content?: Content): ModuleInfo {
  let elf = bytes;
  if (path.endsWith('.gz')) elf = gunzipSync(bytes);
  else if (path.endsWith('.xz') || path.endsWith('.zst')) throw compressedError(path);
  const sec = elfSection((o, l) => elf.subarray(o, o + l), elf.length, '.modinfo', path);
  return infoFrom(path, sec ? parseModinfo(sec) : new Map(), content ?? bytesContent(bytes));
}

function compressedError(path: string): UsageError {
  return new UsageError(
    'E_USAGE_MODULE_COMPRESSED',
    `${path}: xz/zstd-compressed modules are not supported (no decoder available); decompress the modules directory first (e.g. find DIR -name '*.ko.xz' -exec unxz {} +, or zstd -d --rm)`,
    { path },
  );
}

function infoFrom(path: string, mi: Map<string, string[]>, content: Content): ModuleInfo {
  const depends = (mi.get('depends') ?? [])
    .flatMap((d) => d.split(','))
    .map((d) => d.trim().replace(/-/g, '_'))
    .filter(Boolean);
  const softdepPre: string[] = [];
  const softdepPost: string[] = [];
  for (const sd of mi.get('softdep') ?? []) {
    let into: string[] | undefined;
    for (const tok of sd.split(/\s+/).filter(Boolean)) {
      if (tok === 'pre:') into = softdepPre;
      else if (tok === 'post:') into = softdepPost;
      else into?.push(tok);
    }
  }
  return { name: moduleNameOf(path), path, depends, softdepPre, softdepPost, aliases: mi.get('alias') ?? [], content };
}

/** Read a module's facts from a Content (random access when available). */
export async function readModuleInfo(path: string, content: Content): Promise<ModuleInfo> {
  if (path.endsWith('.xz') || path.endsWith('.zst')) throw compressedError(path);
  if (path.endsWith('.gz') || !content.readAt) return readModuleInfoBytes(path, await readContent(content), content);
  const readAt = content.readAt.bind(content);
  const read = (o: number, l: number) => {
    const b = readAt(o, l);
    if (b.length !== l) throw new FormatError('E_FORMAT_ELF', `${path}: short read at ${o}`, { path, offset: o });
    return b;
  };
  const sec = elfSection(read, content.size, '.modinfo', path);
  return infoFrom(path, sec ? parseModinfo(sec) : new Map(), content);
}

function fileAt(tree: FileTree, path: string): Content | undefined {
  const n: TreeNode | undefined = tree.get(path);
  return n?.type === 'file' ? n.content : undefined;
}

/**
 * Index every module under a modules directory given as a FileTree whose
 * root is the directory lib/modules/VERSION (so paths are "kernel/...").
 */
export async function scanModules(tree: FileTree): Promise<ModuleIndex> {
  const modules = new Map<string, ModuleInfo>();
  for (const e of tree.walk()) {
    if (e.node.type !== 'file' || !/\.ko(\.(gz|xz|zst))?$/.test(e.name)) continue;
    const path = e.path.slice(1);
    const info = await readModuleInfo(path, e.node.content);
    if (!modules.has(info.name)) modules.set(info.name, info);
  }
  const builtin = new Set<string>();
  const b = fileAt(tree, '/modules.builtin');
  if (b)
    for (const line of new TextDecoder().decode(await readContent(b)).split('\n'))
      if (line.trim()) builtin.add(moduleNameOf(line.trim()));
  return { modules, builtin };
}

/** Shell-pattern match as fnmatch(3) without flags: *, ?, [...]. */
export function globMatch(pattern: string, s: string): boolean {
  let rx = globCache.get(pattern);
  if (!rx) {
    if (!/[*?[]/.test(pattern)) return pattern === s;
    rx = globRegExp(pattern);
    if (globCache.size > 100_000) globCache.clear();
    globCache.set(pattern, rx);
  }
  return rx.test(s);
}

const globCache = new Map<string, RegExp>();

function globRegExp(pattern: string): RegExp {
  let re = '^';
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i]!;
    if (c === '*') re += '.*';
    else if (c === '?') re += '.';
    else if (c === '[') {
      const j = pattern.indexOf(']', i + 2);
      if (j < 0) {
        re += '\\[';
        continue;
      }
      let body = pattern.slice(i + 1, j);
      if (body.startsWith('!')) body = '^' + body.slice(1);
      re += `[${body.replace(/\\/g, '\\\\')}]`;
      i = j;
    } else re += c.replace(/[.+^${}()|\\\]]/g, '\\$&');
  }
  return new RegExp(re + '$', 's');
}

/** Modules matching a name: the module of that name, else every module with a matching alias. */
export function resolveModule(index: ModuleIndex, nameOrAlias: string): ModuleInfo[] {
  const n = nameOrAlias.replace(/-/g, '_');
  const direct = index.modules.get(n);
  if (direct) return [direct];
  const out: ModuleInfo[] = [];
  for (const m of index.modules.values()) {
    if (m.aliases.some((a) => globMatch(a.replace(/-/g, '_'), n) || globMatch(a, nameOrAlias))) out.push(m);
  }
  return out;
}

export interface ClosureOptions {
  /** Names that may be missing without an error (they may be built in). Default: none. */
  optional?: Iterable<string>;
  /** Called for each name that resolved to nothing and was optional or built in. */
  skipped?: (name: string, why: 'builtin' | 'absent') => void;
}

/**
 * The named modules plus everything they need, in load order (each module
 * after its dependencies and its softdep-pre modules). Softdeps that resolve
 * to nothing are ignored; an unknown named module throws unless optional or
 * built in.
 */
export function moduleClosure(index: ModuleIndex, names: readonly string[], opts: ClosureOptions = {}): ModuleInfo[] {
  const optional = new Set([...(opts.optional ?? [])].map((n) => n.replace(/-/g, '_')));
  const order: ModuleInfo[] = [];
  const state = new Map<string, 'visiting' | 'done'>();
  const visit = (m: ModuleInfo, chain: string[]) => {
    const s = state.get(m.name);
    if (s === 'done' || s === 'visiting') return; // a cycle (softdeps may form one) is broken here
    state.set(m.name, 'visiting');
    for (const d of m.softdepPre) for (const x of resolveModule(index, d)) visit(x, [...chain, m.name]);
    for (const d of m.depends) {
      const found = index.modules.get(d);
      if (found) visit(found, [...chain, m.name]);
      else if (!index.builtin.has(d)) {
        throw new UsageError(
          'E_USAGE_MODULE_DEP',
          `module ${m.name} depends on ${d}, which is not in the modules directory`,
          { path: m.path, actual: d },
        );
      }
    }
    state.set(m.name, 'done');
    order.push(m);
    for (const d of m.softdepPost) for (const x of resolveModule(index, d)) visit(x, [...chain, m.name]);
  };
  for (const raw of names) {
    const found = resolveModule(index, raw);
    const n = raw.replace(/-/g, '_');
    if (found.length === 0) {
      if (index.builtin.has(n)) {
        opts.skipped?.(raw, 'builtin');
        continue;
      }
      if (optional.has(n)) {
        opts.skipped?.(raw, 'absent');
        continue;
      }
      throw new UsageError(
        'E_USAGE_MODULE',
        `kernel module '${raw}' is neither in the modules directory nor built in`,
        { actual: raw },
      );
    }
    for (const m of found) visit(m, []);
  }
  return order;
}

/**
 * The modules of `order` reached from `names` through `depends` alone; the
 * others came in only as soft dependencies (alternatives such as
 * crc32c_intel, which fails to load on CPUs without SSE4.2).
 */
export function hardModules(index: ModuleIndex, names: readonly string[]): Set<string> {
  const hard = new Set<string>();
  const visit = (m: ModuleInfo) => {
    if (hard.has(m.name)) return;
    hard.add(m.name);
    for (const d of m.depends) {
      const x = index.modules.get(d);
      if (x) visit(x);
    }
  };
  for (const n of names) {
    const x = index.modules.get(n.replace(/-/g, '_'));
    if (x) visit(x);
  }
  return hard;
}

/** Transitive dependencies of one module in load order (depends only, as depmod lists them). */
function depOrder(index: ModuleIndex, m: ModuleInfo): ModuleInfo[] {
  const out: ModuleInfo[] = [];
  const seen = new Set<string>([m.name]);
  const visit = (x: ModuleInfo) => {
    for (const d of x.depends) {
      const dm = index.modules.get(d);
      if (!dm || seen.has(dm.name)) continue;
      seen.add(dm.name);
      visit(dm);
      out.push(dm);
    }
  };
  visit(m);
  return out;
}

function sortedModules(index: ModuleIndex, subset?: Iterable<ModuleInfo>): ModuleInfo[] {
  return [...(subset ?? index.modules.values())].sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
}

/** modules.dep as depmod writes it: "path: dep dep" with the dependency loaded first listed last. */
export function modulesDep(index: ModuleIndex, subset?: Iterable<ModuleInfo>): string {
  return sortedModules(index, subset)
    .map((m) => {
      const deps = depOrder(index, m)
        .reverse()
        .map((d) => d.path);
      return `${m.path}:${deps.length ? ' ' + deps.join(' ') : ''}\n`;
    })
    .join('');
}

/** modules.alias as depmod writes it: "alias PATTERN module". */
export function modulesAlias(index: ModuleIndex, subset?: Iterable<ModuleInfo>): string {
  const lines: string[] = ['# Aliases extracted from modules themselves.'];
  for (const m of sortedModules(index, subset)) for (const a of m.aliases) lines.push(`alias ${a} ${m.name}`);
  return lines.join('\n') + '\n';
}

/** modules.softdep as depmod writes it. */
export function modulesSoftdep(index: ModuleIndex, subset?: Iterable<ModuleInfo>): string {
  const lines: string[] = ['# Soft dependencies extracted from modules themselves.'];
  for (const m of sortedModules(index, subset)) {
    if (!m.softdepPre.length && !m.softdepPost.length) continue;
    lines.push(
      `softdep ${m.name}${m.softdepPre.length ? ' pre: ' + m.softdepPre.join(' ') : ''}${m.softdepPost.length ? ' post: ' + m.softdepPost.join(' ') : ''}`,
    );
  }
  return lines.join('\n') + '\n';
}

/**
 * modules.dep.bb, the index of busybox's small modprobe (CONFIG_MODPROBE_SMALL,
 * busybox's default): per module a line "path alias alias ..." ('-' as '_'),
 * a line of dependency names, and an empty line when that was not empty.
 */
export function modulesDepBb(index: ModuleIndex, subset?: Iterable<ModuleInfo>): string {
  let out = '';
  for (const m of sortedModules(index, subset)) {
    const aliases = m.aliases.map((a) => a.replace(/-/g, '_')).filter((a) => a !== m.name);
    out += `${m.path}${aliases.length ? ' ' + aliases.join(' ') : ''}\n`;
    const deps = m.depends.join(' ');
    out += deps ? `${deps}\n\n` : '\n';
  }
  return out;
}

export interface AddModulesOptions {
  /** Only these modules (default: all). */
  subset?: Iterable<ModuleInfo>;
  /** Other files of the modules directory to copy when present (modules.builtin, modules.order, ...). */
  source?: FileTree;
}

/** Put modules + modules.dep/alias/softdep/dep.bb under /lib/modules/VERSION of `tree`. */
export function addModules(tree: FileTree, index: ModuleIndex, version: string, opts: AddModulesOptions = {}): void {
  if (!/^[^/\s]+$/.test(version))
    throw new UsageError('E_USAGE_KERNEL_VERSION', `kernel version '${version}' is not a plain directory name`, {
      actual: version,
    });
  const base = `/lib/modules/${version}`;
  const list = sortedModules(index, opts.subset);
  tree.mkdir(base);
  for (const m of list) tree.addFile(`${base}/${m.path}`, m.content, { mode: 0o644 }, { replace: true });
  for (const extra of ['modules.builtin', 'modules.builtin.modinfo', 'modules.order']) {
    const c = opts.source && fileAt(opts.source, '/' + extra);
    if (c) tree.addFile(`${base}/${extra}`, c, { mode: 0o644 }, { replace: true });
  }
  tree.addFile(`${base}/modules.dep`, modulesDep(index, list), { mode: 0o644 }, { replace: true });
  tree.addFile(`${base}/modules.alias`, modulesAlias(index, list), { mode: 0o644 }, { replace: true });
  tree.addFile(`${base}/modules.softdep`, modulesSoftdep(index, list), { mode: 0o644 }, { replace: true });
  tree.addFile(`${base}/modules.dep.bb`, modulesDepBb(index, list), { mode: 0o644 }, { replace: true });
}

/** Modules an initramfs loads by default to reach a root on IDE, AHCI, virtio or NVMe disks with ext4. */
export const DEFAULT_ROOT_MODULES = [
  'ata_piix',
  'ata_generic',
  'ahci',
  'sd_mod',
  'virtio_pci',
  'virtio_blk',
  'virtio_scsi',
  'nvme',
  'ext4',
] as const;

/** Applets the module initramfs /init uses. */
export const INITRAMFS_APPLETS = [
  'sh',
  'mount',
  'umount',
  'insmod',
  'switch_root',
  'sleep',
  'cat',
  'mkdir',
  'hexdump',
  'readlink',
  'dirname',
  'basename',
  'ls',
  'findfs',
  'tr',
  'echo',
  'grep',
] as const;

/** The /init of the module initramfs (busybox sh). `modules` are paths under /lib/modules/VERSION in load order. */
export function modulesInitScript(
  version: string,
  modules: readonly string[],
  optional: ReadonlySet<string> = new Set(),
): string {
  const loads = modules.map((p) => `${optional.has(p) ? 'try' : 'load'} ${p}`).join('\n');
  return `#!/bin/sh
# /init written by tinyimage: load the drivers to reach the root, mount it, switch_root.
export PATH=/sbin:/bin:/usr/sbin:/usr/bin
mkdir -p /proc /sys /dev /newroot
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev

MODDIR=/lib/modules/${version}
load() { insmod "$MODDIR/$1" 2>/dev/null || grep -q "^$(basename "$1" .ko | tr - _) " /proc/modules || echo "init: could not load $1" >&2; }
try() { insmod "$MODDIR/$1" 2>/dev/null; } # soft dependencies: alternatives that may not fit this CPU
${loads}

root= rootfstype= rootflags= mode=rw init=/sbin/init delay=30
for arg in $(cat /proc/cmdline); do
  case "$arg" in
    root=*) root=\${arg#root=} ;;
    rootfstype=*) rootfstype=\${arg#rootfstype=} ;;
    rootflags=*) rootflags=\${arg#rootflags=} ;;
    rootdelay=*) delay=\${arg#rootdelay=} ;;
    init=*) init=\${arg#init=} ;;
    ro) mode=ro ;;
    rw) mode=rw ;;
  esac
done

# PARTUUID of a partition: MBR "<signature>-<NN>", GPT the entry's unique GUID.
partuuid() { # $1 = partition name (sda1)
  sys=/sys/class/block/$1
  [ -f "$sys/partition" ] || return 1
  n=$(cat "$sys/partition")
  disk=$(basename "$(dirname "$(readlink -f "$sys")")")
  [ -b "/dev/$disk" ] || return 1
  ptype=$(hexdump -s 450 -n 1 -e '1/1 "%02x"' "/dev/$disk")
  if [ "$ptype" = ee ]; then
    lba=$(hexdump -s 584 -n 4 -e '1/4 "%u"' "/dev/$disk")
    esz=$(hexdump -s 596 -n 4 -e '1/4 "%u"' "/dev/$disk")
    off=$((lba * 512 + (n - 1) * esz + 16))
    hexdump -s $off -n 16 -e '1/4 "%08x-" 1/2 "%04x-" 1/2 "%04x-" 2/1 "%02x" "-" 6/1 "%02x"' "/dev/$disk"
  else
    printf '%s-%02x' "$(hexdump -s 440 -n 4 -e '1/4 "%08x"' "/dev/$disk")" "$n"
  fi
}

find_root() {
  case "$root" in
    PARTUUID=*)
      want=$(echo "\${root#PARTUUID=}" | tr A-F a-f)
      for p in /sys/class/block/*; do
        p=\${p##*/}
        [ "$(partuuid "$p" 2>/dev/null)" = "$want" ] && { echo "/dev/$p"; return 0; }
      done
      return 1 ;;
    UUID=*|LABEL=*) findfs "$root" 2>/dev/null ;;
    /dev/*) [ -b "$root" ] && echo "$root" ;;
    *) return 1 ;;
  esac
}

if [ -z "$root" ]; then
  echo "init: no root= on the kernel command line" >&2
  exec sh
fi
tries=$((delay * 10))
dev=
while :; do
  dev=$(find_root) && [ -n "$dev" ] && break
  tries=$((tries - 1))
  if [ "$tries" -le 0 ]; then
    echo "init: root device $root did not appear within $delay s (block devices: $(ls /sys/class/block | tr '\\n' ' ')); dropping to a shell" >&2
    exec sh
  fi
  sleep 0.1
done

opts=$mode
[ -n "$rootflags" ] && opts=$opts,$rootflags
if [ -n "$rootfstype" ]; then
  mount -t "$rootfstype" -o "$opts" "$dev" /newroot
else
  mount -o "$opts" "$dev" /newroot
fi || { echo "init: cannot mount $dev ($root) on /newroot" >&2; exec sh; }

umount /proc /sys
umount /dev 2>/dev/null
exec switch_root /newroot "$init" "$@"
echo "init: switch_root to $init failed" >&2
exec sh
`;
}

export interface ModulesInitramfsOptions {
  busybox: Uint8Array | Content;
  index: ModuleIndex;
  version: string;
  /** Modules to load (default DEFAULT_ROOT_MODULES, missing ones skipped). */
  load?: readonly string[];
  /** Modules of `load` to skip when the kernel has neither them nor built-in copies (default: all of DEFAULT_ROOT_MODULES when `load` is not given, else none). */
  optional?: readonly string[];
  /** Default time of the tree's entries (SOURCE_DATE_EPOCH). */
  epoch?: number;
  skipped?: ClosureOptions['skipped'];
}

/** An initramfs tree: busybox, the closure of the root-disk modules, /init. */
export function modulesInitramfsTree(o: ModulesInitramfsOptions): { tree: FileTree; modules: ModuleInfo[] } {
  const tree = new FileTree({ defaultTime: o.epoch ?? 0 });
  const names = o.load ?? DEFAULT_ROOT_MODULES;
  const modules = moduleClosure(o.index, names, {
    optional: o.optional ?? (o.load ? [] : DEFAULT_ROOT_MODULES),
    ...(o.skipped ? { skipped: o.skipped } : {}),
  });
  for (const d of ['/bin', '/sbin', '/usr/bin', '/usr/sbin', '/proc', '/sys', '/dev', '/newroot', '/tmp'])
    tree.mkdir(d);
  tree.addDevice('/dev/console', 'char', 5, 1, { mode: 0o600 });
  tree.addDevice('/dev/null', 'char', 1, 3, { mode: 0o666 });
  tree.addFile('/bin/busybox', o.busybox instanceof Uint8Array ? bytesContent(o.busybox) : o.busybox, { mode: 0o755 });
  for (const a of INITRAMFS_APPLETS) tree.addSymlink(`/bin/${a}`, 'busybox');
  addModules(tree, o.index, o.version, { subset: modules });
  const hard = hardModules(o.index, names);
  const soft = new Set(modules.filter((m) => !hard.has(m.name)).map((m) => m.path));
  tree.addFile(
    '/init',
    modulesInitScript(
      o.version,
      modules.map((m) => m.path),
      soft,
    ),
    { mode: 0o755 },
  );
  return { tree, modules };
}
