/**
 * Active anti-entropy with the real store (memory backend) and three in-process ring nodes:
 *
 * - a node whose data is wiped comes back whole within two intervals, with no client reads;
 * - a replica that missed 1% of 100,000 writes converges exchanging <= 5% of a full copy, and
 *   an in-sync exchange sends one root request and reply;
 * - a delete that one replica missed (down, hinted copy lost) is never undone: tombstones are
 *   reaped only once every replica holds them, and the old value never comes back;
 * - a rolling restart under load (each node wiped and restarted once the previous one is in
 *   sync) loses no acknowledged write.
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import {
  createInProcessNetwork,
  createModuleRegistry,
  createNode,
  type InProcessNetwork,
  type RingkvNode,
  type VersionedObject,
  type VersionedReply,
} from '@ringkv/core';
import { createRingStrategy, wireSize, type RingStrategy, type RingStrategyConfig, type RingStrategyDeps } from '@ringkv/ring';
import { createStore, type Store } from '@ringkv/store';

const MEMBERS = ['a@aae', 'b@aae', 'c@aae'];
const enc = new TextEncoder();
const dec = new TextDecoder();

interface Member {
  node: RingkvNode;
  store: Store;
  strategy: RingStrategy;
}

type Settings = Partial<RingStrategyConfig>;

async function startMember(
  network: InProcessNetwork,
  name: string,
  settings: Settings,
  store?: Store,
  deps?: RingStrategyDeps,
): Promise<Member> {
  const s = store ?? (await createStore({ backend: 'memory' }));
  const modules = createModuleRegistry();
  s.register(modules);
  const strategy = createRingStrategy({ members: MEMBERS, n: 3, r: 2, w: 2, pingIntervalMs: 50, pingTimeoutMs: 300, ...settings }, deps);
  const node = createNode({ name, transport: network.transport(), strategy, modules, hopTimeoutMs: 2000 });
  s.attach(node);
  await node.start();
  return { node, store: s, strategy };
}

interface Cluster {
  members: Map<string, Member>;
  get(name: string): Member;
  /** Stops `name` (its store stays unless `wipe`). */
  stop(name: string, options?: { wipe?: boolean }): Promise<Store | undefined>;
  /** Starts `name` again: on `store` (kept data) or a new, empty one. */
  start(name: string, store?: Store): Promise<Member>;
  close(): Promise<void>;
}

/** `deps.background: false` leaves every round (pings, handoff, anti-entropy, reaping) to the test. */
async function startCluster(settings: Settings, deps?: RingStrategyDeps, stores?: Map<string, Store>): Promise<Cluster> {
  const network = createInProcessNetwork();
  const members = new Map<string, Member>();
  for (const name of MEMBERS) members.set(name, await startMember(network, name, settings, stores?.get(name), deps));
  const cluster: Cluster = {
    members,
    get: (name) => members.get(name)!,
    async stop(name, options = {}) {
      const m = members.get(name)!;
      members.delete(name);
      await m.node.stop();
      await m.node.transport.close();
      if (options.wipe) {
        await m.store.close();
        return undefined;
      }
      return m.store;
    },
    async start(name, store) {
      const m = await startMember(network, name, settings, store, deps);
      members.set(name, m);
      return m;
    },
    async close() {
      await Promise.all(
        [...members.values()].map(async (m) => {
          await m.node.stop();
          await m.node.transport.close();
          await m.store.close();
        }),
      );
    },
  };
  return cluster;
}

async function keysHeld(store: Store): Promise<number> {
  return (await store.buckets()).reduce((sum, b) => sum + b.keys, 0);
}

/** What `name` holds for (bucket, key), asked with a replica-level read (primary and hinted areas). */
async function heldBy(cluster: Cluster, name: string, bucket: string, key: string): Promise<string | null | 'absent'> {
  const via = cluster.get(MEMBERS.find((m) => m !== name && cluster.members.has(m))!).node;
  const reply = (await via.send(name, 'ring.apply', {
    bucket,
    mod: 'KV.Bucket',
    fun: 'get',
    args: [bucket, key],
    meta: { mode: 'read' },
  })) as VersionedReply;
  const obj = reply.objects.find((o) => o.key.length > 0)!;
  if (obj.siblings.length === 0) return 'absent';
  const winner = [...obj.siblings].sort((x, y) => x.version.ts - y.version.ts).at(-1)!;
  return winner.tombstone ? null : dec.decode(winner.value as Uint8Array);
}

