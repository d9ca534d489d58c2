/**
 * Buckets and bytes per first byte. The range table places a bucket by its first byte alone,
 * so these 256 bins hold everything a range-table simulation needs, however many buckets.
 */

export interface FirstByteHistogram {
  /** Buckets per first byte (256 bins). */
  readonly buckets: Float64Array;
  /** Bytes per first byte (256 bins). */
  readonly bytes: Float64Array;
}

export function emptyHistogram(): FirstByteHistogram {
  return { buckets: new Float64Array(256), bytes: new Float64Array(256) };
}

/** A histogram from (first byte, size) pairs: handy for tests and hand-computed cases. */
export function histogramOf(entries: Iterable<readonly [first: number, bytes?: number]>): FirstByteHistogram {
  const h = emptyHistogram();
  for (const [first, bytes] of entries) {
    h.buckets[first]! += 1;
    h.bytes[first]! += bytes ?? 0;
  }
  return h;
}
