/**
 * The documents a managed cluster keeps in its {@link ClusterStateStore}, and the pure rules
 * that change them. Riak's model: changes are staged (`join`, `leave`, `replace`), planned and
 * committed; a commit starts a transition that moves ownership in phases, each phase one epoch
 * that every live node acknowledges before the next:
 *
 *   write-both  writes go to the old and the new owners (a quorum of each); reads stay old
 *   stream      new owners pull what they gain from old owners (bounded, resumable batches)
 *   read-new    reads switch to the new owners; writes still go to both
 *   cleanup     writes go to the new owners only; old owners then delete what they lost
 *
 * and the epoch after cleanup commits the new layout with no transition.
 *
 * Keys: `cluster.state` (one {@link ClusterState}), `cluster.seen.<hex node>` (one
 * {@link NodeSeen} per node, its heartbeat), `cluster.transfers` (one {@link TransfersDoc}).
 * Values are JSON; every read is validated, so a corrupt entry is reported, never trusted.
 */
import { DEFAULT_CLUSTER_LIVENESS_MS, DEFAULT_TRANSFER_LIMIT } from './defaults.js';
import { ArgumentError, BadRequestError, RevisionMismatchError } from './errors.js';
import type { RangeEntry } from './range-table.js';
import type { ClusterStateStore } from './cluster-state.js';

export const STATE_KEY = 'cluster.state';
export const TRANSFERS_KEY = 'cluster.transfers';
export const SEEN_PREFIX = 'cluster.seen.';

export interface RingLayout {
  readonly strategy: 'ring';
  /** Members, sorted. */
  readonly members: readonly string[];
  readonly n: number;
  readonly r: number;
  readonly w: number;
  readonly vnodes: number;
  readonly weights?: Readonly<Record<string, number>>;
}

export interface RangeLayout {
  readonly strategy: 'range';
  readonly members: readonly string[];
  readonly table: readonly RangeEntry[];
}

export type ClusterLayout = RingLayout | RangeLayout;

export type StagedChange =
  | { readonly action: 'join'; readonly node: string }
  | { readonly action: 'leave'; readonly node: string }
  | { readonly action: 'replace'; readonly node: string; readonly by: string };

export const PHASES = ['write-both', 'stream', 'read-new', 'cleanup'] as const;
export type TransitionPhase = (typeof PHASES)[number];

export interface Transition {
  /** Unique per commit: transfers belong to one transition. */
  readonly id: string;
  readonly from: ClusterLayout;
  readonly to: ClusterLayout;
  readonly phase: TransitionPhase;
  readonly changes: readonly StagedChange[];
  readonly startedAt: number;
}

export interface ClusterState {
  readonly format: 1;
  /** Grows by one with every change of placement (a commit, each phase, the end). */
  readonly epoch: number;
  /** The committed layout (the old one while a transition runs). */
  readonly layout: ClusterLayout;
  readonly staged: readonly StagedChange[];
  readonly transition?: Transition;
  /** Transfers each node may run at once, per direction. */
  readonly limits: { readonly in: number; readonly out: number; readonly perNode?: Readonly<Record<string, number>> };
  readonly paused: boolean;
}

/** What a node last installed, written by the node itself (its heartbeat). */
export interface NodeSeen {
  readonly node: string;
  readonly epoch: number;
  /** When written (ms since the epoch of the writer's clock). */
  readonly at: number;
  /** The epoch whose cleanup this node finished (deleted what it no longer owns). */
  readonly cleaned?: number;
  /** Whether this node stores data (role storage). */
  readonly storage: boolean;
}

export type TransferStatus = 'waiting' | 'running' | 'paused' | 'cancelled' | 'done';

