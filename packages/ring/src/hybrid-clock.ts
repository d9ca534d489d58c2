/**
 * A hybrid logical clock packed into one number: wall-clock milliseconds x 1000 plus a logical
 * counter. It never goes backwards, and after `observe(ts)` every new stamp is greater than
 * `ts`, so a write that read a version gets a later timestamp than that version even when
 * clocks disagree. Last-writer-wins compares these stamps.
 *
 * @example
 * const clock = createHybridClock();
 * const a = clock.now();
 * clock.observe(a + 5_000_000);
 * clock.now() > a + 5_000_000; // true
 */
export interface HybridClock {
  /** A fresh stamp, greater than every stamp given or observed before. */
  now(): number;
  /** Folds in a stamp seen elsewhere. */
  observe(ts: number): void;
}

/** Wall milliseconds to clock units (for grace periods: `wallMs * TICKS_PER_MS`). */
export const TICKS_PER_MS = 1000;

export function createHybridClock(wallMs: () => number = Date.now): HybridClock {
  let last = 0;
  return {
    now() {
      last = Math.max(Math.floor(wallMs()) * TICKS_PER_MS, last + 1);
      return last;
    },
    observe(ts) {
      if (Number.isSafeInteger(ts) && ts > last) last = ts;
    },
  };
}
