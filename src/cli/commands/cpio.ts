import type { Command } from '../command.js';
import { TinyImageError } from '../../errors.js';

// Placeholder: replaced by the real command.
export const command: Command = {
  name: 'cpio',
  summary: '',
  usage: 'usage: tinyimage cpio (not implemented yet)',
  async run() {
    throw new TinyImageError('E_NOT_IMPLEMENTED', "'cpio' is not implemented yet");
  },
};
