/**
 * Checks the blocks of the docs against the packed package, in batches so
 * the whole docs test stays fast: one compiler run over every ts/js block, one
 * node process per `run` block, one node process for every tinyimage
 * command line and build spec.
 */
import { execFile } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import ts from 'typescript';
import type { PackedProject } from '../helpers/packed.js';
import type { TmpDir } from '../helpers/tmp.js';
import { blockName, commandLines, KNOWN_LANGS, specText, type Block } from './blocks.js';

const exec = promisify(execFile);

export interface CheckResult {
  /** Problems per block (blockName), each naming file:line. */
  problems: Map<string, string[]>;
  /** Problems not inside any block (e.g. in the package's declarations). */
  other: string[];
  /** How many blocks ran, command lines were parsed, specs were loaded. */
  counts: { typeChecked: number; ran: number; commands: number; specs: number };
}

function slug(b: Block): string {
  return `${b.file.replace(/[^A-Za-z0-9]+/g, '_')}_${b.line}`;
}

function add(r: CheckResult, b: Block, message: string): void {
  const k = blockName(b);
  r.problems.set(k, [...(r.problems.get(k) ?? []), message]);
}

const TSCONFIG = {
  compilerOptions: {
    strict: true,
    module: 'NodeNext',
    moduleResolution: 'NodeNext',
    target: 'ES2022',
    lib: ['ES2022'],
    types: ['node'],
    moduleDetection: 'force',
    allowJs: true,
    checkJs: true,
    // the package's own declarations are checked strictly by test/package
    skipLibCheck: true,
    rootDir: 'blocks',
    outDir: 'out',
  },
  include: ['blocks'],
};

/**
 * Type-checks every ts/js block in one compiler run (the TypeScript API, so
 * a syntax error in one block does not hide the type errors of the others),
 * emitting JS for the `run` blocks; maps each error to its doc line.
 */
function typeCheck(code: Block[], work: TmpDir, r: CheckResult): void {
  if (code.length === 0) return;
  mkdirSync(work.path('blocks'));
  const byFile = new Map<string, Block>();
  for (const b of code) {
    const file = work.path(`blocks/${slug(b)}.${b.kind === 'js' ? 'js' : 'ts'}`);
    byFile.set(file, b);
    writeFileSync(file, b.code + '\n');
  }
  const config = ts.parseJsonConfigFileContent(TSCONFIG, ts.sys, work.dir);
  const program = ts.createProgram(config.fileNames, config.options);
  const diagnostics = [
    ...config.errors,
    ...program.getOptionsDiagnostics(),
    ...program.getGlobalDiagnostics(),
    ...program.getSyntacticDiagnostics(),
    ...program.getSemanticDiagnostics(),
  ];
  program.emit();
  r.counts.typeChecked = code.length;
  for (const d of diagnostics) {
    const text = `error TS${d.code}: ${ts.flattenDiagnosticMessageText(d.messageText, '\n  ')}`;
    const b = d.file ? byFile.get(d.file.fileName) : undefined;
    if (!d.file || d.start === undefined) r.other.push(text);
    else {
      const { line, character } = d.file.getLineAndCharacterOfPosition(d.start);
      if (b) add(r, b, `${b.file}:${b.line + 1 + line}:${character + 1}: ${text}`);
      else r.other.push(`${d.file.fileName}:${line + 1}:${character + 1}: ${text}`);
    }
  }
}

/** A small tree the `run` blocks find in their working directory as rootfs/. */
function runFixture(dir: string): void {
  mkdirSync(join(dir, 'rootfs/etc'), { recursive: true });
  mkdirSync(join(dir, 'rootfs/bin'));
  writeFileSync(join(dir, 'rootfs/etc/hostname'), 'tiny\n');
  writeFileSync(join(dir, 'rootfs/etc/inittab'), '::sysinit:/etc/init.d/rcS\n');
}

/** Runs each `run` block that type-checked, with node, in a fresh directory holding rootfs/. */
async function runBlocks(blocks: Block[], work: TmpDir, r: CheckResult): Promise<void> {
  const todo = blocks.filter((b) => b.flags.includes('run') && !r.problems.has(blockName(b)));
  const one = async (b: Block) => {
    const cwd = work.path(`run-${slug(b)}`);
    mkdirSync(cwd);
    runFixture(cwd);
    try {
      await exec('node', [work.path(`out/${slug(b)}.js`)], { cwd, timeout: 120_000, maxBuffer: 1 << 26 });
      r.counts.ran++;
    } catch (e) {
      const err = e as { code?: number; signal?: string; stderr?: string };
      const why = err.signal ? `killed by ${err.signal}` : `exit ${err.code}`;
      add(r, b, `${blockName(b)}: running the example failed (${why}):\n${(err.stderr ?? '').trim()}`);
    }
  };
  for (let i = 0; i < todo.length; i += 2) await Promise.all(todo.slice(i, i + 2).map(one));
}

