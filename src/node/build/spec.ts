/**
 * The declarative build spec (YAML or JSON), declared once as a zod schema:
 * validation, the TypeScript type and the JSON Schema editors use
 * (`tinyimage schema`) all come from it. A spec may start from a preset
 * shipped in the package (`preset: uefi`) and override any field; objects
 * are merged deeply, arrays and scalars replace. Every error names the file
 * and the field, e.g. `spec.yaml: kernel.build.source: expected a path to a
 * kernel source tarball or directory, got nothing`; an unknown key comes
 * with the closest known one.
 */
import { z } from 'zod';
import { UsageError } from '../../core/errors.js';
import { parseSize } from '../../core/units.js';
import { RPI_BOARDS } from '../../core/system/rpi-boards.js';

const KINDS = ['initramfs', 'uefi', 'bios', 'rpi', 'disk', 'iso'] as const;
export type BuildKind = (typeof KINDS)[number];
export const SPEC_ARCHES = ['x86_64', 'arm64'] as const;

/** A non-empty string; `what` is what the error message says was expected. */
const text = (what: string) => z.string({ error: () => `expected ${what}` }).min(1, { error: `expected ${what}` });
const path = (what = 'a path') => text(what);
const fileName = text('a file name').refine((s) => !s.includes('/') && s !== '.' && s !== '..', {
  error: 'expected a plain file name inside the output directory',
});
const oneOf = <const T extends readonly [string, ...string[]]>(values: T) =>
  z.enum(values, { error: () => `expected one of ${values.map((v) => `'${v}'`).join(', ')}` });
const sizeText = text('a size such as 64M or 1G').refine(
  (s) => {
    try {
      parseSize(s);
      return true;
    } catch {
      return false;
    }
  },
  { error: 'expected a size such as 4096, 512K, 64M or 2G' },
);
const size = z.union([z.number().int().positive(), sizeText], {
  error: () => 'expected a size in bytes or such as 64M or 1G',
});
const bool = z.boolean({ error: () => 'expected true or false' });
const strList = z.array(text('a string'), { error: () => 'expected a list of strings' });

const kernelBuild = z.strictObject({
  source: path('a path to a kernel source tarball or directory'),
  config: path().optional(),
  enable: strList.optional(),
  disable: strList.optional(),
  preset: oneOf(['tiny', 'disk']).optional(),
  jobs: z.number().int().min(1, { error: 'expected an integer >= 1' }).optional(),
});
const busyboxBuild = z.strictObject({
  source: path('a path to a busybox source tarball or directory'),
  config: path().optional(),
  libc: oneOf(['glibc', 'musl']).optional(),
});

/**
 * Where a tree comes from: a path (a directory, a tar file in any codec,
 * `IMAGE:N`), `oci:DIR[:TAG]`, `docker-archive:FILE[:TAG]`, or the same as
 * a mapping. A list stacks sources, later ones winning.
 */
const sourceObject = z.union([
  z.strictObject({ dir: path() }),
  z.strictObject({ tar: path() }),
  z.strictObject({ image: path(), partition: z.number().int().min(1).optional() }),
  z.strictObject({ oci: path(), tag: text('a tag').optional() }),
  z.strictObject({ 'docker-archive': path(), tag: text('a tag').optional() }),
]);
export const sourceSchema = z.union([
  text('a source: a directory, tarball, image or oci:/docker-archive: reference'),
  sourceObject,
]);
const sources = z.union([sourceSchema, z.array(sourceSchema).min(1)]);
export type SourceSpec = z.infer<typeof sourceSchema>;

