/**
 * Tombstone reaping. A delete leaves a tombstone so that replicas which still hold the old
 * value learn it is gone; reaping it too early would let such a replica hand the value back
 * (resurrection). The rule (docs/ring.md, "Tombstones"): this node reaps its own tombstones
 * older than the grace period, and only in a round where every member answered a ping and no
 * member holds hinted data. Hinted copies and failed-replica stand-ins are the only ways an old
 * value can still travel, and the grace period covers writes still in flight.
 *
 * @example
 * const reaper = createTombstoneReaper({ node, members, graceMs: 3_600_000, detector });
 * await reaper.runOnce(); // { reaped: true } when the cluster was quiet enough
 */
import type { StrategyHost } from '@ringkv/core';
import type { FailureDetector } from './failure-detector.js';
import { TICKS_PER_MS } from './hybrid-clock.js';
import { hasReplicaModule, HINTS_MESSAGE, replicaFn } from './replica-messages.js';

export interface TombstoneReaperOptions {
  node: StrategyHost;
  members: readonly string[];
  graceMs: number;
  detector: FailureDetector;
  wallMs?: () => number;
  /** Timeout of the hint queries. @default 2000 */
  timeoutMs?: number;
  /** How this node reaps once the round's checks passed. @default local `Replica.reap(olderThanTs)` */
  reap?(olderThanTs: number): Promise<number>;
}

export interface TombstoneReaper {
  runOnce(): Promise<{ reaped: boolean; reason?: string }>;
}

/** Whether this node holds hinted data for any member. */
export async function holdsHints(node: StrategyHost, members: readonly string[]): Promise<boolean> {
  if (!hasReplicaModule(node)) return false;
  for (const m of members) {
    if (m === node.name) continue;
    const batch = await replicaFn(node, 'hinted', [m, 1]);
    if (Array.isArray(batch) && batch.length > 0) return true;
  }
  return false;
}

export function createTombstoneReaper(options: TombstoneReaperOptions): TombstoneReaper {
  const { node } = options;
  return {
    async runOnce() {
      if (!hasReplicaModule(node)) return { reaped: false, reason: 'no versioned storage on this node' };
      await options.detector.probe();
      const down = options.detector.down();
      if (down.length) return { reaped: false, reason: `members down: ${down.join(', ')}` };
      const others = options.members.filter((m) => m !== node.name);
      try {
        const hints = await Promise.all(others.map((m) => node.send(m, HINTS_MESSAGE, {}, options.timeoutMs ?? 2000)));
        if (hints.some((h) => h === true) || (await holdsHints(node, options.members))) return { reaped: false, reason: 'hinted data pending' };
      } catch (err) {
        return { reaped: false, reason: `hint query failed: ${(err as Error).message}` };
      }
      const horizon = Math.floor(((options.wallMs ?? Date.now)() - options.graceMs) * TICKS_PER_MS);
      if (options.reap) await options.reap(horizon);
      else await replicaFn(node, 'reap', [horizon]);
      return { reaped: true };
    },
  };
}
