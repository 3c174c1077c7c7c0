/**
 * Sources as the CLI names them, opened into one FileTree each:
 *   DIR                          a host directory
 *   FILE                         a tar or cpio archive, plain or gzip/zstd/xz/bzip2 (detected by magic),
 *                                or any image openImage reads (ext2/3/4, FAT, `disk.img:2`)
 *   -                            the same, from standard input
 *   oci:DIR[:TAG]                an OCI image layout, layers applied in order
 *   docker-archive:FILE[:REF]    a `docker save` / skopeo docker-archive tarball (REF: name:tag or @N)
 * and `stackSources` folds several of them (later wins, whiteouts honoured).
 *
 * Nothing is extracted. An uncompressed tar file is read in place; a
 * compressed one or standard input is decompressed once into a spool
 * (spool-node.ts) that the tree's contents read from until close().
 * Each kind's reader (tar, cpio, OCI, images, spooling) is imported when a
 * source of that kind is opened: a directory costs none of them.
 */
import { existsSync, readFileSync, statSync } from 'node:fs';
import { HostIOError, UsageError } from '../../core/errors.js';
import { FileDevice, readHead } from '../io/file.js';
import { FileTree } from '../../core/tree/tree.js';
import type { DirNode } from '../../core/tree/types.js';
import type { Progress } from '../../core/progress.js';
import {
  CODEC_HEAD,
  decompressStream,
  detectCodec,
  sniffCodec,
  type Codec,
  type DecompressOptions,
} from '../../core/compress/codec.js';
import { gzipCrc32 } from '../compress/gzip.js';
import { isEmptyTar, looksLikeTar, type TarSource } from '../../core/archive/tar/read.js';
import type { AclIdResolver } from '../../core/archive/tar/acl.js';
import type { LayerInput } from '../../core/archive/oci/image.js';
import { treeFromHostDir } from './tree.js';
import type { SpoolOptions } from './spool.js';
import { dirStore, fileChunks, nodeHash } from './oci.js';

/** The host's native CRC-32 for the gzip trailer check (node:zlib's; 5-10x the pure one). Inflate stays fflate's. */
const NATIVE: DecompressOptions = { crc32: gzipCrc32 };

export type SourceKind = 'dir' | 'tar' | 'cpio' | 'oci' | 'docker-archive' | 'image';

export interface SourceOptions extends SpoolOptions {
  /** Standard input for '-' (default process.stdin). */
  stdin?: AsyncIterable<Uint8Array>;
  /** "os/arch[/variant]" for multi-platform OCI indexes (default linux/amd64). */
  platform?: string;
  /** tar members with '..' in their names: 'error' (default) or 'skip'. */
  unsafe?: 'error' | 'skip';
  /** Names in text ACLs; default: the host's users and groups (as GNU tar does when extracting). */
  aclIds?: AclIdResolver;
  warn?: (message: string) => void;
  progress?: Progress;
}

export interface OpenedSource {
  tree: FileTree;
  kind: SourceKind;
  /** Codec the bytes came in (tar/cpio sources). */
  codec?: Codec;
  /** Whether the source had to be spooled (compressed or standard input). */
  spooled: boolean;
  /** Directories the source did not list (tar): stacking leaves the lower metadata alone. */
  implicitDirs?: ReadonlySet<DirNode>;
  warnings: string[];
  /** Release files and spools; the tree's contents cannot be read after. */
  close(): void;
}

export type SourceRef =
  | { kind: 'stdin' }
  | { kind: 'oci'; dir: string; tag?: string }
  | { kind: 'docker-archive'; file: string; ref?: string }
  | { kind: 'path'; path: string };

/** Split a source string the way the CLI reads it. `oci:` and `docker-archive:` take the longest existing path. */
export function parseSourceRef(spec: string): SourceRef {
  if (spec === '-') return { kind: 'stdin' };
  for (const [prefix, kind] of [
    ['oci:', 'oci'],
    ['docker-archive:', 'docker-archive'],
  ] as const) {
    if (!spec.startsWith(prefix)) continue;
    const rest = spec.slice(prefix.length);
    if (!rest)
      throw new UsageError(
        'E_USAGE_SOURCE',
        `${spec}: name a ${kind === 'oci' ? 'directory' : 'file'} after '${prefix}'`,
        { path: spec },
      );
    let path = rest,
      tag: string | undefined;
    if (!existsSync(rest)) {
      for (let i = rest.indexOf(':'); i > 0; i = rest.indexOf(':', i + 1)) {
        if (existsSync(rest.slice(0, i))) {
          path = rest.slice(0, i);
          tag = rest.slice(i + 1);
          break;
        }
      }
    }
    return kind === 'oci'
      ? { kind, dir: path, ...(tag ? { tag } : {}) }
      : { kind, file: path, ...(tag ? { ref: tag } : {}) };
  }
  return { kind: 'path', path: spec };
}

