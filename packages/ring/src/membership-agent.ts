/**
 * One node's part in a managed cluster: it follows the cluster state (@ringkv/core
 * cluster-model.ts) and does what the current phase asks of it.
 *
 * - Before serving: reads the state (seeding it from the config file's layout when the cluster
 *   is new), says loudly when the file disagrees with the committed state, and installs the
 *   epoch's strategy. A node that is not a member installs it too (it routes, owns nothing) and
 *   waits to be staged.
 * - Watches the state (and polls it every second, in case a watch was lost with the NATS
 *   connection) and installs every new epoch; acknowledges an epoch in its seen-entry once the
 *   calls still running under the previous one finished. The seen-entry doubles as heartbeat.
 * - Drives the transition when it is the claimant (the live storage node of the smallest
 *   name; any node could, compare-and-set lets one win, but one trying is cheaper): a phase
 *   advances once every live node acknowledged it; entering `stream` plans the transfers from
 *   the buckets the old members really hold.
 * - As a new owner, pulls what it gains (`ring.transfer.pull`, bounded batches, merged by
 *   version vector, progress and cursor written after each batch), within the transfer limits.
 * - As an old owner, deletes the buckets it no longer owns once every live node stopped
 *   writing to it (cleanup), and sweeps orphans again whenever the cluster is settled.
 *
 * @example
 * const agent = createMembershipAgent({ node, store, seed: { strategy: 'ring', members, n: 3, r: 2, w: 2, vnodes: 64 }, storage: true });
 * await agent.start(); // the node now routes with the cluster's epoch
 * await node.start();
 */
import { randomBytes } from 'node:crypto';
import {
  BadRequestError,
  BUCKETS_MESSAGE,
  bucketBytes,
  bucketHex,
  casDoc,
  createBucketWriteQueue,
  createEpochRangeStrategy,
  DEFAULT_CLUSTER_HEARTBEAT_MS,
  DEFAULT_CLUSTER_LIVENESS_MS,
  DEFAULT_TRANSFER_BATCH,
  DEFAULT_TRANSFER_BATCH_BYTES,
  decodeSeen,
  decodeState,
  decodeTransfers,
  encodeDoc,
  describeType,
  hexBytes,
  initialState,
  liveNodes,
  nextPhase,
  readSeen,
  readState,
  readTransfers,
  RevisionMismatchError,
  seenKey,
  silentLogger,
  STATE_KEY,
  transferLimit,
  TRANSFERS_KEY,
  waitingFor,
  type BucketName,
  type ClusterLayout,
  type ClusterState,
  type ClusterStateStore,
  type Listener,
  type Logger,
  type NodeSeen,
  findEntry,
  moveFn,
  RANGE_PULL_MESSAGE,
  type RangeLayout,
  type RangePullReply,
  type RangeTable,
  type RingkvNode,
  type RingLayout,
  type Strategy,
  type TransferRecord,
  type TransfersDoc,
  type VersionedObject,
} from '@ringkv/core';
import { createEpochRingStrategy, ringOfLayout, type EpochRingView } from './epoch-strategy.js';
import { createHybridClock, type HybridClock } from './hybrid-clock.js';
import { replicaMoves, replicaSet } from './ownership-moves.js';
import { hasReplicaModule, isVersionedObject, replicaFn } from './replica-messages.js';

/** How often a node reads the cluster state besides watching it. */
const POLL_MS = 1000;

/** Heartbeats between two sweeps for orphans while the cluster is settled. */
const SETTLED_SWEEP_HEARTBEATS = 30;

/** A new owner asks an old one for a page of a bucket: `{ bucket, after, limit }` -> `{ objects, bytes, next? }`. */
export const TRANSFER_PULL_MESSAGE = 'ring.transfer.pull';

export interface MembershipAgentOptions {
  node: RingkvNode;
  store: ClusterStateStore;
  /** The layout from this node's config file: seeds a new cluster, and is compared with the committed one. */
  seed?: ClusterLayout;
  /** Whether this node stores data (it then pulls, serves pulls and cleans up). */
  storage: boolean;
  timing?: EpochRingView['timing'];
  logger?: Logger;
  clock?: HybridClock;
  now?: () => number;
  /** @default DEFAULT_CLUSTER_HEARTBEAT_MS */
  heartbeatMs?: number;
  /** @default DEFAULT_CLUSTER_LIVENESS_MS */
  livenessMs?: number;
  /** Objects per transfer batch (at most). @default DEFAULT_TRANSFER_BATCH */
  batchSize?: number;
  /** Bytes a transfer batch aims at. @default DEFAULT_TRANSFER_BATCH_BYTES */
  batchBytes?: number;
  /** Ring background work (pings, handoff). @default true */
  background?: boolean;
}

