/** EROFS (uncompressed): writer (write.ts) and reader (read.ts). */
export {
  writeErofs,
  prepareErofs,
  erofsSize,
  type ErofsOptions,
  type ErofsSummary,
  type PreparedErofs,
} from './write.js';
export { openErofs, type ErofsVolume, type ErofsInfo, type ErofsOpenOptions } from './read.js';
