/**
 * tinyimage for Node: everything in 'tinyimage/core', plus the host side:
 * host directories as trees, file-backed devices, atomic outputs, safe
 * extraction, openImage by path, the parallel gzip encoder, QEMU, the
 * toolchain and build specs. Browsers resolve 'tinyimage' to the core.
 */
import './setup.js';

export * from '../core/index.js';

// host files
export { treeFromHostDir, treeFromCpioListFile, cpioListFileEntries, type HostTreeOptions } from './host/tree.js';
export { pathContent } from './host/content.js';
export { withOutputFile } from './host/output.js';
export { writeChunksToFile } from './host/stream.js';
export { extractTree, type ExtractOptions, type ExtractResult } from './host/extract.js';
export { FileDevice } from './io/file.js';
export { openImage, parseImageRef, type OpenedImage } from './open.js';

// both cores for gzip (also registered behind the core's gzipChunks)
export { parallelGzip, parallelGzipBytes } from './compress/gzip.js';

// boot in QEMU, host GRUB and kernel modules
export {
  bootQemu,
  startQemu,
  type BootOptions,
  type BootResult,
  type QemuSession,
  type SessionOptions,
  type QemuOptions,
  type QemuExit,
} from './qemu/index.js';
export { findHostGrub, makeCoreImage, hostLiveGrub, type HostGrub, type CoreImageOptions } from './system/grub-host.js';
export { hostBiosGrub, hostModules, buildBiosDiskFile, type BiosDiskFileOptions } from './system/bios-host.js';

// kernel and busybox built from source (the only spawning besides QEMU)
export {
  buildKernel,
  buildBusybox,
  type BuildKernelOptions,
  type KernelBuildResult,
  type BuildBusyboxOptions,
  type BusyboxBuildResult,
  type KernelPreset,
} from './toolchain/index.js';

// build specs
export { build, type BuildOptions, type BuildResult } from './build/build.js';
export { loadSpec, loadPreset, presetNames } from './build/load.js';
export { validateSpec, type Spec } from './build/spec.js';

// sources: directories, tarballs (any codec), cpio, images, OCI layouts and docker archives
export {
  openSource,
  stackSources,
  parseSourceRef,
  type OpenedSource,
  type SourceOptions,
  type SourceKind,
  type SourceRef,
} from './host/source.js';
export { spool, type Spooled, type SpoolOptions } from './host/spool.js';
export { dirStore, nodeHash } from './host/oci.js';

// virtual disk container files (atomic, both cores for compression)
export {
  convertToContainerFile,
  createContainerFile,
  nodeCompressor,
  FileTarget,
  type ConvertFileOptions,
  type ContainerFile,
} from './container/file.js';

// squashfs files, compressed on every core
export { writeSquashfsFile, FileOutput, type SquashfsFileOptions } from './squashfs/write.js';
export { nodeGzipCompressor, type NodeCompressorOptions } from './squashfs/compress.js';

// EROFS files, written atomically
export { writeErofsFile, type ErofsFileOptions } from './erofs/write.js';
