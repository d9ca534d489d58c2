/**
 * Active anti-entropy on one node: hash trees over what this node holds as a primary, one per
 * replica group (the sorted set of a bucket's N primaries: every bucket of a group lives on the
 * same nodes, so two members of a group can compare everything they should both hold), kept
 * current from the storage change log; periodic exchanges with the other members of each
 * group ({@link runExchange}); repairs through `Replica.merge`, the merge read repair uses;
 * tombstone reaping only for deletes every replica was confirmed to hold.
 *
 * Storage side (the `Replica` functions of core's replication contract): `scan` builds the
 * trees at start, `changes` keeps them current, `fetch` and `merge` repair, `reapExact` reaps.
 *
 * Bounds: one exchange round at a time per node; at most `maxKeysPerExchange` objects repaired
 * per exchange (a truncated exchange is followed up at once, paced by the rate limit); repairs
 * paced to `maxKeysPerSecond`; every message carries at most `MAX_ITEMS_PER_MESSAGE` items.
 *
 * @example
 * const aae = createAntiEntropy({ node, ring, n: 3, config: resolved.antiEntropy, isUp, logger });
 * aae.attach();            // handlers
 * aae.start();             // build trees, then rounds every intervalMs
 * await aae.runRound();    // or one round now
 * aae.stats();             // counters for `ringkv cluster status` and /metrics
 */
import { BadRequestError, bucketBytes, type Logger, type StrategyHost, type VersionedObject } from '@ringkv/core';
import { hasReplicaModule, replicaFn } from '../replica-messages.js';
import type { Ring } from '../ring.js';
import type { ResolvedAntiEntropyConfig } from './anti-entropy-config.js';
import { runExchange, NOT_READY, type ExchangePeer, type ExchangeResult } from './exchange.js';
import { createHashTree, DEFAULT_TREE_SHAPE, hashAt, HASH_BYTES, type HashTree, type TreeShape } from './hash-tree.js';
import {
  AAE_DIGESTS_MESSAGE,
  AAE_DONE_MESSAGE,
  AAE_FETCH_MESSAGE,
  AAE_HASHES_MESSAGE,
  AAE_KEYS_MESSAGE,
  AAE_REAP_MESSAGE,
  packIndices,
  parseDone,
  parseHashes,
  parseKeys,
  parseReap,
  parseRefs,
  wireSize,
  type ExchangeOutcome,
} from './messages.js';
import { decodeRef, encodeRef, entryHash, entryHashOf, latin1, refFromId, refId, refIdOf, tombstoneTs } from './object-digest.js';

export interface AntiEntropyDeps {
  node: StrategyHost;
  /** The ring in force (it changes with membership). */
  ring(): Ring;
  n: number;
  config: ResolvedAntiEntropyConfig;
  isUp(node: string): boolean;
  logger(): Logger;
  /** @default DEFAULT_TREE_SHAPE */
  shape?: TreeShape;
  /** @default Date.now */
  now?(): number;
  /** Timeout of each anti-entropy message. @default 10000 */
  timeoutMs?: number;
  /** Checks objects pulled from a peer before they are merged here (throws to refuse them). */
  admit?(objects: readonly VersionedObject[]): void;
}

/** One exchange as the initiator saw it. */
export interface ExchangeReport extends ExchangeResult {
  readonly group: string;
  readonly peer: string;
  readonly outcome: ExchangeOutcome;
  /** Bytes of every request and reply of the exchange (repairs included), msgpack-encoded. */
  readonly bytesSent: number;
  readonly bytesReceived: number;
  readonly ms: number;
  readonly error?: string;
}

/** Last exchange with one peer over one group, as either side recorded it. */
export interface PairState {
  readonly group: string;
  readonly peer: string;
  readonly at: number;
  readonly outcome: ExchangeOutcome;
}

/**
 * Counters of one node's anti-entropy, for `ringkv cluster status`, `/metrics` and logs.
 * Counters only grow (since the strategy attached); `synced` and `keys` are current values.
 */
