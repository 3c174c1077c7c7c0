import { parseCommandArgs, parseOwner, type Command } from '../command.js';
import { UsageError } from '../../../core/errors.js';
import { cpioChunks, kernelCpioChunks } from '../../../core/archive/cpio/index.js';
import { gzipChunks } from '../../../core/compress/gzip.js';
import { cpioListFileEntries, treeFromCpioListFile, treeFromHostDir } from '../../host/tree.js';
import { writeChunksToFile } from '../../host/stream.js';
import { clampTimes, sourceDateEpoch, squashOwner } from '../../../core/tree/transform.js';

const usage = `usage: tinyimage cpio (--root DIR | --list FILE) -o OUT [options]

Write a newc (070701) cpio archive, optionally gzip-compressed, from a host
directory or a gen_init_cpio list file (device nodes need no root there).

Options:
  --root DIR             archive the contents of DIR (DIR itself becomes ".")
  --list FILE            archive what a gen_init_cpio list describes
  -o, --output OUT       output file (written atomically; nothing is left on failure)
  --owner UID:GID        make every entry owned by UID:GID (e.g. 0:0)
  --compress gzip|none   default: gzip when OUT ends in .gz, else none
  --level N              gzip level 1..9 (default 6)
  --threads N            gzip blocks compressed in parallel (default: number of CPUs)
  --kernel-compat        with --list: write exactly what the kernel's gen_init_cpio
                         writes for the list (list order, its inode numbers and
                         link counts, no "." entry, upper-case hex); the default
                         time is SOURCE_DATE_EPOCH (gen_init_cpio's -t), 0 if unset,
                         and files keep their host mtimes, unclamped, as there
  --json                 print a JSON summary on stdout
  -q, --quiet            no progress line

A list's files keep their host modification times; other list entries get
SOURCE_DATE_EPOCH (0 when unset). SOURCE_DATE_EPOCH, when set, clamps every
later timestamp down to it. '#' starts a comment only in a line's first column,
and \${VAR} in a file's location is taken from the environment.
Exit status: 0 ok, 1 failure, 2 bad usage.`;

export const command: Command = {
  name: 'cpio',
  summary: 'write a newc cpio archive (optionally gzip) from a directory or a gen_init_cpio list',
  usage,
  async run(argv, ctx) {
    const { values, positionals } = parseCommandArgs('cpio', argv, {
      root: { type: 'string' },
      list: { type: 'string' },
      output: { type: 'string', short: 'o' },
      owner: { type: 'string' },
      compress: { type: 'string' },
      level: { type: 'string' },
      threads: { type: 'string' },
      json: { type: 'boolean' },
      'kernel-compat': { type: 'boolean' },
      quiet: { type: 'boolean', short: 'q' },
    });
    if (positionals.length)
      throw new UsageError(
        'E_USAGE_ARGS',
        `cpio: unexpected argument '${positionals[0]}'\nTry 'tinyimage cpio --help'.`,
      );
    if ((values.root === undefined) === (values.list === undefined))
      throw new UsageError(
        'E_USAGE_ARGS',
        `cpio: give exactly one of --root DIR or --list FILE\nTry 'tinyimage cpio --help'.`,
      );
    const out = values.output;
    if (!out) throw new UsageError('E_USAGE_ARGS', `cpio: -o OUT is required\nTry 'tinyimage cpio --help'.`);
    const compress = values.compress ?? (out.endsWith('.gz') ? 'gzip' : 'none');
    if (compress !== 'gzip' && compress !== 'none')
      throw new UsageError('E_USAGE_ARGS', `cpio: --compress must be gzip or none, got '${compress}'`, {
        field: '--compress',
        actual: compress,
      });
    const int = (v: string | undefined, name: string, min: number, max: number): number | undefined => {
      if (v === undefined) return undefined;
      if (!/^\d+$/.test(v) || Number(v) < min || Number(v) > max)
        throw new UsageError('E_USAGE_ARGS', `cpio: ${name} must be an integer ${min}..${max}, got '${v}'`, {
          field: name,
          actual: v,
        });
      return Number(v);
    };
    const level = int(values.level, '--level', 1, 9);
    const threads = int(values.threads, '--threads', 1, 256);
    const owner = values.owner !== undefined ? parseOwner(values.owner) : undefined;
    const epoch = sourceDateEpoch(ctx.env);
    const compat = values['kernel-compat'] === true;
    if (compat && (values.list === undefined || owner))
      throw new UsageError('E_USAGE_ARGS', `cpio: --kernel-compat goes with --list and without --owner`, {
        field: '--kernel-compat',
      });

    const tree =
      values.root !== undefined
        ? treeFromHostDir(values.root)
        : treeFromCpioListFile(values.list!, { defaultTime: epoch ?? 0, env: ctx.env });
    if (owner) squashOwner(tree, owner.uid, owner.gid);
    if (epoch !== undefined && !compat) clampTimes(tree, epoch);

    const raw = compat
      ? kernelCpioChunks(cpioListFileEntries(values.list!, { defaultTime: epoch ?? 0, env: ctx.env }), {
          defaultTime: epoch ?? 0,
        })
      : cpioChunks(tree, { progress: ctx.progress });
    const chunks =
      compress === 'gzip'
        ? gzipChunks(raw, { ...(level !== undefined ? { level } : {}), ...(threads !== undefined ? { threads } : {}) })
        : raw;
    const bytes = await writeChunksToFile(out, chunks);
    const st = tree.stats();
    if (values.json)
      ctx.stdout.write(
        JSON.stringify({ output: out, compress, bytes, entries: st.entries, files: st.files, dataBytes: st.bytes }) +
          '\n',
      );
    return 0;
  },
};
