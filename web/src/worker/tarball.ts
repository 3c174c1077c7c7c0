/**
 * A tarball File as a FileTree. The codec is detected by magic bytes (never
 * by the name). An uncompressed tar is indexed in place through Blob slices;
 * a compressed one is decompressed once into a BlobSpool and indexed there,
 * so contents are read later from the spool, not decompressed again (the
 * same choice as the CLI's spool, docs/tar.md).
 *
 * gzip goes through the browser's own inflate (DecompressionStream: zlib,
 * several times faster than inflate in JavaScript) where there is one, as
 * the Node layer uses node:zlib; if it fails (damaged data, or several gzip
 * members, which browsers do not all accept) the core's inflate runs from
 * the start and has the last word, with its typed errors.
 */
import { decompressStream, detectCodec, CODEC_HEAD, type Codec } from '../../../src/core/compress/codec.js';
import { isEmptyTar, looksLikeTar } from '../../../src/core/archive/tar/read.js';
import { readTar } from '../../../src/core/archive/tar/tree.js';
import { UsageError } from '../../../src/core/errors.js';
import type { Progress } from '../../../src/core/progress.js';
import type { FileTree } from '../../../src/core/tree/tree.js';
import { blobChunks, blobSource, readBlob } from './blob.js';
import { BlobSpool } from './store.js';

const TAR_BLOCK = 512;

export interface TarballTree {
  tree: FileTree;
  codec: Codec;
  warnings: string[];
  members: number;
}

/** The browser's gzip inflate over `file`, counting the compressed bytes it has taken. */
async function* nativeGunzip(file: Blob, tick: (n: number) => void): AsyncGenerator<Uint8Array> {
  const counted = file.stream().pipeThrough(
    new TransformStream<Uint8Array<ArrayBuffer>, BufferSource>({
      transform(chunk, out) {
        tick(chunk.length);
        out.enqueue(chunk);
      },
    }),
  );
  const reader = counted.pipeThrough(new DecompressionStream('gzip')).getReader();
  try {
    for (;;) {
      const r = await reader.read();
      if (r.done) return;
      yield r.value;
    }
  } finally {
    reader.releaseLock();
  }
}

async function decompress(file: Blob, codec: Codec, progress: Progress): Promise<Blob> {
  if (codec === 'gzip' && typeof DecompressionStream === 'function') {
    progress.start('decompressing gzip', file.size, 'bytes');
    try {
      const spool = new BlobSpool();
      for await (const chunk of nativeGunzip(file, (n) => progress.tick(n))) spool.write(chunk);
      progress.done();
      return spool.finish();
    } catch {
      // the core's inflate decides: it reads several members and names what is wrong
    }
  }
  progress.start(`decompressing ${codec}`, file.size, 'bytes');
  const spool = new BlobSpool();
  for await (const chunk of decompressStream(
    codec,
    blobChunks(file, (n) => progress.tick(n)),
  ))
    spool.write(chunk);
  progress.done();
  return spool.finish();
}

export async function treeFromTarball(file: Blob, name: string, progress: Progress): Promise<TarballTree> {
  const codec = detectCodec(readBlob(file, 0, Math.min(file.size, CODEC_HEAD)));
  const tar = codec === 'none' ? file : await decompress(file, codec, progress);
  progress.start('indexing tar', tar.size, 'bytes');
  const src = blobSource(tar);
  if (!looksLikeTar(src.readAt(0, Math.min(TAR_BLOCK, src.size))) && !isEmptyTar(src))
    throw new UsageError(
      'E_USAGE_SOURCE',
      `${name}: not a tar archive${codec === 'none' ? '' : ` inside the ${codec} stream`} ` +
        "(the first header's checksum does not match)",
      { path: name },
    );
  const warnings: string[] = [];
  const r = readTar(src, { warn: (m) => warnings.push(m) });
  progress.tick(tar.size);
  progress.done();
  return { tree: r.tree, codec, warnings, members: r.members };
}
