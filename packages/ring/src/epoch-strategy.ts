/**
 * The ring of one cluster epoch: the committed ring, or, while ownership moves, the old and the
 * new ring together with the phase deciding who takes reads and writes (see
 * @ringkv/core cluster-model.ts):
 *
 *   phase        writes go to              reads go to
 *   (none)       committed ring            committed ring
 *   write-both   old + new (W of each)     old
 *   stream       old + new (W of each)     old
 *   read-new     old + new (W of each)     new
 *   cleanup      new                       new
 *
 * A new strategy is built for every epoch and installed with `node.setStrategy`; the actor
 * (incarnation) and the hybrid clock are shared across epochs, so version vectors do not grow
 * with every epoch. Calls carry the sender's epoch (forwarded calls in `options.epoch`, replica
 * applies in `body.epoch`): a node that sees a newer one refreshes its state before answering.
 *
 * @example
 * const s = createEpochRingStrategy({ epoch: 7, layout, transition: { from: layout, to: next, phase: 'write-both' } },
 *   { clock, actor: 'd@h#1', refresh: (e) => agent.refresh(e) });
 * node.setStrategy(s);
 */
import {
  ArgumentError,
  BadRequestError,
  silentLogger,
  type BucketName,
  type FunctionKind,
  type Logger,
  type Replica,
  type StrategyHost,
  type RingLayout,
  type RouteCall,
  type RouteContext,
  type Strategy,
  type TransitionPhase,
  type VersionedObject,
} from '@ringkv/core';
import { createCoordinator, type RingPlacement } from './coordinator.js';
import { createPreferenceLists, type PreferenceLists } from './preference-list.js';
import { createReplicaLimits } from './replica-io.js';
import type { HybridClock } from './hybrid-clock.js';
import {
  APPLY_MESSAGE,
  HANDOFF_MESSAGE,
  hasReplicaModule,
  MERGE_MESSAGE,
  parseApply,
  parseObjects,
  replicaFn,
  serveApply,
} from './replica-messages.js';
import type { RingStrategyConfig } from './ring-config.js';
import { createRingStrategy, type RingStrategy } from './ring-strategy.js';
import type { AntiEntropyStats } from './anti-entropy/anti-entropy.js';
import { createRing, type Ring } from './ring.js';

export interface EpochRingView {
  readonly epoch: number;
  /** The committed ring. */
  readonly layout: RingLayout;
  readonly transition?: { readonly from: RingLayout; readonly to: RingLayout; readonly phase: TransitionPhase };
  /** Timing of the background work (pings, handoff, reaping), from the node's config. */
  readonly timing?: Omit<RingStrategyConfig, 'members' | 'n' | 'r' | 'w' | 'vnodes' | 'weights'>;
}

export interface EpochRingDeps {
  clock: HybridClock;
  logger?: Logger;
  /** Asked when a message carries a newer epoch; resolves once this node installed it (or gave up). */
  refresh(epoch: number): Promise<void>;
  /** Start pings, handoff and reaping on attach. @default true */
  background?: boolean;
  /**
   * This node's incarnation, the same for every epoch of one process: a new one tells peers
   * the node restarted (they hand off to it and run anti-entropy with it at once), which an
   * epoch install is not. @default new per epoch
   */
  incarnation?: string;
}

export interface EpochRingStrategy extends Strategy {
  readonly name: 'ring';
  readonly epoch: number;
  /** The ring reads use in this epoch. */
  readonly readRing: Ring;
  /** The rings writes go to in this epoch (two while both old and new owners take writes). */
  readonly writeRings: readonly Ring[];
  readonly n: number;
  /** The strategy doing the background work (failure detector, handoff) over every node involved. */
  readonly base: RingStrategy;
  placementFor(kind: FunctionKind, bucket: BucketName): RingPlacement;
  /** Calls this strategy is coordinating now: an epoch is acknowledged once the previous one's drained. */
  inFlight(): number;
  /** Anti-entropy's counters (run by `base`; paused while ownership moves). */
  antiEntropyStats(): AntiEntropyStats;
}

/** Anti-entropy's messages (packages/ring/src/anti-entropy/messages.ts). */
const AAE_PREFIX = 'ring.aae.';

