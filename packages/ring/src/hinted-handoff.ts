/**
 * Hinted handoff: data a fallback holds for a down primary goes home once the primary is up.
 * Per owner, in acknowledged batches, one batch in flight: read up to `batchSize` hinted
 * objects (`Replica.hinted`), send them to the owner, which merges them (`Replica.merge`), and
 * only after its acknowledgement forget them here (`Replica.dropHinted`, which keeps anything
 * newer that arrived meanwhile). Merging is idempotent, so a batch resent after a lost
 * acknowledgement does no harm.
 *
 * @example
 * const handoff = createHintedHandoff({ node, members, isUp, batchSize: 100 });
 * await handoff.runOnce(); // hands off everything that can go now
 */
import type { Logger, StrategyHost, VersionedObject } from '@ringkv/core';
import { HANDOFF_MESSAGE, hasReplicaModule, isVersionedObject, replicaFn } from './replica-messages.js';

export interface HintedHandoffOptions {
  node: StrategyHost;
  members: readonly string[];
  isUp(node: string): boolean;
  batchSize: number;
  /** Batches per owner per round, so one round cannot run forever. @default 1000 */
  maxBatchesPerRound?: number;
  logger?: Logger;
}

export interface HintedHandoff {
  /** Hands off to one owner now (no-op if a transfer to it is already running). Resolves to objects handed off. */
  handOff(owner: string): Promise<number>;
  /** One round over every live owner. */
  runOnce(): Promise<number>;
}

export function createHintedHandoff(options: HintedHandoffOptions): HintedHandoff {
  const { node } = options;
  const inFlight = new Map<string, Promise<number>>();

  async function transfer(owner: string): Promise<number> {
    let moved = 0;
    for (let i = 0; i < (options.maxBatchesPerRound ?? 1000); i++) {
      const batch = await replicaFn(node, 'hinted', [owner, options.batchSize]);
      if (!Array.isArray(batch) || batch.length === 0) break;
      const objects = batch.filter(isVersionedObject) as VersionedObject[];
      await node.send(owner, HANDOFF_MESSAGE, { objects });
      await replicaFn(node, 'dropHinted', [owner, objects]);
      moved += objects.length;
      if (batch.length < options.batchSize) break;
    }
    if (moved > 0) options.logger?.info(`handed off ${moved} objects to ${owner}`);
    return moved;
  }

  const handoff: HintedHandoff = {
    handOff(owner) {
      if (owner === node.name || !hasReplicaModule(node)) return Promise.resolve(0);
      const running = inFlight.get(owner);
      if (running) return running;
      const p = transfer(owner)
        .catch((err: unknown) => {
          options.logger?.debug(`handoff to ${owner} stopped: ${(err as Error).message}`);
          return 0;
        })
        .finally(() => inFlight.delete(owner));
      inFlight.set(owner, p);
      return p;
    },
    async runOnce() {
      const owners = options.members.filter((m) => m !== node.name && options.isUp(m));
      const counts = await Promise.all(owners.map((o) => handoff.handOff(o)));
      return counts.reduce((a, b) => a + b, 0);
    },
  };
  return handoff;
}
