/**
 * What the `ringkv cluster ...` commands do, apart from printing: read the cluster state,
 * ask every node what it holds (naming the ones that do not answer), stage changes, plan them
 * with the simulation on the real buckets and sizes, commit a plan only if the state it was
 * computed from is unchanged, and control transfers. Each function takes an open
 * {@link ClusterStateStore} and a transport, so tests drive it in process too.
 */
import { randomBytes } from 'node:crypto';
import {
  ArgumentError,
  BUCKETS_MESSAGE,
  beginTransition,
  bucketHex,
  casDoc,
  DEFAULT_CLUSTER_LIVENESS_MS,
  decodeState,
  decodeTransfers,
  encodeDoc,
  liveNodes,
  readSeen,
  readState,
  readTransfers,
  ringAfter,
  RevisionMismatchError,
  stageChange,
  STATE_KEY,
  TRANSFERS_KEY,
  waitingFor,
  type BucketSummary,
  type ClusterLayout,
  type ClusterState,
  type ClusterStateStore,
  type NodeSeen,
  parseRangeTable,
  type RangeEntryInput,
  type RangeTable,
  type StagedChange,
  type TransferRecord,
  type TransfersDoc,
  type Transport,
} from '@ringkv/core';
import { histogramOf, nextRangeTable, simulate, type FirstByteHistogram, type LoadPicture, type RangePolicy, type Transfer } from '@ringkv/sim';
import { askAntiEntropy, type AntiEntropySummary } from './anti-entropy-status.js';

export const PLAN_KEY = 'cluster.plan';

export interface Holding {
  readonly node: string;
  readonly ok: boolean;
  readonly error?: string;
  readonly buckets: readonly BucketSummary[];
}

/** Asks each node for its buckets; a node that does not answer within `timeoutMs` is reported, not fatal. */
export async function askHoldings(transport: Transport, nodes: readonly string[], timeoutMs = 2000): Promise<Holding[]> {
  return Promise.all(
    nodes.map(async (node) => {
      try {
        const reply = await transport.request(node, { type: BUCKETS_MESSAGE, body: null }, { timeoutMs });
        if (!Array.isArray(reply)) return { node, ok: false, error: 'answered something other than a bucket list', buckets: [] };
        const buckets = (reply as BucketSummary[]).filter((b) => b?.bucket instanceof Uint8Array && typeof b.bytes === 'number');
        return { node, ok: true, buckets };
      } catch (err) {
        const e = err as Error;
        return { node, ok: false, error: `${e.name}: ${e.message}`, buckets: [] };
      }
    }),
  );
}

export type MemberState = 'valid' | 'joining' | 'leaving' | 'down' | 'not-member';

export interface MemberStatus {
  node: string;
  state: MemberState;
  up: boolean;
  /** The epoch this node last acknowledged (its heartbeat), if any. */
  epoch: number | null;
  buckets: number;
  keys: number;
  bytes: number;
  /**
   * Its anti-entropy (counters since it started; `synced` once it met every live peer): what a
   * rolling restart waits for. null where none runs; absent when the node did not answer.
   */
  antiEntropy?: AntiEntropySummary | null;
  error?: string;
  warning?: string;
}

export interface TransferStatus {
  id: string;
  from: string;
  to: string;
  status: TransferRecord['status'];
  plannedBuckets: number;
  doneBuckets: number;
  plannedBytes: number;
  doneBytes: number;
  /** Bytes per second since it started; null before. */
  rate: number | null;
  /** Seconds left at that rate; null when unknown. */
  eta: number | null;
}

export interface ClusterStatus {
  epoch: number;
  strategy: ClusterLayout['strategy'];
  /** The committed range table (range-table clusters; the old one while a transition runs). */
  table?: ReadonlyArray<{ from: number; to: number; node: string }>;
  members: MemberStatus[];
  staged: readonly StagedChange[];
  transition: { id: string; phase: string; from: readonly string[]; to: readonly string[]; waitingFor: string[] } | null;
  transfers: TransferStatus[];
  limits: ClusterState['limits'];
  paused: boolean;
  warnings: string[];
  settled: boolean;
}

