export { gzipChunks, gzipBytes, gunzipChunks, concatChunks, gzipCrc32, type GzipOptions } from './gzip.js';
export { detectCodec, decompressStream, sniffCodec, CODEC_MAGIC, CODEC_HEAD, type Codec, type DecompressOptions } from './codec.js';
