/**
 * Sources of trees in specs: anything the CLI's --root takes (a directory,
 * a tar or cpio archive in any codec, an image or `disk.img:2`, `oci:DIR`,
 * `docker-archive:FILE`), as a string or a mapping, alone or as a list that
 * stacks (later sources win, whiteouts honoured). Paths in a spec file are
 * relative to the file.
 */
import { isAbsolute, resolve } from 'node:path';
import { UsageError } from '../../core/errors.js';
import type { Progress } from '../../core/progress.js';
import { parseImageRef } from '../open.js';
import { stackSources, type OpenedSource } from '../host/source.js';
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

/** The source string openSource reads for a spec's source (a string, or one of the mappings). */
export function sourceString(src: SourceSpec): string {
  if (typeof src === 'string') return src;
  if ('dir' in src) return src.dir;
  if ('tar' in src) return src.tar;
  if ('image' in src) return src.partition !== undefined ? `${src.image}:${src.partition}` : src.image;
  if ('oci' in src) return `oci:${src.oci}${src.tag ? `:${src.tag}` : ''}`;
  return `docker-archive:${src['docker-archive']}${src.tag ? `:${src.tag}` : ''}`;
}

export interface SpecSourceOptions {
  warn?: (message: string) => void;
  progress?: Progress;
}

/**
 * Open one source or stack several into one tree (later entries replace
 * earlier ones, whiteouts honoured): directories, tar and cpio archives in
 * any codec, images and `IMAGE:N`, `oci:` and `docker-archive:`, through
 * the same openSource the CLI uses. close() it when the output is written.
 */
export async function openSources(
  src: SourceSpec | SourceSpec[],
  field: string,
  opts: SpecSourceOptions = {},
): Promise<OpenedSource> {
  const list = (Array.isArray(src) ? src : [src]).map(sourceString);
  if (list.filter((s) => s === '-').length > 1)
    throw new UsageError('E_USAGE_SPEC', `${field}: standard input (-) can be read only once`, { field });
  return stackSources(list, opts);
}
