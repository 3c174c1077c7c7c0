/**
 * A worker thread of parallelGzip's pool (gzip-pool.ts): compresses the
 * pieces it is sent (in its slot's shared input buffer) with libdeflateRaw
 * and sends them back (the output's buffer moved, not copied). A failure
 * is sent back as the job's error; the pool turns it into a typed error.
 */
import { parentPort } from 'node:worker_threads';
import { libdeflateRaw } from './libdeflate.js';
import type { PieceJob, PieceReply } from './gzip-pool.js';

const port = parentPort!;
port.on('message', (job: PieceJob) => {
  let reply: PieceReply;
  try {
    reply = { id: job.id, out: libdeflateRaw(new Uint8Array(job.input, 0, job.length), job.level, job.last) };
  } catch (e) {
    const err = e as { message?: unknown; code?: unknown };
    reply = {
      id: job.id,
      error: { message: String(err?.message ?? e), code: typeof err?.code === 'string' ? err.code : undefined },
    };
  }
  port.postMessage(reply, reply.out ? [reply.out.buffer as ArrayBuffer] : []);
});
