/**
 * The worker: every request from the page runs here, off the page's thread,
 * where FileReaderSync can read Blob slices synchronously. Answers carry the
 * request id; progress reports are throttled to a few per second.
 */
import type { Progress } from '../../../src/core/progress.js';
import type { FileTree } from '../../../src/core/tree/tree.js';
import type { BuildRequest, BuildResult, ErrorReport, ProgressReport, Request, Response } from '../protocol.js';
import { blobContent } from './blob.js';
import { buildImage, checkImageOptions } from './build.js';
import { treeFromFolder } from './folder.js';
import * as inspect from './inspect.js';
import { treeFromTarball } from './tarball.js';

const REPORT_MS = 100;

function post(message: Response, transfer: Transferable[] = []): void {
  self.postMessage(message, transfer);
}

/** A Progress that reports to the page, at most every REPORT_MS. */
class Reporter implements Progress {
  private report: ProgressReport = { phase: '', done: 0, elapsed: 0 };
  private started = 0;
  private last = 0;
  entries: number | undefined;

  constructor(private readonly id: number) {}

  private send(force: boolean): void {
    const now = performance.now();
    if (!force && now - this.last < REPORT_MS) return;
    this.last = now;
    post({ id: this.id, progress: { ...this.report, elapsed: now - this.started, entries: this.entries } });
  }
  start(phase: string, total?: number, unit?: 'bytes' | 'files' | 'objects'): void {
    this.started = performance.now();
    this.report = { phase, done: 0, total, unit, elapsed: 0 };
    this.send(true);
  }
  tick(n: number): void {
    this.report.done += n;
    this.send(false);
  }
  done(): void {
    this.send(true);
  }
}

async function build(id: number, req: BuildRequest): Promise<BuildResult> {
  checkImageOptions(req);
  const progress = new Reporter(id);
  const t0 = performance.now();
  let tree: FileTree;
  const warnings: string[] = [];
  if (req.source.kind === 'tarball') {
    const r = await treeFromTarball(req.source.file, req.source.file.name, progress);
    tree = r.tree;
    warnings.push(...r.warnings);
  } else {
    tree = treeFromFolder(req.source.files, blobContent);
  }
  const stats = tree.stats();
  progress.entries = stats.entries;
  const t1 = performance.now();
  const image = await buildImage(tree, { ...req, progress, warn: (m) => warnings.push(m) });
  const t2 = performance.now();
  return {
    blob: image.blob,
    bytes: image.bytes,
    entries: stats.entries,
    contentBytes: stats.bytes,
    held: image.held,
    readMs: t1 - t0,
    writeMs: t2 - t1,
    warnings,
  };
}

async function handle(id: number, req: Request): Promise<unknown> {
  switch (req.op) {
    case 'build':
      return build(id, req);
    case 'open':
      return inspect.openImage(req.file);
    case 'list':
      return inspect.list(req.handle, req.partition, req.path);
    case 'read':
      return inspect.read(req.handle, req.partition, req.path, req.limit);
    case 'diff':
      return inspect.diff(req.a, req.b);
    case 'close':
      return inspect.close(req.handle);
  }
}

/** An error as plain data (structured clone keeps no classes). */
function report(e: unknown): ErrorReport {
  if (!(e instanceof Error)) return { name: 'Error', message: String(e) };
  const x = e as Error & { code?: string; data?: unknown };
  let data: unknown;
  try {
    data =
      x.data === undefined
        ? undefined
        : JSON.parse(JSON.stringify(x.data, (_k, v) => (typeof v === 'bigint' ? String(v) : v)));
  } catch {
    data = undefined;
  }
  return { name: x.name, message: x.message, ...(x.code ? { code: x.code } : {}), ...(data ? { data } : {}) };
}

self.onmessage = async (e: MessageEvent<{ id: number; req: Request }>) => {
  const { id, req } = e.data;
  try {
    const result = await handle(id, req);
    const bytes = (result as { bytes?: unknown } | undefined)?.bytes;
    post({ id, ok: true, result }, bytes instanceof Uint8Array ? [bytes.buffer] : []);
  } catch (err) {
    post({ id, ok: false, error: report(err) });
  }
};