export interface TransferRecord {
  readonly id: string;
  readonly from: string;
  readonly to: string;
  /** Buckets to move, hex of their bytes, in the order they are streamed. */
  readonly buckets: readonly string[];
  readonly plannedBytes: number;
  readonly doneBuckets: number;
  readonly doneBytes: number;
  /** Resume point: the bucket index, and the last key (hex) merged of that bucket. */
  readonly cursor: { readonly bucket: number; readonly after?: string };
  readonly status: TransferStatus;
  /** Who runs it now and since when (a claim older than the liveness window may be taken over). */
  readonly claimedBy?: string;
  readonly claimedAt?: number;
  readonly startedAt?: number;
  readonly finishedAt?: number;
}

export interface TransfersDoc {
  readonly transition: string;
  readonly items: readonly TransferRecord[];
}

export const seenKey = (node: string): string => `${SEEN_PREFIX}${Buffer.from(node, 'utf8').toString('hex')}`;

const enc = new TextEncoder();
const dec = new TextDecoder();

export function encodeDoc(doc: unknown): Uint8Array {
  return enc.encode(JSON.stringify(doc));
}

function parseJson(value: Uint8Array, what: string): Record<string, unknown> {
  let v: unknown;
  try {
    v = JSON.parse(dec.decode(value));
  } catch (err) {
    throw new BadRequestError(`cluster state ${what} is not valid JSON: ${(err as Error).message}`);
  }
  if (v === null || typeof v !== 'object' || Array.isArray(v)) throw new BadRequestError(`cluster state ${what} must be a JSON object`);
  return v as Record<string, unknown>;
}

const isNames = (v: unknown): v is string[] => Array.isArray(v) && v.every((x) => typeof x === 'string' && x !== '');
const isCount = (v: unknown): v is number => typeof v === 'number' && Number.isInteger(v) && v >= 0;

function checkLayout(v: unknown, what: string): ClusterLayout {
  const l = v as Record<string, unknown> | null;
  if (!l || typeof l !== 'object') throw new BadRequestError(`${what} must be an object`);
  if (!isNames(l.members)) throw new BadRequestError(`${what}.members must be a list of node names`);
  if (l.strategy === 'ring') {
    for (const f of ['n', 'r', 'w', 'vnodes'] as const) {
      if (!isCount(l[f]) || (l[f] as number) < 1) throw new BadRequestError(`${what}.${f} must be a positive integer`);
    }
    return l as unknown as RingLayout;
  }
  if (l.strategy === 'range') {
    if (!Array.isArray(l.table)) throw new BadRequestError(`${what}.table must be a list of ranges`);
    return l as unknown as RangeLayout;
  }
  throw new BadRequestError(`${what}.strategy must be "ring" or "range"`);
}

export function decodeState(value: Uint8Array): ClusterState {
  const s = parseJson(value, STATE_KEY);
  if (s.format !== 1) throw new BadRequestError(`${STATE_KEY}: unknown format ${JSON.stringify(s.format)} (this node reads format 1)`);
  if (!isCount(s.epoch)) throw new BadRequestError(`${STATE_KEY}.epoch must be a non-negative integer`);
  checkLayout(s.layout, `${STATE_KEY}.layout`);
  if (!Array.isArray(s.staged)) throw new BadRequestError(`${STATE_KEY}.staged must be a list`);
  if (s.transition !== undefined) {
    const t = s.transition as Record<string, unknown>;
    checkLayout(t?.from, `${STATE_KEY}.transition.from`);
    checkLayout(t?.to, `${STATE_KEY}.transition.to`);
    if (!PHASES.includes(t.phase as TransitionPhase))
      throw new BadRequestError(`${STATE_KEY}.transition.phase must be one of ${PHASES.join(', ')}`);
  }
  const limits = s.limits as Record<string, unknown> | undefined;
  if (!limits || !isCount(limits.in) || !isCount(limits.out)) throw new BadRequestError(`${STATE_KEY}.limits must be {in, out}`);
  return s as unknown as ClusterState;
}

export function decodeSeen(value: Uint8Array): NodeSeen {
  const s = parseJson(value, 'seen entry');
  if (typeof s.node !== 'string' || !isCount(s.epoch) || typeof s.at !== 'number')
    throw new BadRequestError('seen entry must be {node, epoch, at}');
  return s as unknown as NodeSeen;
}