export interface AntiEntropyStats {
  readonly enabled: boolean;
  /** `building` while the trees are (re)built from a scan; exchanges wait for `ready`. */
  readonly state: 'idle' | 'building' | 'ready' | 'stopped';
  /** Objects in this node's trees (its primary area, bucket objects included). */
  readonly keys: number;
  /** Replica groups with a tree here. */
  readonly trees: number;
  /** Exchanges this node started and finished (any outcome but failed). */
  readonly exchanges: number;
  /** Of those, how many found the roots equal. */
  readonly exchangesInSync: number;
  readonly exchangesFailed: number;
  /** Objects found different and repaired, either way (pushed + pulled). */
  readonly keysRepaired: number;
  /** Objects merged into peers. */
  readonly keysPushed: number;
  /** Objects merged into this node. */
  readonly keysPulled: number;
  readonly bytesSent: number;
  readonly bytesReceived: number;
  /** Tombstones this node removed after every replica confirmed holding them. */
  readonly tombstonesReaped: number;
  /** Full tree builds from a storage scan (start, log overflow, storage cleared). */
  readonly rebuilds: number;
  /** Wall ms of the last exchange this node took part in (either side). */
  readonly lastExchangeAt: number | null;
  /**
   * True when the trees are built and, since this node started, an exchange completed (in
   * sync or fully repaired) with every live peer, and the last exchange of every pair known
   * here did: what a rolling restart waits for before taking down the next node.
   */
  readonly synced: boolean;
  readonly pairs: readonly PairState[];
}

export interface AntiEntropy {
  /** Registers the `ring.aae.*` handlers on the node. */
  attach(): void;
  /** Builds the trees, then runs rounds every `intervalMs` (with jitter) and folds in writes every `treeUpdateMs`. */
  start(): void;
  stop(): void;
  /** Resolves once the trees are built (builds them if nobody started to). */
  ready(): Promise<void>;
  /** Folds the storage change log into the trees now. */
  catchUp(): Promise<void>;
  /** One round now: exchanges every group this node holds with every live peer of it. */
  runRound(): Promise<ExchangeReport[]>;
  /** One exchange now. */
  exchange(group: string, peer: string): Promise<ExchangeReport>;
  /** Removes tombstones older than `olderThanTs` that every replica of their group holds identically. */
  reap(olderThanTs: number): Promise<number>;
  /** A peer came back (or restarted): exchange with it soon. */
  peerUp(peer: string): void;
  stats(): AntiEntropyStats;
  /** The ring changed (membership): groups are recomputed and the trees rebuilt from a scan. */
  ringChanged(): void;
  /** This node's tree of a group (tests, diagnostics). */
  tree(group: string): HashTree | undefined;
  /** The group key of a bucket: its N primaries, sorted, space-separated. */
  groupOf(bucket: Uint8Array): string;
}

interface GroupTree {
  readonly key: string;
  readonly members: readonly string[];
  readonly tree: HashTree;
  /** Objects whose siblings are all tombstones -> newest tombstone ts: reaping candidates. */
  readonly tombstones: Map<string, number>;
}

/**
 * Objects per scan page of a tree build. A page is read, decoded and hashed in one go on the
 * event loop (about 0.1 ms an object of 8 KB on a loaded machine), and the build yields
 * between pages: every node rebuilds its trees when a membership change ends, and client
 * calls must not wait behind a whole store's worth of hashing (1,000-object pages held the
 * loop for 100-260 ms on every node at that moment).
 */
const SCAN_BATCH = 100;
/**
 * The share of the event loop a tree build may take. Every node rebuilds at the same moment
 * (a membership change ends: each node's anti-entropy starts over on the new ring's groups),
 * and on a machine whose cores those nodes share, builds at full speed left client writes
 * waiting 200-450 ms. The trees are not needed in a hurry: anti-entropy paused for the whole
 * change, and the transfers covered what it would have repaired.
 */
const BUILD_SHARE = 0.25;
/** The longest wait before a started node builds its trees unasked (see `start`). */
const BUILD_SPREAD_MAX_MS = 5000;
/** The longest pause between two pages of a build. */
const BUILD_PAUSE_MAX_MS = 250;

