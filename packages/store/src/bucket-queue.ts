/**
 * PROTOCOL.md section 3: each bucket's operations are serialized. Operations on one bucket run
 * one after another in arrival order (a versioned write reads, merges and writes back, and
 * must not interleave with another write to the same bucket); different buckets run
 * concurrently. A bucket with nothing pending runs its operation at once, so the common case
 * costs no extra scheduling.
 */

export interface BucketQueue {
  /** Runs `op` after every operation queued before it for `bucket` (a lossless key string). */
  run<T>(bucket: string, op: () => Promise<T>): Promise<T>;
  /** True when nothing is queued or running for `bucket`: an operation may run at once, inline. */
  idle(bucket: string): boolean;
  /** Buckets with operations pending (for tests and diagnostics). */
  pending(): number;
}

export function createBucketQueue(): BucketQueue {
  const tails = new Map<string, Promise<unknown>>();
  return {
    run<T>(bucket: string, op: () => Promise<T>): Promise<T> {
      const prev = tails.get(bucket);
      // A failed operation must not block or fail the ones behind it.
      let result: Promise<T>;
      if (prev !== undefined) result = prev.then(op, op);
      else {
        try {
          result = op();
        } catch (err) {
          result = Promise.reject(err);
        }
      }
      // Forgotten as soon as it settles (before the caller's own continuation runs), so the
      // next operation finds the bucket idle; one reaction per operation, not a chain of two.
      const done = () => {
        if (tails.get(bucket) === tail) tails.delete(bucket);
      };
      const tail: Promise<void> = result.then(done, done);
      tails.set(bucket, tail);
      return result;
    },
    idle: (bucket) => !tails.has(bucket),
    pending: () => tails.size,
  };
}
