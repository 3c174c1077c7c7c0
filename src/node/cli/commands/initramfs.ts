import { readFileSync, statSync } from 'node:fs';
import { defineCommand, OUTPUT_OPTIONS, type CommandContext } from '../command.js';
import { isTinyImageError, UsageError } from '../../../core/errors.js';
import { parseListFull, readBusyboxApplets, type Applet } from '../../../core/busybox/applets.js';
import { compressionForName } from '../../../core/compress/suffix.js';
import { initramfsChunks, tinyInitramfsTree } from '../../../core/initramfs/tiny.js';
import { openStack } from '../sources.js';
import { hostError } from '../../io/file.js';
import { clampTimes, sourceDateEpoch, squashOwner } from '../../../core/tree/transform.js';
import { run } from '../../toolchain/run.js';

function readBusybox(path: string): Uint8Array {
  try {
    if (!statSync(path).isFile())
      throw new UsageError('E_USAGE_NOT_FILE', `--busybox ${path} is not a regular file`, { path });
    return new Uint8Array(readFileSync(path));
  } catch (e) {
    if (isTinyImageError(e)) throw e;
    throw hostError(e, path, 'read');
  }
}

async function applets(path: string, busybox: Uint8Array, ctx: CommandContext): Promise<Applet[]> {
  try {
    return readBusyboxApplets(busybox);
  } catch (e) {
    if (!isTinyImageError(e) || e.code !== 'E_FORMAT_BUSYBOX') throw e;
    ctx.warn(`${e.message}; running '${path} --list-full' instead`);
    const r = await run(path, ['--list-full'], { captureStdout: true });
    return parseListFull(r.stdout);
  }
}

export const command = defineCommand({
  name: 'initramfs',
  summary: 'write the tiny initramfs (busybox, /init) as a newc archive, gzip by default',
  description:
    "Write the tiny system's initramfs: a newc cpio archive with /bin/busybox and one symlink per applet " +
    "at its install location (read from the binary's own tables; 'busybox --list-full' is run only if " +
    'they cannot be found), the FHS directories, /dev/console, /dev/null and an /init that mounts proc, ' +
    'sysfs and devtmpfs, prints "Welcome to Tiny Linux!" and starts a shell.',
  options: {
    busybox: { type: 'path', value: 'BIN', required: true, help: 'a static busybox binary (any architecture)' },
    init: { type: 'path', value: 'FILE', help: 'use FILE as /init instead of the built-in script' },
    add: {
      type: 'path',
      value: 'SRC',
      repeatable: true,
      help:
        'lay SRC over the result (owned by 0:0): a directory, a tar or cpio archive, an image, -, oci:DIR or ' +
        'docker-archive:FILE; repeat to stack (later wins)',
    },
    ...OUTPUT_OPTIONS,
    compress: {
      type: 'enum',
      choices: ['gzip', 'none'],
      help: 'default: none when OUT ends in .cpio, else gzip; it must agree with the name of OUT',
    },
  },
  examples: [
    'tinyimage initramfs --busybox /bin/busybox -o initramfs.cpio.gz',
    'tinyimage initramfs --busybox /bin/busybox -o initramfs.cpio',
  ],
  notes:
    'Times: generated entries get SOURCE_DATE_EPOCH (0 when unset), so the same inputs give the same ' +
    'bytes; files from --add are clamped to SOURCE_DATE_EPOCH when it is set. --add sources are closed ' +
    'after the archive is written.',
  async run({ values, ctx, output }) {
    const compress = compressionForName(values.output, values.compress, 'gzip', '--compress');
    const out = output(
      compress === 'gzip' ? 'cpio.gz' : 'cpio',
      `initramfs (${compress === 'gzip' ? 'cpio.gz' : 'cpio'})`,
    );
    const sde = sourceDateEpoch(ctx.env);
    const busybox = readBusybox(values.busybox);
    const list = await applets(values.busybox, busybox, ctx);
    ctx.log(`busybox ${values.busybox}: ${list.length} applets`);
    const init = values.init !== undefined ? readInit(values.init) : undefined;
    const add = values.add.length ? await openStack(values.add, ctx, '--add') : undefined;
    try {
      if (add) {
        squashOwner(add.tree, 0, 0);
        if (sde !== undefined) clampTimes(add.tree, sde);
      }
      const tree = tinyInitramfsTree({
        busybox,
        applets: list,
        epoch: sde ?? 0,
        ...(init ? { init } : {}),
        ...(add ? { add: add.tree } : {}),
      });
      const bytes = await out.writeChunks(initramfsChunks(tree, { compress, progress: ctx.progress }));
      const entries = tree.stats().entries;
      const details = { compress, applets: list.length };
      out.done({ bytes, entries, note: `${list.length} busybox applets`, details });
    } finally {
      add?.close();
    }
  },
});

function readInit(path: string): Uint8Array {
  try {
    return new Uint8Array(readFileSync(path));
  } catch (e) {
    throw hostError(e, path, 'read');
  }
}
