/**
 * Progress reporting. Library functions take an optional `progress` and call
 * it; only the CLI knows about terminals (see cli/main.ts).
 */
export interface Progress {
  /** Start (or restart) a phase, e.g. "writing ext4", with an optional total in `unit`s. */
  start(phase: string, total?: number, unit?: 'bytes' | 'files' | 'objects'): void;
  /** Advance the current phase by `n` units. */
  tick(n: number): void;
  /** End the current phase. */
  done(): void;
}

export const silentProgress: Progress = { start() {}, tick() {}, done() {} };

/** A progress line redrawn on a TTY stream at most ~10 times a second. */
export function ttyProgress(stream: NodeJS.WriteStream): Progress {
  let phase = '';
  let total: number | undefined;
  let unit: string = '';
  let cur = 0;
  let last = 0;
  const fmt = (n: number) => (unit === 'bytes' ? `${(n / 1048576).toFixed(1)} MiB` : String(n));
  const draw = (force = false) => {
    const now = Date.now();
    if (!force && now - last < 100) return;
    last = now;
    const pct = total ? ` ${Math.min(100, Math.floor((cur / total) * 100))}%` : '';
    const line = `${phase}: ${fmt(cur)}${total ? ` / ${fmt(total)}` : ''}${pct}`;
    stream.write(`\r\x1b[K${line.slice(0, (stream.columns || 80) - 1)}`);
  };
  return {
    start(p, t, u) { phase = p; total = t; unit = u ?? ''; cur = 0; draw(true); },
    tick(n) { cur += n; draw(); },
    done() { draw(true); stream.write('\r\x1b[K'); },
  };
}
