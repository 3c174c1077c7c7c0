/** What the corruption tests import: the reader and the superblock table. */
export { openSquashfs } from '../../src/core/fs/squashfs/index.js';
export { SUPERBLOCK as SUPERBLOCK_TABLE } from '../../src/core/fs/squashfs/structs.js';