export async function clusterStatus(
  store: ClusterStateStore,
  transport: Transport,
  options: { timeoutMs?: number; now?: number; livenessMs?: number } = {},
): Promise<ClusterStatus> {
  const found = await readState(store);
  if (!found) throw new ArgumentError('no cluster state yet: start a node with "cluster": {"managed": true} and its members to seed one');
  const state = found.doc;
  const now = options.now ?? Date.now();
  const liveness = options.livenessMs ?? DEFAULT_CLUSTER_LIVENESS_MS;
  const seen = await readSeen(store);
  const live = new Set(liveNodes(seen, now, liveness).map((s) => s.node));
  const t = state.transition;
  const from = t ? t.from.members : state.layout.members;
  const to = t ? t.to.members : state.layout.members;
  const names = [...new Set([...from, ...to, ...seen.filter((s) => live.has(s.node) && s.storage).map((s) => s.node)])].sort();
  const [holdings, antiEntropy] = await Promise.all([askHoldings(transport, names, options.timeoutMs), askAntiEntropy(transport, names, options.timeoutMs)]);
  const warnings: string[] = [];
  const members: MemberStatus[] = holdings.map((h) => {
    const s = seen.find((x) => x.node === h.node) as (NodeSeen & { warning?: string }) | undefined;
    const inFrom = from.includes(h.node);
    const inTo = to.includes(h.node);
    const state: MemberState =
      !inFrom && !inTo ? 'not-member' : !h.ok ? 'down' : inFrom && !inTo ? 'leaving' : !inFrom && inTo ? 'joining' : 'valid';
    if (!h.ok && (inFrom || inTo)) warnings.push(`member down: ${h.node} did not answer (${h.error})`);
    if (s?.warning) warnings.push(`${h.node}: ${s.warning}`);
    return {
      node: h.node,
      state,
      up: h.ok,
      epoch: s?.epoch ?? null,
      buckets: h.buckets.filter((b) => b.keys > 0 || b.bytes > 0).length,
      keys: h.buckets.reduce((n, b) => n + b.keys, 0),
      bytes: h.buckets.reduce((n, b) => n + b.bytes, 0),
      ...(antiEntropy.has(h.node) ? { antiEntropy: antiEntropy.get(h.node)! } : {}),
      ...(h.error ? { error: h.error } : {}),
      ...(s?.warning ? { warning: s.warning } : {}),
    };
  });
  const doc = t ? await readTransfers(store) : undefined;
  const items = doc && t && doc.doc.transition === t.id ? doc.doc.items : [];
  const transfers = items.map((i) => transferStatus(i, now));
  const storageLive = seen.filter((s) => live.has(s.node) && s.storage);
  const settled = !t && storageLive.every((s) => s.epoch === state.epoch && (s.cleaned ?? 0) >= state.epoch);
  return {
    epoch: state.epoch,
    strategy: state.layout.strategy,
    ...(state.layout.strategy === 'range' ? { table: state.layout.table.map((e) => ({ from: e.from, to: e.to, node: e.node })) } : {}),
    members,
    staged: state.staged,
    transition: t
      ? { id: t.id, phase: t.phase, from: t.from.members, to: t.to.members, waitingFor: waitingFor(seen, state.epoch, now, liveness) }
      : null,
    transfers,
    limits: state.limits,
    paused: state.paused,
    warnings,
    settled,
  };
}

function transferStatus(i: TransferRecord, now: number): TransferStatus {
  const elapsed = i.startedAt ? ((i.finishedAt ?? now) - i.startedAt) / 1000 : 0;
  const rate = elapsed > 0 ? i.doneBytes / elapsed : null;
  const left = Math.max(0, i.plannedBytes - i.doneBytes);
  return {
    id: i.id,
    from: i.from,
    to: i.to,
    status: i.status,
    plannedBuckets: i.buckets.length,
    doneBuckets: i.doneBuckets,
    plannedBytes: i.plannedBytes,
    doneBytes: i.doneBytes,
    rate,
    eta: i.status === 'done' ? 0 : rate && rate > 0 ? left / rate : null,
  };
}

