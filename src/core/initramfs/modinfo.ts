/**
 * What a kernel module says about itself: the NUL-separated `key=value`
 * strings of its ELF `.modinfo` section (`depends=`, `softdep=`, `alias=`),
 * read from plain or gzip'd `.ko` files, and an index of a whole modules
 * directory. `.ko.xz` and `.ko.zst` have no decoder in the dependencies and
 * raise E_USAGE_MODULE_COMPRESSED.
 */
import { gunzipSync } from 'fflate';
import { FormatError, UsageError } from '../errors.js';
import type { FileTree } from '../tree/tree.js';
import { bytesContent, readContent } from '../tree/content.js';
import type { Content, TreeNode } from '../tree/types.js';
import { elfSection } from './elf.js';

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

export function fileAt(tree: FileTree, path: string): Content | undefined {
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
