/** newc cpio: streaming writer and reader over the shared FileTree. */
export { cpioChunks, type CpioWriteOptions } from './writer.js';
export { readCpioTree, listCpio, type CpioEntryInfo, type CpioSource } from './reader.js';
export {
  NEWC_HEADER,
  NEWC_MAGIC,
  CRC_MAGIC,
  HEADER_SIZE,
  TRAILER_NAME,
  MAX_NAMESIZE,
  encodeNewcHeader,
  decodeNewcHeader,
  type NewcHeader,
} from './header.js';
export { kernelCpioChunks, type KernelCpioOptions } from './kernel.js';