/** Stages one change (compare-and-set on the state). */
export async function stage(store: ClusterStateStore, change: StagedChange): Promise<ClusterState> {
  const r = await casDoc<ClusterState>(store, STATE_KEY, decodeState, (cur) => {
    if (!cur) throw new ArgumentError('no cluster state yet: start the seed nodes first');
    return stageChange(cur, change);
  });
  return r.doc!;
}

export async function clearStaged(store: ClusterStateStore): Promise<ClusterState> {
  const r = await casDoc<ClusterState>(store, STATE_KEY, decodeState, (cur) => {
    if (!cur) throw new ArgumentError('no cluster state yet');
    return cur.staged.length === 0 ? undefined : { ...cur, staged: [] };
  });
  return r.doc!;
}

export interface PlanMove {
  from: string;
  to: string;
  buckets: number;
  bytes: number;
}

export interface ClusterPlan {
  /** The state revision the plan was computed from: commit applies it only if the state is still there. */
  stateRevision: number;
  epoch: number;
  changes: readonly StagedChange[];
  to: ClusterLayout;
  membersBefore: readonly string[];
  membersAfter: readonly string[];
  buckets: number;
  bytes: number;
  /** Per source -> destination: buckets and bytes that will move (replica copies under the ring). */
  moves: PlanMove[];
  load: { before: LoadSummary; after: LoadSummary; perNode: { before: NodeLoadLine[]; after: NodeLoadLine[] } };
  /** Buckets moved between two nodes that both stay (the ring keeps this at 0). */
  betweenStaying: number;
  warnings: string[];
  down: string[];
}

interface LoadSummary {
  maxBytes: number;
  meanBytes: number;
  maxOverMean: number;
}
interface NodeLoadLine {
  node: string;
  buckets: number;
  bytes: number;
}

