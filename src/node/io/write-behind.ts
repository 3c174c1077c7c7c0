/**
 * Write-behind for FileDevice: the calling thread hands buffers to one
 * worker thread, which pwrites them in order while the caller fills the next
 * one (reading host files into it, encoding metadata). The two overlap on
 * two cores; the page-cache copy of a 700 MB image is a third of a FAT32
 * build's CPU time.
 *
 * Everything crosses threads through SharedArrayBuffers and Atomics: a pool
 * of buffers, a ring of jobs (write a range of a buffer at an offset; give a
 * buffer back; stop), and the worker's progress. The caller never yields to
 * the event loop, so nothing here uses messages. Jobs run strictly in order,
 * so the file ends up exactly as with synchronous writes; skipping all-zero
 * never-written 4 KiB blocks (holes) happens in the worker, on the shared
 * `written` bitmap.
 *
 * A write error in the worker (ENOSPC, EIO) is kept: the worker goes on
 * taking jobs without writing (so the caller never waits forever), and the
 * caller's next call (a write, a lend, drain, close) throws it as the same
 * HostIOError a synchronous write would have thrown.
 */
import { writeSync } from 'node:fs';
import { Worker } from 'node:worker_threads';
import type { HostIOError } from '../../core/errors.js';
import { writeSkippingHoles } from './holes.js';

/** Size of one pool buffer: the SequentialWriter's (1 MiB buffers measured the same CPU time). */
export const BUFFER_SIZE = 8 << 20;
/** Pool buffers: the caller holds at most two (one lent, one for copies), the rest queue. */
const POOL = 4;
const JOBS = 4096;
/** Fields of one job in `jobs` (a Float64Array: offsets pass 2^32). */
const JOB_FIELDS = 4;
/** Job kinds (field 0 holds kind * 256 + buffer index). */
const WRITE = 1;
const RELEASE = 2;
const QUIT = 3;
/** Slots of `ctrl` (Int32Array). */
const HEAD = 0; // jobs queued (written by the caller)
const TAIL = 1; // jobs done (written by the worker)
const FAILED = 2; // 1 once a write failed (the error is in `errText`)
const ERR_LEN = 3; // bytes of JSON in errText
const DEAD = 4; // 1 once the worker's loop has ended (stopped, or a bug of ours threw)
const CTRL = 5;
/** Slots of `counters` (Float64Array, read after a drain). */
const BYTES = 0;

interface Shared {
  ctrl: Int32Array;
  jobs: Float64Array;
  counters: Float64Array;
  state: Int32Array;
  buffers: Uint8Array[];
  errText: Uint8Array;
  written: Uint8Array | undefined;
  fd: number;
  maxWrite: number;
  holeBlock: number;
}

/**
 * The worker's loop. Self-contained (it runs from its source text in the
 * worker, with `writeSync` from node:fs and FileDevice's hole rule,
 * writeSkippingHoles): it uses nothing but its arguments.
 */
function writerLoop(s: Shared, write: typeof writeSync, skipHoles: typeof writeSkippingHoles): void {
  const { ctrl, jobs, counters, state, buffers, errText, written, fd, maxWrite, holeBlock } = s;
  let failed = false;
  const words = buffers.map((b) => new Int32Array(b.buffer, 0, b.length >>> 2));
  const zero = (bi: number, from: number, to: number): boolean => {
    const b = buffers[bi]!;
    const w = words[bi]!;
    let i = from;
    for (; i < to && (i & 3) !== 0; i++) if (b[i] !== 0) return false;
    for (; i + 4 <= to; i += 4) if (w[i >>> 2] !== 0) return false;
    for (; i < to; i++) if (b[i] !== 0) return false;
    return true;
  };
  const raw = (b: Uint8Array, from: number, to: number, pos: number): void => {
    let off = from;
    while (off < to) off += write(fd, b, off, Math.min(to - off, maxWrite), pos + (off - from));
    counters[0]! += to - from;
  };
  const writeRun = (bi: number, from: number, to: number, offset: number): void => {
    const b = buffers[bi]!;
    if (!written) return raw(b, from, to, offset);
    skipHoles(
      written,
      holeBlock,
      offset,
      from,
      to,
      (x, y) => zero(bi, x, y),
      (x, y, pos) => raw(b, x, y, pos),
    );
  };
  let tail = 0;
  for (;;) {
    let head = Atomics.load(ctrl, 0);
    while (head === tail) {
      Atomics.wait(ctrl, 0, head);
      head = Atomics.load(ctrl, 0);
    }
    while (tail !== head) {
      const j = (tail % (jobs.length / 4)) * 4;
      const kind = Math.floor(jobs[j]! / 256);
      const buf = jobs[j]! % 256;
      if (kind === 3) return;
      if (kind === 1 && !failed) {
        try {
          writeRun(buf, jobs[j + 1]!, jobs[j + 1]! + jobs[j + 2]!, jobs[j + 3]!);
        } catch (e) {
          failed = true;
          const err = e as { code?: unknown; message?: unknown };
          const text = new TextEncoder().encode(
            JSON.stringify({ code: typeof err.code === 'string' ? err.code : undefined, message: String(err.message) }),
          );
          const n = Math.min(text.length, errText.length);
          errText.set(text.subarray(0, n));
          Atomics.store(ctrl, 3, n);
          Atomics.store(ctrl, 2, 1);
        }
      }
      // the buffer is free before the count moves: a caller that saw the count saw the buffer
      if (kind === 2) Atomics.store(state, buf, 0);
      tail++;
      Atomics.store(ctrl, 1, tail);
      // the caller waits only for a buffer or for all jobs: wake it for those alone
      if (kind === 2 || tail === Atomics.load(ctrl, 0)) Atomics.notify(ctrl, 1);
    }
  }
}

