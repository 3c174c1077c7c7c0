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
  sniffCodec,
  CODEC_MAGIC,
  CODEC_HEAD,
  type Codec,
  type DecompressOptions,
} from './codec.js';
