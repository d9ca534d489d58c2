/**
 * The ring's settings, checked beyond what core's config schema checks (which validates the
 * file): here the strategy validates what it is actually given, including from code, and says
 * which field is wrong with a ConfigError.
 *
 * @example
 * const settings = resolveRingConfig({ members: ['a@h', 'b@h', 'c@h'] }); // n 3, r 2, w 2
 */
import { resolveAntiEntropyConfig, type AntiEntropyConfig, type ResolvedAntiEntropyConfig } from './anti-entropy/anti-entropy-config.js';
import { ConfigError, DEFAULT_RING_N, DEFAULT_RING_VNODES, defaultQuorum, NODE_NAME_PATTERN } from '@ringkv/core';
import { DEFAULT_MAX_CLOCK_OFFSET_MS } from './hybrid-clock.js';
import { DEFAULT_PLACEMENT_CACHE_SIZE } from './preference-list.js';

/** `coordinator`: one round trip (default); `read-before-write`: the version read from R replicas first, then the write to N. */
export type WritePathKind = 'coordinator' | 'read-before-write';

/** Time between failure-detector ping rounds. */
export const DEFAULT_PING_INTERVAL_MS = 1000;
/** How long a ping may take before the member is suspected down. */
export const DEFAULT_PING_TIMEOUT_MS = 1000;
/** Time between hinted-handoff rounds (a member coming back also starts one at once). */
export const DEFAULT_HANDOFF_INTERVAL_MS = 2000;
/** Objects per handoff batch; one batch in flight per owner. */
export const DEFAULT_HANDOFF_BATCH_SIZE = 100;
/** Time between tombstone-reaping rounds. */
export const DEFAULT_REAP_INTERVAL_MS = 60_000;
/** A tombstone is kept at least this long after its delete (see docs/ring.md, "Tombstones"). */
export const DEFAULT_TOMBSTONE_GRACE_MS = 3_600_000;

export interface RingStrategyConfig {
  /** Ring members (node names). */
  members: readonly string[];
  /** Replicas per bucket. @default 3 */
  n?: number;
  /** Read quorum. @default floor(n/2)+1 */
  r?: number;
  /** Write quorum. @default floor(n/2)+1 */
  w?: number;
  /** Virtual nodes per member of weight 1. @default DEFAULT_RING_VNODES */
  vnodes?: number;
  /** Relative weight per member. @default 1 each */
  weights?: Readonly<Record<string, number>>;
  /** @default 1000 */
  pingIntervalMs?: number;
  /** @default 1000 */
  pingTimeoutMs?: number;
  /** @default 2000 */
  handoffIntervalMs?: number;
  /** @default 100 */
  handoffBatchSize?: number;
  /** @default 60000 */
  reapIntervalMs?: number;
  /** @default 3600000 */
  tombstoneGraceMs?: number;
  /**
   * Versions stamped further ahead of this node's clock than this are refused (logged, never
   * merged or observed). @default 60000
   */
  maxClockOffsetMs?: number;
  /**
   * How writes travel: `coordinator` (one round trip: a replica versions the write against
   * what it holds and sends the result) or `read-before-write` (the version read from R
   * replicas, then the write applied on N; kept to measure what the first buys).
   * @default 'coordinator'
   */
  writePath?: WritePathKind;
  /** Replica messages to one node in the same event-loop turn travel as one request. @default true */
  batchReplicaMessages?: boolean;
  /** Buckets whose ring walk is cached per ring version; 0 turns the cache off. @default 10000 */
  placementCacheSize?: number;
  /**
   * A coordinator that holds a replica reads its own copy and asks the other replicas for a
   * digest of theirs, reading in full only those that differ. @default true
   */
  digestReads?: boolean;
  /** Active anti-entropy (anti-entropy/anti-entropy-config.ts has the defaults). */
  antiEntropy?: AntiEntropyConfig;
}

export type ResolvedRingConfig = Required<Omit<RingStrategyConfig, 'weights' | 'antiEntropy'>> & {
  weights: Readonly<Record<string, number>>;
  antiEntropy: ResolvedAntiEntropyConfig;
};