/** Runs the simulation on what the members really hold, for the staged changes. Saves it for `commit`. */
export async function planStaged(
  store: ClusterStateStore,
  transport: Transport,
  options: { timeoutMs?: number; policy?: RangePolicy } = {},
): Promise<ClusterPlan> {
  const found = await readState(store);
  if (!found) throw new ArgumentError('no cluster state yet');
  const state = found.doc;
  if (state.transition)
    throw new ArgumentError(
      `a transition is in progress (${state.transition.id}, phase ${state.transition.phase}): plan again once it finished`,
    );
  if (state.staged.length === 0)
    throw new ArgumentError('nothing is staged: stage a change with `ringkv cluster join/leave/replace` first');
  const layout = state.layout;
  const warnings: string[] = [];
  const before = layout.members;
  const added = state.staged.flatMap((c) => (c.action === 'join' ? [c.node] : c.action === 'replace' ? [c.by] : []));
  const removed = state.staged.flatMap((c) => (c.action === 'leave' || c.action === 'replace' ? [c.node] : []));
  const after = [...before.filter((m) => !removed.includes(m)), ...added].sort();
  if (layout.strategy === 'ring' && after.length < layout.n) {
    warnings.push(`replicas not on distinct nodes: n = ${layout.n} but only ${after.length} members after the change; commit refuses it`);
  }
  const holdings = await askHoldings(transport, before, options.timeoutMs);
  const down = holdings.filter((h) => !h.ok).map((h) => h.node);
  for (const h of holdings) {
    if (!h.ok)
      warnings.push(
        layout.strategy === 'ring'
          ? `member down: ${h.node} did not answer (${h.error}); its buckets are counted from their other replicas`
          : `member down: ${h.node} did not answer (${h.error}); its buckets are not counted, and its transfers wait until it is back`,
      );
  }
  const sizes = new Map<string, { name: Uint8Array; bytes: number }>();
  for (const h of holdings) {
    for (const b of h.buckets) {
      const k = bucketHex(b.bucket);
      const cur = sizes.get(k);
      if (!cur) sizes.set(k, { name: b.bucket, bytes: b.bytes });
      else cur.bytes = Math.max(cur.bytes, b.bytes);
    }
  }
  const entries = [...sizes.values()];
  // The range table's next table: a replacing node takes exactly the ranges of the node it
  // replaces; joins and leaves follow the policy, on the sizes the members reported.
  const rangeTarget =
    layout.strategy === 'range'
      ? nextClusterTable(layout.table, state.staged, after, options.policy ?? { name: 'bytes' }, histogramOf(entries.map((e) => [e.name[0]!, e.bytes] as const)))
      : undefined;
  const report = simulate({
    change: { members: before, add: added, remove: removed },
    strategies: [
      layout.strategy === 'ring'
        ? { kind: 'ring', vnodes: layout.vnodes, n: layout.n, ...(layout.weights ? { weights: layout.weights } : {}) }
        : { kind: 'range', policy: { name: 'table', table: rangeTarget! }, table: layout.table },
    ],
    buckets: entries,
  });
  const result = report.results[0]!;
  const transfers: readonly Transfer[] = result.replicaTransfers ?? result.transfers;
  const picture: LoadPicture = result.replicaLoad ?? result.load;
  const summary = (side: 'before' | 'after'): LoadSummary => {
    const loads = picture[side];
    const max = Math.max(0, ...loads.map((l) => l.bytes));
    const mean = loads.length ? loads.reduce((s, l) => s + l.bytes, 0) / loads.length : 0;
    return { maxBytes: max, meanBytes: mean, maxOverMean: mean > 0 ? max / mean : 0 };
  };
  const afterSummary = summary('after');
  if (entries.length > 0) {
    for (const l of picture.after) {
      if (l.buckets === 0) warnings.push(`node left with nothing: ${l.node} would hold no bucket`);
      else if (afterSummary.meanBytes > 0 && l.bytes > 1.5 * afterSummary.meanBytes) {
        warnings.push(
          `node over 1.5x the mean: ${l.node} would hold ${l.bytes} bytes, ${(l.bytes / afterSummary.meanBytes).toFixed(2)}x the mean`,
        );
      }
    }
  }
  const to: ClusterLayout =
    layout.strategy === 'ring'
      ? after.length >= layout.n
        ? ringAfter(layout, state.staged)
        : { ...layout, members: after }
      : { strategy: 'range', members: after, table: (result.range?.after ?? layout.table).map((e) => ({ from: e.from, to: e.to, node: e.node })) };
  const plan: ClusterPlan = {
    stateRevision: found.revision,
    epoch: state.epoch,
    changes: state.staged,
    to,
    membersBefore: before,
    membersAfter: after,
    buckets: report.buckets,
    bytes: report.bytes,
    moves: transfers.map((t) => ({ from: t.from, to: t.to, buckets: t.buckets, bytes: t.bytes })),
    load: { before: summary('before'), after: afterSummary, perNode: { before: [...picture.before], after: [...picture.after] } },
    betweenStaying: result.replicaSets?.betweenOldNodes ?? result.owner.betweenOldNodes,
    warnings,
    down,
  };
  await casDoc<ClusterPlan>(store, PLAN_KEY, decodePlan, () => plan);
  return plan;
}

function nextClusterTable(
  table: RangeTable,
  staged: readonly StagedChange[],
  after: readonly string[],
  policy: RangePolicy,
  histogram: FirstByteHistogram,
): RangeTable {
  if (policy.name === 'table') return parseRangeTable(policy.table as readonly RangeEntryInput[], 'target table');
  const by = new Map(staged.flatMap((c) => (c.action === 'replace' ? [[c.node, c.by] as const] : [])));
  const renamed = table.map((e) => ({ from: e.from, to: e.to, node: by.get(e.node) ?? e.node }));
  const added = staged.flatMap((c) => (c.action === 'join' ? [c.node] : []));
  const removed = staged.flatMap((c) => (c.action === 'leave' ? [c.node] : []));
  return nextRangeTable(policy, renamed, { added, removed, after }, histogram);
}

function decodePlan(v: Uint8Array): ClusterPlan {
  const p = JSON.parse(new TextDecoder().decode(v)) as ClusterPlan;
  if (!p || typeof p.stateRevision !== 'number' || !p.to)
    throw new ArgumentError('the saved plan is corrupt: run `ringkv cluster plan` again');
  return p;
}

