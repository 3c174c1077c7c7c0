/** Container formats by file name, apart from the writers (the CLI checks names before it writes anything). */
import type { ContainerOptions } from './types.js';

/**
 * The container a file name implies (the CLI's default for --format):
 * .qcow2/.qcow, .vhd/.vpc (dynamic; fixed needs the subformat), .vmdk
 * (monolithicSparse), .simg/.sparse. Undefined for anything else (raw).
 */
export function containerFormatFromName(name: string): ContainerOptions | undefined {
  const ext = /\.([a-z0-9]+)$/i.exec(name)?.[1]?.toLowerCase();
  switch (ext) {
    case 'qcow2':
    case 'qcow':
      return { format: 'qcow2' };
    case 'vhd':
    case 'vpc':
      return { format: 'vhd' };
    case 'vmdk':
      return { format: 'vmdk' };
    case 'simg':
    case 'sparse':
      return { format: 'sparse' };
    default:
      return undefined;
  }
}
