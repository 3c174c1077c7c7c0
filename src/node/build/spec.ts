/**
 * The declarative build spec (YAML or JSON). A spec may start from a preset
 * shipped in the package (`preset: uefi`) and override any field; objects are
 * merged deeply, arrays and scalars replace. Validation is hand-written so
 * every message names the field at fault, e.g.
 * `spec.yaml: kernel.build.source: expected a path string`.
 */
import { UsageError } from '../../core/errors.js';

export type BuildKind = 'initramfs' | 'uefi' | 'bios';

export interface KernelBuildSpec {
  source: string;
  config?: string;
  enable?: string[];
  disable?: string[];
  preset?: 'tiny' | 'disk';
  jobs?: number;
}
export interface BusyboxBuildSpec {
  source: string;
  config?: string;
  libc?: 'glibc' | 'musl';
}

export interface ServiceSpec {
  name: string;
  run: string;
  enabled?: boolean;
}

export interface RootfsSpec {
  hostname?: string;
  consoles?: string[];
  services?: Array<string | ServiceSpec>;
  disableServices?: string[];
  rootPassword?: { hash?: string; locked?: boolean; empty?: boolean };
  keymap?: string;
  add?: string;
}

export interface Spec {
  kind: BuildKind;
  /** Host file or { build: {...} } */
  kernel?: string | { build: KernelBuildSpec };
  busybox?: string | { build: BusyboxBuildSpec };
  /** A modules directory (lib/modules/VERSION) for distribution kernels. */
  modules?: string;
  cmdline?: string;
  /** Kernel option set a from-source kernel uses when the spec names none. */
  kernelPreset?: 'tiny' | 'disk';
  owner?: string;
  initramfs?: { init?: string; add?: string; compress?: 'gzip' | 'none'; output?: string };
  uki?: { stub?: string; output?: string; osrel?: string };
  disk?: { output?: string; size?: string | number; seed?: string };
  rootfs?: RootfsSpec;
}

export function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Deep merge: objects merge, everything else in `over` replaces `base`. */
export function mergeSpecs(base: Record<string, unknown>, over: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = { ...base };
  for (const [k, v] of Object.entries(over)) {
    out[k] = isPlainObject(v) && isPlainObject(out[k]) ? mergeSpecs(out[k] as Record<string, unknown>, v) : v;
  }
  return out;
}

class Checker {
  constructor(private readonly source: string) {}
  fail(field: string, why: string): never {
    throw new UsageError('E_USAGE_SPEC', `${this.source}: ${field}: ${why}`, { path: this.source, field });
  }
  obj(v: unknown, field: string, keys: string[]): Record<string, unknown> {
    if (!isPlainObject(v)) this.fail(field, `expected a mapping, got ${describe(v)}`);
    for (const k of Object.keys(v))
      if (!keys.includes(k))
        this.fail(field ? `${field}.${k}` : k, `unknown field (expected one of: ${keys.join(', ')})`);
    return v;
  }
  str(v: unknown, field: string, what = 'a string'): string {
    if (typeof v !== 'string' || v === '') this.fail(field, `expected ${what}, got ${describe(v)}`);
    return v;
  }
  oneOf<T extends string>(v: unknown, field: string, options: readonly T[]): T {
    if (typeof v !== 'string' || !options.includes(v as T))
      this.fail(field, `expected one of ${options.map((o) => `'${o}'`).join(', ')}, got ${describe(v)}`);
    return v as T;
  }
  strList(v: unknown, field: string): string[] {
    if (!Array.isArray(v)) this.fail(field, `expected a list of strings, got ${describe(v)}`);
    return v.map((x, i) => this.str(x, `${field}[${i}]`));
  }
  int(v: unknown, field: string, min = 1): number {
    if (typeof v !== 'number' || !Number.isInteger(v) || v < min)
      this.fail(field, `expected an integer >= ${min}, got ${describe(v)}`);
    return v;
  }
}

function describe(v: unknown): string {
  if (v === undefined) return 'nothing';
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'a list';
  if (typeof v === 'object') return 'a mapping';
  return `${typeof v} ${JSON.stringify(v)}`;
}

const TOP_KEYS = [
  'preset',
  'kind',
  'kernel',
  'busybox',
  'modules',
  'cmdline',
  'kernelPreset',
  'owner',
  'initramfs',
  'uki',
  'disk',
  'rootfs',
];

