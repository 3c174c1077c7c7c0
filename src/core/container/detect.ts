/**
 * Which container a device is, by its magic numbers only: what openImage
 * asks first, without loading any container's reader (open.ts has them).
 */
import type { BlockDevice } from '../io/device.js';
import { QCOW_MAGIC } from './qcow2/structs.js';
import { SPARSE_MAGIC } from './sparse/structs.js';
import type { ContainerKind } from './types.js';
import { DISK_FIXED, FOOTER_COOKIE, VHD_FOOTER } from './vhd/structs.js';
import { looksLikeDescriptor } from './vmdk/descriptor.js';
import { VMDK_MAGIC } from './vmdk/structs.js';

const latin1 = new TextDecoder('latin1');

/** The container kind of `dev` by its magic numbers, or undefined for anything else (a raw device). */
export function detectContainer(dev: BlockDevice): ContainerKind | undefined {
  if (dev.size < 8) return undefined;
  const head = dev.readAt(0, Math.min(dev.size, 512));
  const v = new DataView(head.buffer, head.byteOffset, head.byteLength);
  if (v.getUint32(0, false) === QCOW_MAGIC) return 'qcow2';
  if (v.getUint32(0, true) === VMDK_MAGIC) return 'vmdk-sparse';
  if (v.getUint32(0, true) === SPARSE_MAGIC) return 'android-sparse';
  if (looksLikeDescriptor(head)) return 'vmdk-descriptor';
  if (latin1.decode(head.subarray(0, 8)) === FOOTER_COOKIE) return 'vhd-dynamic';
  if (dev.size >= 1024 && dev.size % 512 === 0) {
    const tail = dev.readAt(dev.size - 512, 512);
    if (latin1.decode(tail.subarray(0, 8)) === FOOTER_COOKIE) {
      const type = new DataView(tail.buffer, tail.byteOffset).getUint32(VHD_FOOTER.offsetOf('diskType'), false);
      return type === DISK_FIXED ? 'vhd-fixed' : 'vhd-dynamic';
    }
  }
  return undefined;
}
