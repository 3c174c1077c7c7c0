import type { Command } from '../command.js';
import { TinyImageError } from '../../errors.js';

// Placeholder: replaced by the real command.
export const command: Command = {
  name: 'build',
  summary: '',
  usage: 'usage: tinyimage build (not implemented yet)',
  async run() {
    throw new TinyImageError('E_NOT_IMPLEMENTED', "'build' is not implemented yet");
  },
};
