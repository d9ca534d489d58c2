/**
 * What the dashboard and /stats show of the cluster, seen from one node: its members and their
 * state, how the strategy lays buckets out (the ring's owners around the circle, or the range
 * table's byte ranges), the load each node stores, and transfers in progress.
 *
 * Everything here is read through public shapes: the node's strategy (`range` exposes its
 * table, `ring` its ring and failure detector), the `kv.buckets` message every storage node
 * answers, and an optional {@link ClusterStatsSource} that other parts of ringkv (membership
 * changes, anti-entropy) fill in without this package knowing them.
 */
import { BUCKETS_MESSAGE, type RangeTable, type RingkvNode } from '@ringkv/core';

export type MemberState = 'up' | 'down' | 'joining' | 'leaving' | 'unknown';

export interface MemberView {
  name: string;
  state: MemberState;
  self: boolean;
}

export interface Transfer {
  /** Node data moves from, and to. */
  from: string;
  to: string;
  /** Units moved so far, and in all (keys, objects, bytes: see `unit`). */
  done: number;
  total: number;
  /** @default "objects" */
  unit?: string;
  /** What moves (a bucket, a partition), for people. */
  what?: string;
}

export interface StorageStats {
  buckets: number;
  keys: number;
  bytes: number;
  /** Objects this node holds for down owners (hinted handoff), by owner. */
  hinted?: Readonly<Record<string, number>>;
}

/**
 * Numbers other parts of a node provide, all optional; each is read when /metrics, /stats or
 * the dashboard asks. This is the hook membership changes (epoch, transfers, member states)
 * and anti-entropy plug into.
 */
export interface ClusterStatsSource {
  /** This node's own storage. */
  storage?(): StorageStats | Promise<StorageStats>;
  /** Members and their states, when something knows better than the strategy (membership). */
  members?(): readonly MemberView[] | Promise<readonly MemberView[]>;
  /** The committed cluster epoch. */
  epoch?(): number | undefined | Promise<number | undefined>;
  /** Data transfers in progress. */
  transfers?(): readonly Transfer[] | Promise<readonly Transfer[]>;
  /** Anti-entropy counters since the node started; undefined while the node runs none (range table). */
  antiEntropy?(): AntiEntropyStats | undefined | Promise<AntiEntropyStats | undefined>;
}

export interface AntiEntropyStats {
  exchanges: number;
  /** Objects repaired by exchanges. */
  repairs: number;
  /** Exchanges that failed (peer gone, timeout). */
  exchangesFailed?: number;
  /** Bytes of exchange messages this node sent and received. */
  bytesSent?: number;
  bytesReceived?: number;
  /** Tombstones removed once every replica held them. */
  tombstonesReaped?: number;
  /** Trees built and an exchange completed with every live peer: safe to restart the next node. */
  synced?: boolean;
}

export interface RingLayout {
  kind: 'ring';
  n: number;
  r: number;
  w: number;
  vnodes: number;
  /** Owner of each of `segments.length` equal slices of the circle, clockwise from 0. */
  segments: string[];
  /** Fraction of the circle each member owns (first-primary share). */
  share: Record<string, number>;
}

export interface RangeLayout {
  kind: 'range';
  /** Byte ranges of the first byte of bucket names, inclusive. */
  table: { from: number; to: number; node: string }[];
}

export type Layout = RingLayout | RangeLayout | { kind: 'other'; describe: string };

export interface NodeLoad {
  node: string;
  /** Answered the storage message. */
  reachable: boolean;
  /** Holds storage (a server-only node answers reachable with no storage). */
  storage: boolean;
  buckets: number;
  keys: number;
  bytes: number;
}

export interface ClusterView {
  node: string;
  strategy: string;
  describe: string;
  members: MemberView[];
  layout: Layout;
  load: NodeLoad[];
  transfers: Transfer[];
  epoch?: number;
  /** When this view was taken (ms since the epoch). */
  at: number;
}

/**
 * The parts of the strategies read here, all optional: the ring's (see @ringkv/ring's
 * RingStrategy: `ring`, `config`, `detector`) and the range table's (`table`).
 */
interface StrategyParts {
  name: string;
  describe(): string;
  ring?: { members: readonly string[]; ownerAt?(position: number): string };
  config?: { n: number; r: number; w: number; vnodes: number };
  detector?(): { isUp(node: string): boolean } | undefined;
  table?(): RangeTable;
}

/** Slices of the circle drawn by the dashboard. */
export const RING_SEGMENTS = 360;

/**
 * A managed cluster's epoch strategy (@ringkv/ring's EpochRingStrategy) reads from `readRing` and
 * runs its failure detector on `base`, a ring strategy over every node involved (old and new
 * members while ownership moves): seen here as a ring whose members are those of `base`.
 */
interface EpochParts {
  readRing?: { members: readonly string[]; ownerAt?(position: number): string };
  base?: StrategyParts;
}

