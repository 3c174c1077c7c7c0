/** EROFS (uncompressed): writer (write.ts) and reader (read.ts). */
export {
  writeErofs,
  prepareErofs,
  erofsSize,
  type ErofsOptions,
  type ErofsSummary,
  type PreparedErofs,
} from './write.js';
