export { gzipChunks, gzipBytes, gunzipChunks, concatChunks, gzipCrc32, type GzipOptions } from './gzip.js';