/** One worker thread writing to `fd` behind the caller. */
export class WriteBehind {
  private readonly s: Shared;
  private readonly worker: Worker;
  private head = 0;
  /** The buffer small writes are copied into, and how much of it is used. */
  private stage = -1;
  private staged = 0;
  private stopped = false;
  private reported = false;

  constructor(
    fd: number,
    private readonly path: string,
    private readonly toError: (e: unknown) => HostIOError,
    opts: { written?: Uint8Array; maxWrite: number; holeBlock: number },
  ) {
    const shared = (n: number) => new SharedArrayBuffer(n);
    this.s = {
      ctrl: new Int32Array(shared(CTRL * 4)),
      jobs: new Float64Array(shared(JOBS * JOB_FIELDS * 8)),
      counters: new Float64Array(shared(8)),
      state: new Int32Array(shared(POOL * 4)),
      buffers: Array.from({ length: POOL }, () => new Uint8Array(shared(BUFFER_SIZE))),
      errText: new Uint8Array(shared(1024)),
      written: opts.written,
      fd,
      maxWrite: opts.maxWrite,
      holeBlock: opts.holeBlock,
    };
    const source = `const { workerData } = require('node:worker_threads');
const { writeSync } = require('node:fs');
try {
  (${writerLoop.toString()})(workerData, writeSync, ${writeSkippingHoles.toString()});
} catch (e) {
  // a bug of ours, not a write error (those are kept in the loop): its text for the caller's error
  if (Atomics.load(workerData.ctrl, ${FAILED}) === 0) {
    const text = new TextEncoder().encode(String(e && e.stack || e)).subarray(0, workerData.errText.length);
    workerData.errText.set(text);
    Atomics.store(workerData.ctrl, ${ERR_LEN}, text.length);
  }
} finally {
  Atomics.store(workerData.ctrl, ${DEAD}, 1);
  Atomics.notify(workerData.ctrl, ${TAIL});
}`;
    this.worker = new Worker(source, { eval: true, workerData: this.s });
    this.worker.unref();
  }

  /** Bytes the worker has written (exact after drain). */
  get bytesWritten(): number {
    return this.s.counters[BYTES]!;
  }

  /** A pool buffer of `length` bytes for the caller to fill and pass to writeLent; none past BUFFER_SIZE. */
  lend(length: number): Uint8Array | undefined {
    if (length > BUFFER_SIZE) return undefined;
    return this.s.buffers[this.take()]!.subarray(0, length);
  }

  /** Queue the first `length` bytes of a lent buffer for writing at `offset`; the buffer goes back to the pool. */
  writeLent(offset: number, buf: Uint8Array, length: number): void {
    const b = this.s.buffers.findIndex((x) => x.buffer === buf.buffer);
    if (b < 0 || buf.byteOffset !== 0 || Atomics.load(this.s.state, b) !== 1)
      throw new Error('internal: writeLent of a buffer that is not lent');
    if (length > 0) this.push(WRITE, b, 0, length, offset);
    this.push(RELEASE, b, 0, 0, 0);
    this.wake();
  }

