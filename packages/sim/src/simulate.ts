/**
 * The simulation: one pass over the buckets, every strategy measured side by side.
 *
 * Memory stays flat however many buckets stream in: the range table places by first byte, so a
 * 256-bin histogram stands in for all of them; ring strategies fold each bucket into per-node
 * and node-by-node typed arrays as it passes, and keep nothing per bucket.
 */
import { DEFAULT_RING_N, DEFAULT_RING_VNODES, type BucketName, type RangeEntry, type RangeEntryInput, type RangeTable, parseRangeTable } from '@ringkv/core';
import { createRing, type Ring } from '@ringkv/ring';
import { readBucket, type BucketInput } from './bucket-input.js';
import { SimulationError } from './errors.js';
import { emptyHistogram, type FirstByteHistogram } from './first-byte-histogram.js';
import { equalWeights, idealChangedFraction } from './ideal.js';
import { loadStats, type LoadStats } from './load-stats.js';
import { resolveMembership, type MembershipChange, type MembershipChangeInput } from './membership.js';
import { balancedTable, evenTable, nextRangeTable, ownersByByte, type RangePolicy } from './range-policy.js';

export interface RangeSpec {
  readonly kind: 'range';
  /** How the table changes. */
  readonly policy: RangePolicy;
  /** The table before the change. @default built from the members by `initial` */
  readonly table?: RangeTable | readonly RangeEntryInput[];
  /** How to build the starting table when none is given. @default 'even' */
  readonly initial?: 'even' | 'balanced';
  readonly label?: string;
}

export interface RingSpec {
  readonly kind: 'ring';
  /** @default DEFAULT_RING_VNODES */
  readonly vnodes?: number;
  /** Replicas per bucket (capped at the member count). @default DEFAULT_RING_N */
  readonly n?: number;
  /** Relative weights; members not named weigh 1. */
  readonly weights?: Readonly<Record<string, number>>;
  readonly label?: string;
}

export type StrategySpec = RangeSpec | RingSpec;

export interface SimulationOptions {
  readonly change: MembershipChangeInput;
  readonly strategies: readonly StrategySpec[];
  readonly buckets: Iterable<BucketInput>;
  /** Called with the number of buckets read so far, every `progressEvery` buckets and at the end. */
  readonly onProgress?: (done: number) => void;
  /** @default 65536 */
  readonly progressEvery?: number;
}

/** How many buckets (and bytes) changed hands, against the least any placement could do. */
export interface ChangeMeasure {
  readonly changed: number;
  readonly changedBytes: number;
  /** changed / placed buckets. */
  readonly fraction: number;
  readonly ideal: number;
  /** fraction / ideal; null when the ideal is 0. */
  readonly ratioToIdeal: number | null;
  /** Changes whose source and destination both stay members: movement no change called for. */
  readonly betweenOldNodes: number;
  readonly betweenOldNodesBytes: number;
}

export interface NodeLoad {
  readonly node: string;
  readonly buckets: number;
  readonly bytes: number;
}

export interface LoadPicture {
  readonly before: readonly NodeLoad[];
  readonly after: readonly NodeLoad[];
  readonly stats: {
    readonly before: { readonly buckets: LoadStats; readonly bytes: LoadStats };
    readonly after: { readonly buckets: LoadStats; readonly bytes: LoadStats };
  };
}

export interface Transfer {
  readonly from: string;
  readonly to: string;
  readonly buckets: number;
  readonly bytes: number;
}

export interface StrategyResult {
  readonly kind: 'range' | 'ring';
  readonly label: string;
  /** Index space of `matrix`: members before, then added ones. */
  readonly nodes: readonly string[];
  /** Buckets with no owner (no range-table entry) before and after. Not counted as moved. */
  readonly unplaced: { readonly before: number; readonly after: number };
  /** The owner (range-table entry, or first of the ring's preference list). */
  readonly owner: ChangeMeasure;
  /** Owner load per node. */
  readonly load: LoadPicture;
  /** Owner moves, largest first. */
  readonly transfers: readonly Transfer[];
  /** Owner moves as a from x to matrix over `nodes`. */
  readonly matrix: { readonly buckets: readonly (readonly number[])[]; readonly bytes: readonly (readonly number[])[] };
  /** Ring only: replica sets (preference lists). `changed` counts buckets whose set differs. */
  readonly replicaSets?: ChangeMeasure & {
    readonly n: number;
    /** Replica copies to make (a bucket whose set gains two nodes counts two). */
    readonly copies: number;
    readonly copiesBytes: number;
  };
  /** Ring only: copies held per node (each bucket counts on each of its N nodes). */
  readonly replicaLoad?: LoadPicture;
  /** Ring only: copies to make, paired with the copy each one replaces, largest first. */
  readonly replicaTransfers?: readonly Transfer[];
  readonly range?: { readonly policy: RangePolicy['name']; readonly before: RangeTable; readonly after: RangeTable };
  readonly ring?: { readonly vnodes: number; readonly n: number; readonly weights: Readonly<Record<string, number>> };
}

