import type { Command } from '../command.js';
import { TinyImageError } from '../../errors.js';

// Placeholder: replaced by the real command.
export const command: Command = {
  name: 'initramfs',
  summary: '',
  usage: 'usage: tinyimage initramfs (not implemented yet)',
  async run() {
    throw new TinyImageError('E_NOT_IMPLEMENTED', "'initramfs' is not implemented yet");
  },
};
