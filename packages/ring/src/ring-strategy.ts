/**
 * The ring as a ringkv `Strategy`: placement is the preference list (live primaries, then
 * fallbacks for the down ones), and `execute` is the replication coordinator. `attach(node)`
 * registers the replica-level message handlers and starts the background work of one node:
 * the failure detector's pings, hinted handoff and tombstone reaping.
 *
 * One strategy instance serves one node (it holds that node's incarnation and liveness view).
 *
 * @example
 * const strategy = createRingStrategy({ members: ['a@h', 'b@h', 'c@h'], n: 3 });
 * const node = createNode({ name: 'a@h', transport, strategy, modules });
 * await node.start();
 * await kvCall(node, 'put', ['shopping', 'eggs', '3']); // applied on 3 replicas, answered after W = 2
 */
import { randomBytes } from 'node:crypto';
import {
  BadRequestError,
  silentLogger,
  type BucketName,
  type Logger,
  type Placement,
  type RingkvNode,
  type Strategy,
} from '@ringkv/core';
import { createCoordinator } from './coordinator.js';
import { createFailureDetector, type FailureDetector } from './failure-detector.js';
import { createHintedHandoff } from './hinted-handoff.js';
import { createHybridClock, type HybridClock } from './hybrid-clock.js';
import {
  APPLY_MESSAGE,
  applyOnReplica,
  HANDOFF_MESSAGE,
  hasReplicaModule,
  HINTS_MESSAGE,
  MERGE_MESSAGE,
  parseApply,
  parseObjects,
  PING_MESSAGE,
  replicaFn,
} from './replica-messages.js';
import { resolveRingConfig, type ResolvedRingConfig, type RingStrategyConfig } from './ring-config.js';
import { createRing, type Ring } from './ring.js';
import { createTombstoneReaper, holdsHints } from './tombstone-reaper.js';

export interface RingStrategyDeps {
  /** Liveness view; built from pings over `node.send` when omitted. */
  detector?: (node: RingkvNode, config: ResolvedRingConfig) => FailureDetector;
  clock?: HybridClock;
  /** This node's incarnation; default `<node>#<random>` chosen at attach, so a restart never reuses counters. */
  actor?: string;
  logger?: Logger;
  /** Start periodic pings, handoff and reaping on attach. @default true */
  background?: boolean;
}

export interface RingStrategy extends Strategy {
  readonly name: 'ring';
  readonly ring: Ring;
  readonly config: ResolvedRingConfig;
  /** The incarnation writes coordinated here are stamped with (after attach). */
  actor(): string;
  /** The failure detector in use (after attach). */
  detector(): FailureDetector | undefined;
  /** Runs one hinted-handoff round now; resolves to the number of objects handed off. */
  handoffNow(): Promise<number>;
  /** Runs one tombstone-reaping round now. */
  reapNow(): Promise<{ reaped: boolean; reason?: string }>;
}