// `memberNames`, not `members`: a strategy's own `members` is a method (core's Strategy.members()).
function partsOf(node: RingkvNode): StrategyParts & { memberNames?: readonly string[] } {
  const strategy = node.strategy() as unknown as StrategyParts & EpochParts;
  if (strategy.ring || !strategy.readRing || !strategy.base) return strategy;
  const base = strategy.base;
  return {
    name: strategy.name,
    describe: () => strategy.describe(),
    ring: strategy.readRing,
    ...(base.config ? { config: base.config } : {}),
    detector: () => base.detector?.(),
    ...(base.ring ? { memberNames: base.ring.members } : {}),
  };
}

export function layoutOf(node: RingkvNode): Layout {
  const strategy = partsOf(node);
  if (strategy.name === 'range' && typeof strategy.table === 'function') {
    return { kind: 'range', table: strategy.table().map((e) => ({ from: e.from, to: e.to, node: e.node })) };
  }
  const ring = strategy.ring;
  if (strategy.name === 'ring' && ring && typeof ring.ownerAt === 'function' && strategy.config) {
    const segments: string[] = [];
    const counts: Record<string, number> = {};
    for (let i = 0; i < RING_SEGMENTS; i++) {
      // The middle of each slice, so a slice shows who owns most of it.
      const owner = ring.ownerAt(Math.floor(((i + 0.5) / RING_SEGMENTS) * 0x100000000));
      segments.push(owner);
      counts[owner] = (counts[owner] ?? 0) + 1;
    }
    const share = Object.fromEntries(ring.members.map((m) => [m, (counts[m] ?? 0) / RING_SEGMENTS]));
    const { n, r, w, vnodes } = strategy.config;
    return { kind: 'ring', n, r, w, vnodes, segments, share };
  }
  return { kind: 'other', describe: strategy.describe() };
}

/** Members as the strategy knows them, with states from the ring's failure detector where there is one. */
export function strategyMembers(node: RingkvNode): MemberView[] {
  const strategy = partsOf(node);
  let names: string[];
  let isUp: ((m: string) => boolean) | undefined;
  if (strategy.name === 'ring' && strategy.ring) {
    names = [...(strategy.memberNames ?? strategy.ring.members)];
    const detector = strategy.detector?.();
    if (detector) isUp = (m) => detector.isUp(m);
  } else if (strategy.name === 'range' && typeof strategy.table === 'function') {
    names = [...new Set(strategy.table().map((e) => e.node))];
  } else {
    names = [];
  }
  // The node asking is not listed unless it is a member: a server-only node owns nothing.
  names.sort();
  return names.map((name) => ({
    name,
    self: name === node.name,
    state: name === node.name ? 'up' : isUp ? (isUp(name) ? 'up' : 'down') : 'unknown',
  }));
}

interface BucketSummaryLike {
  keys?: unknown;
  bytes?: unknown;
}

/** What `node` stores, asked with the storage message; never throws. */
export async function loadOf(from: RingkvNode, node: string, timeoutMs: number): Promise<NodeLoad> {
  try {
    const reply = await from.send(node, BUCKETS_MESSAGE, {}, timeoutMs);
    const list = Array.isArray(reply) ? (reply as BucketSummaryLike[]) : [];
    let keys = 0;
    let bytes = 0;
    for (const b of list) {
      keys += typeof b.keys === 'number' ? b.keys : 0;
      bytes += typeof b.bytes === 'number' ? b.bytes : 0;
    }
    return { node, reachable: true, storage: true, buckets: list.length, keys, bytes };
  } catch (err) {
    // A node that answers "I do not handle that" is up, it just stores nothing (server-only).
    const name = (err as Error).name;
    const reachable = name === 'BadRequestError';
    return { node, reachable, storage: false, buckets: 0, keys: 0, bytes: 0 };
  }
}

export interface ClusterViewOptions {
  node: RingkvNode;
  source?: ClusterStatsSource;
  /** Wait for each node's load at most this long. @default 2000 */
  loadTimeoutMs?: number;
}

/** Takes one view of the cluster (asks every member for its load, in parallel). */
export async function takeClusterView(options: ClusterViewOptions): Promise<ClusterView> {
  const { node, source } = options;
  const timeout = options.loadTimeoutMs ?? 2000;
  const members = source?.members ? [...(await source.members())] : strategyMembers(node);
  const load = await Promise.all(members.map((m) => loadOf(node, m.name, timeout)));
  for (const m of members) {
    // Without a failure detector (range table), whether the node answered is its state.
    if (m.state === 'unknown') m.state = load.find((l) => l.node === m.name)?.reachable ? 'up' : 'down';
  }
  const epoch = await source?.epoch?.();
  const strategy = node.strategy();
  return {
    node: node.name,
    strategy: strategy.name,
    describe: strategy.describe(),
    members,
    layout: layoutOf(node),
    load,
    transfers: source?.transfers ? [...(await source.transfers())] : [],
    ...(epoch !== undefined ? { epoch } : {}),
    at: Date.now(),
  };
}
