/** tar: a random-access reader into the FileTree model and a streaming, deterministic pax writer. */
export { readTar, type TarReadOptions, type TarTree } from './tree.js';
export {
  tarMembers,
  looksLikeTar,
  isEmptyTar,
  MAX_PAX,
  MAX_LONGNAME,
  type TarMember,
  type TarEntryType,
  type TarScanOptions,
  type TarSource,
} from './read.js';
export { tarChunks, type TarWriteOptions } from './write.js';
export { TarFileContent, TarSparseContent, windowSource } from './content.js';
export { aclTextToXattr, aclXattrToText, ACL_XATTR, type AclIdResolver } from './acl.js';
export { TAR_HEADER, GNU_TAIL, GNU_SPARSE_EXT, SPARSE_ENTRY, TYPE as TAR_TYPE, BLOCK as TAR_BLOCK } from './structs.js';
