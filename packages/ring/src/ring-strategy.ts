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
  type StrategyHost,
  type Strategy,
  type VersionedObject,
} from '@ringkv/core';
import { createAntiEntropy, type AntiEntropy, type AntiEntropyStats, type ExchangeReport } from './anti-entropy/anti-entropy.js';
import { createCoordinator, type RingPlacement } from './coordinator.js';
import { createFailureDetector, type FailureDetector } from './failure-detector.js';
import { createHintedHandoff } from './hinted-handoff.js';
import { createHybridClock, type HybridClock } from './hybrid-clock.js';
import { createPreferenceLists, type AnnotatedPreferenceList, type PreferenceLists } from './preference-list.js';
import { BATCH_MESSAGE, createReplicaBatcher, serveBatch } from './replica-batch.js';
import { createReplicaLimits, replyObjects } from './replica-io.js';
import {
  APPLY_MESSAGE,
  applyOnReplica,
  HANDOFF_MESSAGE,
  hasReplicaModule,
  HINTS_MESSAGE,
  MERGE_MESSAGE,
  parseApply,
  parseObjects,
  parseReplicate,
  PING_MESSAGE,
  replicaFn,
  REPLICATE_MESSAGE,
  serveApply,
} from './replica-messages.js';
import { resolveRingConfig, type ResolvedRingConfig, type RingStrategyConfig } from './ring-config.js';
import { createRing, type Ring } from './ring.js';
import { createTombstoneReaper, holdsHints } from './tombstone-reaper.js';
import { coveredBy } from './write-path.js';

export interface RingStrategyDeps {
  /** Liveness view; built from pings over `host.send` when omitted. */
  detector?: (host: StrategyHost, config: ResolvedRingConfig) => FailureDetector;
  clock?: HybridClock;
  /**
   * The actor versions are stamped with. Default `<node>#<epoch>`, the epoch kept by the node's
   * storage (`Replica.epoch`): the same across restarts that keep the data, new after data loss,
   * so a node never reuses counters that older copies elsewhere already passed. Without
   * versioned storage, `<node>#<random>` per attach.
   */
  actor?: string;
  logger?: Logger;
  /**
   * What pings carry to tell a restart apart: peers hand off and exchange again when it
   * changes. Default: new on every attach. A node that replaces its strategy without
   * restarting (a new cluster epoch) passes the same one each time.
   */
  incarnation?: string;
  /** Start periodic pings, handoff and reaping on attach. @default true */
  background?: boolean;
}

export interface RingStrategy extends Strategy {
  readonly name: 'ring';
  /** The ring in effect now (replaced with {@link RingStrategy.setRing}). */
  readonly ring: Ring;
  readonly config: ResolvedRingConfig;
  /** The annotated preference list (primaries, fallbacks, spares, unplaced) for `bucket` now. */
  placement(bucket: BucketName): RingPlacement;
  /**
   * Replaces the ring (a membership change): placements are computed from the new ring on the
   * next call, and the old ring's cached walks are dropped with it.
   */
  setRing(ring: Ring): void;
  /** The actor writes coordinated here are stamped with (after attach; see {@link RingStrategy.ready}). */
  actor(): string;
  /** Resolves once the actor is known (the storage answered its epoch). */
  ready(): Promise<void>;
  /** The failure detector in use (after attach). */
  detector(): FailureDetector | undefined;
  /** Runs one hinted-handoff round now; resolves to the number of objects handed off. */
  handoffNow(): Promise<number>;
  /** Runs one tombstone-reaping round now. */
  reapNow(): Promise<{ reaped: boolean; reason?: string }>;
  /** This node's anti-entropy (after attach, when `antiEntropy.enabled`). */
  antiEntropy(): AntiEntropy | undefined;
  /**
   * Anti-entropy counters of this node (exchanges, keys repaired, bytes, synced): what
   * `ringkv cluster status` and `/metrics` show. Zeros with `enabled: false` when it is off.
   */
  antiEntropyStats(): AntiEntropyStats;
  /** Runs one anti-entropy round now (every group with every live peer). */
  antiEntropyNow(): Promise<ExchangeReport[]>;
}

