/**
 * EROFS to a host file: the image is planned first (its size is then
 * known), written front to back into a file under a temporary name, and
 * renamed into place only on success (host/output.ts).
 */
import { withOutputFile } from '../host/output.js';
import { FileDevice } from '../io/file.js';
import type { BlockDevice } from '../../core/io/device.js';
import type { FileTree } from '../../core/tree/tree.js';
import { prepareErofs, type ErofsOptions, type ErofsSummary } from '../../core/fs/erofs/write.js';

export interface ErofsFileOptions extends ErofsOptions {
  /** fsync the file before renaming it into place. */
  sync?: boolean | undefined;
}

/** Write `tree` as an EROFS image at `path` (atomically: nothing is left there on failure). */
export async function writeErofsFile(tree: FileTree, path: string, opts: ErofsFileOptions = {}): Promise<ErofsSummary> {
  const prepared = prepareErofs(tree, opts);
  return withOutputFile(path, async (tmp) => {
    const file = FileDevice.create(tmp, prepared.size);
    const dev: BlockDevice = {
      size: file.size,
      readAt: (o, l) => file.readAt(o, l),
      writeAt: (o, d) => file.writeAt(o, d),
      flush: () => {
        if (opts.sync) file.flush();
      },
    };
    try {
      return await prepared.write(dev);
    } finally {
      file.close();
    }
  });
}
