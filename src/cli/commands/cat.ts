import type { Command } from '../command.js';
import { TinyImageError } from '../../errors.js';

// Placeholder: replaced by the real command.
export const command: Command = {
  name: 'cat',
  summary: '',
  usage: 'usage: tinyimage cat (not implemented yet)',
  async run() {
    throw new TinyImageError('E_NOT_IMPLEMENTED', "'cat' is not implemented yet");
  },
};
