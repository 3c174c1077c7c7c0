/** squashfs 4.0: writer (write.ts) and reader (read.ts). Host files: write-node.ts. */
export { writeSquashfs, type SquashfsOptions, type SquashfsSummary } from './write.js';
export { MemoryOutput, DeviceOutput, type SquashfsOutput } from './output.js';
export { fflateCompressor, zstdCompressor, type BlockCompressor, type BlockDecompressor } from './compress.js';
export { openSquashfs, type SquashfsVolume, type SquashfsInfo, type SquashfsOpenOptions } from './read.js';
