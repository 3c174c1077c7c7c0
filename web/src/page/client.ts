/** The page's end of the worker protocol: one request, one promise; progress to a callback. */
import type { ErrorReport, ProgressReport, Request, Response } from '../protocol.js';

/** An error the worker reported (a TinyImageError's name, code and data survive the trip). */
export class RemoteError extends Error {
  readonly code: string | undefined;
  readonly data: unknown;
  constructor(r: ErrorReport) {
    super(r.message);
    this.name = r.name;
    this.code = r.code;
    this.data = r.data;
  }
}

interface Pending {
  resolve(v: unknown): void;
  reject(e: Error): void;
  progress?: ((p: ProgressReport) => void) | undefined;
}

export class WorkerClient {
  private worker: Worker;
  private next = 1;
  private pending = new Map<number, Pending>();

  constructor(private readonly url: URL) {
    this.worker = this.start();
  }

  private start(): Worker {
    const w = new Worker(this.url, { type: 'module', name: 'tinyimage' });
    w.onmessage = (e: MessageEvent<Response>) => this.receive(e.data);
    w.onerror = (e) => this.failAll(new Error(`the worker failed: ${e.message || 'could not start it'}`));
    return w;
  }

  private receive(m: Response): void {
    const p = this.pending.get(m.id);
    if (!p) return;
    if ('progress' in m) {
      p.progress?.(m.progress);
      return;
    }
    this.pending.delete(m.id);
    if (m.ok) p.resolve(m.result);
    else p.reject(new RemoteError(m.error));
  }

  private failAll(e: Error): void {
    for (const p of this.pending.values()) p.reject(e);
    this.pending.clear();
  }

  call<T>(req: Request, progress?: (p: ProgressReport) => void): Promise<T> {
    const id = this.next++;
    return new Promise<T>((resolve, reject) => {
      this.pending.set(id, { resolve: resolve as (v: unknown) => void, reject, progress });
      this.worker.postMessage({ id, req });
    });
  }

  /** Stop whatever runs (a build) and start a fresh worker; open images are gone. */
  restart(): void {
    this.worker.terminate();
    this.failAll(new Error('cancelled'));
    this.worker = this.start();
  }
}
