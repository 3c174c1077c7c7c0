/**
 * The worker threads that compress parallelGzip's pieces with libdeflate
 * (gzip-worker.ts). A pool belongs to one gzip stream: workers start one by
 * one as pieces need them, at most `size`; each compresses one piece at a
 * time and the rest wait here in order. A worker holds the process open
 * only while it has a piece in flight (it is unref'd when idle), so a
 * stream that is abandoned half-read never keeps Node running; `close`
 * terminates them all. A failed job, a worker that dies or cannot load is
 * a ToolError E_TOOL_GZIP_WORKER, and every later job fails the same way.
 */
import { Worker } from 'node:worker_threads';
import { ToolError } from '../../core/errors.js';

/** What a worker is sent: the piece is input[0, length) of its slot's shared input buffer. */
export interface PieceJob {
  id: number;
  input: SharedArrayBuffer;
  length: number;
  level: number;
  last: boolean;
}
export interface PieceReply {
  id: number;
  out?: Uint8Array;
  error?: { message: string; code?: string };
}

/**
 * The compiled worker module. Run from the TypeScript sources (vitest),
 * this module is a .ts file and worker threads cannot load TypeScript, so
 * the worker is the built copy in dist/ (`tsc -b`, which `npm test` runs first).
 */
export function defaultWorkerUrl(): URL {
  const here = import.meta.url;
  return here.endsWith('.ts')
    ? new URL('../../../dist/node/compress/gzip-worker.js', here)
    : new URL('./gzip-worker.js', here);
}

interface Pending {
  id: number;
  data: Uint8Array;
  level: number;
  last: boolean;
  resolve: (out: Uint8Array) => void;
  reject: (e: Error) => void;
}
interface Slot {
  worker: Worker;
  /**
   * The worker's input, shared and reused: a piece is copied in rather than
   * moved, since every buffer moved to a worker stayed allocated until the
   * worker's next garbage collection, which external memory triggers late
   * (two workers held ~75 MB of old pieces).
   */
  input?: Uint8Array;
  job?: Pending;
}

function workerError(message: string, cause?: unknown, code?: string): ToolError {
  return new ToolError('E_TOOL_GZIP_WORKER', `gzip worker: ${message}`, code ? { workerCode: code } : {}, {
    cause,
  });
}

export class DeflatePool {
  private readonly slots: Slot[] = [];
  private readonly queue: Pending[] = [];
  private nextId = 0;
  private failed: ToolError | undefined;
  private closed = false;

  constructor(
    private readonly size: number,
    private readonly url: URL = defaultWorkerUrl(),
  ) {}

  /** Number of workers started so far. */
  get started(): number {
    return this.slots.length;
  }

  /** Compress `data` (copied when a worker takes it: keep it unchanged until then) into a piece; see libdeflateRaw. */
  run(data: Uint8Array, level: number, last: boolean): Promise<Uint8Array> {
    if (this.failed) return Promise.reject(this.failed);
    if (this.closed) return Promise.reject(workerError('the pool is closed'));
    return new Promise((resolve, reject) => {
      this.queue.push({ id: this.nextId++, data, level, last, resolve, reject });
      this.dispatch();
    });
  }

  private dispatch(): void {
    while (this.queue.length && !this.failed) {
      let slot = this.slots.find((s) => !s.job);
      if (!slot) {
        if (this.slots.length >= this.size) return;
        slot = this.start();
      }
      const p = this.queue.shift()!;
      try {
        if (!slot.input || slot.input.length < p.data.length)
          slot.input = new Uint8Array(new SharedArrayBuffer(Math.max(p.data.length, slot.input?.length ?? 0)));
        slot.input.set(p.data);
        const job: PieceJob = {
          id: p.id,
          input: slot.input.buffer as SharedArrayBuffer,
          length: p.data.length,
          level: p.level,
          last: p.last,
        };
        slot.worker.postMessage(job);
      } catch (e) {
        // e.g. a buffer moved elsewhere (detached): this job fails, the worker stays free
        p.reject(workerError(`cannot send the piece: ${(e as Error).message}`, e));
        continue;
      }
      slot.job = p;
      slot.worker.ref();
    }
  }

  private start(): Slot {
    const worker = new Worker(this.url);
    const slot: Slot = { worker };
    worker.on('message', (r: PieceReply) => {
      const p = slot.job;
      if (!p || p.id !== r.id) return this.fail(workerError(`unexpected reply ${r.id}`));
      slot.job = undefined;
      worker.unref();
      if (r.out) p.resolve(r.out);
      else p.reject(workerError(r.error?.message ?? 'no output', undefined, r.error?.code));
      this.dispatch();
    });
    worker.on('error', (e) => this.fail(workerError(e.message, e)));
    worker.on('exit', (code) => {
      if (!this.closed) this.fail(workerError(`exited with code ${code}`));
    });
    this.slots.push(slot);
    return slot;
  }

  /** Reject everything in flight or waiting with `e`, and every later job too. */
  private fail(e: ToolError): void {
    this.failed ??= e;
    for (const s of this.slots) {
      s.job?.reject(this.failed);
      s.job = undefined;
    }
    for (const p of this.queue.splice(0)) p.reject(this.failed);
    void this.close();
  }

  /** Stop every worker (jobs still in flight are dropped). */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await Promise.all(this.slots.map((s) => s.worker.terminate()));
  }
}
