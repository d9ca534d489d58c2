/**
 * The annotated preference list of a bucket, computed once per call from the ring's walk
 * (riak_core's `get_apl_ann`): live primaries, then the fallbacks standing in for the down
 * ones (each tagged `hintFor`), then the spares left for replicas that fail during the call,
 * and the down primaries nobody could stand in for. Placement and the coordinator both read
 * this one value; nobody re-derives fallbacks.
 *
 * The walk itself (every member in clockwise order from the bucket's point) is cached per
 * ring value, so a bucket's hashring lookups are paid once per ring version, not per call.
 *
 * @example
 * const lists = createPreferenceLists(ring, 3);
 * const apl = lists.annotated('shopping', (m) => m !== 'b@h');
 * apl.replicas; // [{ node: 'a@h', role: 'primary' }, { node: 'c@h', ... }, { node: 'd@h', role: 'fallback', hintFor: 'b@h' }]
 * apl.spares;   // live non-primaries after d@h, in ring order
 */
import { ArgumentError, type BucketName, type Replica } from '@ringkv/core';
import { ringKey, type Ring } from './ring.js';

export interface AnnotatedPreferenceList {
  /** Live primaries in ring order, then fallbacks (with `hintFor`) in the order of the primaries they replace. */
  readonly replicas: readonly Replica[];
  /** The bucket's `n` primaries, live or not, in ring order. */
  readonly primaries: readonly string[];
  /** Live members that are neither primaries nor fallbacks above, in ring order: stand-ins for replicas that fail mid-call. */
  readonly spares: readonly string[];
  /** Down primaries with no live member left to stand in for them. */
  readonly unplaced: readonly string[];
}

export interface PreferenceLists {
  /** The ring these lists are computed from (a new ring gets new lists). */
  readonly ring: Ring;
  readonly n: number;
  /** The bucket's preference list with stand-ins; `isUp` omitted means everyone is up. */
  annotated(bucket: BucketName, isUp?: (node: string) => boolean): AnnotatedPreferenceList;
  /**
   * The first `atLeast` members (all of them if fewer) in ring order from the bucket's point,
   * cached. Walking the whole ring of a large cluster costs far more than its first few
   * members, so the walk only goes as far as someone asked.
   */
  walk(bucket: BucketName, atLeast?: number): readonly string[];
}

/** Buckets whose walk is kept; past it the cache starts over (cheap, and bounded). @default 10000 */
export const DEFAULT_PLACEMENT_CACHE_SIZE = 10_000;

export interface PreferenceListOptions {
  /** Walks kept per ring value; 0 computes every walk afresh (for measuring what the cache buys). */
  cacheSize?: number;
}

export function createPreferenceLists(ring: Ring, n: number, options: PreferenceListOptions = {}): PreferenceLists {
  if (!Number.isInteger(n) || n < 1) throw new ArgumentError(`n must be a positive integer, got ${String(n)}`);
  if (n > ring.members.length) throw new ArgumentError(`n (${n}) is larger than the number of ring members (${ring.members.length})`);
  const cacheSize = options.cacheSize ?? DEFAULT_PLACEMENT_CACHE_SIZE;
  const total = ring.members.length;
  // String buckets are cached under the string itself (no byte conversion on a hit); byte
  // buckets under their latin1 key. Both caches give the same answer for the same bytes.
  const byString = new Map<string, Placed>();
  const byBytes = new Map<string, Placed>();

  function placed(bucket: BucketName, want: number): Placed {
    const str = typeof bucket === 'string';
    const cache = str ? byString : byBytes;
    const id = str ? bucket : ringKey(bucket);
    let entry = cache.get(id);
    if (entry === undefined || entry.order.length < want) {
      entry = { order: ring.walk(bucket, want), allUp: entry?.allUp };
      if (cache.size >= cacheSize) cache.clear();
      cache.set(id, entry);
    }
    return entry;
  }

  function walk(bucket: BucketName, atLeast = n): readonly string[] {
    const want = Math.min(total, Math.max(atLeast, n));
    if (cacheSize === 0) return ring.walk(bucket, want);
    return placed(bucket, want).order;
  }

  return {
    ring,
    n,
    walk,
    annotated(bucket, isUp) {
      if (cacheSize === 0) return annotate((size) => walk(bucket, size), n, total, isUp);
      const entry = placed(bucket, n);
      // Every primary up (the common case): the same list as last time, built once. Only the
      // spares depend on the others' liveness, and they are worked out when read.
      for (let i = 0; i < n; i++) if (isUp && !isUp(entry.order[i]!)) return annotate((size) => walk(bucket, size), n, total, isUp);
      if (entry.allUp === undefined || entry.allUp.isUp !== isUp) entry.allUp = { isUp, list: allUpList(entry.order.slice(0, n), (size) => walk(bucket, size), total, isUp) };
      return entry.allUp.list;
    },
  };
}

/** A bucket's walk, and its annotated list for when every primary is up (for one liveness view). */
interface Placed {
  readonly order: readonly string[];
  allUp: { readonly isUp: ((node: string) => boolean) | undefined; readonly list: AnnotatedPreferenceList } | undefined;
}

/** The annotated list of a bucket whose primaries are all up: frozen, shared by every call; the spares read liveness when asked. */
function allUpList(primaries: readonly string[], walkTo: (size: number) => readonly string[], total: number, isUp: ((node: string) => boolean) | undefined): AnnotatedPreferenceList {
  const n = primaries.length;
  const up = isUp ?? (() => true);
  return Object.freeze({
    replicas: Object.freeze(primaries.map((node): Replica => Object.freeze({ node, role: 'primary' }))),
    primaries: Object.freeze([...primaries]),
    unplaced: Object.freeze([] as string[]),
    get spares() {
      return walkTo(total).slice(n).filter((m) => up(m));
    },
  });
}

/**
 * The annotated list from a walk (pure). `walkTo(size)` answers the first `size` members in
 * ring order; it is asked for more only as far as fallbacks need, and for the spares only when
 * somebody reads them (a replica failed mid-call).
 */
export function annotate(
  walkTo: readonly string[] | ((size: number) => readonly string[]),
  n: number,
  total?: number,
  isUp?: (node: string) => boolean,
): AnnotatedPreferenceList {
  const full = typeof walkTo === 'function' ? undefined : walkTo;
  const members = total ?? full?.length ?? n;
  const get = (size: number) => (full ? full.slice(0, size) : (walkTo as (size: number) => readonly string[])(size));
  const primaries = get(n).slice(0, n);
  const up = isUp ?? (() => true);
  const replicas: Replica[] = [];
  const down: string[] = [];
  for (const p of primaries) {
    if (up(p)) replicas.push({ node: p, role: 'primary' });
    else down.push(p);
  }
  // Widen the walk only as far as the down primaries need live stand-ins.
  let live: string[] = [];
  let size = n;
  while (live.length < down.length && size < members) {
    size = Math.min(members, size + down.length + 2);
    live = get(size).slice(n).filter((m) => up(m));
  }
  const unplaced: string[] = [];
  down.forEach((primary, i) => {
    const node = live[i];
    if (node !== undefined) replicas.push({ node, role: 'fallback', hintFor: primary });
    else unplaced.push(primary);
  });
  let spares: readonly string[] | undefined;
  return {
    replicas,
    primaries,
    unplaced,
    get spares() {
      spares ??= get(members).slice(n).filter((m) => up(m)).slice(down.length);
      return spares;
    },
  };
}
