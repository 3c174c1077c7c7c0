import type { Command } from '../command.js';
import { TinyImageError } from '../../errors.js';

// Placeholder: replaced by the real command.
export const command: Command = {
  name: 'kernel',
  summary: '',
  usage: 'usage: tinyimage kernel (not implemented yet)',
  async run() {
    throw new TinyImageError('E_NOT_IMPLEMENTED', "'kernel' is not implemented yet");
  },
};
