import type { CommandContext } from '../command.js';
import { TinyImageError } from '../../errors.js';

// Placeholder, replaced by the ext area.
export async function runMkfsExt(_type: string | undefined, _argv: string[], _ctx: CommandContext): Promise<number> {
  throw new TinyImageError('E_NOT_IMPLEMENTED', 'mkfs ext is not implemented yet');
}
