import { readFileSync, statSync } from 'node:fs';
import { parseCommandArgs, type Command } from '../command.js';
import { isTinyImageError, UsageError } from '../../../core/errors.js';
import { parseListFull, readBusyboxApplets, type Applet } from '../../../core/busybox/applets.js';
import { initramfsChunks, tinyInitramfsTree } from '../../../core/initramfs/tiny.js';
import { treeFromHostDir } from '../../host/tree.js';
import { writeChunksToFile } from '../../host/stream.js';
import { hostError } from '../../io/file.js';
import { clampTimes, sourceDateEpoch, squashOwner } from '../../../core/tree/transform.js';
import { run } from '../../toolchain/run.js';

const usage = `usage: tinyimage initramfs --busybox BIN [--init FILE] [--add DIR] -o OUT [--compress gzip|none] [--json]

Write the tiny system's initramfs: a newc cpio archive (gzip by default) with
/bin/busybox and one symlink per applet at its install location (read from
the binary's own tables; 'busybox --list-full' is run only if they cannot be
found), the FHS directories, /dev/console, /dev/null and an /init that mounts
proc, sysfs and devtmpfs, prints "Welcome to Tiny Linux!" and starts a shell.

Options:
  --busybox BIN       a static busybox binary (any architecture)
  --init FILE         use FILE as /init instead of the built-in script
  --add DIR           lay the contents of DIR over the result (owned by 0:0)
  -o, --output OUT    the archive to write (replaced atomically)
  --compress MODE     gzip (default) or none
  --json              print a JSON summary

Times: generated entries get SOURCE_DATE_EPOCH (0 when unset), so the same
inputs give the same bytes; files from --add are clamped to SOURCE_DATE_EPOCH
when it is set.`;

export const command: Command = {
  name: 'initramfs',
  summary: 'write the tiny initramfs (busybox, /init) as a gzip newc archive',
  usage,
  async run(argv, ctx) {
    const { values, positionals } = parseCommandArgs('initramfs', argv, {
      busybox: { type: 'string' },
      init: { type: 'string' },
      add: { type: 'string' },
      output: { type: 'string', short: 'o' },
      compress: { type: 'string' },
      json: { type: 'boolean' },
      quiet: { type: 'boolean', short: 'q' },
    });
    if (positionals.length)
      throw new UsageError(
        'E_USAGE_ARGS',
        `initramfs: unexpected argument '${positionals[0]}'\nTry 'tinyimage initramfs --help'.`,
      );
    if (!values.busybox)
      throw new UsageError('E_USAGE_ARGS', "initramfs: --busybox BIN is required\nTry 'tinyimage initramfs --help'.");
    if (!values.output)
      throw new UsageError('E_USAGE_ARGS', "initramfs: -o OUT is required\nTry 'tinyimage initramfs --help'.");
    const compress = values.compress ?? 'gzip';
    if (compress !== 'gzip' && compress !== 'none')
      throw new UsageError('E_USAGE_ARGS', `initramfs: --compress must be gzip or none, got '${compress}'`, {
        field: '--compress',
        actual: compress,
      });
    const sde = sourceDateEpoch(ctx.env);
    const epoch = sde ?? 0;

    let busybox: Uint8Array;
    try {
      if (!statSync(values.busybox).isFile())
        throw new UsageError('E_USAGE_NOT_FILE', `initramfs: --busybox ${values.busybox} is not a regular file`, {
          path: values.busybox,
        });
      busybox = new Uint8Array(readFileSync(values.busybox));
    } catch (e) {
      if (isTinyImageError(e)) throw e;
      throw hostError(e, values.busybox, 'read');
    }
    let applets: Applet[];
    try {
      applets = readBusyboxApplets(busybox);
    } catch (e) {
      if (!isTinyImageError(e) || e.code !== 'E_FORMAT_BUSYBOX') throw e;
      ctx.warn(`${e.message}; running '${values.busybox} --list-full' instead`);
      const r = await run(values.busybox, ['--list-full'], { captureStdout: true });
      applets = parseListFull(r.stdout);
    }
    let init: Uint8Array | undefined;
    if (values.init) {
      try {
        init = new Uint8Array(readFileSync(values.init));
      } catch (e) {
        throw hostError(e, values.init, 'read');
      }
    }
    let add;
    if (values.add) {
      add = treeFromHostDir(values.add);
      squashOwner(add, 0, 0);
      if (sde !== undefined) clampTimes(add, sde);
    }
    const tree = tinyInitramfsTree({ busybox, applets, epoch, ...(init ? { init } : {}), ...(add ? { add } : {}) });
    const stats = tree.stats();
    const bytes = await writeChunksToFile(values.output, initramfsChunks(tree, { compress, progress: ctx.progress }));
    const summary = { output: values.output, bytes, entries: stats.entries, applets: applets.length, compress };
    if (values.json) ctx.stdout.write(JSON.stringify(summary) + '\n');
    else
      ctx.stdout.write(
        `${values.output}: ${bytes} bytes, ${stats.entries} entries, ${applets.length} busybox applets (${compress === 'gzip' ? 'gzip ' : ''}newc)\n`,
      );
    return 0;
  },
};