/** Validate a merged spec object; returns a typed Spec or throws UsageError naming the field. */
export function validateSpec(raw: unknown, source = 'spec'): Spec {
  const c: Checker = new Checker(source);
  const o = c.obj(raw, '', TOP_KEYS);
  const spec: Spec = {
    kind:
      o.kind === undefined
        ? c.fail('kind', "missing (set 'preset: initramfs|uefi|bios' or 'kind')")
        : c.oneOf(o.kind, 'kind', ['initramfs', 'uefi', 'bios'] as const),
  };
  if (o.kernel !== undefined) {
    if (typeof o.kernel === 'string') spec.kernel = c.str(o.kernel, 'kernel');
    else {
      const k = c.obj(o.kernel, 'kernel', ['build']);
      const b = c.obj(k.build, 'kernel.build', ['source', 'config', 'enable', 'disable', 'preset', 'jobs']);
      const kb: KernelBuildSpec = {
        source: c.str(b.source, 'kernel.build.source', 'a path to a kernel source tarball or directory'),
      };
      if (b.config !== undefined) kb.config = c.str(b.config, 'kernel.build.config');
      if (b.enable !== undefined) kb.enable = c.strList(b.enable, 'kernel.build.enable');
      if (b.disable !== undefined) kb.disable = c.strList(b.disable, 'kernel.build.disable');
      if (b.preset !== undefined) kb.preset = c.oneOf(b.preset, 'kernel.build.preset', ['tiny', 'disk'] as const);
      if (b.jobs !== undefined) kb.jobs = c.int(b.jobs, 'kernel.build.jobs');
      spec.kernel = { build: kb };
    }
  }
  if (o.busybox !== undefined) {
    if (typeof o.busybox === 'string') spec.busybox = c.str(o.busybox, 'busybox');
    else {
      const k = c.obj(o.busybox, 'busybox', ['build']);
      const b = c.obj(k.build, 'busybox.build', ['source', 'config', 'libc']);
      const bb: BusyboxBuildSpec = {
        source: c.str(b.source, 'busybox.build.source', 'a path to a busybox source tarball or directory'),
      };
      if (b.config !== undefined) bb.config = c.str(b.config, 'busybox.build.config');
      if (b.libc !== undefined) bb.libc = c.oneOf(b.libc, 'busybox.build.libc', ['glibc', 'musl'] as const);
      spec.busybox = { build: bb };
    }
  }
  if (o.modules !== undefined) spec.modules = c.str(o.modules, 'modules');
  if (o.cmdline !== undefined) spec.cmdline = typeof o.cmdline === 'string' ? o.cmdline : c.str(o.cmdline, 'cmdline');
  if (o.kernelPreset !== undefined)
    spec.kernelPreset = c.oneOf(o.kernelPreset, 'kernelPreset', ['tiny', 'disk'] as const);
  if (o.owner !== undefined) {
    const v = c.str(o.owner, 'owner', "'UID:GID'");
    if (!/^\d+:\d+$/.test(v)) c.fail('owner', `expected 'UID:GID', got '${v}'`);
    spec.owner = v;
  }
  if (o.initramfs !== undefined) {
    const i = c.obj(o.initramfs, 'initramfs', ['init', 'add', 'compress', 'output']);
    spec.initramfs = {};
    if (i.init !== undefined) spec.initramfs.init = c.str(i.init, 'initramfs.init');
    if (i.add !== undefined) spec.initramfs.add = c.str(i.add, 'initramfs.add');
    if (i.compress !== undefined)
      spec.initramfs.compress = c.oneOf(i.compress, 'initramfs.compress', ['gzip', 'none'] as const);
    if (i.output !== undefined) spec.initramfs.output = outputName(c, i.output, 'initramfs.output');
  }
  if (o.uki !== undefined) {
    const u = c.obj(o.uki, 'uki', ['stub', 'output', 'osrel']);
    spec.uki = {};
    if (u.stub !== undefined) spec.uki.stub = c.str(u.stub, 'uki.stub');
    if (u.output !== undefined) spec.uki.output = outputName(c, u.output, 'uki.output');
    if (u.osrel !== undefined) spec.uki.osrel = c.str(u.osrel, 'uki.osrel');
  }
  if (o.disk !== undefined) {
    const d = c.obj(o.disk, 'disk', ['output', 'size', 'seed']);
    spec.disk = {};
    if (d.output !== undefined) spec.disk.output = outputName(c, d.output, 'disk.output');
    if (d.size !== undefined)
      spec.disk.size = typeof d.size === 'number' ? c.int(d.size, 'disk.size') : c.str(d.size, 'disk.size');
    if (d.seed !== undefined) spec.disk.seed = c.str(d.seed, 'disk.seed');
  }
  if (o.rootfs !== undefined) {
    const r = c.obj(o.rootfs, 'rootfs', [
      'hostname',
      'consoles',
      'services',
      'disableServices',
      'rootPassword',
      'keymap',
      'add',
    ]);
    const rs: RootfsSpec = {};
    if (r.hostname !== undefined) rs.hostname = c.str(r.hostname, 'rootfs.hostname');
    if (r.consoles !== undefined) rs.consoles = c.strList(r.consoles, 'rootfs.consoles');
    if (r.services !== undefined) {
      if (!Array.isArray(r.services)) c.fail('rootfs.services', `expected a list, got ${describe(r.services)}`);
      rs.services = r.services.map((s, i) => {
        if (typeof s === 'string') return s;
        const so = c.obj(s, `rootfs.services[${i}]`, ['name', 'run', 'enabled']);
        const svc: ServiceSpec = {
          name: c.str(so.name, `rootfs.services[${i}].name`),
          run: c.str(so.run, `rootfs.services[${i}].run`, 'the text of the run script'),
        };
        if (so.enabled !== undefined) {
          if (typeof so.enabled !== 'boolean') c.fail(`rootfs.services[${i}].enabled`, 'expected true or false');
          svc.enabled = so.enabled;
        }
        return svc;
      });
    }
    if (r.disableServices !== undefined) rs.disableServices = c.strList(r.disableServices, 'rootfs.disableServices');
    if (r.rootPassword !== undefined) {
      const p = c.obj(r.rootPassword, 'rootfs.rootPassword', ['hash', 'locked', 'empty']);
      rs.rootPassword = {};
      if (p.hash !== undefined) rs.rootPassword.hash = c.str(p.hash, 'rootfs.rootPassword.hash');
      if (p.locked !== undefined) rs.rootPassword.locked = p.locked === true;
      if (p.empty !== undefined) rs.rootPassword.empty = p.empty === true;
    }
    if (r.keymap !== undefined) rs.keymap = c.str(r.keymap, 'rootfs.keymap');
    if (r.add !== undefined) rs.add = c.str(r.add, 'rootfs.add');
    spec.rootfs = rs;
  }
  return spec;
}

function outputName(c: Checker, v: unknown, field: string): string {
  const s = c.str(v, field, 'a file name');
  if (s.includes('/') || s === '.' || s === '..')
    c.fail(field, `expected a plain file name inside the output directory, got '${s}'`);
  return s;
}