/** The host's users and groups by name (/etc/passwd, /etc/group), as GNU tar resolves ACL names when extracting. */
const hostIds: AclIdResolver = (() => {
  const cache = new Map<string, Map<string, number>>();
  const table = (file: string) => {
    let t = cache.get(file);
    if (!t) {
      t = new Map();
      try {
        for (const line of readFileSync(file, 'utf8').split('\n')) {
          const f = line.split(':');
          if (f.length > 2 && /^\d+$/.test(f[2]!)) t.set(f[0]!, Number(f[2]));
        }
      } catch {
        /* no such file: nothing resolves */
      }
      cache.set(file, t);
    }
    return t;
  };
  return (kind, name) => table(kind === 'user' ? '/etc/passwd' : '/etc/group').get(name);
})();

/** A tar/cpio/image from bytes that can be read only as a stream: decompress, spool, then read. */
async function fromStream(stream: AsyncIterable<Uint8Array>, name: string, opts: SourceOptions): Promise<OpenedSource> {
  const sniffed = await sniffCodec(stream);
  const { spool } = await import('./spool.js');
  const s = await spool(decompressStream(sniffed.codec, sniffed.stream, NATIVE), opts);
  try {
    return { ...(await fromRandom(s, name, opts)), codec: sniffed.codec, spooled: true, close: () => s.close() };
  } catch (e) {
    s.close();
    throw e;
  }
}

async function fromRandom(
  src: TarSource,
  name: string,
  opts: SourceOptions,
): Promise<Omit<OpenedSource, 'close' | 'spooled'>> {
  const first = src.readAt(0, Math.min(512, src.size));
  if (looksLikeTar(first) || isEmptyTar(src)) {
    const { readTar } = await import('../../core/archive/tar/tree.js');
    const r = readTar(src, {
      aclIds: opts.aclIds ?? hostIds,
      ...(opts.unsafe ? { unsafe: opts.unsafe } : {}),
      ...(opts.warn ? { warn: opts.warn } : {}),
    });
    return { tree: r.tree, kind: 'tar', implicitDirs: r.implicitDirs, warnings: r.warnings };
  }
  throw new UsageError('E_USAGE_SOURCE', `${name}: not a tar archive (the first header's checksum does not match)`, {
    path: name,
  });
}

async function fromCpio(chunks: AsyncIterable<Uint8Array>, codec: Codec, opts: SourceOptions): Promise<OpenedSource> {
  const warnings: string[] = [];
  const { readCpioTree } = await import('../../core/archive/cpio/index.js');
  const tree = await readCpioTree(decompressStream(codec, chunks, NATIVE), {
    unsafeNames: opts.unsafe === 'skip' ? 'skip' : 'error',
    warn: (m) => {
      warnings.push(m);
      opts.warn?.(m);
    },
  });
  return { tree, kind: 'cpio', codec, spooled: false, warnings, close() {} };
}

const isCpio = (b: Uint8Array) => b.length >= 6 && String.fromCharCode(...b.subarray(0, 4)) === '0707';

/**
 * What a host file holds, from its first bytes: its codec, and whether the
 * (decompressed) bytes start like a cpio or a tar archive ('other': an image
 * or anything else; an uncompressed file's tar check is the header checksum).
 */
export async function sniffFile(path: string): Promise<{ codec: Codec; inner: 'cpio' | 'tar' | 'other' }> {
  const h = readHead(path, 512);
  const codec = detectCodec(h.subarray(0, CODEC_HEAD));
  if (codec === 'none') return { codec, inner: isCpio(h) ? 'cpio' : looksLikeTar(h) ? 'tar' : 'other' };
  // peek inside to tell a compressed cpio (read as a stream) from a compressed tar (spooled)
  let inner: Uint8Array = new Uint8Array(0);
  for await (const c of decompressStream(codec, fileChunks(path))) {
    inner = c;
    break;
  }
  return { codec, inner: isCpio(inner) ? 'cpio' : 'tar' };
}

async function fromFile(path: string, opts: SourceOptions): Promise<OpenedSource> {
  const { codec, inner } = await sniffFile(path);
  if (inner === 'cpio') return fromCpio(fileChunks(path), codec, opts);
  if (codec !== 'none') return fromStream(fileChunks(path), path, opts);
  const h = readHead(path, 512);
  if (looksLikeTar(h) || h.length === 0 || statSync(path).size <= 64 * 512) {
    const dev = FileDevice.open(path);
    if (!looksLikeTar(h) && !isEmptyTar(dev)) {
      dev.close();
      return fromImage(path);
    }
    try {
      return { ...(await fromRandom(dev, path, opts)), codec: 'none', spooled: false, close: () => dev.close() };
    } catch (e) {
      dev.close();
      throw e;
    }
  }
  return fromImage(path);
}

