/** --format and --subformat: images written inside a virtual disk container (src/node/container/output.ts). */
import { DISK_FORMATS, SUBFORMAT_CHOICES } from '../container/output.js';
import type { OptionTable } from './options.js';

export {
  containerFor,
  containerWhat,
  spoolToContainer,
  writeContainerImage,
  DISK_FORMATS,
  type DiskFormat,
} from '../container/output.js';

/** --format and --subformat, for commands that write a disk or filesystem image. */
export const CONTAINER_OPTIONS = {
  format: {
    type: 'enum',
    choices: DISK_FORMATS,
    help:
      'write the image as raw or inside a virtual disk container (default: from the name of OUT: .qcow2, ' +
      '.vhd, .vmdk, .simg; else raw)',
  },
  subformat: {
    type: 'enum',
    choices: SUBFORMAT_CHOICES,
    help: 'vhd: dynamic (default) or fixed; vmdk: monolithicSparse (default) or streamOptimized',
  },
} as const satisfies OptionTable;