const service = z.strictObject({
  name: text('a service name'),
  run: text('the text of the run script'),
  enabled: bool.optional(),
});
const distro = z.strictObject({
  hostname: text('a host name').optional(),
  consoles: strList.optional(),
  /** A list of names and definitions, or a mapping: name -> true (a built-in), false (disabled) or a definition. */
  services: z
    .union(
      [
        z.array(z.union([text('a service name'), service])),
        z.record(
          z.string(),
          z.union([bool, z.strictObject({ run: text('the text of the run script'), enabled: bool.optional() })]),
        ),
      ],
      { error: () => 'expected a list of services or a mapping of name: true | false | { run }' },
    )
    .optional(),
  disableServices: strList.optional(),
  rootPassword: z
    .strictObject({ hash: text('a crypt(3) hash').optional(), locked: bool.optional(), empty: bool.optional() })
    .optional(),
  keymap: path().optional(),
  add: path().optional(),
  /** Sources laid over the recipe's tree, in order (later wins, whiteouts honoured); `add` goes last. */
  from: sources.optional(),
  /** The root filesystem of the bios kind: ext4 (read-write) or a read-only squashfs or EROFS. */
  format: oneOf(['ext4', 'squashfs', 'erofs']).optional(),
});

const PARTITION_FS = ['fat32', 'fat16', 'fat12', 'ext4', 'ext3', 'ext2', 'none'] as const;
const partitionSize = z.union(
  [z.number().int().positive(), z.enum(['rest', 'fit']), text('a size').regex(/^\d+%$/), sizeText],
  { error: () => "expected a size (64M, 1G, bytes), 'NN%', 'rest' or 'fit'" },
);
const partition = z.strictObject({
  /** esp, linux, root-x86-64, root-arm64, swap, home, bios-boot, a GPT GUID or an MBR type byte (0x83). */
  type: text('a partition type (esp, linux, root-x86-64, swap, a GUID or an MBR byte such as 0x83)'),
  size: partitionSize,
  fs: oneOf(PARTITION_FS).optional(),
  root: sources.optional(),
  label: text('a label').optional(),
  uuid: text('a UUID').optional(),
  name: text('a GPT partition name').optional(),
  bootable: bool.optional(),
});
export type PartitionSpec = z.infer<typeof partition>;

const disk = z.strictObject({
  output: fileName.optional(),
  /** raw (default) or a virtual disk container; default from the output's name (.qcow2, .vhd, .vmdk, .simg). */
  format: oneOf(['raw', 'qcow2', 'vhd', 'vmdk', 'sparse']).optional(),
  subformat: oneOf(['dynamic', 'fixed', 'monolithicSparse', 'streamOptimized']).optional(),
  size: size.optional(),
  /** Round the disk up to a power of two (QEMU's SD card emulation needs it); rpi. */
  powerOfTwo: bool.optional(),
  seed: text('a seed string').optional(),
  table: oneOf(['gpt', 'mbr']).optional(),
  partitions: z
    .array(partition, { error: () => 'expected a list of partitions' })
    .min(1)
    .optional(),
});

const RPI_BOARD_NAMES = Object.keys(RPI_BOARDS) as [string, ...string[]];
const rpi = z.strictObject({
  /** The board whose device tree and serial console the image is set up for. */
  board: oneOf(RPI_BOARD_NAMES).optional(),
  /** A directory with the Raspberry Pi firmware (bootcode.bin, start*.elf, fixup*.dat, overlays/). */
  firmware: path('a directory with the Raspberry Pi firmware files').optional(),
  /** Extra config.txt lines. */
  config: strList.optional(),
  /** Boot partition size (64M, 256M, ...). */
  bootSize: size.optional(),
});

/** Per-architecture overrides: a mapping merged over the spec for the chosen arch (checked after merging). */
const perArch = z.record(z.string(), z.unknown(), { error: () => 'expected a mapping of spec fields' });

/**
 * The live ISO (kind iso). `files` puts host files into the image beside
 * /boot (ISO path -> host path): the hook for a read-only root such as
 * /live/root.squashfs, which an initramfs of your own mounts.
 */
const iso = z.strictObject({
  output: fileName.optional(),
  label: text('a volume label (up to 32 printable ASCII characters)')
    .regex(/^[\x20-\x7e]{1,32}$/, { error: 'expected up to 32 printable ASCII characters' })
    .optional(),
  seed: text('a seed string').optional(),
  files: z
    .record(z.string(), path('a host file'), { error: () => 'expected a mapping of image path: host file' })
    .optional(),
});