let cluster: Cluster | undefined;
afterEach(async () => {
  await cluster?.close();
  cluster = undefined;
});

describe('active anti-entropy (ring x store, in-process)', () => {
  it('a node wiped and restarted holds every one of 10,000 keys again within two intervals, with no client reads', async () => {
    // Two intervals must cover noticing the restart, building trees and moving 10,000 objects
    // on a loaded 2-core machine; docs/benchmarks.md has the time it takes on a quiet one.
    const intervalMs = 5000;
    // Handoff cannot help here (nobody was down during the writes); read repair needs reads.
    cluster = await startCluster({ handoffIntervalMs: 60_000, antiEntropy: { intervalMs } });
    const a = cluster.get('a@aae').node;
    expect(await a.route('cart', 'KV.Registry', 'create', ['cart'])).toBe('ok');
    const KEYS = 10_000;
    for (let i = 0; i < KEYS; i += 250) {
      const answers = await Promise.all(
        Array.from({ length: 250 }, (_, j) => a.route('cart', 'KV.Bucket', 'put', ['cart', `k${i + j}`, `v${i + j}`])),
      );
      expect(answers.every((x) => x === 'ok')).toBe(true);
    }
    for (const name of MEMBERS) expect(await keysHeld(cluster.get(name).store)).toBe(KEYS);

    await cluster.stop('c@aae', { wipe: true });
    const c = await cluster.start('c@aae');
    const restartedAt = Date.now();
    expect(await keysHeld(c.store)).toBe(0);
    await vi.waitFor(async () => expect(await keysHeld(c.store)).toBe(KEYS), { timeout: 2 * intervalMs, interval: 50 });
    const took = Date.now() - restartedAt;
    expect(took).toBeLessThanOrEqual(2 * intervalMs);
    // Its values, not just its key count: sampled, read from c alone.
    for (const i of [0, 1234, 5678, KEYS - 1]) expect(await heldBy(cluster, 'c@aae', 'cart', `k${i}`)).toBe(`v${i}`);
    const stats = [...cluster.members.values()].map((m) => m.strategy.antiEntropyStats());
    expect(stats.reduce((s, x) => s + x.keysRepaired, 0)).toBeGreaterThanOrEqual(KEYS);
    await vi.waitFor(() => expect(c.strategy.antiEntropyStats()).toMatchObject({ state: 'ready', keys: KEYS + 1 }), { timeout: 2000 });
  }, 120_000);

  it('a replica that missed 1% of 100,000 writes converges exchanging <= 5% of a full copy; in sync, one root each way', async () => {
    const N = 100_000;
    const value = (i: number, gen: number) => enc.encode(`value-${gen}-${i}-`.padEnd(64, 'x'));
    const stamp = (i: number, gen: number) => ({ vv: { 'w@aae#1': gen }, ts: 1_000_000 + gen * N + i, actor: 'w@aae#1' });
    const bucket = enc.encode('big');
    const objects: VersionedObject[] = [{ bucket, key: new Uint8Array(0), siblings: [{ value: true, version: stamp(0, 1) }] }];
    for (let i = 0; i < N; i++)
      objects.push({ bucket, key: enc.encode(`key${i}`), siblings: [{ value: value(i, 1), version: stamp(i, 1) }] });
    // Every replica got the 100,000 writes, then 1% were overwritten while c was away and no
    // hint was kept for it (handoff disabled, in effect).
    const missed: VersionedObject[] = [];
    for (let i = 100; i <= N; i += 100)
      missed.push({ bucket, key: enc.encode(`key${i - 1}`), siblings: [{ value: value(i - 1, 2), version: stamp(i - 1, 2) }] });
    expect(missed.length).toBe(N / 100);
    // Stores are filled before the nodes start (their trees are then built from a scan): the
    // records are merged once and copied byte for byte, which keeps the test quick.
    const stores = new Map<string, Store>();
    for (const name of MEMBERS) stores.set(name, await createStore({ backend: 'memory' }));
    await stores.get('a@aae')!.replica.merge(objects, null);
    for (const [field, record] of await stores.get('a@aae')!.backend.entries('versioned', bucket)) {
      for (const name of ['b@aae', 'c@aae']) await stores.get(name)!.backend.set('versioned', bucket, field, record);
    }
    for (const name of ['a@aae', 'b@aae']) await stores.get(name)!.replica.merge(missed, null);
    // Exchanges run by hand here (long interval), so the bytes of each are known exactly.
    cluster = await startCluster(
      { handoffIntervalMs: 3_600_000, antiEntropy: { intervalMs: 3_600_000, maxKeysPerSecond: 1_000_000 } },
      undefined,
      stores,
    );
    const fullCopy = objects.reduce(
      (sum, _, i) => (i % 500 === 0 ? sum + wireSize({ objects: objects.slice(i, i + 500), hintFor: null }) : sum),
      0,
    );

    const c = cluster.get('c@aae').strategy;
    for (const m of cluster.members.values()) await m.strategy.antiEntropy()!.ready();
    const reports = await c.antiEntropyNow();
    expect(reports.map((r) => [r.peer, r.outcome])).toEqual([
      ['a@aae', 'repaired'],
      ['b@aae', 'in-sync'],
    ]);
    expect(reports[0]!.differing).toBe(N / 100);
    expect(reports[0]!.pulled).toBe(N / 100);
    expect(reports[0]!.pushed).toBe(0);
    const exchanged = reports.reduce((s, r) => s + r.bytesSent + r.bytesReceived, 0);
    expect(exchanged / fullCopy).toBeLessThanOrEqual(0.05);
    // Converged: c holds the new values, and every tree agrees.
    for (const i of [99, 5099, N - 1]) expect(await heldBy(cluster, 'c@aae', 'big', `key${i}`)).toBe(dec.decode(value(i, 2)));
    expect(await heldBy(cluster, 'c@aae', 'big', 'key100')).toBe(dec.decode(value(100, 1)));
    const again = await c.antiEntropyNow();
    expect(again.map((r) => r.outcome)).toEqual(['in-sync', 'in-sync']);
    for (const r of again) {
      expect(r.segments).toBe(0);
      // One request carrying this node's root, one reply carrying the peer's: nothing else.
      expect(r.bytesSent + r.bytesReceived).toBeLessThan(120);
    }
    process.stdout.write(
      `anti-entropy bytes: full copy ${fullCopy}, 1% repair ${exchanged} (${((100 * exchanged) / fullCopy).toFixed(2)}%), in-sync exchange ${again[0]!.bytesSent + again[0]!.bytesReceived}\n`,
    );
  }, 180_000);

  it('a delete one replica missed (down, hinted copy lost) never comes back; its tombstone is reaped only once all hold it', async () => {
    // Every round by hand: the window in which c is up again but still stale must stay open.
    cluster = await startCluster({ tombstoneGraceMs: 1 }, { background: false });
    const a = cluster.get('a@aae').node;
    expect(await a.route('pets', 'KV.Registry', 'create', ['pets'])).toBe('ok');
    expect(await a.route('pets', 'KV.Bucket', 'put', ['pets', 'cat', 'tom'])).toBe('ok');
    for (const n of MEMBERS) expect(await heldBy(cluster, n, 'pets', 'cat')).toBe('tom');

    const cStore = await cluster.stop('c@aae');
    expect(await a.route('pets', 'KV.Bucket', 'delete', ['pets', 'cat'])).toBe('ok');
    // Hinted areas held for c (the hinted space also keeps each node's own records, not for c).
    const hinted = async () =>
      [
        ...(await cluster!.get('a@aae').store.backend.tables('hinted')),
        ...(await cluster!.get('b@aae').store.backend.tables('hinted')),
      ].filter((t) => dec.decode(t) === 'c@aae');
    // The stand-in copy is written after the delete answered (W was met without it).
    await vi.waitFor(async () => expect((await hinted()).length).toBeGreaterThan(0), { timeout: 5000 });
    // The hinted copy of the delete, kept for c, is lost.
    for (const n of ['a@aae', 'b@aae']) await cluster.get(n).store.backend.dropTable('hinted', enc.encode('c@aae'));
    expect(await hinted()).toEqual([]);
    await cluster.start('c@aae', cStore);
    expect(await heldBy(cluster, 'c@aae', 'pets', 'cat')).toBe('tom');

    // Reaping now would let c hand "tom" back: the replicas disagree, so nothing is reaped.
    for (const n of MEMBERS) await cluster.get(n).strategy.reapNow();
    for (const n of ['a@aae', 'b@aae']) expect(await heldBy(cluster, n, 'pets', 'cat')).toBe(null);

    // Anti-entropy brings the tombstone to c; then every replica holds it and it goes everywhere.
    const round = await cluster.get('a@aae').strategy.antiEntropyNow();
    expect(round.map((r) => [r.peer, r.outcome])).toEqual([
      ['b@aae', 'in-sync'],
      ['c@aae', 'repaired'],
    ]);
    for (const n of MEMBERS) expect(await heldBy(cluster, n, 'pets', 'cat')).toBe(null);
    for (const n of MEMBERS) await cluster.get(n).strategy.reapNow();
    for (const n of MEMBERS) expect(await heldBy(cluster, n, 'pets', 'cat')).toBe('absent');
    expect([...cluster.members.values()].reduce((s, m) => s + m.strategy.antiEntropyStats().tombstonesReaped, 0)).toBe(3);

    // And it stays gone: more exchanges, reads through every node, another reap round.
    for (const n of MEMBERS) await cluster.get(n).strategy.antiEntropyNow();
    for (const n of MEMBERS) expect(await cluster.get(n).node.route('pets', 'KV.Bucket', 'get', ['pets', 'cat'])).toEqual({ value: null });
    await new Promise((r) => setTimeout(r, 200)); // read repair settles
    for (const n of MEMBERS) expect(await heldBy(cluster, n, 'pets', 'cat')).toBe('absent');
  }, 60_000);

  it('a rolling restart under load, each node wiped and restarted once the previous one is in sync, loses no acknowledged write', async () => {
    cluster = await startCluster({ handoffIntervalMs: 200, antiEntropy: { intervalMs: 500 } });
    expect(await cluster.get('a@aae').node.route('log', 'KV.Registry', 'create', ['log'])).toBe('ok');
    const acked = new Map<string, string>();
    let refused = 0;
    let failed = 0;
    let stop = false;
    let seq = 0;
    const writer = async (w: number) => {
      while (!stop) {
        // In-process calls can complete on microtasks alone: yield, or timers never run.
        await new Promise((r) => setImmediate(r));
        const i = seq++;
        const live = [...cluster!.members.values()];
        const via = live[(i + w) % live.length]!.node;
        const key = `w${i}`;
        try {
          const answer = await via.route('log', 'KV.Bucket', 'put', ['log', key, `v${i}`]);
          if (answer === 'ok') acked.set(key, `v${i}`);
          else refused++;
        } catch {
          failed++;
        }
      }
    };
    // Data from before the restarts, so every restarted node has real catching up to do.
    const a = cluster.get('a@aae').node;
    for (let i = 0; i < 2000; i += 200) {
      await Promise.all(
        Array.from({ length: 200 }, async (_, j) => {
          if ((await a.route('log', 'KV.Bucket', 'put', ['log', `p${i + j}`, `v${i + j}`])) === 'ok') acked.set(`p${i + j}`, `v${i + j}`);
        }),
      );
    }
    const writers = Array.from({ length: 6 }, (_, w) => writer(w));
    try {
      await new Promise((r) => setTimeout(r, 500));
      for (const name of MEMBERS) {
        await cluster.stop(name, { wipe: true });
        await new Promise((r) => setTimeout(r, 500));
        const m = await cluster.start(name);
        await vi.waitFor(() => expect(m.strategy.antiEntropyStats().synced, `${name} in sync after its restart`).toBe(true), {
          timeout: 60_000,
          interval: 100,
        });
        await new Promise((r) => setTimeout(r, 500));
      }
    } finally {
      stop = true;
      await Promise.all(writers);
    }
    expect(acked.size).toBeGreaterThan(2200);
    const via = cluster.get('a@aae').node;
    const lost: string[] = [];
    const keys = [...acked.keys()];
    for (let i = 0; i < keys.length; i += 200) {
      const batch = keys.slice(i, i + 200);
      const got = await Promise.all(batch.map((k) => via.route('log', 'KV.Bucket', 'get', ['log', k])));
      got.forEach((g, j) => {
        const k = batch[j]!;
        const value = (g as { value?: unknown } | null)?.value;
        const v = value instanceof Uint8Array ? dec.decode(value) : String(g);
        if (v !== acked.get(k)) lost.push(`${k}: ${v}`);
      });
    }
    process.stdout.write(`rolling restart: ${acked.size} acknowledged, ${refused} refused, ${failed} failed, ${lost.length} lost\n`);
    expect(lost).toEqual([]);
  }, 180_000);
});
