/**
 * tinyimage: assemble bootable minimal Linux systems byte by byte, without root.
 *
 * The public API: the tree model, block devices, every format's writer and
 * reader, disk assembly, boot paths, openImage, diffTrees, and the build spec.
 * Raw on-disk structs and helpers for tests are in 'tinyimage/internal'.
 */
export * from './errors.js';
export type { Progress } from './progress.js';
export { silentProgress } from './progress.js';

// tree model
export { FileTree, sortedNames, toTimespec, type MetaInput, type TreeOptions, type WalkEntry } from './tree/tree.js';
export type { Content, NodeMeta, NodeType, Timespec, TreeNode, FileNode, DirNode, SymlinkNode, DeviceNode, SpecialNode } from './tree/types.js';
export { fullMode, typeFromMode, encodeDev, decodeDev } from './tree/types.js';
export { bytesContent, streamContent, sparseContent, readContent } from './tree/content.js';
export { splitPath, normalizePath, MAX_NAME_BYTES } from './tree/path.js';
export { treeFromCpioList, type CpioListOptions } from './tree/cpiolist.js';
export { squashOwner, mapOwners, clampTimes, sourceDateEpoch } from './tree/transform.js';

// host side
export { treeFromHostDir, treeFromCpioListFile, type HostTreeOptions } from './host/tree.js';
export { pathContent } from './host/content.js';
export { withOutputFile } from './host/output.js';
export { writeChunksToFile } from './host/stream.js';
export { extractTree, type ExtractOptions, type ExtractResult } from './host/extract.js';

// block devices
export { MemoryDevice, SubDevice, type BlockDevice } from './io/device.js';
export { FileDevice } from './io/file.js';

// formats
export { cpioChunks, readCpioTree, listCpio, type CpioWriteOptions, type CpioEntryInfo, type CpioSource } from './archive/cpio/index.js';
export { gzipChunks, gzipBytes, gunzipChunks, concatChunks, type GzipOptions } from './compress/index.js';
export { writeExt4, ext4MinimumSize, prepareExt4, type PreparedExt4, openExt4, readExt4Info, defaultFeatures, SUPPORTED_FEATURES, type Ext4Options, type Ext4Summary, type Ext4Volume, type Ext4Info, type ExtType } from './fs/ext4/index.js';
export { writeFat, fatMinimumSize, planFat, type FatPlan, openFat, type FatOptions, type FatSummary, type FatType, type FatVolume, type FatInfo } from './fs/fat/index.js';
export { writeSquashfs, MemoryOutput, DeviceOutput, fflateCompressor, openSquashfs, type SquashfsOptions, type SquashfsSummary, type SquashfsOutput, type BlockCompressor, type BlockDecompressor, type SquashfsVolume, type SquashfsInfo, type SquashfsOpenOptions } from './fs/squashfs/index.js';
export { writeSquashfsFile, FileOutput, type SquashfsFileOptions } from './fs/squashfs/write-node.js';
export { nodeGzipCompressor, type NodeCompressorOptions } from './fs/squashfs/compress-node.js';
export * as partition from './partition/index.js';
export { readPartitionTable, partuuid, writeMbr, writeGpt, type PartitionTable, type PartitionInfo } from './partition/index.js';
export { buildDisk, diskSize, planDisk, type DiskLayout, type DiskPartition, type DiskResult, type DiskFs, type PartitionSize } from './image/disk.js';

// boot
export { readBusyboxApplets, addBusybox, type Applet, type AppletDir } from './busybox/applets.js';
export { tinyInitramfsTree, initramfsChunks, overlayTree, DEFAULT_INIT, WELCOME, type TinyInitramfsOptions } from './initramfs/index.js';
export { buildUki, readUki, checkEfiKernel, DEFAULT_EFI_STUB_PATH, type UkiInput } from './boot/uki.js';
export { buildUefiUsb, buildUefiSystem, uefiUsbSize, REMOVABLE_PATH_X64, type UefiUsbOptions, type UefiSystem, type UefiSystemInput } from './boot/uefi.js';
export { bootQemu, startQemu, type BootOptions, type BootResult, type QemuSession } from './qemu/index.js';

// reading any image, comparing trees
export { openImage, openDisk, openFilesystem, detect, parseImageRef, isDisk, type OpenedImage, type FsImage, type DiskImage, type ImageKind, type FsKind } from './open/index.js';
export { TreeView } from './open/view.js';
export { diffTrees, formatDiff, type DiffEntry, type DiffOptions, type DiffField } from './diff/index.js';

// build specs
export { build, type BuildOptions, type BuildResult } from './spec/build.js';
export { loadSpec, loadPreset, presetNames } from './spec/load.js';
export { validateSpec, type Spec } from './spec/spec.js';
