/**
 * Virtual disk containers: qcow2, VHD, VMDK and Android sparse, written from
 * a raw device (streaming, free space skipped), built in place (allocate on
 * write), and read back as a BlockDevice. Pure: the Node side is
 * file-node.ts.
 */
export type {
  ContainerDevice,
  ContainerFormat,
  ContainerInfo,
  ContainerKind,
  ContainerOptions,
  ContainerSummary,
  ContainerTarget,
  Extent,
  OpenedContainer,
  VhdSubformat,
  VmdkSubformat,
} from './types.js';
export {
  writeContainer,
  createContainerDevice,
  buildsInPlace,
  containerFormatFromName,
  type WriteContainerOptions,
} from './write.js';
export { detectContainer, openContainer, type OpenContainerOptions } from './open.js';
export type { ExtentResolver } from './vmdk/read.js';
export { fflateCompressor, type Compressor, type Codec } from './compress.js';
export { MemoryTarget } from './units.js';