export const specSchema = z
  .strictObject({
    preset: text('a preset name').optional(),
    kind: oneOf(KINDS),
    /** The machine architecture (default: what the kernel and busybox files are, else x86_64). */
    arch: oneOf(SPEC_ARCHES).optional(),
    /** Fields that apply to one architecture only, merged over the rest when it is the build's. */
    arches: z.strictObject({ x86_64: perArch.optional(), arm64: perArch.optional() }).optional(),
    kernel: z.union([path('a path to a kernel image'), z.strictObject({ build: kernelBuild })]).optional(),
    busybox: z.union([path('a path to a static busybox'), z.strictObject({ build: busyboxBuild })]).optional(),
    /** A modules directory (lib/modules/VERSION) for distribution kernels. */
    modules: path().optional(),
    /** The kernel's device-tree directory (Debian: usr/lib/linux-image-VERSION, with broadcom/*.dtb); rpi. */
    dtbs: path('a directory of device trees').optional(),
    cmdline: z.string({ error: () => 'expected a string' }).optional(),
    /** Kernel option set a from-source kernel uses when the spec names none. */
    kernelPreset: oneOf(['tiny', 'disk']).optional(),
    owner: text("'UID:GID'")
      .regex(/^\d+:\d+$/, { error: "expected 'UID:GID'" })
      .optional(),
    initramfs: z
      .strictObject({
        init: path().optional(),
        add: path().optional(),
        compress: oneOf(['gzip', 'none']).optional(),
        output: fileName.optional(),
      })
      .optional(),
    uki: z.strictObject({ stub: path().optional(), output: fileName.optional(), osrel: path().optional() }).optional(),
    disk: disk.optional(),
    iso: iso.optional(),
    rootfs: distro.optional(),
    rpi: rpi.optional(),
  })
  .superRefine((s, ctx) => {
    if (s.kind === 'rpi' && s.arch !== undefined && s.arch !== 'arm64')
      ctx.addIssue({ code: 'custom', path: ['arch'], message: `a Raspberry Pi image is arm64, not ${s.arch}` });
    if (s.kind === 'bios' && s.arch === 'arm64')
      ctx.addIssue({
        code: 'custom',
        path: ['arch'],
        message: 'the bios kind is x86_64 only (GRUB for PC BIOS); arm64 boots with the uefi or rpi kind',
      });
    if (s.kind === 'iso' && s.arch === 'arm64')
      ctx.addIssue({
        code: 'custom',
        path: ['arch'],
        message: 'the iso kind is x86_64 only (GRUB for PC BIOS, the x64 UKI); arm64 boots with the uefi or rpi kind',
      });
    if (s.rpi !== undefined && s.kind !== 'rpi')
      ctx.addIssue({ code: 'custom', path: ['rpi'], message: `rpi settings are for the rpi kind, not '${s.kind}'` });
    const parts = s.disk?.partitions;
    if (s.kind === 'disk' && !parts)
      ctx.addIssue({ code: 'custom', path: ['disk', 'partitions'], message: 'a disk spec needs its partitions' });
    if (s.kind !== 'disk' && parts)
      ctx.addIssue({
        code: 'custom',
        path: ['disk', 'partitions'],
        message: `partitions are for a disk spec, not kind '${s.kind}'`,
      });
    for (const k of Object.keys(s.iso?.files ?? {}))
      if (!/^\/[^/]/.test(k) || k.split('/').includes('..'))
        ctx.addIssue({ code: 'custom', path: ['iso', 'files', k], message: 'expected an absolute path in the image' });
    if (s.kind !== 'iso' && s.iso)
      ctx.addIssue({ code: 'custom', path: ['iso'], message: `the iso section is for kind 'iso', not '${s.kind}'` });
    if (s.kind === 'iso' && s.disk)
      ctx.addIssue({
        code: 'custom',
        path: ['disk'],
        message: "the iso kind writes no disk: use 'iso:' (output, label, seed)",
      });
    if (s.kind !== 'disk' && s.disk?.table)
      ctx.addIssue({ code: 'custom', path: ['disk', 'table'], message: `the ${s.kind} kind chooses its own table` });
    parts?.forEach((p, i) => {
      if (p.root !== undefined && (p.fs === undefined || p.fs === 'none'))
        ctx.addIssue({
          code: 'custom',
          path: ['disk', 'partitions', i, 'root'],
          message: 'a root needs a filesystem (fs: ext4, fat32, ...)',
        });
      if (p.size === 'fit' && (p.fs === undefined || p.fs === 'none'))
        ctx.addIssue({
          code: 'custom',
          path: ['disk', 'partitions', i, 'size'],
          message: "'fit' needs a filesystem to fit",
        });
    });
    if (s.rootfs?.format !== undefined && s.kind !== 'bios')
      ctx.addIssue({
        code: 'custom',
        path: ['rootfs', 'format'],
        message: `the root filesystem format is for the bios kind, not '${s.kind}'`,
      });
    const rest = (parts ?? []).filter((p) => p.size === 'rest').length;
    if (rest > 1)
      ctx.addIssue({
        code: 'custom',
        path: ['disk', 'partitions'],
        message: "at most one partition may take the 'rest'",
      });
  });

