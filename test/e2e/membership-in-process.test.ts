/**
 * Join and leave on the ring in one process (in-process transport, memory stores, the in-memory
 * cluster state), under a continuous load of unique writes: after each change settles, every
 * acknowledged write reads back through every node, each bucket is held by exactly its new
 * replica set, what moved is what the transfers planned, and nothing moved between two nodes
 * that both stayed.
 */
import {
  beginTransition,
  casDoc,
  createInProcessNetwork,
  createMemoryClusterStateStore,
  decodeState,
  readState,
  readTransfers,
  ringAfter,
  stageChange,
  STATE_KEY,
  type ClusterState,
  type RingLayout,
} from '@ringkv/core';
import { createRing, replicaMoves, type EpochRingStrategy } from '@ringkv/ring';
import { startLoad } from '@ringkv/test-utils';
import { routeLoadClient as client, settledState as settled, startManagedMember, stopManagedMembers, type ManagedMember } from '@ringkv/test-utils/managed-cluster';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';

const SEED: RingLayout = { strategy: 'ring', members: ['a@m', 'b@m', 'c@m'], n: 3, r: 2, w: 2, vnodes: 64 };
const BUCKETS = Array.from({ length: 24 }, (_, i) => `bucket-${i}`);
const enc = new TextEncoder();
const dec = new TextDecoder();

