/**
 * Where a writing command's result goes, one way for every command: `-o -`
 * streams to standard output when the format can stream (a property of the
 * output format, below); files are written atomically beside the target;
 * the output directory must exist; and one summary line (or one JSON
 * object with --json) says what was written.
 */
import { createReadStream } from 'node:fs';
import { UsageError } from '../../core/errors.js';
import { checkOutputDir, withOutputFile } from '../host/output.js';
import { writeChunksToFile } from '../host/stream.js';
import { dirname } from 'node:path';

const SEEKS = { streams: false, why: 'it is written with random access, not front to back; give a file name' } as const;
/** Output formats and whether they can be written front to back (to a pipe). */
export const OUTPUT_FORMATS = {
  cpio: { streams: true },
  'cpio.gz': { streams: true },
  tar: { streams: true },
  'tar.gz': { streams: true },
  'tar.zst': { streams: true },
  squashfs: { streams: false, why: 'its superblock is written last, at the start; give a file name' },
  raw: SEEKS,
  qcow2: SEEKS,
  vhd: SEEKS,
  vmdk: SEEKS,
  sparse: SEEKS,
  ext2: SEEKS,
  ext3: SEEKS,
  ext4: SEEKS,
  fat12: SEEKS,
  fat16: SEEKS,
  fat32: SEEKS,
  fat: SEEKS,
  iso9660: SEEKS,
  erofs: SEEKS,
  /** A multi-file build (tinyimage build -o DIR). */
  directory: { streams: false, why: 'it writes a directory of files; give a directory name' },
  /** A file copied from the toolchain cache (kernel bzImage, busybox binary). */
  file: { streams: true },
} satisfies Record<string, { streams: boolean; why?: string }>;
export type OutputFormat = keyof typeof OUTPUT_FORMATS;

export const STDOUT = '-';

/** What a writer reports when done; the summary line and --json are made from it. */
export interface OutputSummary {
  /** Bytes written (the image or archive size). */
  bytes: number;
  /** Entries of the source tree that went in, when the output has a tree. */
  entries?: number;
  /** Extra words for the line, e.g. "from cache". */
  note?: string;
  /** Format-specific facts (JSON only). */
  details?: unknown;
  /** What was written, when only known at the end (`uefi build`); default: the output's. */
  what?: string;
}

export interface OutputIO {
  stdout: NodeJS.WritableStream;
  stderr: NodeJS.WritableStream;
  quiet: boolean;
  json: boolean;
  started: number;
}

/** 1234567 -> "1,234,567" (toLocaleString loads ICU's locale data: tens of milliseconds on the first call). */
export function thousands(n: number): string {
  return String(n).replace(/\B(?=(\d{3})+(?!\d))/g, ',');
}

/** 1536 -> "1.5 KiB"; under 1 KiB in bytes. */
export function humanBytes(n: number): string {
  const units = ['KiB', 'MiB', 'GiB', 'TiB'];
  if (n < 1024) return `${n} bytes`;
  let v = n / 1024;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) [v, i] = [v / 1024, i + 1];
  return `${v.toFixed(1)} ${units[i]}`;
}

export class CliOutput {
  constructor(
    /** The path given with -o, or '-' for standard output. */
    readonly path: string,
    readonly format: OutputFormat,
    private readonly io: OutputIO,
    /** `ext4`, `cpio.gz`, `bios build`: what the summary line says was written. */
    readonly what: string = format,
  ) {}

  get toStdout(): boolean {
    return this.path === STDOUT;
  }

  /** Write a chunk stream: to standard output with `-o -`, else atomically to the file. Returns the bytes written. */
  async writeChunks(chunks: AsyncIterable<Uint8Array> | Iterable<Uint8Array>, mode?: number): Promise<number> {
    if (!this.toStdout) return writeChunksToFile(this.path, chunks, mode);
    return pipeChunks(this.io.stdout, chunks);
  }

  /** Write through a temporary file that becomes the output on success (random-access formats). */
  async writeFile<T>(fn: (tmpPath: string) => Promise<T> | T): Promise<T> {
    if (this.toStdout) throw new Error(`internal: ${this.format} cannot stream`);
    return withOutputFile(this.path, fn);
  }