export interface SimulationReport {
  readonly members: { readonly before: readonly string[]; readonly after: readonly string[]; readonly added: readonly string[]; readonly removed: readonly string[] };
  readonly buckets: number;
  readonly bytes: number;
  /** Whether any bucket came with a size. */
  readonly sizesKnown: boolean;
  readonly results: readonly StrategyResult[];
}

/** Counts gathered in the pass, node indices as in `MembershipChange.nodes`. */
interface Tally {
  readonly loadBefore: Float64Array;
  readonly bytesBefore: Float64Array;
  readonly loadAfter: Float64Array;
  readonly bytesAfter: Float64Array;
  readonly moves: Float64Array;
  readonly moveBytes: Float64Array;
  unplacedBefore: number;
  unplacedAfter: number;
}

function newTally(k: number): Tally {
  return {
    loadBefore: new Float64Array(k),
    bytesBefore: new Float64Array(k),
    loadAfter: new Float64Array(k),
    bytesAfter: new Float64Array(k),
    moves: new Float64Array(k * k),
    moveBytes: new Float64Array(k * k),
    unplacedBefore: 0,
    unplacedAfter: 0,
  };
}

interface RingRun {
  readonly spec: RingSpec;
  readonly before: Ring;
  readonly after: Ring;
  readonly nBefore: number;
  readonly nAfter: number;
  readonly n: number;
  readonly weights: Record<string, number>;
  readonly owner: Tally;
  readonly replicas: Tally;
  setsChanged: number;
  setsChangedBytes: number;
}

export function simulate(options: SimulationOptions): SimulationReport {
  if (options === null || typeof options !== 'object') throw new SimulationError('simulation options must be an object');
  const change = resolveMembership(options.change);
  if (!Array.isArray(options.strategies) || options.strategies.length === 0) {
    throw new SimulationError('strategies: give at least one strategy to simulate');
  }
  const k = change.nodes.length;
  const index = new Map(change.nodes.map((n, i) => [n, i]));
  const rings: RingRun[] = [];
  for (const [i, spec] of options.strategies.entries()) {
    if (spec?.kind === 'ring') rings.push(prepareRing(spec, change, k));
    else if (spec?.kind !== 'range') throw new SimulationError(`strategies[${i}].kind: must be "range" or "ring", got ${JSON.stringify((spec as { kind?: unknown })?.kind)}`);
  }

  const histogram = emptyHistogram();
  let count = 0;
  let totalBytes = 0;
  let sizesKnown = false;
  const every = options.progressEvery ?? 65536;
  const iterable = options.buckets;
  if (iterable === null || typeof (iterable as Iterable<BucketInput>)?.[Symbol.iterator] !== 'function') {
    throw new SimulationError('buckets: must be an iterable of bucket names or {name, bytes}');
  }
  const inB = new Int32Array(64);
  for (const input of iterable) {
    const { name, first, bytes: size } = readBucket(input, count);
    const bytes = size ?? 0;
    if (size !== undefined) sizesKnown = true;
    histogram.buckets[first]! += 1;
    histogram.bytes[first]! += bytes;
    totalBytes += bytes;
    for (const run of rings) tallyRing(run, name, bytes, index, inB);
    count++;
    if (options.onProgress && count % every === 0) options.onProgress(count);
  }
  options.onProgress?.(count);

  const results = options.strategies.map((spec) =>
    spec.kind === 'range' ? rangeResult(spec, change, histogram) : ringResult(rings.find((r) => r.spec === spec)!, change),
  );
  return {
    members: { before: change.before, after: change.after, added: change.added, removed: change.removed },
    buckets: count,
    bytes: totalBytes,
    sizesKnown,
    results,
  };
}

function prepareRing(spec: RingSpec, change: MembershipChange, k: number): RingRun {
  const vnodes = spec.vnodes ?? DEFAULT_RING_VNODES;
  const n = spec.n ?? DEFAULT_RING_N;
  if (!Number.isInteger(n) || n < 1) throw new SimulationError(`ring n must be a positive integer, got ${String(n)}`);
  const weights = { ...(spec.weights ?? {}) };
  for (const name of Object.keys(weights)) {
    if (!change.nodes.includes(name)) throw new SimulationError(`ring weights: ${JSON.stringify(name)} is not a member before or after the change`);
  }
  const ringOf = (members: readonly string[]) => {
    try {
      return createRing({ members, vnodes, weights: Object.fromEntries(Object.entries(weights).filter(([m]) => members.includes(m))) });
    } catch (err) {
      throw new SimulationError(`ring: ${(err as Error).message}`, { cause: err });
    }
  };
  return {
    spec,
    before: ringOf(change.before),
    after: ringOf(change.after),
    nBefore: Math.min(n, change.before.length),
    nAfter: Math.min(n, change.after.length),
    n,
    weights,
    owner: newTally(k),
    replicas: newTally(k),
    setsChanged: 0,
    setsChangedBytes: 0,
  };
}