export function resolveRingConfig(config: RingStrategyConfig): ResolvedRingConfig {
  if (config === null || typeof config !== 'object') throw new ConfigError('ring: configuration must be an object');
  const problems: string[] = [];
  const members = config.members;
  if (!Array.isArray(members) || members.length === 0) {
    problems.push('ring.members: strategy "ring" needs at least one member');
  } else {
    members.forEach((m, i) => {
      if (typeof m !== 'string' || !NODE_NAME_PATTERN.test(m)) problems.push(`ring.members[${i}]: must look like name@host, got ${JSON.stringify(m)}`);
    });
    if (new Set(members).size !== members.length) problems.push('ring.members: members must be distinct');
  }
  const count = Array.isArray(members) ? members.length : 0;
  const int = (field: keyof RingStrategyConfig, value: unknown, fallback: number, min: number, max: number): number => {
    if (value === undefined) return fallback;
    if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
      problems.push(`ring.${field}: must be an integer from ${min} to ${max}, got ${JSON.stringify(value)}`);
      return fallback;
    }
    return value;
  };
  const n = int('n', config.n, Math.min(DEFAULT_RING_N, Math.max(count, 1)), 1, Number.MAX_SAFE_INTEGER);
  if (count > 0 && n > count) problems.push(`ring.n: n (${n}) is larger than the number of members (${count})`);
  const r = int('r', config.r, defaultQuorum(n), 1, Number.MAX_SAFE_INTEGER);
  const w = int('w', config.w, defaultQuorum(n), 1, Number.MAX_SAFE_INTEGER);
  if (r > n) problems.push(`ring.r: r (${r}) is larger than n (${n})`);
  if (w > n) problems.push(`ring.w: w (${w}) is larger than n (${n})`);
  const vnodes = int('vnodes', config.vnodes, DEFAULT_RING_VNODES, 1, 100_000);
  const weights = config.weights ?? {};
  if (weights === null || typeof weights !== 'object' || Array.isArray(weights)) {
    problems.push('ring.weights: must be an object of member -> positive number');
  } else {
    for (const [name, weight] of Object.entries(weights)) {
      if (!Array.isArray(members) || !members.includes(name)) problems.push(`ring.weights.${name}: weight given for a node that is not a member`);
      if (typeof weight !== 'number' || !Number.isFinite(weight) || weight <= 0) {
        problems.push(`ring.weights.${name}: must be a positive number, got ${JSON.stringify(weight)}`);
      }
    }
  }
  const ms = (field: keyof RingStrategyConfig, fallback: number) => int(field, config[field], fallback, 1, 86_400_000 * 365);
  const resolved: ResolvedRingConfig = {
    members: Array.isArray(members) ? [...members] : [],
    n,
    r,
    w,
    vnodes,
    weights: { ...weights },
    pingIntervalMs: ms('pingIntervalMs', DEFAULT_PING_INTERVAL_MS),
    pingTimeoutMs: ms('pingTimeoutMs', DEFAULT_PING_TIMEOUT_MS),
    handoffIntervalMs: ms('handoffIntervalMs', DEFAULT_HANDOFF_INTERVAL_MS),
    handoffBatchSize: int('handoffBatchSize', config.handoffBatchSize, DEFAULT_HANDOFF_BATCH_SIZE, 1, 100_000),
    reapIntervalMs: ms('reapIntervalMs', DEFAULT_REAP_INTERVAL_MS),
    tombstoneGraceMs: ms('tombstoneGraceMs', DEFAULT_TOMBSTONE_GRACE_MS),
    maxClockOffsetMs: ms('maxClockOffsetMs', DEFAULT_MAX_CLOCK_OFFSET_MS),
    writePath: config.writePath ?? 'coordinator',
    batchReplicaMessages: config.batchReplicaMessages ?? true,
    placementCacheSize: int('placementCacheSize', config.placementCacheSize, DEFAULT_PLACEMENT_CACHE_SIZE, 0, 10_000_000),
    digestReads: config.digestReads ?? true,
    antiEntropy: resolveAntiEntropyConfig(config.antiEntropy, problems),
  };
  if (resolved.writePath !== 'coordinator' && resolved.writePath !== 'read-before-write') {
    problems.push(`ring.writePath: must be "coordinator" or "read-before-write", got ${JSON.stringify(config.writePath)}`);
  }
  if (typeof resolved.batchReplicaMessages !== 'boolean') {
    problems.push(`ring.batchReplicaMessages: must be true or false, got ${JSON.stringify(config.batchReplicaMessages)}`);
  }
  if (typeof resolved.digestReads !== 'boolean') {
    problems.push(`ring.digestReads: must be true or false, got ${JSON.stringify(config.digestReads)}`);
  }
  if (problems.length) throw new ConfigError(`invalid ring configuration:\n${problems.map((p) => `  ${p}`).join('\n')}`);
  return resolved;
}
