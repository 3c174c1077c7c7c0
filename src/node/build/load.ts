/**
 * Loading specs: YAML or JSON files, presets shipped in the package
 * (presets/NAME.yaml), and command-line overrides. Relative paths in a spec
 * file are resolved against the spec file's directory.
 */
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { dirname, isAbsolute, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse as parseYaml } from 'yaml';
import { UsageError } from '../../core/errors.js';
import { hostError } from '../io/file.js';
import { isPlainObject, mergeSpecs, validateSpec, type SourceSpec, type Spec } from './spec.js';
import { resolveSourcePaths } from './sources.js';

export const PRESET_DIR = resolve(dirname(fileURLToPath(import.meta.url)), '../../../presets');

export function presetNames(): string[] {
  return readdirSync(PRESET_DIR)
    .filter((f) => f.endsWith('.yaml'))
    .map((f) => f.slice(0, -5))
    .sort();
}

function parseText(text: string, source: string): Record<string, unknown> {
  let v: unknown;
  try {
    v = source.endsWith('.json') ? JSON.parse(text) : parseYaml(text, { prettyErrors: true });
  } catch (e) {
    throw new UsageError(
      'E_USAGE_SPEC_SYNTAX',
      `${source}: not valid ${source.endsWith('.json') ? 'JSON' : 'YAML'}: ${(e as Error).message.split('\n')[0]}`,
      { path: source },
    );
  }
  if (v === null || v === undefined) return {};
  if (!isPlainObject(v))
    throw new UsageError('E_USAGE_SPEC', `${source}: the top level must be a mapping`, { path: source });
  return v;
}

export function loadPreset(name: string): Record<string, unknown> {
  const p = join(PRESET_DIR, `${name}.yaml`);
  if (!/^[a-z0-9-]+$/.test(name) || !existsSync(p)) {
    throw new UsageError('E_USAGE_PRESET', `unknown preset '${name}' (available: ${presetNames().join(', ')})`, {
      actual: name,
    });
  }
  return parseText(readFileSync(p, 'utf8'), `preset ${name}`);
}

const PATH_FIELDS: Array<string[]> = [
  ['kernel'],
  ['busybox'],
  ['modules'],
  ['kernel', 'build', 'source'],
  ['busybox', 'build', 'source'],
  ['initramfs', 'init'],
  ['initramfs', 'add'],
  ['uki', 'stub'],
  ['rootfs', 'keymap'],
  ['rootfs', 'add'],
];

/** Source fields (a source or a list of them) with their paths made absolute. */
function resolveSources(v: unknown, base: string): unknown {
  const one = (s: unknown) =>
    typeof s === 'string' || isPlainObject(s) ? resolveSourcePaths(s as SourceSpec, base) : s;
  return Array.isArray(v) ? v.map(one) : one(v);
}

function resolvePaths(o: Record<string, unknown>, base: string): void {
  // `rootfs: [sources]` is short for `rootfs: { from: [sources] }` (so it merges with a preset's rootfs)
  if (Array.isArray(o.rootfs)) o.rootfs = { from: o.rootfs };
  const disk = o.disk;
  if (isPlainObject(disk) && Array.isArray(disk.partitions)) {
    for (const p of disk.partitions) {
      if (!isPlainObject(p) || p.root === undefined) continue;
      p.root = resolveSources(p.root, base);
    }
  }
  const files = isPlainObject(o.iso) ? o.iso.files : undefined;
  if (isPlainObject(files))
    for (const [k, v] of Object.entries(files))
      if (typeof v === 'string' && !isAbsolute(v)) files[k] = resolve(base, v);
  if (isPlainObject(o.rootfs) && o.rootfs.from !== undefined) o.rootfs.from = resolveSources(o.rootfs.from, base);
  for (const path of PATH_FIELDS) {
    let cur: unknown = o;
    for (let i = 0; i < path.length - 1; i++) cur = isPlainObject(cur) ? cur[path[i]!] : undefined;
    const last = path[path.length - 1]!;
    if (isPlainObject(cur) && typeof cur[last] === 'string' && !isAbsolute(cur[last] as string))
      cur[last] = resolve(base, cur[last] as string);
  }
}

export interface LoadOptions {
  /** Spec file path (YAML/JSON), optional. */
  file?: string;
  /** Preset name; overrides nothing in the file but is the base it merges onto. */
  preset?: string;
  /** Command-line overrides (paths relative to the current directory). */
  overrides?: Record<string, unknown>;
}

export function loadSpec(opts: LoadOptions): { spec: Spec; source: string } {
  let fileObj: Record<string, unknown> = {};
  let source = 'command line';
  if (opts.file) {
    let text: string;
    try {
      text = readFileSync(opts.file, 'utf8');
    } catch (e) {
      throw hostError(e, opts.file, 'read spec');
    }
    fileObj = parseText(text, opts.file);
    resolvePaths(fileObj, dirname(resolve(opts.file)));
    source = opts.file;
  }
  const presetName = opts.preset ?? (typeof fileObj.preset === 'string' ? fileObj.preset : undefined);
  if (fileObj.preset !== undefined && typeof fileObj.preset !== 'string')
    throw new UsageError('E_USAGE_SPEC', `${source}: preset: expected a preset name`, { field: 'preset' });
  let merged: Record<string, unknown> = presetName ? loadPreset(presetName) : {};
  merged = mergeSpecs(merged, fileObj);
  const over = { ...(opts.overrides ?? {}) };
  resolvePaths(over, process.cwd());
  merged = mergeSpecs(merged, over);
  delete merged.preset;
  const declarativeDisk = isPlainObject(merged.disk) && merged.disk.partitions !== undefined;
  if (merged.kind === undefined && !presetName && !declarativeDisk) {
    throw new UsageError(
      'E_USAGE_SPEC',
      `${source}: nothing to build: give a spec file with 'preset:' or 'kind:', or --preset NAME (available: ${presetNames().join(', ')})`,
    );
  }
  return { spec: validateSpec(merged, source), source };
}