/** Hook for images: anything openImage reads (ext2/3/4, FAT, cpio, `disk.img:N`). */
async function fromImage(ref: string): Promise<OpenedSource> {
  const { openImage, isDisk } = await import('../open.js');
  const img = await openImage(ref);
  if (isDisk(img)) {
    img.close();
    throw new UsageError('E_USAGE_SOURCE', `${ref} is a partitioned disk; name a partition, e.g. ${ref}:1`, {
      path: ref,
    });
  }
  return { tree: img.tree, kind: 'image', spooled: false, warnings: img.warnings, close: () => img.close() };
}

/** Open one source string (see the module comment for the forms). */
export async function openSource(spec: string, opts: SourceOptions = {}): Promise<OpenedSource> {
  const ref = parseSourceRef(spec);
  switch (ref.kind) {
    case 'stdin':
      return fromStream(opts.stdin ?? (process.stdin as AsyncIterable<Uint8Array>), 'standard input', opts);
    case 'oci': {
      if (!existsSync(ref.dir) || !statSync(ref.dir).isDirectory())
        throw new HostIOError('E_IO_NOT_FOUND', `${spec}: ${ref.dir} is not a directory`, { path: ref.dir });
      const { ociImageLayers } = await import('../../core/archive/oci/image.js');
      const { layers } = await ociImageLayers(dirStore(ref.dir), ref.dir, {
        ...(ref.tag ? { tag: ref.tag } : {}),
        ...(opts.platform ? { platform: opts.platform } : {}),
        hash: nodeHash,
      });
      return stacked('oci', layers, opts);
    }
    case 'docker-archive': {
      if (!existsSync(ref.file))
        throw new HostIOError('E_IO_NOT_FOUND', `${spec}: ${ref.file} does not exist`, { path: ref.file });
      const { dockerArchiveLayers } = await import('../../core/archive/oci/docker.js');
      const outer = FileDevice.open(ref.file);
      try {
        const { layers } = await dockerArchiveLayers(outer, ref.file, ref.ref);
        const s = await stacked('docker-archive', layers, opts);
        return {
          ...s,
          close: () => {
            s.close();
            outer.close();
          },
        };
      } catch (e) {
        outer.close();
        throw e;
      }
    }
    case 'path': {
      const p = ref.path;
      if (existsSync(p)) {
        const st = statSync(p);
        if (st.isDirectory())
          return { tree: treeFromHostDir(p), kind: 'dir', spooled: false, warnings: [], close() {} };
        return fromFile(p, opts);
      }
      const { parseImageRef } = await import('../open.js');
      if (parseImageRef(p).partition !== undefined) return fromImage(p);
      throw new HostIOError('E_IO_NOT_FOUND', `${p}: no such file or directory`, { path: p });
    }
  }
}

async function stacked(kind: SourceKind, layers: LayerInput[], opts: SourceOptions): Promise<OpenedSource> {
  // layers read in place (uncompressed blobs) and spools both stay open until close()
  const open: Array<{ close(): void }> = layers.filter((l) => l.close).map((l) => ({ close: () => l.close!() }));
  let spooled = false;
  const close = () => {
    for (const s of open.splice(0)) s.close();
  };
  try {
    const [{ stackLayers }, { spool }] = await Promise.all([
      import('../../core/archive/oci/stack.js'),
      import('./spool.js'),
    ]);
    const r = await stackLayers(layers, {
      hash: nodeHash,
      decompress: NATIVE,
      spool: async (chunks) => {
        const s = await spool(chunks, opts);
        open.push(s);
        spooled = true;
        return s;
      },
      ...(opts.unsafe ? { unsafe: opts.unsafe } : {}),
      ...(opts.warn ? { warn: opts.warn } : {}),
      ...(opts.progress ? { progress: opts.progress } : {}),
    });
    return { tree: r.tree, kind, spooled, warnings: r.warnings, close };
  } catch (e) {
    close();
    throw e;
  }
}

/**
 * Open several sources and stack them into one tree, in order: later
 * sources win, whiteouts (`.wh.NAME`, `.wh..wh..opq`) in later sources
 * delete from earlier ones. One source opens as itself.
 */
export async function stackSources(specs: string[], opts: SourceOptions = {}): Promise<OpenedSource> {
  if (!specs.length) throw new UsageError('E_USAGE_SOURCE', 'no source given', {});
  const opened: OpenedSource[] = [];
  const close = () => {
    for (const o of opened.splice(0)) o.close();
  };
  try {
    for (const s of specs) opened.push(await openSource(s, opts));
    if (opened.length === 1) return opened[0]!;
    const { applyLayer } = await import('../../core/archive/oci/layer.js');
    const tree = new FileTree();
    for (const o of opened) applyLayer(tree, o.tree, o.implicitDirs ? { implicitDirs: o.implicitDirs } : {});
    return {
      tree,
      kind: opened[opened.length - 1]!.kind,
      spooled: opened.some((o) => o.spooled),
      warnings: opened.flatMap((o) => o.warnings),
      close,
    };
  } catch (e) {
    close();
    throw e;
  }
}