export function createRingStrategy(input: RingStrategyConfig, deps: RingStrategyDeps = {}): RingStrategy {
  const config = resolveRingConfig(input);
  let lists: PreferenceLists = createPreferenceLists(createRing({ members: config.members, vnodes: config.vnodes, weights: config.weights }), config.n, {
    cacheSize: config.placementCacheSize,
  });
  const clock = deps.clock ?? createHybridClock(Date.now, { maxOffsetMs: config.maxClockOffsetMs });
  let host: StrategyHost | undefined;
  let detector: FailureDetector | undefined;
  let actor = deps.actor ?? '';
  // Pings carry a per-attach incarnation, so a restart is noticed even when the actor stays.
  let incarnation = '';
  let actorReady: Promise<void> = Promise.resolve();
  let actorKnown = true;
  const logger = () => deps.logger ?? host?.logger ?? silentLogger;
  const limits = createReplicaLimits(logger);
  const isUp = (m: string) => detector?.isUp(m) ?? true;

  const direct = (node: string, type: string, body: unknown, timeoutMs: number) => {
    if (!host) return Promise.reject(new BadRequestError('the ring strategy is not attached to a node'));
    return host.send(node, type, body, timeoutMs);
  };
  const batcher = createReplicaBatcher({ send: direct });

  // The lists hand out one shared, frozen list per bucket while its primaries are up: its
  // placement is built once too.
  const placements = new WeakMap<AnnotatedPreferenceList, RingPlacement>();

  function placement(bucket: BucketName): RingPlacement {
    const apl = lists.annotated(bucket, detector ? isUp : undefined);
    if (Object.isFrozen(apl)) {
      let shared = placements.get(apl);
      if (shared === undefined) placements.set(apl, (shared = Object.freeze(placementOf(apl))));
      return shared;
    }
    return placementOf(apl);
  }

  function placementOf(apl: AnnotatedPreferenceList): RingPlacement {
    return {
      replicas: apl.replicas,
      primaries: apl.primaries,
      unplaced: apl.unplaced,
      // Read only when a replica fails mid-call: the walk past the list is not paid before.
      get spares() {
        return apl.spares;
      },
      n: config.n,
      r: config.r,
      w: config.w,
    };
  }

  const coordinator = createCoordinator({
    n: config.n,
    host: () => host,
    isUp,
    suspect: (node, err) => detector?.suspect(node, err),
    clock,
    actor: () => actor,
    ready: () => (actorKnown ? undefined : actorReady),
    logger,
    limits,
    send: config.batchReplicaMessages ? batcher.send : direct,
    placementOf: placement,
    writePath: config.writePath,
    digestReads: config.digestReads,
  });

  /** Refuses versions stamped beyond the maximum clock offset (forged or broken peers), and observes the rest. */
  function admit(objects: readonly VersionedObject[], type: string): void {
    for (const o of objects) {
      for (const s of o.siblings) {
        if (!clock.plausible(s.version.ts)) {
          limits.warn('forged-stamp', `refused ${type}: a version stamped ${String(s.version.ts)} is beyond the maximum clock offset (${config.maxClockOffsetMs} ms)`);
          throw new BadRequestError(`${type}: version timestamp ${String(s.version.ts)} is beyond the maximum clock offset of ${config.maxClockOffsetMs} ms`);
        }
      }
    }
    for (const o of objects) for (const s of o.siblings) clock.observe(s.version.ts);
  }

  const handoff = () =>
    host
      ? createHintedHandoff({ node: host, members: config.members, isUp: (m) => detector?.isUp(m) ?? true, batchSize: config.handoffBatchSize, logger: logger() })
      : undefined;
  let handoffRunner: ReturnType<typeof createHintedHandoff> | undefined;
  let aae: AntiEntropy | undefined;

  const strategy: RingStrategy = {
    name: 'ring',
    get ring() {
      return lists.ring;
    },
    config,
    actor: () => actor,
    ready: () => actorReady,
    detector: () => detector,
    placement,
    setRing(ring) {
      lists = createPreferenceLists(ring, config.n, { cacheSize: config.placementCacheSize });
      aae?.ringChanged();
    },
    execute: (call, p, ctx) => coordinator.execute(call, p, ctx),
    members: () => lists.ring.members,
    describe: () => `ring of ${lists.ring.members.length} members (n ${config.n}, r ${config.r}, w ${config.w}, ${config.vnodes} vnodes)`,
    handoffNow: () => handoffRunner?.runOnce() ?? Promise.resolve(0),
    reapNow: () =>
      host && detector
        ? createTombstoneReaper({
            node: host,
            members: config.members,
            graceMs: config.tombstoneGraceMs,
            detector,
            // With anti-entropy, only tombstones every replica was confirmed to hold go.
            ...(aae ? { reap: (olderThanTs: number) => aae!.reap(olderThanTs) } : {}),
          }).runOnce()
        : Promise.resolve({ reaped: false, reason: 'not attached to a node' }),
    antiEntropy: () => aae,
    antiEntropyStats: () => aae?.stats() ?? disabledAntiEntropyStats(config.antiEntropy.enabled),
    antiEntropyNow: () => aae?.runRound() ?? Promise.resolve([]),
    attach(attached) {
      host = attached;
      incarnation = deps.incarnation ?? `${attached.name}#${randomBytes(6).toString('hex')}`;
      if (!deps.actor) {
        actor = incarnation;
        if (hasReplicaModule(attached) && attached.modules.lookup('Replica', 'epoch', 1)) {
          actorKnown = false;
          actorReady = replicaFn(attached, 'epoch', [attached.name]).then(
            (epoch) => {
              if (typeof epoch === 'string' && epoch !== '') actor = `${attached.name}#${epoch}`;
              actorKnown = true;
            },
            (err: unknown) => {
              logger().warn(`storage gave no epoch (${(err as Error).message}); versions use the incarnation ${incarnation}`);
              actorKnown = true;
            },
          );
        }
      }
      detector =
        deps.detector?.(attached, config) ??
        createFailureDetector({
          self: attached.name,
          members: config.members,
          intervalMs: config.pingIntervalMs,
          ping: async (m) => {
            const reply = (await attached.send(m, PING_MESSAGE, { from: attached.name, actor: incarnation }, config.pingTimeoutMs)) as { actor?: unknown };
            return typeof reply?.actor === 'string' ? reply.actor : undefined;
          },
        });
      handoffRunner = handoff();
      const det = detector;
      aae = config.antiEntropy.enabled
        ? createAntiEntropy({
            node: attached,
            ring: () => lists.ring,
            n: config.n,
            config: config.antiEntropy,
            isUp: (m) => det.isUp(m),
            logger,
            admit: (objects) => admit(objects, 'anti-entropy repair'),
          })
        : undefined;
      aae?.attach();

      // The ring's messages, also reachable inside a `ring.batch`.
      const handlers = new Map<string, (body: unknown) => unknown>();
      handlers.set(APPLY_MESSAGE, (body) => {
        const { call, meta, digest } = parseApply(body);
        if (meta.mode === 'write') admit([{ bucket: call.bucket, key: new Uint8Array(0), siblings: [{ value: null, version: meta.version }] }], APPLY_MESSAGE);
        return serveApply(attached, call, meta, digest);
      });
      handlers.set(PING_MESSAGE, (body) => {
        const b = body as { from?: unknown; actor?: unknown } | null;
        // A ping proves its sender is up, and tells a restart (new incarnation) apart.
        if (b && typeof b.from === 'string') det.alive(b.from, typeof b.actor === 'string' ? b.actor : undefined);
        return { actor: incarnation };
      });
      handlers.set(MERGE_MESSAGE, (body) => {
        const { objects, hintFor } = parseObjects(body, MERGE_MESSAGE);
        if (!hasReplicaModule(attached)) throw new BadRequestError(`node ${attached.name} has no versioned storage to repair`);
        admit(objects, MERGE_MESSAGE);
        return replicaFn(attached, 'merge', [objects, hintFor]);
      });
      handlers.set(REPLICATE_MESSAGE, async (body) => {
        const { objects, hintFor, read } = parseReplicate(body);
        if (!hasReplicaModule(attached)) throw new BadRequestError(`node ${attached.name} has no versioned storage to replicate to`);
        admit(objects, REPLICATE_MESSAGE);
        // Storage that can say what the sender missed while merging saves a read.
        if (attached.modules.lookup('Replica', 'absorb', 2)) {
          const missed = await replicaFn(attached, 'absorb', [objects, hintFor]);
          return { missed: read ? missed : [] };
        }
        await replicaFn(attached, 'merge', [objects, hintFor]);
        if (!read) return { missed: [] };
        // What this replica holds beyond what it was sent: the coordinator missed it.
        const held = replyObjects(await applyOnReplica(attached, read, { mode: 'read' })) ?? [];
        return { missed: missedBy(objects, held) };
      });
      handlers.set(HANDOFF_MESSAGE, async (body) => {
        const { objects } = parseObjects(body, HANDOFF_MESSAGE);
        if (!hasReplicaModule(attached)) throw new BadRequestError(`node ${attached.name} has no versioned storage to hand off to`);
        admit(objects, HANDOFF_MESSAGE);
        await replicaFn(attached, 'merge', [objects, null]);
        return 'ok';
      });
      handlers.set(HINTS_MESSAGE, () => holdsHints(attached, config.members));
      for (const [type, handler] of handlers) attached.handle(type, handler);
      attached.handle(BATCH_MESSAGE, (body) =>
        serveBatch(
          body,
          (type, item) => {
            const handler = handlers.get(type);
            if (!handler) throw new BadRequestError(`${BATCH_MESSAGE}: node ${attached.name} does not handle ${JSON.stringify(type)} in a batch`);
            return handler(item);
          },
          attached.name,
        ),
      );

      const runner = handoffRunner!;
      const offUp = det.onUp((m) => {
        void runner.handOff(m);
        aae?.peerUp(m);
      });
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
        // peers learn it is up, and its new incarnation, and start handing off to it. Anti-entropy
        // starts then too, so building its trees never delays the node's start.
        void untilListening(attached, () => detached).then((ok) => {
          if (!ok) return;
          aae?.start();
          return det.hello();
        });
      }
      return () => {
        detached = true;
        offUp();
        det.stop();
        aae?.stop();
        for (const t of timers) clearInterval(t);
      };
    },
  };
  return strategy;
}