/** Applies the saved plan with a compare-and-set on the state revision it was computed from. */
export async function commitPlan(store: ClusterStateStore): Promise<ClusterState> {
  const saved = await store.get(PLAN_KEY);
  if (!saved) throw new ArgumentError('no plan: run `ringkv cluster plan` first');
  const plan = decodePlan(saved.value);
  const found = await readState(store);
  if (!found) throw new ArgumentError('no cluster state yet');
  if (found.revision !== plan.stateRevision) {
    throw new RevisionMismatchError(
      `the cluster state changed since the plan was made (revision ${plan.stateRevision}, now ${found.revision}): run \`ringkv cluster plan\` again`,
    );
  }
  if (plan.membersAfter.length < (plan.to.strategy === 'ring' ? plan.to.n : 1)) {
    throw new ArgumentError(
      `the plan leaves ${plan.membersAfter.length} members, fewer than n = ${plan.to.strategy === 'ring' ? plan.to.n : 1}: stage another change`,
    );
  }
  const next = beginTransition(found.doc, plan.to, `x${found.doc.epoch + 1}-${randomBytes(3).toString('hex')}`);
  try {
    await store.update(STATE_KEY, encodeDoc(next), plan.stateRevision);
  } catch (err) {
    if (err instanceof RevisionMismatchError) {
      throw new RevisionMismatchError('the cluster state changed while committing: run `ringkv cluster plan` again', { cause: err });
    }
    throw err;
  }
  await store.delete(PLAN_KEY);
  return next;
}

export type TransferAction = 'pause' | 'resume' | 'cancel';

/**
 * Pauses, resumes or cancels one transfer (by id) or, without an id, every transfer (pause/resume).
 * Pausing all before a commit is allowed: the change's transfers are then planned paused.
 */
export async function controlTransfers(store: ClusterStateStore, action: TransferAction, id?: string): Promise<TransfersDoc> {
  if (action === 'cancel' && !id) throw new ArgumentError('cancel needs the id of one transfer (see `ringkv cluster transfers`)');
  const r = await casDoc<TransfersDoc>(store, TRANSFERS_KEY, decodeTransfers, (cur) => {
    if (!cur && !id) return undefined;
    if (!cur) throw new ArgumentError('no transfers: nothing is moving');
    if (id && !cur.items.some((i) => i.id === id)) throw new ArgumentError(`no transfer ${id}: see \`ringkv cluster transfers\``);
    return {
      ...cur,
      items: cur.items.map((i) => {
        if ((id && i.id !== id) || i.status === 'done') return i;
        // The cursor stays: a resumed transfer continues where it stopped.
        if (action === 'resume') return i.status === 'paused' || i.status === 'cancelled' ? { ...i, status: 'waiting' as const } : i;
        return { ...i, status: action === 'pause' ? ('paused' as const) : ('cancelled' as const) };
      }),
    };
  });
  if (!id && action !== 'cancel') {
    await casDoc<ClusterState>(store, STATE_KEY, decodeState, (cur) => (cur ? { ...cur, paused: action === 'pause' } : undefined));
  }
  return r.doc ?? { transition: '', items: [] };
}

/** Sets the transfer limit: the cluster's (in and out), or one node's. */
export async function setTransferLimit(store: ClusterStateStore, limit: number, node?: string): Promise<ClusterState> {
  if (!Number.isInteger(limit) || limit < 1 || limit > 64)
    throw new ArgumentError(`the transfer limit must be an integer from 1 to 64, got ${String(limit)}`);
  const r = await casDoc<ClusterState>(store, STATE_KEY, decodeState, (cur) => {
    if (!cur) throw new ArgumentError('no cluster state yet');
    return node
      ? { ...cur, limits: { ...cur.limits, perNode: { ...(cur.limits.perNode ?? {}), [node]: limit } } }
      : { ...cur, limits: { ...cur.limits, in: limit, out: limit } };
  });
  return r.doc!;
}
