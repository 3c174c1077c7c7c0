/** ext2/ext3/ext4: writer (write.ts) and reader (read.ts). */
export { writeExt4, ext4MinimumSize, prepareExt4, type Ext4Summary, type PreparedExt4 } from './write.js';
export { type Ext4Options, type ExtType, defaultFeatures, SUPPORTED_FEATURES } from './options.js';
export {
  openExt4,
  openExt4Reader,
  readExt4Info,
  readExt4Inode,
  type Ext4Reader,
  type Ext4Inode,
  type Ext4Volume,
  type Ext4Info,
  type Ext4OpenOptions,
} from './read.js';
