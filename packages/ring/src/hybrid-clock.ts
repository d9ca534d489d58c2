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
  /** Folds in a stamp seen elsewhere (an implausible one, see {@link HybridClock.plausible}, is ignored). */
  observe(ts: number): void;
  /**
   * Whether `ts` is a stamp an honest peer could have made: a safe integer no further ahead of
   * this node's wall clock than the maximum clock offset. Versions failing this are refused: a
   * forged stamp near 2^53 would otherwise win every last-writer-wins and pin every clock that
   * observed it.
   */
  plausible(ts: number): boolean;
}

/** Wall milliseconds to clock units (for grace periods: `wallMs * TICKS_PER_MS`). */
export const TICKS_PER_MS = 1000;

/** How far ahead of this node's clock a peer's stamp may be before it is refused. */
export const DEFAULT_MAX_CLOCK_OFFSET_MS = 60_000;

export function createHybridClock(wallMs: () => number = Date.now, options: { maxOffsetMs?: number } = {}): HybridClock {
  const maxAhead = (options.maxOffsetMs ?? DEFAULT_MAX_CLOCK_OFFSET_MS) * TICKS_PER_MS;
  let last = 0;
  const plausible = (ts: number) => Number.isSafeInteger(ts) && ts >= 0 && ts <= Math.floor(wallMs()) * TICKS_PER_MS + maxAhead;
  return {
    now() {
      last = Math.max(Math.floor(wallMs()) * TICKS_PER_MS, last + 1);
      return last;
    },
    observe(ts) {
      if (ts > last && plausible(ts)) last = ts;
    },
    plausible,
  };
}