export interface MembershipAgent {
  /** Reads (or seeds) the state and installs its epoch; waits while there is no cluster and nothing to seed it with. */
  start(): Promise<void>;
  stop(): Promise<void>;
  /** The epoch installed now (0 before start). */
  epoch(): number;
  state(): ClusterState | undefined;
  /** Reads the state and installs it if newer; resolves once done (or after a second when the store does not answer). */
  refresh(minEpoch?: number): Promise<void>;
  /** A heartbeat now (if one is due), and one round of work unless one is running: transfers, cleanup, driving the transition. */
  tick(): Promise<void>;
  /** What this node found wrong at start (its config disagreeing with the cluster), if anything. */
  warning(): string | undefined;
}

interface PullBody {
  bucket: Uint8Array;
  after: Uint8Array | null;
  limit: number;
}

export function createMembershipAgent(options: MembershipAgentOptions): MembershipAgent {
  const { node, store } = options;
  const self = node.name;
  const logger = options.logger ?? node.logger ?? silentLogger;
  const clock = options.clock ?? createHybridClock();
  const now = options.now ?? Date.now;
  const heartbeatMs = options.heartbeatMs ?? DEFAULT_CLUSTER_HEARTBEAT_MS;
  const livenessMs = options.livenessMs ?? DEFAULT_CLUSTER_LIVENESS_MS;
  const batchSize = options.batchSize ?? DEFAULT_TRANSFER_BATCH;
  const batchBytes = options.batchBytes ?? DEFAULT_TRANSFER_BATCH_BYTES;
  const tickLimitMs = Math.max(5000, 10 * heartbeatMs);
  // One per process: every epoch's strategy pings with it, so peers see no restart at an install.
  const incarnation = `${self}#${randomBytes(6).toString('hex')}`;

  let installed: ClusterState | undefined;
  let ackedEpoch = 0;
  let acking: Promise<void> = Promise.resolve();
  let current: Strategy | undefined;
  let cleaned = 0;
  let lastBeat = 0;
  let warning: string | undefined;
  let stopped = false;
  let refreshing: Promise<void> | undefined;
  let ticking: Promise<void> | undefined;
  let watcher: Listener | undefined;
  let lastSweep = 0;
  let lastPoll = 0;
  /** The layout of the last sweep (JSON), so the end of a change does not sweep again for the same one. */
  let sweptLayout: string | undefined;
  /** The revision of this node's seen-entry after its last heartbeat (only this node writes it). */
  let seenRevision: number | undefined;
  let seenRead: { at: number; seen: NodeSeen[] } | undefined;
  const timers: ReturnType<typeof setInterval>[] = [];
  const running = new Map<string, Promise<void>>();
  // Range table: a bucket's writes and stream pages pass through one queue, across epochs.
  const rangeQueue = createBucketWriteQueue();

  function strategyFor(state: ClusterState): Strategy {
    const layout = state.layout;
    const t = state.transition;
    if (layout.strategy === 'range') {
      return createEpochRangeStrategy(
        {
          epoch: state.epoch,
          table: layout.table,
          ...(t && t.from.strategy === 'range' && t.to.strategy === 'range' ? { transition: { from: t.from.table, to: t.to.table, phase: t.phase } } : {}),
        },
        { refresh: (e) => agent.refresh(e), queue: rangeQueue },
      );
    }
    return createEpochRingStrategy(
      {
        epoch: state.epoch,
        layout,
        ...(t && t.from.strategy === 'ring' && t.to.strategy === 'ring' ? { transition: { from: t.from, to: t.to, phase: t.phase } } : {}),
        ...(options.timing ? { timing: options.timing } : {}),
      },
      { clock, logger, incarnation, refresh: (e) => agent.refresh(e), ...(options.background === false ? { background: false } : {}) },
    );
  }

  /**
   * Installs `state`'s epoch at once (the next call routes with it) and resolves once it is
   * acknowledged. A call that carries a newer epoch waits only for the install, never for the
   * acknowledgement: that waits for the calls of the previous epoch, the waiting call among them.
   */
  function install(state: ClusterState): Promise<void> {
    if (installed && state.epoch <= installed.epoch) return acking;
    const previous = current;
    const next = strategyFor(state);
    node.setStrategy(next);
    current = next;
    installed = state;
    logger.info(`${self}: installed cluster epoch ${state.epoch}: ${next.describe()}`);
    acking = acking.then(() => acknowledge(previous, state)).catch((err: unknown) => logger.debug(`${self}: acknowledging epoch ${state.epoch}: ${(err as Error).message}`));
    return acking;
  }

  /**
   * Acknowledge an epoch once calls coordinated under the previous one are done: a phase that
   * starts after everyone acknowledged must not meet a write of the one before. Heartbeats
   * carry the acknowledged epoch, not the installed one.
   */
  async function acknowledge(previous: Strategy | undefined, state: ClusterState): Promise<void> {
    const inFlight = (previous as { inFlight?: () => number } | undefined)?.inFlight;
    if (inFlight) {
      const deadline = now() + 3 * node.hopTimeoutMs();
      while (inFlight() > 0 && now() < deadline && !stopped) await sleep(5);
    }
    ackedEpoch = Math.max(ackedEpoch, state.epoch);
    await beat(true);
  }

  /** This node's seen-entry as of now: what it acknowledged and swept, and when. */
  function seenEntry(): NodeSeen & { warning?: string } {
    return { node: self, epoch: ackedEpoch, at: now(), cleaned, storage: options.storage, ...(warning ? { warning } : {}) };
  }

  /**
   * Writes the seen-entry (the heartbeat). It runs on its own timer as well as after an
   * acknowledgement or a sweep, so writes can overlap; none can put an older entry over a newer
   * one: each is a compare-and-set on the entry's revision, so of two writes started from the
   * same revision one fails, and the retry writes the values of the moment it runs (epoch and
   * cleaned only grow), never the ones it started with.
   */
  async function beat(force = false): Promise<void> {
    if (!installed || stopped || ackedEpoch === 0) return;
    if (!force && now() - lastBeat < heartbeatMs) return;
    const entry = seenEntry();
    lastBeat = entry.at;
    try {
      // One write, not a read and a write: only this node writes its entry. Someone else did
      // (a cleared state, a restart of this node, an overlapping beat): read it and
      // compare-and-set as usual.
      if (seenRevision !== undefined) {
        try {
          seenRevision = await store.update(seenKey(self), encodeDoc(entry), seenRevision);
          return;
        } catch (err) {
          if (!(err instanceof RevisionMismatchError) && (err as Error).name !== 'RevisionMismatchError') throw err;
        }
      }
      seenRevision = (await casDoc(store, seenKey(self), decodeSeen, () => seenEntry(), 5)).revision;
    } catch (err) {
      seenRevision = undefined;
      logger.debug(`${self}: heartbeat not written: ${(err as Error).message}`);
    }
  }

  function compareWithSeed(state: ClusterState): void {
    const seed = options.seed;
    if (!seed || seed.members.length === 0) return;
    const same =
      seed.strategy === state.layout.strategy &&
      JSON.stringify([...seed.members].sort()) === JSON.stringify([...state.layout.members].sort()) &&
      (seed.strategy !== 'ring' || state.layout.strategy !== 'ring' || (seed.n === state.layout.n && seed.vnodes === state.layout.vnodes));
    if (same) return;
    warning =
      `config file disagrees with the committed cluster state (epoch ${state.epoch}): ` +
      `file says ${seed.strategy} [${[...seed.members].sort().join(', ')}], cluster has ${state.layout.strategy} [${state.layout.members.join(', ')}]` +
      `; following the cluster (change membership with \`ringkv cluster join/leave/replace\`)`;
    logger.error(`${self}: ${warning}`);
  }

  async function readOrSeed(): Promise<ClusterState | undefined> {
    const found = await readState(store);
    if (found) return found.doc;
    if (!options.seed || options.seed.members.length === 0) return undefined;
    const seeded = await casDoc(store, STATE_KEY, decodeState, (cur) => cur ?? initialState(options.seed!));
    if (seeded.changed) logger.info(`${self}: seeded a new cluster state from its config: ${options.seed.members.join(', ')}`);
    return seeded.doc;
  }

  async function doRefresh(): Promise<void> {
    const found = await readState(store);
    // Installed now; acknowledged in the background.
    if (found) void install(found.doc);
  }

  /**
   * Every node's seen-entry (epoch acknowledged, heartbeat). Listing them costs a key listing
   * and a read per node in the store, so a tick reads them once at most (`maxAgeMs` 0 asks for
   * a fresh read), and a node that does not drive the transition reads them only now and then.
   */
  async function seenNow(maxAgeMs: number): Promise<NodeSeen[]> {
    if (seenRead && now() - seenRead.at <= maxAgeMs) return seenRead.seen;
    const seen = await readSeen(store);
    seenRead = { at: now(), seen };
    return seen;
  }

  /**
   * The node that drives the transition (the claimant, as in Riak): the live storage node of
   * the smallest name. Every storage node could (each phase advances by compare-and-set), but
   * each try reads the state, every seen-entry and the transfers, several times a second per
   * node, and nodes and nats-server then spend on that the time client calls need. When the
   * claimant stops heartbeating for the liveness window, the next one takes over.
   */
  function claimant(seen: readonly NodeSeen[]): string | undefined {
    return liveNodes(seen, now(), livenessMs)
      .filter((x) => x.storage)
      .map((x) => x.node)
      .sort()[0];
  }

  // ---------------------------------------------------------------- transfers (new owner)

  function isLive(seen: readonly NodeSeen[], node: string): boolean {
    return liveNodes(seen, now(), livenessMs).some((s) => s.node === node);
  }

  async function runTransfers(state: ClusterState): Promise<void> {
    const t = state.transition;
    if (!t || t.phase !== 'stream') return;
    const doc = await readTransfers(store);
    if (!doc || doc.doc.transition !== t.id) return;
    let seen: NodeSeen[] | undefined;
    // Transfers into this node: those it runs, and those it claimed whose run stopped (a store
    // call failed) and which it resumes below. A new one starts only below the limit.
    const limit = transferLimit(state, self, 'in');
    const busy = new Set(running.keys());
    for (const x of doc.doc.items) if (x.to === self && x.status === 'running' && x.claimedBy === self) busy.add(x.id);
    for (const item of doc.doc.items) {
      if (item.to !== self || running.has(item.id)) continue;
      if (item.status !== 'waiting' && !(item.status === 'running' && (item.claimedBy === self || staleClaim(item)))) continue;
      if (!busy.has(item.id) && busy.size >= limit) continue;
      const claimed = await casDoc<TransfersDoc>(store, TRANSFERS_KEY, decodeTransfers, (cur) => {
        if (!cur || cur.transition !== t.id) return undefined;
        const it = cur.items.find((x) => x.id === item.id);
        if (!it || it.to !== self) return undefined;
        const claimable = it.status === 'waiting' || (it.status === 'running' && (it.claimedBy === self || staleClaim(it)));
        if (!claimable) return undefined;
        const out = cur.items.filter((x) => x.id !== it.id && x.from === it.from && x.status === 'running' && !staleClaim(x)).length;
        if (out >= transferLimit(state, it.from, 'out')) return undefined;
        return update(cur, it.id, { status: 'running', claimedBy: self, claimedAt: now(), startedAt: it.startedAt ?? now() });
      });
      if (!claimed.changed) continue;
      busy.add(item.id);
      seen ??= await seenNow(heartbeatMs);
      // A store call that fails mid-transfer (a nats-server restarting) ends this run, not the
      // process: the item stays claimed by this node, and the next tick resumes it from its cursor.
      const job = runTransfer(t.id, item.id, t.from, seen)
        .catch((err: unknown) => logger.warn(`${self}: transfer ${item.id} stopped (${(err as Error).message}); resuming from its cursor`))
        .finally(() => running.delete(item.id));
      running.set(item.id, job);
    }
  }

  function staleClaim(item: TransferRecord): boolean {
    return item.claimedAt === undefined || now() - item.claimedAt > livenessMs * 2;
  }

  async function runTransfer(transition: string, id: string, from: ClusterLayout, seenAtStart: readonly NodeSeen[]): Promise<void> {
    let seen = seenAtStart;
    let seenAt = now();
    const fromRing = from.strategy === 'ring' ? ringOfLayout(from) : undefined;
    let failures = 0;
    // Objects to ask for next: as many as fit the byte aim by the last batch's size per object.
    let limit = batchSize;
    while (!stopped) {
      const doc = await readTransfers(store).catch(() => undefined);
      const item = doc?.doc.transition === transition ? doc.doc.items.find((x) => x.id === id) : undefined;
      if (!item || item.status !== 'running' || item.claimedBy !== self) return;
      if (item.cursor.bucket >= item.buckets.length) {
        await casDoc<TransfersDoc>(store, TRANSFERS_KEY, decodeTransfers, (cur) =>
          cur?.transition === transition ? update(cur, id, { status: 'done', finishedAt: now() }) : undefined,
        );
        logger.info(`${self}: transfer ${id} from ${item.from} done (${item.doneBuckets} buckets, ${item.doneBytes} bytes)`);
        return;
      }
      const bucket = hexBytes(item.buckets[item.cursor.bucket]!);
      // Who is live matters only once a source was silent for the liveness window: read it that often, not per page.
      if (now() - seenAt > livenessMs / 2) {
        seen = await seenNow(livenessMs / 2).catch(() => seen);
        seenAt = now();
      }
      // The planned source, or (ring), when it has been silent for the liveness window, another old replica.
      const source =
        from.strategy !== 'ring' || !fromRing || isLive(seen, item.from)
          ? item.from
          : (replicaSet(fromRing, from.n, bucket).find((m) => m !== self && isLive(seen, m)) ?? item.from);
      const after = item.cursor.after ? hexBytes(item.cursor.after) : null;
      let page: { bytes: number; next?: Uint8Array };
      try {
        if (fromRing) {
          const objects = checkPage(
            await node.send(source, TRANSFER_PULL_MESSAGE, { bucket, after, limit } satisfies PullBody),
            source,
          );
          if (objects.objects.length > 0) await replicaFn(node, 'merge', [objects.objects, null]);
          page = objects;
          limit = nextLimit(objects.objects.length, objects.bytes);
        } else {
          // The range table: the old owner stores the page here itself, inside its bucket queue.
          const reply = checkRangeReply(
            await node.send(source, RANGE_PULL_MESSAGE, { bucket, after, limit, to: self, epoch: installed?.epoch ?? 0 }),
            source,
          );
          page = reply;
          limit = nextLimit(reply.entries, reply.bytes);
        }
        failures = 0;
      } catch (err) {
        failures++;
        if (failures === 1 || failures % 20 === 0)
          logger.warn(`${self}: transfer ${id}: pulling from ${source} failed (${(err as Error).message}); retrying`);
        await touch(transition, id);
        await sleep(Math.min(2000, 100 * failures));
        continue;
      }
      const cursorBucket = item.cursor.bucket;
      const cursorAfter = item.cursor.after;
      await casDoc<TransfersDoc>(store, TRANSFERS_KEY, decodeTransfers, (cur) => {
        const it = cur?.transition === transition ? cur.items.find((x) => x.id === id) : undefined;
        // Someone else took it over meanwhile, or this page was counted already (an update that
        // reached the store although its reply was lost, then retried): what was merged stays
        // (merging twice is harmless), and its bytes are counted once.
        if (!cur || !it || it.claimedBy !== self || it.cursor.bucket !== cursorBucket || it.cursor.after !== cursorAfter) return undefined;
        const finished = page.next === undefined;
        return update(cur, id, {
          cursor: finished ? { bucket: cursorBucket + 1 } : { bucket: cursorBucket, after: bucketHex(page.next!) },
          doneBytes: it.doneBytes + page.bytes,
          doneBuckets: it.doneBuckets + (finished ? 1 : 0),
          claimedAt: now(),
        });
      });
    }
  }

  /** The next batch's object count: the byte aim over the last batch's bytes per object, within 1..batchSize. */
  function nextLimit(count: number, bytes: number): number {
    if (count === 0 || bytes <= 0) return batchSize;
    return Math.max(1, Math.min(batchSize, Math.floor((batchBytes * count) / bytes)));
  }

  async function touch(transition: string, id: string): Promise<void> {
    await casDoc<TransfersDoc>(store, TRANSFERS_KEY, decodeTransfers, (cur) => {
      const it = cur?.transition === transition ? cur.items.find((x) => x.id === id) : undefined;
      return cur && it && it.claimedBy === self && it.status === 'running' ? update(cur, id, { claimedAt: now() }) : undefined;
    }).catch(() => undefined);
  }

  function checkPage(reply: unknown, from: string): { objects: VersionedObject[]; bytes: number; next?: Uint8Array } {
    const r = reply as { objects?: unknown; bytes?: unknown; next?: unknown } | null;
    if (!r || !Array.isArray(r.objects) || !r.objects.every(isVersionedObject) || typeof r.bytes !== 'number') {
      throw new BadRequestError(`${TRANSFER_PULL_MESSAGE}: malformed page from ${from}`);
    }
    if (r.next !== undefined && !(r.next instanceof Uint8Array)) throw new BadRequestError(`${TRANSFER_PULL_MESSAGE}: next must be bytes`);
    return r as { objects: VersionedObject[]; bytes: number; next?: Uint8Array };
  }

  function checkRangeReply(reply: unknown, from: string): RangePullReply {
    const r = reply as Partial<RangePullReply> | null;
    if (!r || typeof r.bytes !== 'number' || typeof r.entries !== 'number' || (r.next !== undefined && !(r.next instanceof Uint8Array))) {
      throw new BadRequestError(`${RANGE_PULL_MESSAGE}: malformed reply from ${from}`);
    }
    return r as RangePullReply;
  }

  // ---------------------------------------------------------------- cleanup (old owner)

  /** Drops the plain buckets this node does not own in `table` (range table; storage nodes). */
  async function sweepRange(table: RangeTable, at: ClusterState): Promise<number> {
    let held: Uint8Array[];
    try {
      held = (await moveFn(node, 'buckets', [])) as Uint8Array[];
    } catch {
      return 0;
    }
    let dropped = 0;
    for (const b of held) {
      if (installed !== at) break;
      const owner = findEntry(table, b[0] ?? -1)?.node;
      // A bucket no entry covers stays where it is: nobody else would take it.
      if (owner === undefined || owner === self) continue;
      await moveFn(node, 'drop', [b]);
      dropped++;
    }
    return dropped;
  }

  async function sweep(layout: RingLayout, at: ClusterState): Promise<number> {
    if (!hasReplicaModule(node)) return 0;
    const ring = ringOfLayout(layout);
    const held = (await replicaFn(node, 'buckets', [])) as Array<{ bucket: Uint8Array; keys: number; bytes: number }>;
    let dropped = 0;
    for (const b of held) {
      // A newer epoch installed meanwhile (a write carrying it refreshed this node): stop.
      if (installed !== at) break;
      if (replicaSet(ring, layout.n, b.bucket).includes(self)) continue;
      await replicaFn(node, 'dropBucket', [b.bucket]);
      dropped++;
    }
    return dropped;
  }

  async function runCleanup(state: ClusterState): Promise<void> {
    const t = state.transition;
    if (t) {
      if (t.phase !== 'cleanup' || cleaned >= state.epoch) return;
      const seen = await seenNow(0);
      if (waitingFor(seen, state.epoch, now(), livenessMs).length > 0) return;
      const dropped = t.to.strategy === 'ring' ? await sweep(t.to, state) : await sweepRange(t.to.table, state);
      if (dropped > 0) logger.info(`${self}: cleanup of epoch ${state.epoch}: dropped ${dropped} buckets it no longer owns`);
      lastSweep = now();
      sweptLayout = JSON.stringify(t.to);
      cleaned = state.epoch;
      await beat(true);
      return;
    }
    // Settled: sweep at once after a change (or a restart), then now and then (a hinted copy
    // handed back late can land on a former owner). Rarely: a sweep lists every bucket the
    // node holds and builds the ring, work client calls wait behind.
    const recently = now() - lastSweep < SETTLED_SWEEP_HEARTBEATS * heartbeatMs;
    if (cleaned >= state.epoch && recently) return;
    if (cleaned < state.epoch && recently && sweptLayout === JSON.stringify(state.layout)) {
      // The change that just ended: its cleanup swept for this very layout moments ago.
      cleaned = state.epoch;
      await beat(true);
      return;
    }
    lastSweep = now();
    sweptLayout = JSON.stringify(state.layout);
    const dropped = state.layout.strategy === 'ring' ? await sweep(state.layout, state) : await sweepRange(state.layout.table, state);
    if (dropped > 0) logger.info(`${self}: dropped ${dropped} buckets it does not own in epoch ${state.epoch}`);
    if (cleaned < state.epoch) {
      cleaned = state.epoch;
      await beat(true);
    }
  }

  // ---------------------------------------------------------------- driving the transition

  async function planTransfers(state: ClusterState): Promise<TransfersDoc | undefined> {
    const t = state.transition!;
    if (t.from.strategy === 'range' && t.to.strategy === 'range') return writeTransfers(state, await rangeMoves(t.from, t.to));
    if (t.from.strategy !== 'ring' || t.to.strategy !== 'ring') return { transition: t.id, items: [] };
    const fromRing = ringOfLayout(t.from);
    const toRing = ringOfLayout(t.to);
    const sizes = new Map<string, number>();
    for (const m of t.from.members) {
      try {
        const list = (await node.send(m, BUCKETS_MESSAGE, null)) as Array<{ bucket: Uint8Array; bytes: number }>;
        if (!Array.isArray(list)) continue;
        for (const b of list) {
          if (!(b?.bucket instanceof Uint8Array)) continue;
          const hex = bucketHex(b.bucket);
          sizes.set(hex, Math.max(sizes.get(hex) ?? 0, Number(b.bytes) || 0));
        }
      } catch (err) {
        logger.warn(`${self}: planning transfers: ${m} did not list its buckets (${(err as Error).message}); its replicas cover it`);
      }
    }
    const pairs: MovePairs = new Map();
    for (const [hex, bytes] of [...sizes.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
      for (const move of replicaMoves(fromRing, toRing, t.to.n, hexBytes(hex))) addMove(pairs, move.from, move.to, hex, bytes);
    }
    return writeTransfers(state, [...pairs.values()]);
  }

  /** Range table: each bucket an old member holds and owns moves whole to its owner in the new table. */
  async function rangeMoves(from: RangeLayout, to: RangeLayout): Promise<MovePair[]> {
    const pairs: MovePairs = new Map();
    for (const m of from.members) {
      let list: Array<{ bucket: Uint8Array; bytes: number }>;
      try {
        list = (await node.send(m, BUCKETS_MESSAGE, null)) as Array<{ bucket: Uint8Array; bytes: number }>;
      } catch (err) {
        // The range table keeps one copy: the plan waits for the member rather than lose its buckets.
        throw new BadRequestError(`planning transfers: ${m} did not list its buckets (${(err as Error).message}); retrying`);
      }
      if (!Array.isArray(list)) continue;
      const held = list
        .filter((b) => b?.bucket instanceof Uint8Array && b.bucket.length > 0)
        .map((b) => ({ first: b.bucket[0]!, hex: bucketHex(b.bucket), bytes: Number(b.bytes) || 0 }))
        .sort((x, y) => (x.hex < y.hex ? -1 : x.hex > y.hex ? 1 : 0));
      for (const b of held) {
        const after = findEntry(to.table, b.first)?.node;
        if (findEntry(from.table, b.first)?.node !== m || after === undefined || after === m) continue;
        addMove(pairs, m, after, b.hex, b.bytes);
      }
    }
    return [...pairs.values()];
  }

  async function writeTransfers(state: ClusterState, pairs: MovePair[]): Promise<TransfersDoc | undefined> {
    const t = state.transition!;
    const items: TransferRecord[] = pairs
      .sort((a, b) => (a.from + a.to < b.from + b.to ? -1 : 1))
      .map((p, i) => ({
        id: `t${i + 1}`,
        from: p.from,
        to: p.to,
        buckets: p.buckets,
        plannedBytes: p.bytes,
        doneBuckets: 0,
        doneBytes: 0,
        cursor: { bucket: 0 },
        status: state.paused ? 'paused' : 'waiting',
      }));
    const written = await casDoc<TransfersDoc>(store, TRANSFERS_KEY, decodeTransfers, (cur) =>
      cur?.transition === t.id ? undefined : { transition: t.id, items },
    );
    return written.doc;
  }

  async function drive(): Promise<void> {
    // A transition starts with a commit, which every node installs (watch, poll, or a call
    // carrying the epoch): with none installed here there is nothing to drive.
    if (!installed?.transition) return;
    // Whether this node is the claimant: the seen-entries of half a liveness window ago tell.
    if (claimant(await seenNow(livenessMs / 2)) !== self) return;
    const found = await readState(store);
    if (!found) return;
    const state = found.doc;
    const t = state.transition;
    if (!t) return;
    const seen = await seenNow(0);
    if (waitingFor(seen, state.epoch, now(), livenessMs).length > 0) return;
    if (t.phase === 'write-both') {
      const doc = await planTransfers(state);
      if (!doc) return;
    } else if (t.phase === 'stream') {
      const doc = await readTransfers(store);
      if (!doc || doc.doc.transition !== t.id || doc.doc.items.some((i) => i.status !== 'done')) return;
    } else if (t.phase === 'cleanup') {
      const involved = new Set([...t.from.members, ...t.to.members]);
      const pending = liveNodes(seen, now(), livenessMs).filter((s) => s.storage && involved.has(s.node) && (s.cleaned ?? 0) < state.epoch);
      if (pending.length > 0) return;
    }
    const next = nextPhase(t.phase);
    const advanced = await casDoc<ClusterState>(store, STATE_KEY, decodeState, (cur) => {
      if (!cur || cur.epoch !== state.epoch || cur.transition?.id !== t.id) return undefined;
      return next
        ? { ...cur, epoch: cur.epoch + 1, transition: { ...t, phase: next } }
        : { format: 1, epoch: cur.epoch + 1, layout: t.to, staged: cur.staged, limits: cur.limits, paused: cur.paused };
    });
    if (advanced.changed) {
      logger.info(
        `${self}: cluster epoch ${state.epoch + 1}: ${next ? `transition ${t.id} enters ${next}` : `transition ${t.id} finished`}`,
      );
      await install(advanced.doc!);
    }
  }

  async function doTick(): Promise<void> {
    if (stopped || !installed) return;
    const state = installed;
    if (options.storage) {
      await runTransfers(state);
      await runCleanup(state);
      await drive();
    }
  }

  function pull(body: unknown): Promise<unknown> {
    const b = body as Partial<PullBody> | null;
    if (!b || typeof b !== 'object') throw new BadRequestError(`${TRANSFER_PULL_MESSAGE}: body must be an object`);
    let bucket: BucketName;
    try {
      bucket = bucketBytes(b.bucket as BucketName);
    } catch (err) {
      throw new BadRequestError(`${TRANSFER_PULL_MESSAGE}: ${(err as Error).message}`);
    }
    if (b.after !== null && b.after !== undefined && !(b.after instanceof Uint8Array)) {
      throw new BadRequestError(`${TRANSFER_PULL_MESSAGE}: after must be bytes or null, got ${describeType(b.after)}`);
    }
    if (!hasReplicaModule(node)) throw new BadRequestError(`node ${self} has no versioned storage to transfer from`);
    return replicaFn(node, 'scanBucket', [bucket, b.after ?? null, b.limit]);
  }

  const agent: MembershipAgent = {
    async start() {
      if (options.storage) node.handle(TRANSFER_PULL_MESSAGE, pull);
      let state = await readOrSeed();
      let waitedSince = now();
      while (!state && !stopped) {
        if (now() - waitedSince >= 0) {
          logger.warn(
            `${self}: no cluster state yet, and this node's config has no members to seed one: waiting for the cluster (start a seed node, or stage this one with \`ringkv cluster join ${self}\`)`,
          );
          waitedSince = now() + 30_000;
        }
        await sleep(500);
        state = await readOrSeed().catch(() => undefined);
      }
      if (!state) return;
      compareWithSeed(state);
      const involved = new Set([...state.layout.members, ...(state.transition ? state.transition.to.members : [])]);
      if (!involved.has(self)) {
        logger.warn(
          `${self}: not a member of the cluster (epoch ${state.epoch}, members ${state.layout.members.join(', ')}): it routes but owns nothing; stage it with \`ringkv cluster join ${self}\`, then plan and commit`,
        );
      }
      await install(state);
      watcher = await store.watch((change) => {
        if (change.key === STATE_KEY) void agent.refresh().catch(() => {});
      });
      const poll = setInterval(
        () => {
          // The watch installs new epochs at once; the poll, for a watch lost with the NATS
          // connection, reads the state every second, not every tick.
          if (now() - lastPoll >= POLL_MS) {
            lastPoll = now();
            void agent.refresh().catch(() => {});
          }
          void agent.tick().catch((err: unknown) => logger.warn(`${self}: cluster work failed: ${(err as Error).message}`));
        },
        Math.min(1000, heartbeatMs),
      );
      poll.unref?.();
      timers.push(poll);
    },
    async stop() {
      stopped = true;
      for (const t of timers) clearInterval(t);
      await watcher?.close();
      await Promise.allSettled([...running.values(), ticking ?? Promise.resolve()]);
    },
    epoch: () => installed?.epoch ?? 0,
    state: () => installed,
    warning: () => warning,
    refresh(minEpoch) {
      if (minEpoch !== undefined && installed && installed.epoch >= minEpoch) return Promise.resolve();
      refreshing ??= Promise.race([doRefresh(), sleep(1000)]).finally(() => (refreshing = undefined));
      return refreshing;
    },
    tick() {
      // The heartbeat does not wait for the round of work: a long one (a first sweep after a
      // restart, dropping buckets under load) must not make this node look down.
      void beat();
      // Bounded: a store call that never answers (a connection caught mid-restart) must not
      // stop this node's transfers and cleanup for good. Work still running goes on.
      ticking ??= Promise.race([doTick(), sleep(tickLimitMs)]).finally(() => (ticking = undefined));
      return ticking;
    },
  };
  return agent;
}

/** Buckets (hex) and bytes that move from one node to another, keyed by the pair. */
interface MovePair {
  from: string;
  to: string;
  buckets: string[];
  bytes: number;
}
type MovePairs = Map<string, MovePair>;

function addMove(pairs: MovePairs, from: string, to: string, hex: string, bytes: number): void {
  const k = `${from}\u0000${to}`;
  let p = pairs.get(k);
  if (!p) pairs.set(k, (p = { from, to, buckets: [], bytes: 0 }));
  p.buckets.push(hex);
  p.bytes += bytes;
}

function update(doc: TransfersDoc, id: string, patch: Partial<TransferRecord>): TransfersDoc {
  return { ...doc, items: doc.items.map((x) => (x.id === id ? { ...x, ...patch } : x)) };
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
