/**
 * Virtual disk containers (qcow2, VHD, VMDK, Android sparse) are ways to
 * store a sparse raw device. The types every container module shares: where
 * the data of a raw device lies (extents), where a container is written (a
 * growable byte target), options, and what writers and readers report.
 */
import type { BlockDevice } from '../io/device.js';
import type { Progress } from '../progress.js';
import type { Compressor } from './compress.js';

/** A byte range `[offset, offset + length)` of a raw device that may hold data; outside them it reads as zeros. */
export interface Extent {
  offset: number;
  length: number;
}

/**
 * Where a container is written: a byte store that grows as it is written (a
 * host file, memory). Writers append data in increasing order and write their
 * tables and headers last, at lower offsets. Bytes never written read as
 * zeros (a hole), so free space costs nothing.
 */
export interface ContainerTarget {
  /** Write now; the caller may reuse `data` as soon as this returns. */
  writeAt(offset: number, data: Uint8Array): void;
  /**
   * Optional: start a write that completes later (a host file writes on the
   * thread pool, overlapping the reading of the next data). `data` must stay
   * untouched until the promise settles. Streaming writers use it for data;
   * tables and headers go through writeAt once all data writes have settled.
   */
  writeAtAsync?(offset: number, data: Uint8Array): Promise<void>;
  /** Read back what was written (allocate-on-write devices read their own data); unwritten bytes are zeros. */
  readInto(offset: number, target: Uint8Array): void;
  /** Persist what was written (fsync); writers never call it, the caller does when it wants durability. */
  flush?(): void;
  /** Called last with the container's length: extend the store to it (a trailing hole) if it is shorter. */
  setSize?(size: number): void;
}

/**
 * A source device that can also read asynchronously (a host file reading on
 * the thread pool): streaming writers then read ahead while they write.
 */
export interface AsyncReadable {
  readIntoAsync(offset: number, target: Uint8Array): Promise<void>;
}

export type ContainerFormat = 'qcow2' | 'vhd' | 'vmdk' | 'sparse';
export type VhdSubformat = 'dynamic' | 'fixed';
export type VmdkSubformat = 'monolithicSparse' | 'streamOptimized';

/** Every container kind a reader recognises. */
export type ContainerKind =
  'qcow2' | 'vhd-fixed' | 'vhd-dynamic' | 'vmdk-sparse' | 'vmdk-stream' | 'vmdk-descriptor' | 'android-sparse';

export interface ContainerOptions {
  format: ContainerFormat;
  /** vhd: 'dynamic' (default) or 'fixed'; vmdk: 'monolithicSparse' (default) or 'streamOptimized'. */
  subformat?: VhdSubformat | VmdkSubformat;
  /** qcow2: store clusters deflate-compressed when that saves space (default false). */
  compress?: boolean;
  /** qcow2 cluster size, a power of two from 512 to 2 MiB (default 64 KiB). */
  clusterSize?: number;
  /** Android sparse block size, a multiple of 4 (default 4096). */
  blockSize?: number;
  /**
   * Android sparse: what all-zero blocks become. 'fill' (default) writes them as
   * FILL chunks, so flashing restores them onto a used partition; 'dont-care'
   * leaves the target's old bytes there (smaller, faster to flash).
   */
  zeroBlocks?: 'fill' | 'dont-care';
  /** VHD fixed: round the virtual size up to this multiple (default 1 MiB, as Azure requires; 512 for none). */
  align?: number;
  /** Seconds since 1970 for timestamps (VHD); SOURCE_DATE_EPOCH. Default 0 (VHD then says 2000-01-01). */
  epoch?: number;
  /** VHD unique id / VMDK ddb.uuid.image as a UUID string; default derived from the content. */
  uuid?: string;
  /** VMDK content id (CID); default derived from the content. */
  cid?: number;
  /** VHD creator application, 4 ASCII characters (default 'win ', see docs/containers.md). */
  creatorApp?: string;
  /** VMDK: extent file name written in the embedded descriptor (default 'disk.vmdk'). */
  fileName?: string;
  /** VMDK: ddb.adapterType (default 'ide'). */
  adapterType?: 'ide' | 'lsilogic' | 'buslogic' | 'legacyESX';
  /** Compression engine (default: fflate in this thread; the Node side passes node:zlib on the thread pool). */
  compressor?: Compressor;
  /** deflate level 1..9 (default 6). */
  level?: number;
  progress?: Progress;
}

export interface ContainerSummary {
  format: ContainerFormat;
  subformat?: string;
  /** Size of the virtual (raw) device in bytes. */
  virtualSize: number;
  /** Size of the container file in bytes. */
  fileSize: number;
  /** Units (clusters, grains, blocks) stored with data, and their size. */
  allocatedUnits: number;
  unitSize: number;
  /** qcow2 / VMDK stream: units stored compressed. */
  compressedUnits?: number;
  /** VHD unique id or VMDK ddb.uuid.image. */
  uuid?: string;
  /** VMDK CID as 8 hex digits. */
  cid?: string;
}

/** What a reader found: the container around the raw device. */
export interface ContainerInfo {
  kind: ContainerKind;
  /** Size of the raw device inside. */
  virtualSize: number;
  /** Size of the container file. */
  fileSize: number;
  [key: string]: unknown;
}

/** A container opened for reading: the raw device inside, and what was found. */
export interface OpenedContainer {
  device: BlockDevice;
  info: ContainerInfo;
}

/** A device that builds a container as it is written (allocate on write); `finish` writes the tables. */
export interface ContainerDevice extends BlockDevice {
  /** Write the metadata; after this the device must not be written. */
  finish(): Promise<ContainerSummary>;
  /** Where data was written so far (for streaming this device into another format). */
  extents(): Extent[];
}
