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