export function decodeTransfers(value: Uint8Array): TransfersDoc {
  const s = parseJson(value, TRANSFERS_KEY);
  if (typeof s.transition !== 'string' || !Array.isArray(s.items))
    throw new BadRequestError(`${TRANSFERS_KEY} must be {transition, items}`);
  return s as unknown as TransfersDoc;
}

/** A fresh cluster: epoch 1, the seed layout, nothing staged. */
export function initialState(layout: ClusterLayout): ClusterState {
  return { format: 1, epoch: 1, layout, staged: [], limits: { in: DEFAULT_TRANSFER_LIMIT, out: DEFAULT_TRANSFER_LIMIT }, paused: false };
}

export interface Revisioned<T> {
  readonly doc: T;
  readonly revision: number;
}

export async function readState(store: ClusterStateStore): Promise<Revisioned<ClusterState> | undefined> {
  const e = await store.get(STATE_KEY);
  return e && { doc: decodeState(e.value), revision: e.revision };
}

export async function readTransfers(store: ClusterStateStore): Promise<Revisioned<TransfersDoc> | undefined> {
  const e = await store.get(TRANSFERS_KEY);
  return e && { doc: decodeTransfers(e.value), revision: e.revision };
}

/**
 * The nodes' heartbeats: of `nodes` when given (a read each), else of every node that wrote
 * one (a key listing first, which over NATS runs a JetStream consumer per call).
 */
export async function readSeen(store: ClusterStateStore, nodes?: readonly string[]): Promise<NodeSeen[]> {
  const out: NodeSeen[] = [];
  for (const key of nodes ? nodes.map(seenKey) : await store.keys(SEEN_PREFIX)) {
    const e = await store.get(key);
    if (!e) continue;
    try {
      out.push(decodeSeen(e.value));
    } catch {
      // A corrupt heartbeat counts as no heartbeat.
    }
  }
  return out;
}

/**
 * Read-modify-write with compare-and-set, retried when someone else wrote in between: `change`
 * gets the current document (undefined when absent) and returns the next one, or undefined to
 * leave it. Resolves to what is stored after (and whether this call changed it).
 */
export async function casDoc<T>(
  store: ClusterStateStore,
  key: string,
  decode: (v: Uint8Array) => T,
  change: (current: T | undefined) => T | undefined,
  attempts = 50,
): Promise<{ doc: T | undefined; revision: number; changed: boolean }> {
  for (let i = 0; i < attempts; i++) {
    const e = await store.get(key);
    const current = e ? decode(e.value) : undefined;
    const next = change(current);
    if (next === undefined) return { doc: current, revision: e?.revision ?? 0, changed: false };
    try {
      const revision = e ? await store.update(key, encodeDoc(next), e.revision) : await store.create(key, encodeDoc(next));
      return { doc: next, revision, changed: true };
    } catch (err) {
      if (!(err instanceof RevisionMismatchError) && (err as Error).name !== 'RevisionMismatchError') throw err;
      await new Promise((r) => setTimeout(r, Math.min(200, 5 * (i + 1)) * Math.random()));
    }
  }
  throw new RevisionMismatchError(`cluster state ${key}: gave up after ${attempts} conflicting writes`);
}

/** Writes the state only if it is still at `revision` (a commit of a plan computed from it). */
export async function writeStateIf(store: ClusterStateStore, next: ClusterState, revision: number): Promise<number> {
  return store.update(STATE_KEY, encodeDoc(next), revision);
}

