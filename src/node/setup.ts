/**
 * What the Node layer plugs into the core when it is loaded: the parallel
 * gzip encoder (node:zlib on libuv's threads) behind the core's gzipChunks.
 * Imported for its effect by the 'tinyimage' entry point and the CLI.
 */
import { setGzipEncoder } from '../core/compress/gzip.js';
import { parallelGzip } from './compress/gzip.js';

setGzipEncoder(parallelGzip);
