export {
  gzipChunks,
  gzipBytes,
  gunzipChunks,
  concatChunks,
  fflateGzip,
  setGzipEncoder,
  checkGzipLevel,
  type GzipOptions,
  type GzipEncoder,
  type ByteSource,
} from './gzip.js';
export { type GunzipOptions } from './gunzip.js';
export {
  detectCodec,
  decompressStream,
  compressStream,
  sniffCodec,
  CODEC_MAGIC,
  CODEC_HEAD,
  type Codec,
  type DecompressOptions,
} from './codec.js';
export { zstdChunks, checkZstdLevel, type ZstdOptions } from './zstd.js';
