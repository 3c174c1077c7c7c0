/**
 * Detection by magic and opening of every container kind: what openImage
 * does before its own detection, so a filesystem or partition table inside
 * a container opens as if the raw device were there.
 */
import { FormatError } from '../errors.js';
import type { BlockDevice } from '../io/device.js';
import { detectContainer } from './detect.js';
import { openQcow2 } from './qcow2/read.js';
import { openSparse } from './sparse/read.js';
import type { OpenedContainer } from './types.js';
import { openVhd } from './vhd/read.js';
import { openVmdk, type ExtentResolver } from './vmdk/read.js';

export { detectContainer };

export interface OpenContainerOptions {
  /** Opens the extent files a VMDK descriptor names (the Node side resolves them beside the descriptor). */
  resolve?: ExtentResolver;
}

/** Open `dev` as the container it is; undefined when it is not one (read it raw). */
export function openContainer(dev: BlockDevice, opts: OpenContainerOptions = {}): OpenedContainer | undefined {
  const kind = detectContainer(dev);
  switch (kind) {
    case undefined:
      return undefined;
    case 'qcow2':
      return openQcow2(dev);
    case 'android-sparse':
      return openSparse(dev);
    case 'vhd-fixed':
    case 'vhd-dynamic':
      return openVhd(dev);
    case 'vmdk-sparse':
    case 'vmdk-stream':
    case 'vmdk-descriptor':
      return openVmdk(dev, opts.resolve);
    default:
      throw new FormatError('E_FORMAT_UNKNOWN', `container kind ${String(kind)} cannot be opened`, {});
  }
}
