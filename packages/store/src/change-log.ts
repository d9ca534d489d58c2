/**
 * Which versioned objects changed since a point, for one reader: the ring's anti-entropy, which
 * keeps hash trees over what this node holds and reads this log to keep them current between
 * a full scan (at start) and each exchange.
 *
 * Each object appears at most once (a key written again moves to the end with a new sequence
 * number), so the log holds at most one entry per object changed since the reader last asked;
 * it is bounded (`maxEntries`), and when it overflows it empties itself and tells the reader
 * to rebuild from a scan (`reset`). It records nothing until the reader first asks, so a node
 * that never runs anti-entropy pays one boolean check per write.
 */
import { keyString } from './bytes.js';

export interface ChangeRef {
  readonly bucket: Uint8Array;
  readonly key: Uint8Array;
}

export interface ChangeBatch {
  /** The reader must rebuild from a scan: this is its first read, the log overflowed or storage was cleared. */
  readonly reset: boolean;
  /** Pass this as `since` next time. */
  readonly seq: number;
  /** Objects changed after `since`, oldest change first. */
  readonly refs: readonly ChangeRef[];
  /** More changes wait beyond `limit`. */
  readonly more: boolean;
}

export interface ChangeLog {
  /** Records a change of (bucket, key) in the primary area. */
  record(bucket: Uint8Array, key: Uint8Array): void;
  /** Storage was emptied: the reader's picture is void. */
  cleared(): void;
  /** Changes after `since` (forgetting those at or before it), up to `limit`; `since` 0 always resets. */
  read(since: number, limit: number): ChangeBatch;
  /** Entries held (for tests and stats). */
  size(): number;
}

/** Objects changed between two reads before the reader is told to rescan instead. */
export const DEFAULT_CHANGE_LOG_ENTRIES = 200_000;

export function createChangeLog(maxEntries = DEFAULT_CHANGE_LOG_ENTRIES): ChangeLog {
  const entries = new Map<string, { seq: number; ref: ChangeRef }>();
  // 0 is the reader's "I hold nothing": sequence numbers start above it.
  let seq = 1;
  let active = false;
  let lost = true;

  return {
    record(bucket, key) {
      if (!active) return;
      const id = `${bucket.length}:${keyString(bucket)}${keyString(key)}`;
      entries.delete(id);
      entries.set(id, { seq: ++seq, ref: { bucket, key } });
      if (entries.size > maxEntries) {
        entries.clear();
        lost = true;
      }
    },
    cleared() {
      entries.clear();
      lost = true;
    },
    read(since, limit) {
      active = true;
      if (lost || since === 0 || since > seq) {
        // Everything from here on is recorded; the reader scans for what came before.
        lost = false;
        entries.clear();
        return { reset: true, seq, refs: [], more: false };
      }
      const refs: ChangeRef[] = [];
      let last = since;
      for (const [id, e] of entries) {
        if (e.seq <= since) {
          entries.delete(id);
          continue;
        }
        if (refs.length >= limit) return { reset: false, seq: last, refs, more: true };
        refs.push(e.ref);
        last = e.seq;
      }
      return { reset: false, seq: refs.length ? last : seq, refs, more: false };
    },
    size: () => entries.size,
  };
}
