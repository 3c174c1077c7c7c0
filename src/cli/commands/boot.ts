import type { Command } from '../command.js';
import { TinyImageError } from '../../errors.js';

// Placeholder: replaced by the real command.
export const command: Command = {
  name: 'boot',
  summary: '',
  usage: 'usage: tinyimage boot (not implemented yet)',
  async run() {
    throw new TinyImageError('E_NOT_IMPLEMENTED', "'boot' is not implemented yet");
  },
};