export function ringOfLayout(layout: RingLayout): Ring {
  const weights = layout.weights
    ? Object.fromEntries(Object.entries(layout.weights).filter(([m]) => layout.members.includes(m)))
    : undefined;
  return createRing({ members: layout.members, vnodes: layout.vnodes, ...(weights ? { weights } : {}) });
}

/**
 * Preference lists per ring value and N, kept across epochs: the rings of consecutive epochs
 * are mostly the same values (ring.ts shares equal rings), so a phase change keeps the walks
 * already cached instead of paying every bucket's hashring lookups again while calls wait.
 */
const listsByRing = new WeakMap<Ring, Map<number, PreferenceLists>>();

function sharedLists(ring: Ring, n: number): PreferenceLists {
  let byN = listsByRing.get(ring);
  if (!byN) listsByRing.set(ring, (byN = new Map()));
  let lists = byN.get(n);
  if (!lists) byN.set(n, (lists = createPreferenceLists(ring, n)));
  return lists;
}

export function createEpochRingStrategy(view: EpochRingView, deps: EpochRingDeps): EpochRingStrategy {
  const { epoch, layout, transition } = view;
  if (!Number.isInteger(epoch) || epoch < 0) throw new ArgumentError(`epoch must be a non-negative integer, got ${String(epoch)}`);
  const fromLayout = transition?.from ?? layout;
  const fromRing = ringOfLayout(fromLayout);
  const toRing = transition ? ringOfLayout(transition.to) : fromRing;
  const phase = transition?.phase;
  const readsNew = phase === 'read-new' || phase === 'cleanup';
  const readRing = readsNew ? toRing : fromRing;
  const writeRings = !transition ? [fromRing] : phase === 'cleanup' ? [toRing] : [fromRing, toRing];
  const union = [...new Set([...fromRing.members, ...toRing.members])].sort();
  const n = layout.n;
  const { r, w } = layout;
  // The base strategy: the committed ring when stable; over every node involved during a
  // transition, for its background work (failure detector, handoff) and its actor.
  // Anti-entropy compares replica groups of one ring: while ownership moves there are two, and
  // the union ring's groups are neither, so it pauses until the next stable epoch (the
  // transfers and write-both cover what it would repair meanwhile).
  const timing = view.timing ?? {};
  const antiEntropy = transition ? { ...(timing.antiEntropy ?? {}), enabled: false } : timing.antiEntropy;
  const base = createRingStrategy(
    {
      ...timing,
      ...(antiEntropy ? { antiEntropy } : {}),
      members: transition ? union : fromRing.members,
      n: Math.min(n, union.length),
      r,
      w,
      vnodes: layout.vnodes,
      ...(!transition && layout.weights ? { weights: layout.weights } : {}),
    },
    {
      clock: deps.clock,
      ...(deps.logger ? { logger: deps.logger } : {}),
      ...(deps.background === false ? { background: false } : {}),
      ...(deps.incarnation ? { incarnation: deps.incarnation } : {}),
    },
  );
  let host: StrategyHost | undefined;
  let inFlight = 0;
  const isUp = (m: string) => base.detector()?.isUp(m) ?? true;
  const lists = (ring: Ring) => sharedLists(ring, n);
  for (const ring of new Set([readRing, ...writeRings])) lists(ring);

  function placementFor(kind: FunctionKind, bucket: BucketName): RingPlacement {
    const up = base.detector() ? isUp : undefined;
    if (kind !== 'write' || writeRings.length === 1) {
      const ring = kind === 'write' ? writeRings[0]! : readRing;
      const apl = lists(ring).annotated(bucket, up);
      return { replicas: apl.replicas, primaries: apl.primaries, spares: apl.spares, unplaced: apl.unplaced, n, r, w };
    }
    const apls = writeRings.map((ring) => lists(ring).annotated(bucket, up));
    const quorumGroups = apls.map((a) => [...a.primaries]);
    const [oldSet, newSet] = quorumGroups as [string[], string[]];
    const replicas: Replica[] = [];
    for (const apl of apls) {
      for (const rep of apl.replicas) {
        if (replicas.some((x) => x.node === rep.node && x.hintFor === rep.hintFor)) continue;
        // A new owner may not hold the bucket object yet until streaming brought it.
        const gaining = rep.role === 'primary' && newSet.includes(rep.node) && !oldSet.includes(rep.node);
        replicas.push(gaining ? { ...rep, gaining: true } : rep);
      }
    }
    const used = new Set(replicas.map((x) => x.node));
    return {
      replicas,
      primaries: [...new Set(apls.flatMap((a) => a.primaries))],
      spares: apls[1]!.spares.filter((m) => !used.has(m)),
      unplaced: [...new Set(apls.flatMap((a) => a.unplaced))],
      n,
      r,
      w,
      quorumGroups,
    };
  }

  // During a transition: writes on every owner, old and new, in one round trip. An old owner
  // versions the write (a new one may not hold the object yet: it forwards), and the write is
  // acknowledged at W stored in the old and in the new replica set each. The replica messages
  // are merges of whole objects, which a transport may resend after a reconnect.
  const coordinator = transition
    ? createCoordinator({
        n,
        host: () => host,
        isUp,
        suspect: (node, err) => base.detector()?.suspect(node, err),
        clock: deps.clock,
        actor: () => base.actor(),
        ready: () => base.ready(),
        logger: () => deps.logger ?? host?.logger ?? silentLogger,
        limits: createReplicaLimits(() => deps.logger ?? host?.logger ?? silentLogger),
        send: (node, type, body, timeoutMs) =>
          host ? host.send(node, type, body, timeoutMs) : Promise.reject(new BadRequestError('not attached to a node')),
        placementOf: (bucket) => placementFor('write', bucket),
      })
    : undefined;

  async function run(call: RouteCall, ctx: RouteContext, node: RingkvNodeLike | undefined): Promise<unknown> {
    const seen = call.options?.epoch;
    if (typeof seen === 'number' && seen > epoch && node) {
      await deps.refresh(seen);
      const now = node.strategy();
      if (now !== strategy && now.execute) return now.execute(call, now.placement(call.bucket), ctx);
    }
    let kind: FunctionKind = 'read';
    try {
      kind = ctx.kindOf(call.mod, call.fun, call.args.length);
    } catch {
      // Not registered here: the coordinator forwards it, with the read placement.
    }
    const fenced: RouteContext = {
      ...ctx,
      kindOf: (m, f, a) => ctx.kindOf(m, f, a),
      applyLocal: (c, meta) => ctx.applyLocal(c, meta),
      forward: (to, c) => ctx.forward(to, { ...c, options: { ...(c.options ?? {}), epoch } }),
      send: (to, type, body, t) =>
        ctx.send(to, type, type === APPLY_MESSAGE && body !== null && typeof body === 'object' ? { ...(body as object), epoch } : body, t),
    };
    const placement = placementFor(kind, call.bucket);
    return coordinator ? coordinator.execute(call, placement, fenced) : base.execute!(call, placement, fenced);
  }

  /** This node is a primary of `bucket` in a ring of this epoch (read or write). */
  function owns(self: string, bucket: BucketName): boolean {
    return [readRing, ...writeRings].some((ring) => lists(ring).annotated(bucket).primaries.includes(self));
  }

  /**
   * The host the base strategy sees: anti-entropy and repair messages carry this epoch.
   * An anti-entropy exchange runs only between nodes on the same epoch (the same ring, so the
   * same replica groups); a repair merge from a node ahead refreshes this one first, and objects
   * of buckets this node does not own in its epoch are not merged: a bucket a cleanup dropped
   * here is not brought back by a peer's repair, and a node never takes in data it does not own.
   */
  function fencedHost(attached: StrategyHost): StrategyHost {
    const tagged = (type: string) => type === MERGE_MESSAGE || type.startsWith(AAE_PREFIX);
    const handle = (type: string, handler: (body: unknown) => unknown): void => {
      if (type.startsWith(AAE_PREFIX)) {
        attached.handle(type, (body) => {
          const e = (body as { epoch?: unknown } | null)?.epoch;
          if (e !== epoch)
            throw new BadRequestError(
              `anti-entropy: ${attached.name} is on cluster epoch ${epoch}, the peer on ${String(e)}; exchanges wait for both to agree`,
            );
          return handler(body);
        });
        return;
      }
      if (type === MERGE_MESSAGE) {
        attached.handle(type, async (body) => {
          const e = (body as { epoch?: unknown } | null)?.epoch;
          if (typeof e === 'number' && e > epoch) {
            await deps.refresh(e);
            const installed = isNodeLike(attached) ? attached.strategy() : strategy;
            // A newer epoch is installed now: its own handler decides.
            if (installed !== strategy) return attached.send(attached.name, type, body);
          }
          const { objects, hintFor } = parseObjects(body, MERGE_MESSAGE);
          if (hintFor !== null) return handler(body);
          const kept = objects.filter((o) => owns(attached.name, o.bucket));
          if (kept.length === 0) return 'ok';
          return handler(kept.length === objects.length ? body : { ...(body as object), objects: kept });
        });
        return;
      }
      attached.handle(type, handler);
    };
    const send = (to: string, type: string, body: unknown, timeoutMs?: number): Promise<unknown> =>
      attached.send(to, type, tagged(type) && body !== null && typeof body === 'object' ? { ...(body as object), epoch } : body, timeoutMs);
    return new Proxy(attached, {
      get(target, prop, receiver) {
        if (prop === 'handle') return handle;
        if (prop === 'send') return send;
        const v: unknown = Reflect.get(target, prop, receiver);
        return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
      },
    });
  }

  let nodeRef: RingkvNodeLike | undefined;
  const strategy: EpochRingStrategy = {
    name: 'ring',
    epoch,
    readRing,
    writeRings,
    n,
    base,
    placementFor,
    placement: (bucket) => placementFor('read', bucket),
    // Old and new owners during a transition: both send change events while ownership moves.
    members: () => base.ring.members,
    inFlight: () => inFlight,
    antiEntropyStats: () => base.antiEntropyStats(),
    async execute(call, _placement, ctx) {
      inFlight++;
      try {
        return await run(call, ctx, nodeRef);
      } finally {
        inFlight--;
      }
    },
    describe: () =>
      transition
        ? `ring epoch ${epoch}, ${phase}: ${fromRing.members.length} -> ${toRing.members.length} members (n ${n}, r ${r}, w ${w})`
        : `ring epoch ${epoch} of ${fromRing.members.length} members (n ${n}, r ${r}, w ${w}, ${layout.vnodes} vnodes)`,
    attach(attached) {
      host = attached;
      nodeRef = isNodeLike(attached) ? attached : undefined;
      const undo = base.attach!(fencedHost(attached));
      // The base registered ring.apply; this one refreshes first when the sender is ahead.
      attached.handle(APPLY_MESSAGE, async (body) => {
        const e = (body as { epoch?: unknown } | null)?.epoch;
        if (typeof e === 'number' && e > epoch) await deps.refresh(e);
        const { call, meta, digest } = parseApply(body);
        return serveApply(attached, call, meta, digest);
      });
      // Hinted data handed back to this node after ownership moved away from it goes to the
      // nodes that own it now: merging it here would leave an orphan copy.
      attached.handle(HANDOFF_MESSAGE, async (body) => {
        const { objects } = parseObjects(body, HANDOFF_MESSAGE);
        if (!hasReplicaModule(attached)) throw new BadRequestError(`node ${attached.name} has no versioned storage to hand off to`);
        const mine: VersionedObject[] = [];
        const elsewhere = new Map<string, VersionedObject[]>();
        for (const o of objects) {
          const owners = [...new Set(writeRings.flatMap((ring) => ring.preferenceList(o.bucket, n).map((x) => x.node)))];
          if (owners.includes(attached.name)) mine.push(o);
          else for (const owner of owners) elsewhere.set(owner, [...(elsewhere.get(owner) ?? []), o]);
        }
        if (mine.length > 0) await replicaFn(attached, 'merge', [mine, null]);
        // A failure here fails the handoff: the sender keeps its hints and tries again.
        for (const [owner, objs] of elsewhere) await attached.send(owner, MERGE_MESSAGE, { objects: objs, hintFor: null });
        return 'ok';
      });
      // `host` stays set after detach: calls still in flight under this epoch finish normally.
      return () => undo?.();
    },
  };
  return strategy;
}

/** The part of a node the fencing needs: the strategy installed now. */
interface RingkvNodeLike extends StrategyHost {
  strategy(): Strategy;
}

function isNodeLike(h: StrategyHost): h is RingkvNodeLike {
  return typeof (h as Partial<RingkvNodeLike>).strategy === 'function';
}