  /** Queue a copy of `data` for writing at `offset` (the caller may reuse `data` at once). */
  write(offset: number, data: Uint8Array): void {
    this.check();
    if (data.length > BUFFER_SIZE / 4) {
      // cut at 4 KiB boundaries of the file, so a block is never judged a hole from half its bytes
      for (let i = 0; i < data.length;) {
        const part = data.subarray(i, i + BUFFER_SIZE - ((offset + i) % this.s.holeBlock));
        const b = this.take();
        this.s.buffers[b]!.set(part);
        this.push(WRITE, b, 0, part.length, offset + i);
        i += part.length;
        this.push(RELEASE, b, 0, 0, 0);
        this.wake();
      }
      return;
    }
    if (this.stage < 0 || this.staged + data.length > BUFFER_SIZE) {
      if (this.stage >= 0) {
        this.push(RELEASE, this.stage, 0, 0, 0);
        this.wake();
      }
      this.stage = this.take();
      this.staged = 0;
    }
    this.s.buffers[this.stage]!.set(data, this.staged);
    this.push(WRITE, this.stage, this.staged, data.length, offset);
    // the next copy starts on a word boundary (the worker's zero check reads words)
    this.staged += (data.length + 3) & ~3;
  }

  /** Wait until every queued write is done; throws the first write error. */
  drain(): void {
    this.waitFor(() => Atomics.load(this.s.ctrl, TAIL) === this.head);
    this.check();
  }

  /**
   * Drain, then stop the worker. Throws a write error not thrown before
   * (unless `quiet`: after a failure of the caller's own, which wins).
   */
  close(quiet = false): void {
    if (this.stopped) return;
    try {
      if (quiet) this.waitFor(() => Atomics.load(this.s.ctrl, TAIL) === this.head);
      else this.drain();
    } finally {
      this.stopped = true;
      this.push(QUIT, 0, 0, 0, 0);
      this.wake();
    }
  }

  /** The first write error, as the typed error a synchronous write gives; thrown once. */
  private check(): void {
    const { ctrl, errText } = this.s;
    if (Atomics.load(ctrl, FAILED) === 0 || this.reported) return;
    this.reported = true;
    let info: { code?: string; message?: string } = {};
    try {
      info = JSON.parse(Buffer.from(errText.slice(0, Atomics.load(ctrl, ERR_LEN))).toString('utf8')) as typeof info;
    } catch {
      // a truncated message: the code is still the point
    }
    const e = Object.assign(new Error(info.message ?? `write to ${this.path} failed`), { code: info.code });
    throw this.toError(e);
  }

  private take(): number {
    const { state, ctrl } = this.s;
    const free = () => {
      for (let b = 0; b < POOL; b++) if (Atomics.load(state, b) === 0) return b;
      if (Atomics.load(ctrl, TAIL) === this.head)
        throw new Error('internal: every write-behind buffer is lent and none is queued');
      return -1;
    };
    let b = -1;
    // wait for the worker to give a buffer back
    this.waitFor(() => (b = free()) >= 0);
    Atomics.store(state, b, 1);
    return b;
  }

  private push(kind: number, buf: number, start: number, length: number, offset: number): void {
    const { ctrl, jobs } = this.s;
    if (this.stopped && kind !== QUIT) throw new Error(`internal: write to ${this.path} after close`);
    // a full ring: wait for the worker
    if (this.head - Atomics.load(ctrl, TAIL) >= JOBS) this.waitFor(() => this.head - Atomics.load(ctrl, TAIL) < JOBS);
    const j = (this.head % JOBS) * JOB_FIELDS;
    jobs[j] = kind * 256 + buf;
    jobs[j + 1] = start;
    jobs[j + 2] = length;
    jobs[j + 3] = offset;
    this.head++;
    Atomics.store(ctrl, HEAD, this.head);
  }

  /**
   * Wake the worker for the jobs queued so far. Small writes queue without
   * it (a wake-up per directory would cost more than the write); it comes
   * with each buffer handed over and before every wait of the caller's.
   */
  private wake(): void {
    Atomics.notify(this.s.ctrl, HEAD);
  }

  /** Wake the worker and sleep until `done()`; the worker notifies after each buffer it gives back and when idle. */
  private waitFor(done: () => boolean): void {
    const { ctrl } = this.s;
    this.wake();
    for (;;) {
      const tail = Atomics.load(ctrl, TAIL);
      if (done()) return;
      if (Atomics.load(ctrl, DEAD) === 1) {
        const why =
          Atomics.load(ctrl, FAILED) === 0
            ? `: ${Buffer.from(this.s.errText.slice(0, Atomics.load(ctrl, ERR_LEN))).toString('utf8')}`
            : '';
        throw new Error(`internal: the write-behind thread for ${this.path} stopped${why}`);
      }
      Atomics.wait(ctrl, TAIL, tail, 1000);
    }
  }
}
