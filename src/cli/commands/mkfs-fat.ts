import type { CommandContext } from '../command.js';
import { TinyImageError } from '../../errors.js';

// Placeholder, replaced by the fat area.
export async function runMkfsFat(_type: string | undefined, _argv: string[], _ctx: CommandContext): Promise<number> {
  throw new TinyImageError('E_NOT_IMPLEMENTED', 'mkfs fat is not implemented yet');
}
