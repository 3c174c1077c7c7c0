/**
 * tinyimage/core: the pure core. Runs in any JavaScript runtime (browsers,
 * workers, Node, Deno, Bun): the tree model, block devices in memory, every
 * format's writer and reader, partition tables, the pure boot formats,
 * system assembly onto a BlockDevice, opening images from a device, diff.
 * It uses only Uint8Array, DataView, TextEncoder/TextDecoder and crypto.
 */
export * from './errors.js';
export { silentProgress, type Progress } from './progress.js';

// tree model
export { FileTree, sortedNames, toTimespec, type MetaInput, type TreeOptions, type WalkEntry } from './tree/tree.js';
export type {
  Content,
  NodeMeta,
  NodeType,
  Timespec,
  TreeNode,
  FileNode,
  DirNode,
  SymlinkNode,
  DeviceNode,
  SpecialNode,
} from './tree/types.js';
export { fullMode, typeFromMode, encodeDev, decodeDev } from './tree/types.js';
export { bytesContent, streamContent, sparseContent, readContent } from './tree/content.js';
export { splitPath, normalizePath, MAX_NAME_BYTES } from './tree/path.js';
export {
  treeFromCpioList,
  parseCpioList,
  expandLocation,
  type CpioListOptions,
  type CpioListEntry,
  type ResolvedFile,
} from './tree/cpiolist.js';
export { squashOwner, mapOwners, clampTimes, sourceDateEpoch } from './tree/transform.js';

// block devices
export { MemoryDevice, SubDevice, type BlockDevice } from './io/device.js';

// formats
export {
  cpioChunks,
  readCpioTree,
  listCpio,
  type CpioWriteOptions,
  type CpioEntryInfo,
  type CpioSource,
} from './archive/cpio/index.js';
export {
  gzipChunks,
  gzipBytes,
  gunzipChunks,
  concatChunks,
  fflateGzip,
  setGzipEncoder,
  type GzipOptions,
  type GzipEncoder,
  type ByteSource,
} from './compress/index.js';
export {
  writeExt4,
  ext4MinimumSize,
  prepareExt4,
  type PreparedExt4,
  openExt4,
  openExt4Reader,
  readExt4Info,
  readExt4Inode,
  defaultFeatures,
  SUPPORTED_FEATURES,
  type Ext4Options,
  type Ext4Summary,
  type Ext4Volume,
  type Ext4Info,
  type Ext4OpenOptions,
  type Ext4Reader,
  type Ext4Inode,
  type ExtType,
} from './fs/ext4/index.js';
export {
  writeFat,
  fatMinimumSize,
  planFat,
  type FatPlan,
  openFat,
  type FatOptions,
  type FatSummary,
  type FatType,
  type FatVolume,
  type FatInfo,
} from './fs/fat/index.js';
export {
  writeIso9660,
  planIso9660,
  iso9660Size,
  openIso9660,
  isIso9660,
  type IsoOptions,
  type IsoBootEntry,
  type IsoBootOptions,
  type IsoAppended,
  type IsoHybridOptions,
  type IsoPlanHandle,
  type IsoSummary,
  type IsoLevel,
  type IsoVolume,
  type IsoInfo,
} from './fs/iso9660/index.js';
export * as partition from './partition/index.js';
export {
  readPartitionTable,
  partuuid,
  writeMbr,
  writeGpt,
  type PartitionTable,
  type PartitionInfo,
} from './partition/index.js';
export {
  buildDisk,
  diskSize,
  planDisk,
  type DiskLayout,
  type DiskPartition,
  type DiskResult,
  type DiskFs,
  type PartitionSize,
} from './image/disk.js';