/** The versions `held` has that nothing in `sent` covers, per object. */
function missedBy(sent: readonly VersionedObject[], held: readonly VersionedObject[]): VersionedObject[] {
  const out: VersionedObject[] = [];
  for (const h of held) {
    const theirs = sent.find((s) => sameBytes(s.key, h.key))?.siblings ?? [];
    const extra = h.siblings.filter((s) => !coveredBy(s, theirs));
    if (extra.length > 0) out.push({ bucket: h.bucket, key: h.key, siblings: extra });
  }
  return out;
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

function disabledAntiEntropyStats(enabled: boolean): AntiEntropyStats {
  return {
    enabled,
    state: 'idle',
    keys: 0,
    trees: 0,
    exchanges: 0,
    exchangesInSync: 0,
    exchangesFailed: 0,
    keysRepaired: 0,
    keysPushed: 0,
    keysPulled: 0,
    bytesSent: 0,
    bytesReceived: 0,
    tombstonesReaped: 0,
    rebuilds: 0,
    lastExchangeAt: null,
    synced: false,
    pairs: [],
  };
}

/** Resolves true once `node` answers a ping sent to itself (its listener is up), false if stopped first. */
async function untilListening(node: StrategyHost, stopped: () => boolean, maxWaitMs = 30_000): Promise<boolean> {
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
