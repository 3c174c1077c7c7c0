import type { Command } from '../command.js';
import { TinyImageError } from '../../errors.js';

// Placeholder: replaced by the real command.
export const command: Command = {
  name: 'inspect',
  summary: '',
  usage: 'usage: tinyimage inspect (not implemented yet)',
  async run() {
    throw new TinyImageError('E_NOT_IMPLEMENTED', "'inspect' is not implemented yet");
  },
};
