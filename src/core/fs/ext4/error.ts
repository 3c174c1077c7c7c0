/** The FormatError every ext4 reader module throws: `data` names the structure, field, block or inode. */
import { FormatError } from '../../errors.js';

export function ext4Error(code: string, msg: string, data: Record<string, unknown> = {}): FormatError {
  return new FormatError(code, msg, { format: 'ext4', ...data });
}