function tallyRing(run: RingRun, name: BucketName, bytes: number, index: Map<string, number>, inB: Int32Array): void {
  const k = run.owner.loadBefore.length;
  const before = run.before.preferenceList(name, run.nBefore);
  const after = run.after.preferenceList(name, run.nAfter);
  const ob = index.get(before[0]!.node)!;
  const oa = index.get(after[0]!.node)!;
  const o = run.owner;
  o.loadBefore[ob]! += 1;
  o.bytesBefore[ob]! += bytes;
  o.loadAfter[oa]! += 1;
  o.bytesAfter[oa]! += bytes;
  if (ob !== oa) {
    o.moves[ob * k + oa]! += 1;
    o.moveBytes[ob * k + oa]! += bytes;
  }
  const r = run.replicas;
  for (let i = 0; i < before.length; i++) {
    const b = index.get(before[i]!.node)!;
    inB[i] = b;
    r.loadBefore[b]! += 1;
    r.bytesBefore[b]! += bytes;
  }
  // Pair each node entering the set with one leaving it, in ring order: that is the copy it
  // takes over. An entering node with nobody leaving (the set grew) copies from the old owner.
  let leaving = 0;
  let entered = 0;
  for (let i = 0; i < after.length; i++) {
    const a = index.get(after[i]!.node)!;
    r.loadAfter[a]! += 1;
    r.bytesAfter[a]! += bytes;
    let held = false;
    for (let j = 0; j < before.length; j++) if (inB[j] === a) held = true;
    if (held) continue;
    entered++;
    let from = ob;
    for (; leaving < before.length; leaving++) {
      const candidate = inB[leaving]!;
      if (!after.some((x) => index.get(x.node) === candidate)) {
        from = candidate;
        leaving++;
        break;
      }
    }
    r.moves[from * k + a]! += 1;
    r.moveBytes[from * k + a]! += bytes;
  }
  if (entered > 0 || before.length !== after.length) {
    run.setsChanged++;
    run.setsChangedBytes += bytes;
  }
}

function rangeResult(spec: RangeSpec, change: MembershipChange, histogram: FirstByteHistogram): StrategyResult {
  const before =
    spec.table !== undefined
      ? parseRangeTable(spec.table as readonly RangeEntryInput[], 'starting table')
      : spec.initial === 'balanced'
        ? balancedTable(change.before, histogram)
        : evenTable(change.before);
  for (const [i, e] of before.entries()) {
    if (!change.before.includes(e.node)) throw new SimulationError(`starting table[${i}].node: ${JSON.stringify(e.node)} is not a member (${change.before.join(', ')})`);
  }
  const after = nextRangeTable(spec.policy, before, change, histogram);
  const k = change.nodes.length;
  const ownB = ownersByByte(before, change.nodes);
  const ownA = ownersByByte(after, change.nodes);
  const t = newTally(k);
  for (let b = 0; b < 256; b++) {
    const c = histogram.buckets[b]!;
    if (c === 0) continue;
    const bytes = histogram.bytes[b]!;
    const ob = ownB[b]!;
    const oa = ownA[b]!;
    if (ob < 0) t.unplacedBefore += c;
    else {
      t.loadBefore[ob]! += c;
      t.bytesBefore[ob]! += bytes;
    }
    if (oa < 0) t.unplacedAfter += c;
    else {
      t.loadAfter[oa]! += c;
      t.bytesAfter[oa]! += bytes;
    }
    if (ob >= 0 && oa >= 0 && ob !== oa) {
      t.moves[ob * k + oa]! += c;
      t.moveBytes[ob * k + oa]! += bytes;
    }
  }
  const ideal = idealChangedFraction({ before: equalWeights(change.before), after: equalWeights(change.after), replicas: 1 });
  const placed = placedBoth(histogram, ownB, ownA);
  return {
    kind: 'range',
    label: spec.label ?? `range (${spec.policy.name})`,
    nodes: change.nodes,
    unplaced: { before: t.unplacedBefore, after: t.unplacedAfter },
    owner: measure(t, change, placed, ideal),
    load: picture(t, change),
    transfers: transfers(t, change.nodes),
    matrix: matrix(t, k),
    range: { policy: spec.policy.name, before: plainTable(before), after: plainTable(after) },
  };
}

