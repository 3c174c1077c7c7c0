import { TinyImageError } from '../errors.js';
import type { BuildContext } from './build.js';

export async function buildUefiKind(_ctx: BuildContext): Promise<void> {
  throw new TinyImageError('E_NOT_IMPLEMENTED', 'the uefi build is not wired yet');
}
