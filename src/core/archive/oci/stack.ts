/**
 * Layers to one tree: each layer's bytes are checked against its digest
 * while read, decompressed, checked against its diff_id, and made random
 * access (the layer itself when stored uncompressed in a random-access
 * place, else a spool the caller provides: the Node layer spools to a
 * temporary file, the default collects in memory), then read by readTar
 * and folded onto the tree by applyLayer.
 */
import { decompressStream, type DecompressOptions } from '../../compress/codec.js';
import { MemoryDevice } from '../../io/device.js';
import type { Progress } from '../../progress.js';
import { FileTree } from '../../tree/tree.js';
import type { TarSource } from '../tar/read.js';
import { readTar } from '../tar/tree.js';
import { digestString, verifyDigest, type HashFactory } from './digest.js';
import type { LayerInput } from './image.js';
import { applyLayer } from './layer.js';

/** Turns a stream into a random-access source (the decompressed tar of a layer). */
export type Spool = (chunks: AsyncIterable<Uint8Array>, name: string) => Promise<TarSource>;

export interface StackOptions {
  spool?: Spool;
  /** Passed to decompressStream (a native CRC-32, say). */
  decompress?: DecompressOptions;
  hash?: HashFactory;
  tree?: FileTree;
  unsafe?: 'error' | 'skip';
  warn?: (message: string) => void;
  progress?: Progress;
}

/** The pure default spool: everything in memory (fine for small layers and browsers). */
export const memorySpool: Spool = async (chunks) => {
  const parts: Uint8Array[] = [];
  let n = 0;
  for await (const c of chunks) {
    parts.push(c);
    n += c.length;
  }
  const all = new Uint8Array(n);
  let o = 0;
  for (const p of parts) {
    all.set(p, o);
    o += p.length;
  }
  return new MemoryDevice(all);
};

async function drain(s: AsyncIterable<Uint8Array>): Promise<void> {
  for await (const c of s) void c;
}

async function layerSource(l: LayerInput, opts: StackOptions): Promise<TarSource> {
  const hash = opts.hash ? { hash: opts.hash } : {};
  if (l.random && l.codec === 'none') {
    // stored uncompressed where it can be read at random: check the digests in one pass, use it in place
    let s: AsyncIterable<Uint8Array> = l.open();
    if (l.digest)
      s = verifyDigest(s, l.digest, `${l.name}`, { ...(l.size !== undefined ? { size: l.size } : {}), ...hash });
    if (l.diffId && !(l.digest && digestString(l.digest) === digestString(l.diffId)))
      s = verifyDigest(s, l.diffId, `${l.name} (diff_id)`, hash);
    await drain(s);
    return l.random;
  }
  let s: AsyncIterable<Uint8Array> = l.open();
  if (l.digest) s = verifyDigest(s, l.digest, l.name, { ...(l.size !== undefined ? { size: l.size } : {}), ...hash });
  s = decompressStream(l.codec, s, opts.decompress);
  if (l.diffId) s = verifyDigest(s, l.diffId, `${l.name} (diff_id, uncompressed)`, hash);
  return (opts.spool ?? memorySpool)(s, l.name);
}

/** Apply `layers` in order (base first) onto a tree (a new one unless given). */
export async function stackLayers(
  layers: LayerInput[],
  opts: StackOptions = {},
): Promise<{ tree: FileTree; warnings: string[] }> {
  const tree = opts.tree ?? new FileTree();
  const warnings: string[] = [];
  const warn = (m: string) => {
    warnings.push(m);
    opts.warn?.(m);
  };
  opts.progress?.start('reading layers', layers.length, 'objects');
  for (const l of layers) {
    const src = await layerSource(l, opts);
    const r = readTar(src, { danglingLinks: 'collect', warn, ...(opts.unsafe ? { unsafe: opts.unsafe } : {}) });
    applyLayer(tree, r.tree, { links: r.links, implicitDirs: r.implicitDirs, name: l.name });
    opts.progress?.tick(1);
  }
  opts.progress?.done();
  return { tree, warnings };
}
