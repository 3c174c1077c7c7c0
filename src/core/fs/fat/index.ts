/** FAT12/16/32: writer, minimum size, reader. */
export {
  writeFat,
  fatMinimumSize,
  planFat,
  type FatOptions,
  type FatPlan,
  type FatSummary,
  type FatType,
} from './writer.js';
export { chooseGeometry, type FatGeometry } from './layout.js';
export { openFat, type FatVolume, type FatInfo } from './reader.js';