function ringResult(run: RingRun, change: MembershipChange): StrategyResult {
  const weightsOf = (members: readonly string[]) => new Map(members.map((m) => [m, run.weights[m] ?? 1]));
  const placed = totalOf(run.owner.loadBefore);
  const ownerIdeal = idealChangedFraction({ before: weightsOf(change.before), after: weightsOf(change.after), replicas: 1 });
  const setIdeal = idealChangedFraction({ before: weightsOf(change.before), after: weightsOf(change.after), replicas: run.n });
  const replicaMeasure = measure(run.replicas, change, placed, setIdeal);
  const fraction = placed === 0 ? 0 : run.setsChanged / placed;
  return {
    kind: 'ring',
    label: run.spec.label ?? `ring (${run.before.vnodes} vnodes, N=${run.n})`,
    nodes: change.nodes,
    unplaced: { before: 0, after: 0 },
    owner: measure(run.owner, change, placed, ownerIdeal),
    load: picture(run.owner, change),
    transfers: transfers(run.owner, change.nodes),
    matrix: matrix(run.owner, change.nodes.length),
    replicaSets: {
      ...replicaMeasure,
      changed: run.setsChanged,
      changedBytes: run.setsChangedBytes,
      fraction,
      ratioToIdeal: setIdeal === 0 ? null : fraction / setIdeal,
      n: run.n,
      copies: replicaMeasure.changed,
      copiesBytes: replicaMeasure.changedBytes,
    },
    replicaLoad: picture(run.replicas, change),
    replicaTransfers: transfers(run.replicas, change.nodes),
    ring: { vnodes: run.before.vnodes, n: run.n, weights: run.weights },
  };
}

function placedBoth(h: FirstByteHistogram, ownB: Int16Array, ownA: Int16Array): number {
  let placed = 0;
  for (let b = 0; b < 256; b++) if (ownB[b]! >= 0 && ownA[b]! >= 0) placed += h.buckets[b]!;
  return placed;
}

function measure(t: Tally, change: MembershipChange, placed: number, ideal: number): ChangeMeasure {
  const k = change.nodes.length;
  const survivor = change.nodes.map((n) => change.survivors.includes(n));
  let changed = 0;
  let changedBytes = 0;
  let between = 0;
  let betweenBytes = 0;
  for (let f = 0; f < k; f++) {
    for (let to = 0; to < k; to++) {
      const c = t.moves[f * k + to]!;
      changed += c;
      changedBytes += t.moveBytes[f * k + to]!;
      if (survivor[f] && survivor[to]) {
        between += c;
        betweenBytes += t.moveBytes[f * k + to]!;
      }
    }
  }
  const fraction = placed === 0 ? 0 : changed / placed;
  return { changed, changedBytes, fraction, ideal, ratioToIdeal: ideal === 0 ? null : fraction / ideal, betweenOldNodes: between, betweenOldNodesBytes: betweenBytes };
}

function picture(t: Tally, change: MembershipChange): LoadPicture {
  const at = (members: readonly string[], load: Float64Array, bytes: Float64Array) =>
    members.map((node) => {
      const i = change.nodes.indexOf(node);
      return { node, buckets: load[i]!, bytes: bytes[i]! };
    });
  const before = at(change.before, t.loadBefore, t.bytesBefore);
  const after = at(change.after, t.loadAfter, t.bytesAfter);
  const stats = (l: NodeLoad[]) => ({ buckets: loadStats(l.map((x) => x.buckets)), bytes: loadStats(l.map((x) => x.bytes)) });
  return { before, after, stats: { before: stats(before), after: stats(after) } };
}

function transfers(t: Tally, nodes: readonly string[]): Transfer[] {
  const k = nodes.length;
  const out: Transfer[] = [];
  for (let f = 0; f < k; f++) {
    for (let to = 0; to < k; to++) {
      const c = t.moves[f * k + to]!;
      if (c > 0) out.push({ from: nodes[f]!, to: nodes[to]!, buckets: c, bytes: t.moveBytes[f * k + to]! });
    }
  }
  return out.sort((a, b) => b.buckets - a.buckets || b.bytes - a.bytes);
}

function matrix(t: Tally, k: number) {
  const rows = (m: Float64Array) => Array.from({ length: k }, (_, f) => Array.from(m.subarray(f * k, (f + 1) * k)));
  return { buckets: rows(t.moves), bytes: rows(t.moveBytes) };
}

function totalOf(a: Float64Array): number {
  let s = 0;
  for (const v of a) s += v;
  return s;
}

function plainTable(t: RangeTable): RangeEntry[] {
  return t.map((e) => ({ from: e.from, to: e.to, node: e.node }));
}
