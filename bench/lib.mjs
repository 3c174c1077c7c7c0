// What every bench/<area>.mjs script shares: argument handling, the check
// that dist/ is built, loading modules from dist/, the output directory and
// its clean-up, and timing. Each script keeps only its own comparison.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

export const repo = resolve(dirname(fileURLToPath(import.meta.url)), '..');
export const dist = join(repo, 'dist');
export const cacheDir = join(repo, '.cache');

/**
 * Parse the common arguments of a bench script.
 *   name   the script's area, for messages and the temporary directory
 *   usage  the argument synopsis after `node bench/<name>.mjs`
 *   needs  a file under dist/ that must exist (`npm run build` made it)
 * Exits 2 with the usage when --tree is missing, 0 on --help, 1 when dist/
 * is not built. `out` is --out or a new temporary directory; `done()`
 * removes a temporary one unless --keep was given.
 */
export function benchArgs(name, usage, needs) {
  const args = process.argv.slice(2);
  const val = (n) => {
    const i = args.indexOf(n);
    return i >= 0 ? args[i + 1] : undefined;
  };
  const has = (n) => args.includes(n);
  const tree = val('--tree');
  if (!tree || has('--help')) {
    console.error(`usage: node bench/${name}.mjs ${usage}`);
    process.exit(tree ? 0 : 2);
  }
  if (needs && !existsSync(join(dist, needs))) {
    console.error(`bench/${name}.mjs: run \`npm run build\` first`);
    process.exit(1);
  }
  let out;
  const outDir = () => {
    if (!out) {
      out = val('--out') ? resolve(val('--out')) : mkdtempSync(join(tmpdir(), `tinyimage-bench-${name}-`));
      mkdirSync(out, { recursive: true });
    }
    return out;
  };
  const done = () => {
    if (out && !has('--keep') && !val('--out')) rmSync(out, { recursive: true, force: true });
  };
  return { args, val, has, tree: resolve(tree), json: has('--json'), outDir, done };
}

/** Import a module of the built package by its path under dist/. */
export const imp = (p) => import(pathToFileURL(join(dist, p)).href);

/** Seconds since `t0` (a process.hrtime.bigint()), to the millisecond. */
export const sec = (t0) => +(Number(process.hrtime.bigint() - t0) / 1e9).toFixed(3);

/** Is a command on PATH? */
export const have = (tool) => spawnSync('sh', ['-c', `command -v ${tool}`]).status === 0;

/** Run a classic tool; throw with its stderr when it fails. */
export function sh(cmd, argv, input) {
  const r = spawnSync(cmd, argv, { stdio: [input === undefined ? 'ignore' : 'pipe', 'ignore', 'pipe'], input });
  if (r.status !== 0) throw new Error(`${cmd} failed (${r.status ?? r.signal}): ${r.stderr}`);
}