export type Spec = z.infer<typeof specSchema>;
export type KernelBuildSpec = z.infer<typeof kernelBuild>;
export type BusyboxBuildSpec = z.infer<typeof busyboxBuild>;
export type RootfsSpec = z.infer<typeof distro>;
export type ServiceSpec = z.infer<typeof service>;
export type RpiSpec = z.infer<typeof rpi>;
export type SpecArch = (typeof SPEC_ARCHES)[number];

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

function describe(v: unknown): string {
  if (v === undefined) return 'nothing';
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'a list';
  if (typeof v === 'object') return 'a mapping';
  return `${typeof v} ${JSON.stringify(v)}`;
}

function fieldName(path: ReadonlyArray<PropertyKey>): string {
  return path.reduce<string>(
    (s, k) => (typeof k === 'number' ? `${s}[${k}]` : s ? `${s}.${String(k)}` : String(k)),
    '',
  );
}

function valueAt(raw: unknown, path: ReadonlyArray<PropertyKey>): unknown {
  let v = raw;
  for (const k of path) v = v !== null && typeof v === 'object' ? (v as Record<PropertyKey, unknown>)[k] : undefined;
  return v;
}

/** Keys a mapping at `path` may have (first object member of unions), for suggestions. */
function knownKeys(schema: z.ZodType, path: ReadonlyArray<PropertyKey>): string[] {
  let cur: unknown = schema;
  const unwrap = (s: unknown): unknown => {
    const def = (
      s as { def?: { type?: string; innerType?: unknown; in?: unknown; schema?: unknown; element?: unknown } }
    ).def;
    if (def?.type === 'optional' || def?.type === 'nullable' || def?.type === 'default') return unwrap(def.innerType);
    if (def?.type === 'pipe') return unwrap(def.in);
    return s;
  };
  for (const k of path) {
    cur = unwrap(cur);
    const def = (
      cur as { def?: { type?: string; shape?: Record<string, unknown>; element?: unknown; options?: unknown[] } }
    ).def;
    if (def?.type === 'object') cur = def.shape?.[String(k)];
    else if (def?.type === 'array') cur = def.element;
    else if (def?.type === 'union')
      cur = def.options?.find(
        (o) => (unwrap(o) as { def?: { type?: string } }).def?.type === (typeof k === 'number' ? 'array' : 'object'),
      );
    else return [];
  }
  cur = unwrap(cur);
  const def = (cur as { def?: { type?: string; shape?: Record<string, unknown>; options?: unknown[] } }).def;
  if (def?.type === 'object') return Object.keys(def.shape ?? {});
  if (def?.type === 'union')
    return (def.options ?? []).flatMap((o) => {
      const d = (unwrap(o) as { def?: { type?: string; shape?: Record<string, unknown> } }).def;
      return d?.type === 'object' ? Object.keys(d.shape ?? {}) : [];
    });
  return [];
}

