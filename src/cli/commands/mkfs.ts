import type { Command } from '../command.js';
import { TinyImageError } from '../../errors.js';

// Placeholder: replaced by the real command.
export const command: Command = {
  name: 'mkfs',
  summary: '',
  usage: 'usage: tinyimage mkfs (not implemented yet)',
  async run() {
    throw new TinyImageError('E_NOT_IMPLEMENTED', "'mkfs' is not implemented yet");
  },
};
