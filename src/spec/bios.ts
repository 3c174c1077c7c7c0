import { TinyImageError } from '../errors.js';
import type { BuildContext } from './build.js';

export async function buildBiosKind(_ctx: BuildContext): Promise<string | undefined> {
  throw new TinyImageError('E_NOT_IMPLEMENTED', 'the bios build is not wired yet');
}