describe('membership on the ring, in process, under load', () => {
  const network = createInProcessNetwork();
  const state = createMemoryClusterStateStore();
  const members = new Map<string, ManagedMember>();
  const startMember = (name: string, seed?: RingLayout) =>
    startManagedMember(network, state, name, {
      ...(seed ? { seed } : {}),
      batchSize: 50,
      timing: { pingIntervalMs: 100, pingTimeoutMs: 500, handoffIntervalMs: 200 },
    });

  beforeAll(async () => {
    for (const name of SEED.members) members.set(name, await startMember(name, SEED));
    const a = members.get('a@m')!.node;
    for (const b of BUCKETS) expect(await a.route(b, 'KV.Registry', 'create', [b])).toBe('ok');
    // Some data before the change, so there is something to stream.
    for (const b of BUCKETS)
      for (let i = 0; i < 30; i++) await a.route(b, 'KV.Bucket', 'put', [b, enc.encode(`pre-${i}`), enc.encode(`x`.repeat(100))]);
  });
  afterAll(() => stopManagedMembers(members.values()));

  async function change(stage: (s: ClusterState) => ClusterState, after: readonly string[]): Promise<void> {
    const before = (await readState(state))!.doc;
    const beforeLayout = before.layout as RingLayout;
    const load = startLoad({
      clients: [...members.values()].map((m) => client(m.node)),
      buckets: BUCKETS,
      workers: 3,
      prefix: `e${before.epoch}-`,
    });
    await new Promise((r) => setTimeout(r, 300));
    const committed = await casDoc<ClusterState>(state, STATE_KEY, decodeState, (cur) => {
      const staged = stage(cur!);
      return beginTransition(staged, ringAfter(beforeLayout, staged.staged), `x${before.epoch}`);
    });
    expect(committed.changed).toBe(true);
    const done = await vi.waitFor(() => settled(state, after), { timeout: 60_000, interval: 100 });
    const stats = await load.stop();
    expect(stats.failures.slice(0, 5)).toEqual([]);
    expect(stats.ok).toBeGreaterThan(50);

    const layout = done.layout as RingLayout;
    expect(layout.members).toEqual([...after].sort());
    // Every acknowledged write reads back through every node.
    for (const m of after) {
      const c = client(members.get(m)!.node);
      for (const a of stats.acked.values()) expect(await c.get(a.bucket, a.key), `${a.bucket}/${a.key} via ${m}`).toBe(a.value);
    }
    // Each bucket is held by exactly its replica set: no orphans, none missing.
    const ring = createRing({ members: layout.members, vnodes: layout.vnodes });
    for (const [name, m] of members) {
      const held = new Set((await m.store.buckets()).filter((b) => b.keys > 0).map((b) => dec.decode(b.bucket)));
      for (const b of BUCKETS) {
        const owners = ring.preferenceList(b, 3).map((r) => r.node);
        expect(held.has(b), `${b} on ${name} (owners ${owners.join(', ')})`).toBe(owners.includes(name));
        if (!owners.includes(name)) continue;
        // Every owner holds its full copy of what was there before the change (streamed or kept).
        const objects = (await m.store.replica.scanBucket(enc.encode(b), null, 10_000)).objects.map((o) => dec.decode(o.key));
        for (let i = 0; i < 30; i++) expect(objects, `${b} pre-${i} on ${name}`).toContain(`pre-${i}`);
      }
    }
    // What moved is what was planned: the transfers' buckets are the replica moves, and bytes match.
    const transfers = (await readTransfers(state))!.doc;
    const fromRing = createRing({ members: beforeLayout.members, vnodes: beforeLayout.vnodes });
    const expected = new Map<string, number>();
    for (const b of BUCKETS)
      for (const mv of replicaMoves(fromRing, ring, 3, b))
        expected.set(`${mv.from}>${mv.to}`, (expected.get(`${mv.from}>${mv.to}`) ?? 0) + 1);
    const actual = new Map(transfers.items.map((t) => [`${t.from}>${t.to}`, t.doneBuckets]));
    expect(actual).toEqual(expected);
    for (const t of transfers.items) {
      expect(t.status).toBe('done');
      // Nothing moved between two nodes that both stayed.
      expect(
        beforeLayout.members.includes(t.from) && after.includes(t.from) && beforeLayout.members.includes(t.to) && after.includes(t.to),
      ).toBe(false);
    }
    return;
  }

  it('3 -> 4: d joins, and takes over a quarter of the replicas', async () => {
    members.set('d@m', await startMember('d@m'));
    expect(members.get('d@m')!.agent.epoch()).toBe(1);
    await change((s) => stageChange(s, { action: 'join', node: 'd@m' }), ['a@m', 'b@m', 'c@m', 'd@m']);
  }, 90_000);

  it('4 -> 3: b leaves, its replicas move to the others, and it ends holding nothing', async () => {
    await change((s) => stageChange(s, { action: 'leave', node: 'b@m' }), ['a@m', 'c@m', 'd@m']);
    expect((await members.get('b@m')!.store.buckets()).filter((x) => x.keys > 0)).toEqual([]);
  }, 90_000);

  it('anti-entropy cooperates with epochs: its rounds bring back no dropped bucket, a repair of a bucket the receiver does not own is not stored, nodes on different epochs do not exchange', async () => {
    const s = await settled(state, ['a@m', 'c@m', 'd@m']);
    const layout = s.layout as RingLayout;
    const ring = createRing({ members: layout.members, vnodes: layout.vnodes });
    const holdings = async () =>
      new Map(
        await Promise.all(
          [...members].map(
            async ([name, m]) =>
              [
                name,
                (await m.store.buckets())
                  .filter((b) => b.keys > 0)
                  .map((b) => dec.decode(b.bucket))
                  .sort(),
              ] as const,
          ),
        ),
      );
    const before = await holdings();
    // A round on every node, b (no member now) included: the members' replicas agree, nothing is repaired onto b.
    const reports = [];
    for (const name of ['a@m', 'c@m', 'd@m', 'b@m']) {
      const strategy = members.get(name)!.node.strategy() as EpochRingStrategy;
      expect(strategy.epoch).toBe(s.epoch);
      reports.push(...(await strategy.base.antiEntropyNow()));
    }
    expect(reports.filter((r) => r.outcome === 'in-sync' || r.outcome === 'repaired').length).toBeGreaterThan(0);
    expect(reports.filter((r) => r.outcome === 'failed').map((r) => r.error)).toEqual([]);
    expect(await holdings()).toEqual(before);
    expect(before.get('b@m')).toEqual([]);

    // A repair merge of a bucket b@m no longer owns (its old copy was dropped at cleanup) is not stored there.
    const bucket = BUCKETS.find((b) => ring.preferenceList(b, 3).some((r) => r.node === 'a@m'))!;
    const page = await members.get('a@m')!.store.replica.scanBucket(enc.encode(bucket), null, 5);
    expect(page.objects.length).toBeGreaterThan(0);
    const a = members.get('a@m')!.node;
    expect(await a.send('b@m', 'ring.merge', { objects: page.objects, hintFor: null, epoch: s.epoch })).toBe('ok');
    expect(await a.send('b@m', 'ring.merge', { objects: page.objects, hintFor: null })).toBe('ok');
    expect((await members.get('b@m')!.store.buckets()).filter((x) => x.keys > 0)).toEqual([]);

    // An exchange from a node on another epoch is refused before it compares anything.
    const group = [...ring.preferenceList(bucket, 3).map((r) => r.node)].sort().join(' ');
    const peer = group.split(' ').find((m) => m !== 'a@m')!;
    await expect(
      a.send(peer, 'ring.aae.hashes', { from: 'a@m', group, level: 0, root: new Uint8Array(8), epoch: s.epoch - 1 }),
    ).rejects.toThrow(/epoch/);
    await expect(a.send(peer, 'ring.aae.hashes', { from: 'a@m', group, level: 0, root: new Uint8Array(8) })).rejects.toThrow(/epoch/);
    const same = (await a.send(peer, 'ring.aae.hashes', { from: 'a@m', group, level: 0, root: new Uint8Array(8), epoch: s.epoch })) as {
      ready?: boolean;
    };
    expect(typeof same.ready).toBe('boolean');
  }, 60_000);
});
