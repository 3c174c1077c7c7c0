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