function distance(a: string, b: string): number {
  const d = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    let prev = d[0]!;
    d[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const t = d[j]!;
      d[j] = Math.min(d[j]! + 1, d[j - 1]! + 1, prev + (a[i - 1] === b[j - 1] ? 0 : 1));
      prev = t;
    }
  }
  return d[b.length]!;
}

function suggest(key: string, known: string[]): string {
  const best = known
    .map((k) => [k, distance(key.toLowerCase(), k.toLowerCase())] as const)
    .sort((x, y) => x[1] - y[1])[0];
  return best && best[1] <= Math.max(2, Math.floor(key.length / 3)) ? `; did you mean '${best[0]}'?` : '';
}

/** One readable line for the first problem zod found. */
function message(issue: z.core.$ZodIssue, raw: unknown): { field: string; why: string } {
  if (issue.code === 'unrecognized_keys') {
    const known = knownKeys(specSchema, issue.path);
    const key = issue.keys[0]!;
    return {
      field: fieldName([...issue.path, key]),
      why: `unknown field${suggest(key, known)} (expected one of: ${known.join(', ')})`,
    };
  }
  const field = fieldName(issue.path);
  if (field === 'kind' && valueAt(raw, issue.path) === undefined)
    return { field, why: "missing (set 'preset: initramfs|uefi|bios|rpi|iso' or 'kind')" };
  const got = valueAt(raw, issue.path);
  const why = issue.code === 'custom' ? issue.message : `${issue.message}, got ${describe(got)}`;
  return { field, why };
}

/**
 * A union's issues, resolved into the branch that got furthest (a mapping
 * given where a path or a mapping is allowed is judged as the mapping), with
 * paths made absolute.
 */
function flatten(issues: readonly z.core.$ZodIssue[], prefix: ReadonlyArray<PropertyKey> = []): z.core.$ZodIssue[] {
  return issues.flatMap((i) => {
    const path = [...prefix, ...i.path];
    if (i.code !== 'invalid_union' || i.errors.length === 0) return [{ ...i, path } as z.core.$ZodIssue];
    const branches = i.errors.map((b) => flatten(b, path));
    const reach = (b: z.core.$ZodIssue[]) => Math.max(...b.map((x) => x.path.length));
    const best = branches.reduce((x, y) => (reach(y) > reach(x) ? y : x));
    return reach(best) > path.length ? best : [{ ...i, path } as z.core.$ZodIssue];
  });
}

/** Validate a merged spec object; returns a typed Spec or throws UsageError naming the field. */
export function validateSpec(raw: unknown, source = 'spec'): Spec {
  if (!isPlainObject(raw))
    throw new UsageError('E_USAGE_SPEC', `${source}: the top level must be a mapping`, { path: source });
  const input =
    raw.kind === undefined && raw.preset === undefined && isPlainObject(raw.disk) && raw.disk.partitions
      ? { ...raw, kind: 'disk' }
      : raw;
  const r = specSchema.safeParse(input);
  if (r.success) return r.data;
  // report the issue deepest in the document: the one that got furthest
  const issue = flatten(r.error.issues).sort((a, b) => b.path.length - a.path.length)[0]!;
  const { field, why } = message(issue, input);
  throw new UsageError('E_USAGE_SPEC', `${source}: ${field}: ${why}`, { path: source, field });
}

/** The JSON Schema of a spec file, for editors (`tinyimage schema`). */
export function specJsonSchema(): Record<string, unknown> {
  const s = z.toJSONSchema(specSchema, { io: 'input', unrepresentable: 'any' }) as Record<string, unknown>;
  // a spec file names a preset or a kind, or describes a disk: none of them is required alone
  const required = ((s.required as string[] | undefined) ?? []).filter((k) => k !== 'kind');
  return {
    ...s,
    required,
    title: 'tinyimage build spec',
    description: 'tinyimage build SPEC -o DIR: see docs/spec.md',
  };
}