export function createRingStrategy(input: RingStrategyConfig, deps: RingStrategyDeps = {}): RingStrategy {
  const config = resolveRingConfig(input);
  const ring = createRing({ members: config.members, vnodes: config.vnodes, weights: config.weights });
  const clock = deps.clock ?? createHybridClock();
  let node: RingkvNode | undefined;
  let detector: FailureDetector | undefined;
  let actor = deps.actor ?? '';
  const logger = () => deps.logger ?? node?.logger ?? silentLogger;

  const coordinator = createCoordinator({
    ring,
    n: config.n,
    node: () => node,
    detector: () => detector,
    clock,
    actor: () => actor,
    logger,
  });

  const handoff = () =>
    node
      ? createHintedHandoff({ node, members: config.members, isUp: (m) => detector?.isUp(m) ?? true, batchSize: config.handoffBatchSize, logger: logger() })
      : undefined;
  let handoffRunner: ReturnType<typeof createHintedHandoff> | undefined;

  const strategy: RingStrategy = {
    name: 'ring',
    ring,
    config,
    actor: () => actor,
    detector: () => detector,
    placement(bucket: BucketName): Placement {
      const isUp = detector ? (m: string) => detector!.isUp(m) : undefined;
      return { replicas: ring.preferenceList(bucket, config.n, isUp), n: config.n, r: config.r, w: config.w };
    },
    execute: (call, placement, ctx) => coordinator.execute(call, placement, ctx),
    describe: () => `ring of ${config.members.length} members (n ${config.n}, r ${config.r}, w ${config.w}, ${config.vnodes} vnodes)`,
    handoffNow: () => handoffRunner?.runOnce() ?? Promise.resolve(0),
    reapNow: () =>
      node && detector
        ? createTombstoneReaper({ node, members: config.members, graceMs: config.tombstoneGraceMs, detector }).runOnce()
        : Promise.resolve({ reaped: false, reason: 'not attached to a node' }),
    attach(attached) {
      node = attached;
      if (!deps.actor) actor = `${attached.name}#${randomBytes(6).toString('hex')}`;
      detector =
        deps.detector?.(attached, config) ??
        createFailureDetector({
          self: attached.name,
          members: config.members,
          intervalMs: config.pingIntervalMs,
          ping: async (m) => {
            const reply = (await attached.send(m, PING_MESSAGE, { from: attached.name, actor }, config.pingTimeoutMs)) as { actor?: unknown };
            return typeof reply?.actor === 'string' ? reply.actor : undefined;
          },
        });
      handoffRunner = handoff();
      const det = detector;

      attached.handle(APPLY_MESSAGE, (body) => {
        const { call, meta } = parseApply(body);
        return applyOnReplica(attached, call, meta);
      });
      attached.handle(PING_MESSAGE, (body) => {
        const b = body as { from?: unknown; actor?: unknown } | null;
        // A ping proves its sender is up, and tells a restart (new incarnation) apart.
        if (b && typeof b.from === 'string') det.alive(b.from, typeof b.actor === 'string' ? b.actor : undefined);
        return { actor };
      });
      attached.handle(MERGE_MESSAGE, (body) => {
        const { objects, hintFor } = parseObjects(body, MERGE_MESSAGE);
        if (!hasReplicaModule(attached)) throw new BadRequestError(`node ${attached.name} has no versioned storage to repair`);
        return replicaFn(attached, 'merge', [objects, hintFor]);
      });
      attached.handle(HANDOFF_MESSAGE, async (body) => {
        const { objects } = parseObjects(body, HANDOFF_MESSAGE);
        if (!hasReplicaModule(attached)) throw new BadRequestError(`node ${attached.name} has no versioned storage to hand off to`);
        await replicaFn(attached, 'merge', [objects, null]);
        return 'ok';
      });
      attached.handle(HINTS_MESSAGE, () => holdsHints(attached, config.members));

      const runner = handoffRunner!;
      const offUp = det.onUp((m) => void runner.handOff(m));
      const timers: ReturnType<typeof setInterval>[] = [];
      let detached = false;
      if (deps.background !== false) {
        det.start();
        timers.push(setInterval(() => void runner.runOnce(), config.handoffIntervalMs));
        timers.push(
          setInterval(() => {
            void strategy.reapNow().catch((err: unknown) => logger().warn(`tombstone reaping failed: ${(err as Error).message}`));
          }, config.reapIntervalMs),
        );
        for (const t of timers) t.unref?.();
        // Say hello once this node answers its own ping (attach runs before the node listens):
        // peers learn it is up, and its new incarnation, and start handing off to it.
        void untilListening(attached, () => detached).then((ok) => (ok ? det.hello() : undefined));
      }
      return () => {
        detached = true;
        offUp();
        det.stop();
        for (const t of timers) clearInterval(t);
      };
    },
  };
  return strategy;
}

/** Resolves true once `node` answers a ping sent to itself (its listener is up), false if stopped first. */
async function untilListening(node: RingkvNode, stopped: () => boolean, maxWaitMs = 30_000): Promise<boolean> {
  const deadline = Date.now() + maxWaitMs;
  while (!stopped() && Date.now() < deadline) {
    try {
      await node.send(node.name, PING_MESSAGE, {}, 500);
      return true;
    } catch {
      await new Promise((r) => setTimeout(r, 20));
    }
  }
  return false;
}