/** After a page that took `spentMs`, waits so the build keeps to {@link BUILD_SHARE} (calls that arrived meanwhile run first). */
function pauseAfterPage(spentMs: number): Promise<void> {
  const ms = Math.min(BUILD_PAUSE_MAX_MS, Math.round(spentMs * (1 / BUILD_SHARE - 1)));
  return ms > 0 ? sleep(ms) : new Promise<void>((r) => setImmediate(r));
}
/** How long a peer's first request waits for this node's trees to be built before "not ready". */
const BUILD_WAIT_MS = 2000;
/**
 * Changes folded in one slice. A slice runs without a break (read, decode and hash each
 * object), so it is kept small and the fold yields to I/O between slices: at 1000 a busy
 * replica stalled its calls for milliseconds every tree update.
 */
const CHANGES_BATCH = 200;

/** Lets pending I/O (the calls this node serves) run before the next slice of background work. */
const yieldToIo = () => new Promise<void>((resolve) => setImmediate(resolve));

export function createAntiEntropy(deps: AntiEntropyDeps): AntiEntropy {
  const { node, config } = deps;
  const shape = deps.shape ?? DEFAULT_TREE_SHAPE;
  const now = deps.now ?? Date.now;
  const timeoutMs = deps.timeoutMs ?? 10_000;
  const log = () => deps.logger();
  const self = node.name;

  const trees = new Map<string, GroupTree>();
  const groupCache = new Map<string, string>();
  const pairs = new Map<string, PairState>();
  const counters = {
    exchanges: 0,
    exchangesInSync: 0,
    exchangesFailed: 0,
    keysPushed: 0,
    keysPulled: 0,
    bytesSent: 0,
    bytesReceived: 0,
    tombstonesReaped: 0,
    rebuilds: 0,
  };
  let lastExchangeAt: number | null = null;
  let state: AntiEntropyStats['state'] = 'idle';
  let since = 0;
  let work: Promise<unknown> = Promise.resolve();
  let built: Promise<void> | undefined;
  let round: Promise<ExchangeReport[]> | undefined;
  let roundTimer: ReturnType<typeof setTimeout> | undefined;
  let soonTimer: ReturnType<typeof setTimeout> | undefined;
  let buildTimer: ReturnType<typeof setTimeout> | undefined;
  let updateTimer: ReturnType<typeof setInterval> | undefined;
  let running = false;
  /**
   * The one exchange this node takes part in at a time, either side. Two nodes repairing the
   * same third one at once would each send it everything; with one slot per node the second
   * is told "busy", retries shortly, and then finds the pair in sync.
   */
  let session: { peer: string; group: string; role: 'initiator' | 'responder'; expires: number } | undefined;
  const sessionFree = () => session === undefined || session.expires < now();
  // A function, not an inline test: TypeScript would narrow `state` across the awaits above.
  const stopped = () => state === 'stopped';
  const isReady = () => state === 'ready';
  // Token bucket for repairs: at most maxKeysPerSecond objects per second, one second of burst.
  let tokens = config.maxKeysPerSecond;
  let tokensAt = now();

  /** Storage work (build, catch-up) runs one at a time, in order. */
  function serial<T>(fn: () => Promise<T>): Promise<T> {
    const p = work.then(fn, fn);
    work = p.catch(() => undefined);
    return p;
  }

  let cachedRing: Ring | undefined;
  function groupOf(bucket: Uint8Array): string {
    const ring = deps.ring();
    if (ring !== cachedRing) {
      groupCache.clear();
      cachedRing = ring;
    }
    const id = latin1(bucket);
    let g = groupCache.get(id);
    if (g === undefined) {
      g = ring
        .preferenceList(bucket, deps.n)
        .map((r) => r.node)
        .sort()
        .join(' ');
      if (groupCache.size > 100_000) groupCache.clear();
      groupCache.set(id, g);
    }
    return g;
  }

  /** The tree of `key`, created empty when this node is one of its members (else undefined). */
  function treeFor(key: string): GroupTree | undefined {
    const have = trees.get(key);
    if (have) return have;
    const members = key.split(' ');
    const valid =
      members.length === deps.n &&
      members.includes(self) &&
      new Set(members).size === members.length &&
      members.every((m, i) => deps.ring().members.includes(m) && (i === 0 || members[i - 1]! < m));
    if (!valid) return undefined;
    const g: GroupTree = { key, members, tree: createHashTree(shape), tombstones: new Map() };
    trees.set(key, g);
    return g;
  }

  function apply(o: VersionedObject): void {
    const bucket = bucketBytes(o.bucket);
    if (bucket.length === 0) return;
    const g = treeFor(groupOf(bucket));
    // An object of a group this node is not in (left from an earlier ring): not ours to compare.
    if (!g) return;
    const id = refIdOf(bucket, o.key);
    g.tree.set(id, entryHashOf(bucket, o.key, o.siblings));
    const ts = tombstoneTs(o.siblings);
    if (ts === undefined) g.tombstones.delete(id);
    else g.tombstones.set(id, ts);
  }

  function build(): Promise<void> {
    return serial(async () => {
      if (!hasReplicaModule(node) || !node.modules.lookup('Replica', 'scan', 2)) {
        state = 'ready';
        return;
      }
      state = 'building';
      counters.rebuilds++;
      const started = now();
      // Groups follow the ring: start from none, the scan recreates those this node is in.
      trees.clear();
      // Activate the change log first: whatever is written during the scan is then also in it.
      const first = (await replicaFn(node, 'changes', [0, 0])) as { seq: number };
      since = first.seq;
      let after: Uint8Array | null = null;
      let count = 0;
      do {
        const pageStart = performance.now();
        const batch = (await replicaFn(node, 'scan', [after, SCAN_BATCH])) as { objects: VersionedObject[]; next: Uint8Array | null };
        for (const o of batch.objects) apply(o);
        count += batch.objects.length;
        after = batch.next;
        if (after !== null) await pauseAfterPage(performance.now() - pageStart);
      } while (after !== null && !stopped());
      if (stopped()) return;
      state = 'ready';
      log().info(`anti-entropy: trees built from ${count} objects in ${now() - started} ms`, { node: self, trees: trees.size });
      await foldChanges();
    });
  }

  async function foldChanges(): Promise<void> {
    for (let i = 0; i < 10_000 && state === 'ready'; i++) {
      const batch = (await replicaFn(node, 'changes', [since, CHANGES_BATCH])) as {
        reset: boolean;
        seq: number;
        objects: VersionedObject[];
        more: boolean;
      };
      if (batch.reset) {
        log().info('anti-entropy: storage change log was reset (overflow or storage cleared); rebuilding trees', { node: self });
        state = 'idle';
        void build().catch((err: unknown) => log().warn(`anti-entropy: tree rebuild failed: ${(err as Error).message}`));
        return;
      }
      for (const o of batch.objects) apply(o);
      since = batch.seq;
      if (!batch.more) return;
      await yieldToIo();
    }
  }

  function catchUp(): Promise<void> {
    if (state !== 'ready') return Promise.resolve();
    return serial(foldChanges);
  }

  function ready(): Promise<void> {
    if (state === 'ready') return catchUp();
    built ??= build().finally(() => {
      built = undefined;
    });
    return built;
  }

  async function pace(count: number): Promise<void> {
    for (;;) {
      const t = now();
      tokens = Math.min(config.maxKeysPerSecond, tokens + ((t - tokensAt) / 1000) * config.maxKeysPerSecond);
      tokensAt = t;
      // A batch larger than the bucket waits for a full bucket, then goes (never stuck).
      const need = Math.min(count, config.maxKeysPerSecond);
      if (tokens >= need) {
        tokens -= need;
        return;
      }
      await sleep(Math.ceil(((need - tokens) / config.maxKeysPerSecond) * 1000));
    }
  }

  function record(group: string, peer: string, outcome: ExchangeOutcome): void {
    const at = now();
    pairs.set(`${group}\n${peer}`, { group, peer, at, outcome });
    lastExchangeAt = at;
  }

  function peerFor(group: string, peer: string, bytes: { sent: number; received: number }): ExchangePeer {
    const send = async (type: string, body: unknown): Promise<unknown> => {
      bytes.sent += wireSize(body);
      const reply = await node.send(peer, type, body, timeoutMs);
      bytes.received += wireSize(reply);
      return reply;
    };
    return {
      async root(mine) {
        const reply = (await send(AAE_HASHES_MESSAGE, { from: self, group, level: 0, root: mine })) as {
          ready?: unknown;
          hashes?: unknown;
        };
        if (reply?.ready !== true) return NOT_READY;
        if (!(reply.hashes instanceof Uint8Array) || reply.hashes.length !== HASH_BYTES)
          throw new BadRequestError(`${peer} answered a malformed root`);
        return reply.hashes;
      },
      async children(level, parents) {
        const reply = (await send(AAE_HASHES_MESSAGE, { from: self, group, level, parents: packIndices(parents) })) as {
          ready?: unknown;
          hashes?: unknown;
        };
        if (reply?.ready !== true || !(reply.hashes instanceof Uint8Array))
          throw new BadRequestError(`${peer} stopped answering tree levels`);
        return reply.hashes;
      },
      async keys(segments) {
        const reply = (await send(AAE_KEYS_MESSAGE, { group, segments: packIndices(segments) })) as { refs?: unknown; hashes?: unknown };
        const refs = reply?.refs;
        const hashes = reply?.hashes;
        if (
          !Array.isArray(refs) ||
          !(hashes instanceof Uint8Array) ||
          hashes.length !== refs.length * HASH_BYTES ||
          !refs.every((r) => r instanceof Uint8Array)
        ) {
          throw new BadRequestError(`${peer} answered malformed segment entries`);
        }
        return (refs as Uint8Array[]).map((r, k) => [refId(r), hashAt(hashes, k)] as const);
      },
      async fetch(ids) {
        const reply = (await send(AAE_FETCH_MESSAGE, { refs: ids.map(refFromId) })) as { objects?: unknown };
        if (!Array.isArray(reply?.objects)) throw new BadRequestError(`${peer} answered malformed objects`);
        return reply.objects as VersionedObject[];
      },
      async merge(objects) {
        await send('ring.merge', { objects, hintFor: null });
      },
    };
  }

  async function exchange(group: string, peer: string): Promise<ExchangeReport> {
    const started = now();
    const bytes = { sent: 0, received: 0 };
    // Trees first: a build clears the tree map, and a tree taken before it would be a stale copy.
    await ready().catch(() => undefined);
    const g = treeFor(group);
    const base = { group, peer, inSync: false, ready: false, segments: 0, differing: 0, pushed: 0, pulled: 0, truncated: false };
    if (!g || !g.members.includes(peer) || peer === self) {
      return { ...base, outcome: 'failed', bytesSent: 0, bytesReceived: 0, ms: 0, error: `${peer} is not a peer of group ${group}` };
    }
    if (!sessionFree()) {
      return { ...base, outcome: 'not-ready', bytesSent: 0, bytesReceived: 0, ms: 0, error: `busy with ${session!.peer}` };
    }
    const mine = { peer, group, role: 'initiator' as const, expires: now() + 10 * timeoutMs };
    session = mine;
    try {
      await ready();
      const result = await runExchange(
        {
          tree: g.tree,
          fetch: async (ids) => (await replicaFn(node, 'fetch', [ids.map((id) => decodeRef(refFromId(id))!)])) as VersionedObject[],
          merge: async (objects) => {
            deps.admit?.(objects);
            await replicaFn(node, 'merge', [objects, null]);
          },
        },
        peerFor(group, peer, bytes),
        { maxKeys: config.maxKeysPerExchange, batchSize: config.batchSize, pace },
      );
      const outcome: ExchangeOutcome = !result.ready
        ? 'not-ready'
        : result.inSync
          ? 'in-sync'
          : result.truncated
            ? 'truncated'
            : 'repaired';
      if (result.ready) {
        counters.exchanges++;
        if (result.inSync) counters.exchangesInSync++;
        counters.keysPushed += result.pushed;
        counters.keysPulled += result.pulled;
        record(group, peer, outcome);
      }
      if (!result.inSync && result.ready) {
        // The peer saw the levels but not the end: tell it, so both sides know the pair converged.
        await node
          .send(peer, AAE_DONE_MESSAGE, { from: self, group, result: outcome }, timeoutMs)
          .then(() => void (bytes.sent += wireSize({ from: self, group, result: outcome })))
          .catch(() => undefined);
      }
      counters.bytesSent += bytes.sent;
      counters.bytesReceived += bytes.received;
      // Catch what was merged here into the trees at once, so the next exchange compares it.
      if (result.pulled > 0) await catchUp();
      const report: ExchangeReport = {
        ...base,
        ...result,
        outcome,
        bytesSent: bytes.sent,
        bytesReceived: bytes.received,
        ms: now() - started,
      };
      if (result.differing > 0) {
        log().info(
          `anti-entropy: exchange with ${peer}: ${result.differing} objects differed, ${result.pushed} pushed, ${result.pulled} pulled` +
            `${result.truncated ? ' (more left for a follow-up)' : ''}, ${bytes.sent + bytes.received} bytes`,
          { node: self, peer, group },
        );
      } else
        log().debug(`anti-entropy: exchange with ${peer}: ${outcome}, ${bytes.sent + bytes.received} bytes`, { node: self, peer, group });
      return report;
    } catch (err) {
      counters.exchangesFailed++;
      counters.bytesSent += bytes.sent;
      counters.bytesReceived += bytes.received;
      record(group, peer, 'failed');
      log().warn(`anti-entropy: exchange with ${peer} failed: ${(err as Error).message}`, { node: self, peer, group });
      return {
        ...base,
        outcome: 'failed',
        bytesSent: bytes.sent,
        bytesReceived: bytes.received,
        ms: now() - started,
        error: (err as Error).message,
      };
    } finally {
      if (session === mine) session = undefined;
    }
  }

  async function runRoundNow(): Promise<ExchangeReport[]> {
    await ready();
    const reports: ExchangeReport[] = [];
    for (const g of [...trees.values()]) {
      if (g.tree.size === 0 && !g.members.some((m) => pairs.has(`${g.key}\n${m}`))) continue;
      for (const peer of g.members) {
        if (peer === self || !deps.isUp(peer) || state === 'stopped') continue;
        reports.push(await exchange(g.key, peer));
      }
    }
    return reports;
  }

  function runRound(): Promise<ExchangeReport[]> {
    round ??= runRoundNow().finally(() => {
      round = undefined;
    });
    return round;
  }

  function scheduleRound(delayMs: number): void {
    if (!running) return;
    if (roundTimer) clearTimeout(roundTimer);
    roundTimer = setTimeout(() => {
      roundTimer = undefined;
      void runRound()
        .then((reports) => {
          // Work left (truncated) goes on at once, paced by the rate limit; a peer not ready
          // yet (rebuilding its trees) is tried again shortly; otherwise wait an interval.
          const again = reports.some((r) => r.outcome === 'truncated');
          const retry = reports.some((r) => r.outcome === 'not-ready');
          scheduleRound(again ? 0 : retry ? Math.min(config.intervalMs, 500) : jittered());
        })
        .catch((err: unknown) => {
          log().warn(`anti-entropy: round failed: ${(err as Error).message}`, { node: self });
          scheduleRound(jittered());
        });
    }, delayMs);
    roundTimer.unref?.();
  }

  // Rounds of different nodes drift apart, so two nodes rarely repair the same pair at once.
  const jittered = () => Math.round(config.intervalMs * (0.9 + 0.2 * Math.random()));

  async function reap(olderThanTs: number): Promise<number> {
    await ready();
    let reaped = 0;
    for (const g of [...trees.values()]) {
      const peers = g.members.filter((m) => m !== self);
      if (peers.some((p) => !deps.isUp(p))) continue;
      const candidates = [...g.tombstones]
        .filter(([, ts]) => ts < olderThanTs)
        .map(([id]) => id)
        .slice(0, config.maxKeysPerExchange);
      if (candidates.length === 0) continue;
      const own = ((await replicaFn(node, 'fetch', [candidates.map((id) => decodeRef(refFromId(id))!)])) as VersionedObject[]).filter(
        (o) => tombstoneTs(o.siblings) !== undefined,
      );
      let confirmed = own.map((o) => ({ o, ref: encodeRef(bucketBytes(o.bucket), o.key) }));
      try {
        // Every other replica must hold exactly the same sibling set: then no replica keeps a
        // value the tombstone does not cover, and removing it everywhere loses nothing.
        for (const peer of peers) {
          if (confirmed.length === 0) break;
          const refs = confirmed.map((c) => c.ref);
          const reply = (await node.send(peer, AAE_DIGESTS_MESSAGE, { group: g.key, refs }, timeoutMs)) as { hashes?: unknown };
          const hashes = reply?.hashes;
          if (!(hashes instanceof Uint8Array) || hashes.length !== refs.length * HASH_BYTES)
            throw new BadRequestError(`${peer} answered malformed digests`);
          confirmed = confirmed.filter((c, k) => {
            const mine = entryHash(c.ref, c.o.siblings)!;
            const theirs = hashAt(hashes, k);
            return mine.hi === theirs.hi && mine.lo === theirs.lo;
          });
        }
        if (confirmed.length === 0) continue;
        const objects = confirmed.map((c) => c.o);
        for (const peer of peers) await node.send(peer, AAE_REAP_MESSAGE, { objects }, timeoutMs);
        const n = (await replicaFn(node, 'reapExact', [objects])) as number;
        reaped += n;
        counters.tombstonesReaped += n;
      } catch (err) {
        log().warn(`anti-entropy: reaping in group ${g.key} stopped: ${(err as Error).message}`, { node: self });
      }
    }
    if (reaped > 0) log().info(`anti-entropy: reaped ${reaped} tombstones every replica held`, { node: self });
    await catchUp();
    return reaped;
  }

  function stats(): AntiEntropyStats {
    let keys = 0;
    for (const g of trees.values()) keys += g.tree.size;
    const list = [...pairs.values()];
    const livePeers = new Set<string>();
    for (const g of trees.values()) for (const m of g.members) if (m !== self && deps.isUp(m)) livePeers.add(m);
    const good = (o: ExchangeOutcome) => o === 'in-sync' || o === 'repaired';
    const synced =
      state === 'ready' &&
      [...livePeers].every((p) => list.some((s) => s.peer === p)) &&
      list.filter((s) => deps.isUp(s.peer)).every((s) => good(s.outcome));
    return {
      enabled: config.enabled,
      state,
      keys,
      trees: trees.size,
      ...counters,
      keysRepaired: counters.keysPushed + counters.keysPulled,
      lastExchangeAt,
      synced,
      pairs: list,
    };
  }

  function serveTree(group: string, from?: string): GroupTree {
    const g = treeFor(group);
    if (!g) throw new BadRequestError(`anti-entropy: ${self} is not a member of replica group ${JSON.stringify(group)}`);
    if (from !== undefined && (!g.members.includes(from) || from === self)) {
      throw new BadRequestError(`anti-entropy: ${from} is not a peer of ${self} in replica group ${JSON.stringify(group)}`);
    }
    return g;
  }

  return {
    attach() {
      node.handle(AAE_HASHES_MESSAGE, async (body) => {
        const req = parseHashes(body, shape);
        serveTree(req.group, req.from);
        if (state !== 'ready') {
          // A small store builds in moments: wait a little rather than send the peer away; a
          // large one answers "not ready" and the peer comes back shortly.
          const building = ready().then(
            () => true,
            () => false,
          );
          const waited = await Promise.race([building, sleep(BUILD_WAIT_MS).then(() => false)]);
          if (!waited || !isReady()) return { ready: false };
        }
        // Taken after the wait: the build replaced the tree map.
        const g = serveTree(req.group, req.from);
        // The session this request belongs to, held before any await: another exchange may end
        // (and clear `session`) while this one waits for the change log.
        const ours = session && !sessionFree() && session.peer === req.from && session.group === req.group ? session : undefined;
        if (req.level === 0) {
          // Busy elsewhere, or both sides started this same pair at once: the smaller name
          // goes on as the initiator, the other serves.
          if (!sessionFree() && ours?.role !== 'responder' && !(ours && self > req.from)) return { ready: false, busy: true };
          await catchUp();
          const root = g.tree.root();
          if (req.root && Buffer.from(req.root).equals(Buffer.from(root))) {
            record(req.group, req.from, 'in-sync');
            if (ours?.role === 'responder' && session === ours) session = undefined;
          } else if (!ours || ours.role === 'responder') {
            session = { peer: req.from, group: req.group, role: 'responder', expires: now() + 2 * timeoutMs };
          }
          return { ready: true, hashes: root };
        }
        if (ours?.role === 'responder') ours.expires = now() + 2 * timeoutMs;
        return { ready: true, hashes: g.tree.children(req.level, req.parents) };
      });
      node.handle(AAE_KEYS_MESSAGE, (body) => {
        const req = parseKeys(body, shape);
        const g = serveTree(req.group);
        const refs: Uint8Array[] = [];
        const ids: string[] = [];
        for (const s of req.segments) for (const id of g.tree.segment(s).keys()) ids.push(id);
        const hashes = new Uint8Array(ids.length * HASH_BYTES);
        const view = new DataView(hashes.buffer);
        ids.forEach((id, k) => {
          const h = g.tree.get(id)!;
          view.setUint32(k * HASH_BYTES, h.hi);
          view.setUint32(k * HASH_BYTES + 4, h.lo);
          refs.push(refFromId(id));
        });
        return { refs, hashes };
      });
      node.handle(AAE_FETCH_MESSAGE, async (body) => {
        const { refs } = parseRefs(body, AAE_FETCH_MESSAGE);
        const parsed = refs.map((r) => decodeRef(r));
        if (parsed.some((r) => r === undefined)) throw new BadRequestError(`${AAE_FETCH_MESSAGE}: a ref is malformed`);
        if (!hasReplicaModule(node)) throw new BadRequestError(`node ${self} has no versioned storage`);
        return { objects: await replicaFn(node, 'fetch', [parsed]) };
      });
      node.handle(AAE_DONE_MESSAGE, (body) => {
        const { from, group, result } = parseDone(body);
        serveTree(group, from);
        record(group, from, result);
        if (session?.role === 'responder' && session.peer === from && session.group === group) session = undefined;
        return 'ok';
      });
      node.handle(AAE_DIGESTS_MESSAGE, async (body) => {
        const { group, refs } = parseRefs(body, AAE_DIGESTS_MESSAGE);
        if (group === undefined) throw new BadRequestError(`${AAE_DIGESTS_MESSAGE}: group must be a string`);
        await ready();
        const g = serveTree(group);
        const hashes = new Uint8Array(refs.length * HASH_BYTES);
        const view = new DataView(hashes.buffer);
        refs.forEach((r, k) => {
          const h = g.tree.get(refId(r));
          if (!h) return;
          view.setUint32(k * HASH_BYTES, h.hi);
          view.setUint32(k * HASH_BYTES + 4, h.lo);
        });
        return { hashes };
      });
      node.handle(AAE_REAP_MESSAGE, async (body) => {
        const { objects } = parseReap(body);
        if (!hasReplicaModule(node)) throw new BadRequestError(`node ${self} has no versioned storage`);
        const n = (await replicaFn(node, 'reapExact', [objects])) as number;
        counters.tombstonesReaped += n;
        return n;
      });
    },
    start() {
      if (running) return;
      running = true;
      // Built within a random part of the first interval, not at once: when a membership change
      // ends, every node starts anti-entropy at the same moment, and the builds would all run
      // together. A round, a peer's exchange or a reap that needs the trees sooner builds them then.
      buildTimer = setTimeout(
        () => void ready().catch((err: unknown) => log().warn(`anti-entropy: building trees failed: ${(err as Error).message}`, { node: self })),
        Math.round(Math.random() * Math.min(config.intervalMs / 2, BUILD_SPREAD_MAX_MS)),
      );
      buildTimer.unref?.();
      updateTimer = setInterval(() => void catchUp().catch(() => undefined), config.treeUpdateMs);
      updateTimer.unref?.();
      scheduleRound(jittered());
    },
    stop() {
      running = false;
      state = 'stopped';
      for (const t of [roundTimer, soonTimer, buildTimer]) if (t) clearTimeout(t);
      if (updateTimer) clearInterval(updateTimer);
    },
    ready,
    catchUp,
    runRound,
    exchange,
    reap,
    peerUp(peer) {
      if (!running || peer === self) return;
      // Soon, not at once: a restarted peer needs a moment to build its trees.
      if (soonTimer) return;
      soonTimer = setTimeout(
        () => {
          soonTimer = undefined;
          scheduleRound(0);
        },
        Math.min(config.intervalMs, 200),
      );
      soonTimer.unref?.();
    },
    stats,
    ringChanged() {
      groupCache.clear();
      pairs.clear();
      if (state === 'ready') {
        state = 'idle';
        void ready().catch((err: unknown) => log().warn(`anti-entropy: tree rebuild failed: ${(err as Error).message}`, { node: self }));
      }
    },
    tree: (group) => trees.get(group)?.tree,
    groupOf,
  };
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