// boot formats and whole systems on a device
export { readBusyboxApplets, addBusybox, type Applet, type AppletDir } from './busybox/applets.js';
export {
  tinyInitramfsTree,
  initramfsChunks,
  overlayTree,
  DEFAULT_INIT,
  WELCOME,
  type TinyInitramfsOptions,
} from './initramfs/index.js';
export { buildUki, readUki, checkEfiKernel, efiStubPath, DEFAULT_EFI_STUB_PATH, type UkiInput } from './boot/uki.js';
export {
  identifyKernel,
  identifyKernelAsync,
  uncompressedKernel,
  type KernelInfo,
  type KernelFormat,
} from './boot/kernel.js';
export {
  ARCHES,
  ARCH_FACTS,
  isArch,
  elfFacts,
  archOfPeMachine,
  checkArchAgreement,
  type Arch,
  type ArchFacts,
  type ArchWitness,
  type ElfFacts,
} from './arch.js';
export {
  buildUefiUsb,
  buildUefiSystem,
  uefiUsbSize,
  efiArch,
  REMOVABLE_PATH_X64,
  REMOVABLE_PATH_AA64,
  type UefiUsbOptions,
  type UefiSystem,
  type UefiSystemInput,
} from './system/uefi.js';
export {
  planLiveIso,
  writeLiveIso,
  LIVE_KERNEL,
  LIVE_INITRD,
  LIVE_ELTORITO,
  type LiveIsoOptions,
  type LiveIsoGrub,
  type LiveIso,
} from './system/iso.js';
export {
  buildBiosDisk,
  planBiosDisk,
  writeBiosDisk,
  checkBiosBusybox,
  type BiosDiskOptions,
  type BiosDiskPlan,
  type BiosDiskResult,
  type BiosGrub,
  type BiosModules,
} from './system/bios.js';
export {
  buildRpiImage,
  planRpiImage,
  writeRpiImage,
  rpiBoard,
  rpiConfigTxt,
  readRpiConfigTxt,
  RPI_BOARDS,
  RPI_ROOT_MODULES,
  DEFAULT_RPI_BOARD,
  type RpiBoard,
  type RpiImageOptions,
  type RpiImagePlan,
} from './system/rpi.js';
export {
  buildRootfs,
  requiredApplets,
  BUILTIN_SERVICES,
  type DistroOptions,
  type ServiceDef,
  type UserDef,
} from './distro/index.js';

// reading any image, comparing trees
export {
  openDevice,
  openDisk,
  openFilesystem,
  detect,
  isDisk,
  type FsImage,
  type DiskImage,
  type ImageKind,
  type FsKind,
} from './open/index.js';
export { TreeView } from './open/view.js';
export { diffTrees, formatDiff, type DiffEntry, type DiffOptions, type DiffField } from './diff/index.js';

// tar, codecs, container image layers
export {
  detectCodec,
  decompressStream,
  compressStream,
  sniffCodec,
  zstdChunks,
  type Codec,
  type DecompressOptions,
  type ZstdOptions,
} from './compress/index.js';
export {
  readTar,
  tarChunks,
  tarMembers,
  looksLikeTar,
  windowSource,
  type TarReadOptions,
  type TarTree,
  type TarMember,
  type TarSource,
  type TarWriteOptions,
  type AclIdResolver,
} from './archive/tar/index.js';
export {
  applyLayer,
  stackTrees,
  stackLayers,
  ociImageLayers,
  dockerArchiveLayers,
  memorySpool,
  verifyDigest,
  parseDigest,
  type LayerOptions,
  type LayerInput,
  type OciStore,
  type OciImageOptions,
  type Spool,
  type StackOptions,
  type Digest,
  type HashFactory,
} from './archive/oci/index.js';

// virtual disk containers (qcow2, VHD, VMDK, Android sparse)
export {
  writeContainer,
  createContainerDevice,
  buildsInPlace,
  containerFormatFromName,
  detectContainer,
  openContainer,
  fflateCompressor,
  MemoryTarget,
  type ContainerDevice,
  type ContainerFormat,
  type ContainerInfo,
  type ContainerKind,
  type ContainerOptions,
  type ContainerSummary,
  type ContainerTarget,
  type Extent,
  type OpenedContainer,
  type VhdSubformat,
  type VmdkSubformat,
  type WriteContainerOptions,
  type OpenContainerOptions,
  type ExtentResolver,
  type Compressor,
} from './container/index.js';

// squashfs
export {
  writeSquashfs,
  MemoryOutput,
  DeviceOutput,
  fflateCompressor as squashfsFflateCompressor,
  zstdCompressor as squashfsZstdCompressor,
  openSquashfs,
  type SquashfsOptions,
  type SquashfsSummary,
  type SquashfsOutput,
  type BlockCompressor,
  type BlockDecompressor,
  type SquashfsVolume,
  type SquashfsInfo,
  type SquashfsOpenOptions,
} from './fs/squashfs/index.js';

// EROFS (uncompressed)
export {
  writeErofs,
  prepareErofs,
  erofsSize,
  openErofs,
  type ErofsOptions,
  type ErofsSummary,
  type PreparedErofs,
  type ErofsVolume,
  type ErofsInfo,
  type ErofsOpenOptions,
} from './fs/erofs/index.js';