/** Adds a staged change after checking it against the layout and what is staged already. */
export function stageChange(state: ClusterState, change: StagedChange): ClusterState {
  const members = state.layout.members;
  const staged = state.staged;
  const touched = new Set(staged.flatMap((c) => (c.action === 'replace' ? [c.node, c.by] : [c.node])));
  const names = change.action === 'replace' ? [change.node, change.by] : [change.node];
  for (const n of names) {
    if (typeof n !== 'string' || n === '') throw new ArgumentError('node names must be non-empty strings');
    if (touched.has(n)) throw new ArgumentError(`${n} already has a staged change; run \`ringkv cluster clear\` to start over`);
  }
  if (change.action === 'join' && members.includes(change.node)) throw new ArgumentError(`${change.node} is already a member`);
  if (change.action === 'leave' && !members.includes(change.node)) throw new ArgumentError(`${change.node} is not a member`);
  if (change.action === 'replace') {
    if (!members.includes(change.node)) throw new ArgumentError(`${change.node} is not a member`);
    if (members.includes(change.by)) throw new ArgumentError(`${change.by} is already a member`);
  }
  return { ...state, staged: [...staged, change] };
}

/** Members after the staged changes. */
export function membersAfter(members: readonly string[], changes: readonly StagedChange[]): string[] {
  let out = [...members];
  for (const c of changes) {
    if (c.action === 'join') out.push(c.node);
    else if (c.action === 'leave') out = out.filter((m) => m !== c.node);
    else out = [...out.filter((m) => m !== c.node), c.by];
  }
  return out.sort();
}

/** The next phase, or undefined after cleanup (the transition ends). */
export function nextPhase(phase: TransitionPhase): TransitionPhase | undefined {
  return PHASES[PHASES.indexOf(phase) + 1];
}

/** Nodes whose heartbeat is recent: the ones a phase waits for. */
export function liveNodes(seen: readonly NodeSeen[], now: number, livenessMs = DEFAULT_CLUSTER_LIVENESS_MS): NodeSeen[] {
  return seen.filter((s) => now - s.at <= livenessMs);
}

/** Live nodes that have not yet installed `epoch`. */
export function waitingFor(seen: readonly NodeSeen[], epoch: number, now: number, livenessMs = DEFAULT_CLUSTER_LIVENESS_MS): string[] {
  return liveNodes(seen, now, livenessMs)
    .filter((s) => s.epoch < epoch)
    .map((s) => s.node)
    .sort();
}

/** The transfer limit of `node` (a per-node override, else the cluster's). */
export function transferLimit(state: ClusterState, node: string, direction: 'in' | 'out'): number {
  return state.limits.perNode?.[node] ?? state.limits[direction];
}

export function bucketHex(bucket: Uint8Array): string {
  return Buffer.from(bucket.buffer, bucket.byteOffset, bucket.byteLength).toString('hex');
}

export function hexBytes(hex: string): Uint8Array {
  return Uint8Array.from(Buffer.from(hex, 'hex'));
}

/** The ring after the staged changes (same n, quorums and vnodes; weights of members kept). */
export function ringAfter(layout: RingLayout, changes: readonly StagedChange[]): RingLayout {
  const members = membersAfter(layout.members, changes);
  if (members.length < layout.n) {
    throw new ArgumentError(`after the staged changes the ring would have ${members.length} members, fewer than n = ${layout.n} replicas`);
  }
  const weights = layout.weights ? Object.fromEntries(Object.entries(layout.weights).filter(([m]) => members.includes(m))) : undefined;
  return { ...layout, members, ...(weights ? { weights } : {}) };
}

/** The state a commit writes: the next epoch starts moving ownership from the committed layout to `to`. */
export function beginTransition(state: ClusterState, to: ClusterLayout, id: string, at = Date.now()): ClusterState {
  if (state.transition)
    throw new ArgumentError(
      `a transition is in progress (${state.transition.id}, phase ${state.transition.phase}); wait until it finishes`,
    );
  if (state.staged.length === 0)
    throw new ArgumentError('nothing is staged: stage a change with `ringkv cluster join/leave/replace` first');
  return {
    ...state,
    epoch: state.epoch + 1,
    staged: [],
    transition: { id, from: state.layout, to, phase: 'write-both', changes: state.staged, startedAt: at },
  };
}