/** Parses every tinyimage command line with the real CLI and loads every spec with the real loader. */
const CLI_SCRIPT = `
import { readFileSync, writeFileSync } from 'node:fs';
import { Writable } from 'node:stream';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
const [pkg, dir] = process.argv.slice(2);
// what node_modules/.bin/tinyimage runs
const { main } = await import(pathToFileURL(join(pkg, 'dist/node/cli/main.js')).href);
const { loadSpec } = await import('tinyimage');
const sink = () => {
  const chunks = [];
  return { chunks, stream: new Writable({ write(c, _e, cb) { chunks.push(String(c)); cb(); } }) };
};
const results = [];
for (const job of JSON.parse(readFileSync(0, 'utf8'))) {
  if (job.argv) {
    const out = sink(), err = sink();
    const env = { ...process.env, TINYIMAGE_PARSE_ONLY: '1' };
    let code;
    try {
      code = await main(job.argv, { stdout: out.stream, stderr: err.stream, env });
    } catch (e) {
      code = 'crash';
      err.chunks.push(String((e && e.stack) || e));
    }
    results.push({ code, message: err.chunks.join('') });
  } else {
    const file = join(dir, job.name);
    writeFileSync(file, job.text);
    try {
      loadSpec({ file });
      results.push({ code: 0, message: '' });
    } catch (e) {
      results.push({ code: 1, message: String((e && e.message) || e) });
    }
  }
}
process.stdout.write(JSON.stringify(results));
`;

type Job = { b: Block; line: number; argv?: string[]; text: string; name?: string };

async function checkCommandsAndSpecs(blocks: Block[], packed: PackedProject, work: TmpDir, r: CheckResult) {
  const jobs: Job[] = [];
  for (const b of blocks) {
    if (b.kind === 'shell' || b.kind === 'console') {
      for (const c of commandLines(b)) jobs.push({ b, line: c.line, argv: c.argv, text: c.text });
    }
    const spec = specText(b);
    if (spec) jobs.push({ b, line: b.line, text: spec.text, name: `spec-${slug(b)}.${spec.ext}` });
  }
  if (jobs.length === 0) return;
  mkdirSync(work.path('specs'));
  writeFileSync(work.path('check-cli.mjs'), CLI_SCRIPT);
  const child = execFile('node', ['check-cli.mjs', packed.pkg, work.path('specs')], {
    cwd: work.dir,
    maxBuffer: 1 << 26,
    timeout: 120_000,
  });
  child.stdin!.end(JSON.stringify(jobs.map((j) => (j.argv ? { argv: j.argv } : { name: j.name, text: j.text }))));
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (d) => (stdout += d));
  child.stderr!.on('data', (d) => (stderr += d));
  const code = await new Promise<number | null>((res) => child.on('close', res));
  if (code !== 0) throw new Error(`the CLI checker failed (exit ${code}):\n${stderr}`);
  const results = JSON.parse(stdout) as { code: number | 'crash'; message: string }[];
  jobs.forEach((j, i) => {
    const res = results[i]!;
    if (j.argv) r.counts.commands++;
    else r.counts.specs++;
    if (res.code === 0) return;
    const what = j.argv ? `tinyimage ${j.argv.join(' ')}` : 'build spec';
    add(r, j.b, `${j.b.file}:${j.line}: ${what}: exit ${res.code}:\n${res.message.trim()}`);
  });
}

/** Checks every block; a block's problems name its file and line. */
export async function checkBlocks(blocks: Block[], packed: PackedProject, work: TmpDir): Promise<CheckResult> {
  const r: CheckResult = { problems: new Map(), other: [], counts: { typeChecked: 0, ran: 0, commands: 0, specs: 0 } };
  for (const b of blocks) {
    if (b.unknown) {
      add(
        r,
        b,
        `${blockName(b)}: unknown language '${b.lang}' (known: ${KNOWN_LANGS.join(', ')}); use text if it is not code`,
      );
    } else if (b.flags.includes('run') && b.kind !== 'ts' && b.kind !== 'js') {
      add(r, b, `${blockName(b)}: 'run' is for ts/js blocks`);
    }
  }
  const code = blocks.filter((b) => b.kind === 'ts' || b.kind === 'js');
  const commands = checkCommandsAndSpecs(blocks, packed, work, r);
  typeCheck(code, work, r);
  await commands;
  await runBlocks(code, work, r);
  return r;
}