  /** Copy a host file to the output (streams with `-o -`). */
  async copyFile(source: string, mode?: number): Promise<number> {
    return this.writeChunks(createReadStream(source) as AsyncIterable<Uint8Array>, mode);
  }

  /** Print the one summary line on stderr (unless -q) and, with --json, the same as JSON on stdout. */
  done(s: OutputSummary, verb = 'wrote'): void {
    const where = this.toStdout ? 'to standard output' : this.path;
    summarize(this.io, verb, s.what ?? this.what, where, this.toStdout ? STDOUT : this.path, s);
  }
}

/**
 * The one summary line, `tinyimage: wrote ext4 out/root.img: 64.0 MiB, 1,234 entries, 0.82 s`,
 * on stderr unless quiet, and with --json the same facts as one JSON object on stdout.
 */
export function summarize(
  io: OutputIO,
  verb: string,
  what: string,
  where: string,
  output: string,
  s: Partial<OutputSummary>,
): void {
  const seconds = Math.round(performance.now() - io.started) / 1000;
  const facts = [
    ...(s.bytes !== undefined ? [humanBytes(s.bytes)] : []),
    ...(s.entries !== undefined ? [`${thousands(s.entries)} entries`] : []),
    ...(s.note ? [s.note] : []),
    `${seconds.toFixed(2)} s`,
  ];
  if (!io.quiet) io.stderr.write(`tinyimage: ${verb} ${what} ${where}: ${facts.join(', ')}\n`);
  if (!io.json) return;
  const o: Record<string, unknown> = { [verb]: what, output };
  for (const k of ['bytes', 'entries', 'note'] as const) if (s[k] !== undefined) o[k] = s[k];
  io.stdout.write(JSON.stringify({ ...o, seconds, ...(s.details ? { details: s.details } : {}) }) + '\n');
}

/**
 * Check `-o` for a format before any work is done: `-` only where the format
 * streams (and not with --json, which needs standard output), and the output
 * directory must exist.
 */
export function openOutput(
  command: string,
  path: string,
  format: OutputFormat,
  io: OutputIO,
  what: string = format,
): CliOutput {
  const hint = `\nTry 'tinyimage ${command} --help'.`;
  if (path === STDOUT) {
    const f: { streams: boolean; why?: string } = OUTPUT_FORMATS[format];
    if (!f.streams)
      throw new UsageError(
        'E_USAGE_OUTPUT_STREAM',
        `${command}: -o - (standard output) is not possible for ${what}: ${f.why}${hint}`,
        { field: '--output', actual: path },
      );
    if ((io.stdout as NodeJS.WriteStream).isTTY === true)
      throw new UsageError(
        'E_USAGE_OUTPUT_TTY',
        `${command}: -o - would write ${what} to the terminal; redirect standard output or pipe it${hint}`,
        { field: '--output', actual: path },
      );
    if (io.json)
      throw new UsageError(
        'E_USAGE_OUTPUT_STREAM',
        `${command}: --json prints on standard output, which -o - already uses for the data${hint}`,
        { field: '--json' },
      );
  } else if (format !== 'directory') {
    checkOutputDir(dirname(path), path);
  }
  return new CliOutput(path, format, io, what);
}

/** Write chunks to a stream with backpressure; a stream error (EPIPE) ends the loop with that error. */
export async function pipeChunks(
  stream: NodeJS.WritableStream,
  chunks: AsyncIterable<Uint8Array> | Iterable<Uint8Array>,
): Promise<number> {
  let failed: Error | undefined;
  const onError = (e: Error) => {
    failed = e;
  };
  stream.on('error', onError);
  let total = 0;
  try {
    for await (const chunk of chunks) {
      if (failed) break;
      // copied: the writer may reuse its buffer while the stream still queues this one
      if (!stream.write(chunk.slice()))
        await new Promise<void>((r) => {
          const done = () => {
            stream.off('drain', done);
            stream.off('error', done);
            r();
          };
          stream.on('drain', done);
          stream.on('error', done);
        });
      total += chunk.length;
    }
  } finally {
    stream.off('error', onError);
  }
  if (failed) throw failed;
  return total;
}
