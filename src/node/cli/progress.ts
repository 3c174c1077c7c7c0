/** Progress on a terminal: the CLI's implementation of the core's Progress. */
import type { Progress } from '../../core/progress.js';

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
    start(p, t, u) {
      phase = p;
      total = t;
      unit = u ?? '';
      cur = 0;
      draw(true);
    },
    tick(n) {
      cur += n;
      draw();
    },
    done() {
      draw(true);
      stream.write('\r\x1b[K');
    },
  };
}
