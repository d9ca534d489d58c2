/**
 * One queue per key: operations on the same key run one after another in arrival order,
 * operations on different keys run concurrently. The coordinator versions a write against
 * what it holds (read, increment, store, read back) under its key's lock, so two writes it
 * coordinates for one key can never build on the same version; writes to other keys of the
 * same bucket do not wait for it. A key with nothing pending runs at once.
 */
export interface KeyLocks {
  run<T>(key: string, op: () => Promise<T>): Promise<T>;
  /** Keys with operations pending (for tests and diagnostics). */
  pending(): number;
}

export function createKeyLocks(): KeyLocks {
  const tails = new Map<string, Promise<unknown>>();
  return {
    run<T>(key: string, op: () => Promise<T>): Promise<T> {
      const prev = tails.get(key);
      let result: Promise<T>;
      // A failed operation must not block or fail the ones behind it.
      if (prev !== undefined) result = prev.then(op, op);
      else {
        // Nothing pending: start now, not a turn later.
        try {
          result = Promise.resolve(op());
        } catch (err) {
          result = Promise.reject(err);
        }
      }
      // Forgotten as soon as it settles, in the one reaction it takes.
      const done = () => {
        if (tails.get(key) === tail) tails.delete(key);
      };
      const tail: Promise<void> = result.then(done, done);
      tails.set(key, tail);
      return result;
    },
    pending: () => tails.size,
  };
}
