/**
 * Running the CLI in tests: in-process through main() with captured
 * stdout/stderr (fast, the usual way), or as a real process from a bundle
 * of the current sources (for signals and pipes).
 */
import { Writable } from 'node:stream';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { expect } from 'vitest';
import { main } from '../../src/node/cli/main.js';
import { REPO } from './prereq.js';

export interface Captured {
  stdout: Writable;
  stderr: Writable;
  /** What was written to stdout, as text. */
  out(): string;
  err(): string;
  /** What was written to stdout, as bytes (for archives streamed with -o -). */
  bytes(): Uint8Array;
}

function collector(): { stream: Writable; chunks: Uint8Array[] } {
  const chunks: Uint8Array[] = [];
  const stream = new Writable({
    write(c: Uint8Array | string, _e, cb) {
      chunks.push(typeof c === 'string' ? new TextEncoder().encode(c) : new Uint8Array(c));
      cb();
    },
  });
  return { stream, chunks };
}

/** A stdout/stderr pair for main() (or anything else that writes to streams), read back as text or bytes. */
export function capture(): Captured {
  const o = collector();
  const e = collector();
  const text = (c: Uint8Array[]) => Buffer.concat(c).toString('utf8');
  return {
    stdout: o.stream,
    stderr: e.stream,
    out: () => text(o.chunks),
    err: () => text(e.chunks),
    bytes: () => new Uint8Array(Buffer.concat(o.chunks)),
  };
}

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
  bytes: Uint8Array;
}

/**
 * `tinyimage ARGV...` in-process; `env` is added to process.env for this run only (the CLI reads ctx.env);
 * `stdin` is what a source named '-' reads.
 */
export async function runCli(
  argv: string[],
  env: Record<string, string> = {},
  opts: { stdin?: Uint8Array } = {},
): Promise<CliResult> {
  const c = capture();
  const stdin = opts.stdin
    ? {
        stdin: (async function* () {
          yield opts.stdin!;
        })(),
      }
    : {};
  const code = await main(argv, { stdout: c.stdout, stderr: c.stderr, env: { ...process.env, ...env }, ...stdin });
  return { code, stdout: c.out(), stderr: c.err(), bytes: c.bytes() };
}

let bundled: Promise<string> | undefined;

/**
 * A runnable copy of the CLI built from the current sources (esbuild, one
 * file) inside `dir` (the test's temporary directory, removed with it):
 * `node <path> ARGS` is `tinyimage ARGS`. Built once per test file.
 */
export function cliBundle(parent: string): Promise<string> {
  bundled ??= (async () => {
    const { build } = await import('esbuild');
    const dir = mkdtempSync(join(parent, 'cli-bundle-'));
    const entry = join(dir, 'entry.ts');
    writeFileSync(
      entry,
      `import { main } from ${JSON.stringify(join(REPO, 'src/node/cli/main.ts'))};\n` +
        'main(process.argv.slice(2)).then((c) => { process.exitCode = c; });\n',
    );
    const outfile = join(dir, 'tinyimage.mjs');
    // CommonJS dependencies inside an ES module bundle need a require()
    const banner = {
      js: "import { createRequire as bundleRequire } from 'node:module'; const require = bundleRequire(import.meta.url);",
    };
    await build({
      entryPoints: [entry],
      bundle: true,
      platform: 'node',
      format: 'esm',
      outfile,
      banner,
      logLevel: 'error',
    });
    return outfile;
  })();
  return bundled;
}

/**
 * `tinyimage ls, cat, inspect and extract` read `img`, an image of
 * ext4/helpers' edgeTree whose kind `inspect` names as `kind`; it extracts to
 * `dest`.
 */
export async function expectCliReadsEdgeTree(img: string, kind: RegExp, dest: string): Promise<void> {
  const ls = await runCli(['ls', img, '/dev']);
  expect(ls.code, ls.stderr).toBe(0);
  expect(ls.stdout).toMatch(/null/);
  const cat = await runCli(['cat', img, '/etc/passwd']);
  expect(cat.code, cat.stderr).toBe(0);
  expect(cat.stdout).toBe('root:x:0:0::/root:/bin/sh\n'.repeat(400));
  const inspect = await runCli(['inspect', img]);
  expect(inspect.code, inspect.stderr).toBe(0);
  expect(inspect.stdout).toMatch(kind);
  const ex = await runCli(['extract', img, dest]);
  expect(ex.code, ex.stderr).toBe(0);
  expect(readFileSync(join(dest, 'hundred'), 'utf8')).toBe('h'.repeat(59) + '|' + 'i'.repeat(40));
}
