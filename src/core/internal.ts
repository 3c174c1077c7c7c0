/**
 * Internal entry point for tests and tools: raw struct tables, CRCs and
 * low-level helpers. Not covered by semver.
 */
export * from './binary/struct.js';
export * from './binary/crc.js';
export * as ext4Structs from './fs/ext4/structs.js';
export * as fatStructs from './fs/fat/structs.js';
export * as squashfsStructs from './fs/squashfs/structs.js';
export * as iso9660Structs from './fs/iso9660/structs.js';
export * as erofsStructs from './fs/erofs/structs.js';
export * as cpioHeader from './archive/cpio/header.js';
export * as tarStructs from './archive/tar/structs.js';
export { isZero, checkRange } from './io/device.js';
export * as qcow2Structs from './container/qcow2/structs.js';
export * as vhdStructs from './container/vhd/structs.js';
export * as vmdkStructs from './container/vmdk/structs.js';
export * as sparseStructs from './container/sparse/structs.js';
