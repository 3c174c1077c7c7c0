import type { Command } from '../command.js';
import { TinyImageError } from '../../errors.js';

// Placeholder: replaced by the real command.
export const command: Command = {
  name: 'busybox',
  summary: '',
  usage: 'usage: tinyimage busybox (not implemented yet)',
  async run() {
    throw new TinyImageError('E_NOT_IMPLEMENTED', "'busybox' is not implemented yet");
  },
};
