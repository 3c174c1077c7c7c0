/**
 * A tarball File as a FileTree. The codec is detected by magic bytes (never
 * by the name). An uncompressed tar is indexed in place through Blob slices;
 * a compressed one is decompressed once into a BlobSpool and indexed there,
 * so contents are read later from the spool, not decompressed again (the
 * same choice as the CLI's spool, docs/tar.md).
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

export async function treeFromTarball(file: Blob, name: string, progress: Progress): Promise<TarballTree> {
  const codec = detectCodec(readBlob(file, 0, Math.min(file.size, CODEC_HEAD)));
  let tar: Blob = file;
  if (codec !== 'none') {
    progress.start(`decompressing ${codec}`, file.size, 'bytes');
    const spool = new BlobSpool();
    for await (const chunk of decompressStream(
      codec,
      blobChunks(file, (n) => progress.tick(n)),
    ))
      spool.write(chunk);
    tar = spool.finish();
    progress.done();
  }
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
