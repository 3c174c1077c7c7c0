/**
 * Sources of trees in specs: a host directory or any image tinyimage reads
 * (`disk.img:2` for a partition), as a string or a mapping, alone or as a
 * list that stacks (later sources win). Paths in a spec file are relative to
 * the file.
 */
import { existsSync, statSync } from 'node:fs';
import { isAbsolute, resolve } from 'node:path';
import { UsageError } from '../../core/errors.js';
import { FileTree } from '../../core/tree/tree.js';
import { isDisk, openImage, parseImageRef } from '../open.js';
import { treeFromHostDir } from '../host/tree.js';
import type { SourceSpec } from './spec.js';

const PREFIXED = ['oci:', 'docker-archive:'];

function abs(p: string, base: string): string {
  return isAbsolute(p) ? p : resolve(base, p);
}

/** The same source with its paths made absolute against `base`. */
export function resolveSourcePaths(src: SourceSpec, base: string): SourceSpec {
  if (typeof src === 'string') {
    const prefix = PREFIXED.find((p) => src.startsWith(p));
    if (prefix) {
      const rest = src.slice(prefix.length);
      const tag = /^(.*?)(:[^/:]+)?$/.exec(rest)!;
      return `${prefix}${abs(tag[1]!, base)}${tag[2] ?? ''}`;
    }
    if (src === '-') return src;
    const ref = parseImageRef(abs(src, base));
    return ref.partition !== undefined ? `${ref.path}:${ref.partition}` : ref.path;
  }
  const o: Record<string, unknown> = { ...src };
  for (const k of ['dir', 'tar', 'image', 'oci', 'docker-archive'])
    if (typeof o[k] === 'string') o[k] = abs(o[k] as string, base);
  return o as SourceSpec;
}

export interface OpenedSource {
  tree: FileTree;
  /** Release what the tree still reads from (image files stay open until written). */
  close(): void;
}

async function openOne(src: SourceSpec, field: string): Promise<OpenedSource> {
  const ref = typeof src === 'string' ? src : 'dir' in src ? src.dir : 'image' in src ? src.image : undefined;
  if (
    ref === undefined ||
    (typeof src === 'string' && (src === '-' || PREFIXED.some((p) => src.startsWith(p)))) ||
    (typeof src === 'object' && 'tar' in src)
  ) {
    throw new UsageError('E_USAGE_SOURCE', `${field}: tarballs and container images are not readable as sources yet`, {
      field,
    });
  }
  const partition = typeof src === 'object' && 'partition' in src ? src.partition : undefined;
  const { path } = parseImageRef(ref);
  if (!existsSync(path))
    throw new UsageError('E_USAGE_NOT_FOUND', `${field}: ${ref} does not exist`, { path: ref, field });
  if (partition === undefined && statSync(ref, { throwIfNoEntry: false })?.isDirectory()) {
    return { tree: treeFromHostDir(ref), close: () => {} };
  }
  const img = await openImage(ref, partition !== undefined ? { partition } : {});
  if (isDisk(img)) {
    img.close();
    throw new UsageError('E_USAGE_IS_DISK', `${field}: ${ref} is a partitioned disk; name a partition, e.g. ${ref}:1`, {
      field,
    });
  }
  return { tree: img.tree, close: () => img.close() };
}

/** Open one source or stack several into one tree (later entries replace earlier ones). */
export async function openSources(src: SourceSpec | SourceSpec[], field: string): Promise<OpenedSource> {
  const list = Array.isArray(src) ? src : [src];
  const opened: OpenedSource[] = [];
  try {
    for (const [i, s] of list.entries()) opened.push(await openOne(s, Array.isArray(src) ? `${field}[${i}]` : field));
  } catch (e) {
    for (const o of opened) o.close();
    throw e;
  }
  const close = () => opened.forEach((o) => o.close());
  if (opened.length === 1) return { tree: opened[0]!.tree, close };
  const tree = new FileTree();
  for (const o of opened) overlay(tree, o.tree);
  return { tree, close };
}

/** Lay `top` over `base`: its entries replace same-named ones; directories merge, taking top's metadata. */
function overlay(base: FileTree, top: FileTree): void {
  for (const e of top.walk()) {
    if (e.path === '/') {
      Object.assign(base.root, { ...e.node, children: base.root.children });
      continue;
    }
    if (e.node.type === 'dir') {
      const existing = base.get(e.path);
      if (existing?.type === 'dir') Object.assign(existing, { ...e.node, children: existing.children });
      else base.put(e.path, { ...e.node, children: new Map() }, { replace: true });
      continue;
    }
    base.put(e.path, e.node, { replace: true });
  }
}
