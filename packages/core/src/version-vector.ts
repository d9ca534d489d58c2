/**
 * Version vectors and sibling sets, as pure values. Shared by the ring (which assigns versions
 * and merges replica answers) and by storage that keeps versioned records.
 *
 * @example
 * const a = increment({}, 'foo#1');           // { 'foo#1': 1 }
 * compareVectors(a, increment(a, 'bar#1'));    // 'before'
 */

/** Actor -> counter. Actors name a node *incarnation*, so a node that lost its data never reuses counters. */
export type VersionVector = Readonly<Record<string, number>>;

export type Ordering = 'equal' | 'before' | 'after' | 'concurrent';

export function compareVectors(a: VersionVector, b: VersionVector): Ordering {
  let aBigger = false;
  let bBigger = false;
  // Every actor of either vector, compared once from each side (a shared actor twice, to the
  // same effect): no set of the union to build, on a path every merge of every write takes.
  for (const k of Object.keys(a)) {
    const x = a[k] ?? 0;
    const y = b[k] ?? 0;
    if (x > y) aBigger = true;
    else if (y > x) bBigger = true;
  }
  for (const k of Object.keys(b)) {
    const x = a[k] ?? 0;
    const y = b[k] ?? 0;
    if (x > y) aBigger = true;
    else if (y > x) bBigger = true;
  }
  if (aBigger && bBigger) return 'concurrent';
  if (aBigger) return 'after';
  if (bBigger) return 'before';
  return 'equal';
}

/** True when `a` has seen everything `b` has (a >= b pointwise). */
export function descends(a: VersionVector, b: VersionVector): boolean {
  const o = compareVectors(a, b);
  return o === 'after' || o === 'equal';
}

/** Pointwise maximum. */
export function mergeVectors(a: VersionVector, b: VersionVector): VersionVector {
  const out: Record<string, number> = { ...a };
  for (const [k, v] of Object.entries(b)) out[k] = Math.max(out[k] ?? 0, v);
  return sortKeys(out);
}

export function increment(vv: VersionVector, actor: string): VersionVector {
  return sortKeys({ ...vv, [actor]: (vv[actor] ?? 0) + 1 });
}

/** A version stamp: the vector, plus a hybrid timestamp and the writing actor for last-writer-wins. */
export interface VersionStamp {
  readonly vv: VersionVector;
  /** Hybrid logical timestamp of the write. */
  readonly ts: number;
  /** The actor (node incarnation) that coordinated the write. */
  readonly actor: string;
}

/** One version of a value. A tombstone records a delete. */
export interface Sibling<T = unknown> {
  readonly value: T;
  readonly tombstone?: boolean;
  readonly version: VersionStamp;
}

/**
 * Union of two sibling sets, dropping every sibling whose vector is strictly dominated by
 * another's and keeping one of equal vectors (the later stamp). Commutative, associative and
 * idempotent; the result is in a canonical order.
 */
export function mergeSiblings<T>(a: readonly Sibling<T>[], b: readonly Sibling<T>[]): Sibling<T>[] {
  // One stored sibling and one arriving: what nearly every write merges, on every replica.
  if (a.length === 1 && b.length === 1) return mergePair(a[0]!, b[0]!);
  // One sibling and nothing: what every read merges first (a reply's object into an empty slot).
  if (a.length + b.length === 1) return [a[0] ?? b[0]!];
  const all = [...a, ...b];
  const kept: Sibling<T>[] = [];
  for (const s of all) {
    let drop = false;
    for (const t of all) {
      if (t === s) continue;
      const o = compareVectors(s.version.vv, t.version.vv);
      if (o === 'before') {
        drop = true;
        break;
      }
      if (o === 'equal' && stampOrder(t.version, s.version) > 0) {
        drop = true;
        break;
      }
    }
    if (!drop && !kept.some((k) => compareVectors(k.version.vv, s.version.vv) === 'equal' && stampOrder(k.version, s.version) === 0)) {
      kept.push(s);
    }
  }
  return kept.sort((x, y) => stampOrder(x.version, y.version));
}

/** {@link mergeSiblings} of `[x]` and `[y]`, the same answer without the general pass. */
function mergePair<T>(x: Sibling<T>, y: Sibling<T>): Sibling<T>[] {
  if (x === y) return [x];
  const o = compareVectors(x.version.vv, y.version.vv);
  if (o === 'before') return [y];
  if (o === 'after') return [x];
  const order = stampOrder(x.version, y.version);
  // Equal vectors: the later stamp (the first one, for the same stamp).
  if (o === 'equal') return [order < 0 ? y : x];
  return order <= 0 ? [x, y] : [y, x];
}

/** Orders stamps by timestamp, then actor name. */
export function stampOrder(a: VersionStamp, b: VersionStamp): number {
  if (a.ts !== b.ts) return a.ts < b.ts ? -1 : 1;
  return a.actor < b.actor ? -1 : a.actor > b.actor ? 1 : 0;
}

/** Last writer wins: the sibling with the greatest (ts, actor); undefined for none. */
export function lastWriterWins<T>(siblings: readonly Sibling<T>[]): Sibling<T> | undefined {
  let best: Sibling<T> | undefined;
  for (const s of siblings) if (!best || stampOrder(s.version, best.version) > 0) best = s;
  return best;
}

/** The vector that descends from every sibling: what a writer that saw them all must build on. */
export function joinedVector(siblings: readonly Sibling[]): VersionVector {
  return siblings.reduce<VersionVector>((acc, s) => mergeVectors(acc, s.version.vv), {});
}

/** `v` (a fresh object of the caller's) with its actors in order; as it is when they already are (the usual case). */
function sortKeys(v: Record<string, number>): VersionVector {
  const keys = Object.keys(v);
  let sorted = true;
  for (let i = 1; i < keys.length && sorted; i++) sorted = keys[i - 1]! < keys[i]!;
  if (sorted) return v;
  return Object.fromEntries(Object.entries(v).sort(([x], [y]) => (x < y ? -1 : x > y ? 1 : 0)));
}
