/**
 * Join and leave on a committed cluster range table in one process (in-process transport,
 * memory stores, the in-memory cluster state), planned and committed with the `ringkv cluster`
 * functions, under a continuous load of unique writes and reads through every node. After each
 * change settles: every acknowledged write reads back through every node; each bucket (an empty
 * one too) exists on exactly its owner in the new table; the buckets moved are the plan's, and
 * the bytes within 1% of it; nothing moved between two nodes that both stayed.
 */
import {
  casDoc,
  createInProcessNetwork,
  createMemoryClusterStateStore,
  decodeState,
  findEntry,
  readState,
  readTransfers,
  stageChange,
  STATE_KEY,
  type ClusterState,
  type RangeLayout,
} from '@ringkv/core';
import { startLoad } from '@ringkv/test-utils';
import { routeLoadClient as client, settledState as settled, startManagedMember, stopManagedMembers, type ManagedMember } from '@ringkv/test-utils/managed-cluster';
import { commitPlan, planStaged, type ClusterPlan } from 'ringkv';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';

// First bytes spread over the table: digits and upper case on a, lower case split b/c.
const BUCKETS = [...'0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz'].filter((_, i) => i % 3 === 0).map((c) => `${c}-bucket`);
const EMPTY = 'q-empty';
const SEED: RangeLayout = {
  strategy: 'range',
  members: ['a@r', 'b@r', 'c@r'],
  table: [
    { from: 0, to: 0x46, node: 'a@r' },
    { from: 0x47, to: 0x64, node: 'b@r' },
    { from: 0x65, to: 0xff, node: 'c@r' },
  ],
};
const PRELOAD_KEYS = 20;
const VALUE = 'x'.repeat(3000);
const enc = new TextEncoder();

describe('membership on a committed range table, in process, under load', () => {
  const network = createInProcessNetwork();
  const state = createMemoryClusterStateStore();
  const members = new Map<string, ManagedMember>();
  const startMember = (name: string, seed?: RangeLayout) => startManagedMember(network, state, name, { ...(seed ? { seed } : {}), batchSize: 7 });

  beforeAll(async () => {
    for (const name of SEED.members) members.set(name, await startMember(name, SEED));
    const a = members.get('a@r')!.node;
    for (const b of [...BUCKETS, EMPTY]) expect(await a.route(b, 'KV.Registry', 'create', [b])).toBe('ok');
    for (const b of BUCKETS)
      for (let i = 0; i < PRELOAD_KEYS; i++) expect(await a.route(b, 'KV.Bucket', 'put', [b, enc.encode(`pre-${i}`), enc.encode(VALUE)])).toBe('ok');
  });
  afterAll(() => stopManagedMembers(members.values()));

  async function change(stage: (s: ClusterState) => ClusterState, after: readonly string[]): Promise<ClusterPlan> {
    const before = (await readState(state))!.doc;
    const beforeLayout = before.layout as RangeLayout;
    const load = startLoad({
      clients: [...members.values()].map((m) => client(m.node)),
      buckets: BUCKETS,
      workers: 4,
      prefix: `e${before.epoch}-`,
    });
    await new Promise((r) => setTimeout(r, 200));
    await casDoc<ClusterState>(state, STATE_KEY, decodeState, (cur) => stage(cur!));
    const plan = await planStaged(state, network.transport());
    expect(plan.betweenStaying).toBe(0);
    expect(plan.warnings.filter((w) => /down/.test(w))).toEqual([]);
    await commitPlan(state);
    const done = await vi.waitFor(() => settled(state, after), { timeout: 60_000, interval: 100 });
    const stats = await load.stop();
    expect(stats.failures.slice(0, 5)).toEqual([]);
    expect(stats.ok).toBeGreaterThan(50);

    const layout = done.layout as RangeLayout;
    expect(layout.members).toEqual([...after].sort());
    expect(layout.table).toEqual(plan.to.strategy === 'range' ? plan.to.table : null);
    // Every acknowledged write, and every preloaded key, reads back through every node.
    for (const m of after) {
      const c = client(members.get(m)!.node);
      for (const a of stats.acked.values()) expect(await c.get(a.bucket, a.key), `${a.bucket}/${a.key} via ${m}`).toBe(a.value);
      for (const b of BUCKETS) expect(await c.get(b, `pre-${PRELOAD_KEYS - 1}`), `${b} via ${m}`).toBe(VALUE);
    }
    // Each bucket exists on exactly its owner in the new table (the empty one too): none missing, no orphans.
    for (const [name, m] of members) {
      for (const b of [...BUCKETS, EMPTY]) {
        const owner = findEntry(layout.table, enc.encode(b)[0]!)!.node;
        expect(await m.store.backend.hasTable('plain', enc.encode(b)), `${b} on ${name} (owner ${owner})`).toBe(owner === name);
      }
    }
    // What moved is what the plan predicted: the same source -> destination pairs and buckets, bytes within 1%.
    const transfers = (await readTransfers(state))!.doc;
    const moved = new Map(transfers.items.map((t) => [`${t.from}>${t.to}`, t]));
    const planned = new Map(plan.moves.map((m) => [`${m.from}>${m.to}`, m]));
    expect([...moved.keys()].sort()).toEqual([...planned.keys()].sort());
    for (const [k, t] of moved) {
      const p = planned.get(k)!;
      expect(t.status).toBe('done');
      // Empty buckets included: they move too.
      expect(t.doneBuckets).toBe(p.buckets);
      expect(t.doneBytes / p.bytes, k).toBeGreaterThanOrEqual(0.99);
      expect(t.doneBytes / p.bytes, k).toBeLessThanOrEqual(1.01);
      // Nothing moved between two nodes that both stayed.
      expect(beforeLayout.members.includes(t.from) && after.includes(t.from) && beforeLayout.members.includes(t.to) && after.includes(t.to)).toBe(
        false,
      );
    }
    return plan;
  }

  it('3 -> 4: d joins and takes the half (by bytes) of the range holding the most', async () => {
    members.set('d@r', await startMember('d@r'));
    const plan = await change((s) => stageChange(s, { action: 'join', node: 'd@r' }), ['a@r', 'b@r', 'c@r', 'd@r']);
    expect(plan.moves.length).toBe(1);
    expect(plan.moves[0]!.to).toBe('d@r');
    // Splitting the heaviest range: no node holds more than the heaviest did, and d holds something.
    expect(plan.load.after.maxBytes).toBeLessThanOrEqual(plan.load.before.maxBytes);
    expect(plan.load.perNode.after.find((l) => l.node === 'd@r')!.bytes).toBeGreaterThan(0);
    expect(plan.warnings).toEqual([]);
  }, 90_000);

  it('4 -> 3: b leaves, its ranges go to a neighbour, and it ends holding nothing', async () => {
    const plan = await change((s) => stageChange(s, { action: 'leave', node: 'b@r' }), ['a@r', 'c@r', 'd@r']);
    expect(plan.moves.every((m) => m.from === 'b@r')).toBe(true);
    expect(await members.get('b@r')!.store.backend.tables('plain')).toEqual([]);
  }, 90_000);

  it('replace c by e: e takes exactly the ranges c had, and only c sends', async () => {
    members.set('e@r', await startMember('e@r'));
    const before = (await readState(state))!.doc.layout as RangeLayout;
    const plan = await change((s) => stageChange(s, { action: 'replace', node: 'c@r', by: 'e@r' }), ['a@r', 'd@r', 'e@r']);
    expect(plan.moves.map((m) => `${m.from}>${m.to}`)).toEqual(['c@r>e@r']);
    expect(plan.to.strategy === 'range' && plan.to.table).toEqual(before.table.map((e) => ({ ...e, node: e.node === 'c@r' ? 'e@r' : e.node })));
    expect(await members.get('c@r')!.store.backend.tables('plain')).toEqual([]);
  }, 90_000);

  it('a node forwards a call for a bucket it no longer owns; a hostile pull or page is refused with a reason', async () => {
    const b = members.get('b@r')!.node;
    // b owns nothing now, and still answers every call by forwarding it.
    expect(await client(b).get(BUCKETS[0]!, 'pre-0')).toBe(VALUE);
    const s = (await readState(state))!.doc;
    await expect(b.send('a@r', 'range.transfer.pull', { bucket: BUCKETS[0], after: null, limit: 5, to: 'b@r', epoch: s.epoch })).rejects.toThrow(
      /not passing this bucket on/,
    );
    await expect(b.send('a@r', 'range.transfer.page', { bucket: 'zzz', entries: [[enc.encode('k'), enc.encode('v')]], epoch: s.epoch })).rejects.toThrow(
      /does not take writes for this bucket/,
    );
    await expect(b.send('a@r', 'range.transfer.page', { bucket: 42, entries: [] })).rejects.toThrow(/bucket/);
    // A passed-on write: malformed, not a write, or for a bucket the receiver does not take.
    const aBucket = BUCKETS.find((x) => findEntry((s.layout as RangeLayout).table, enc.encode(x)[0]!)!.node === 'a@r')!;
    await expect(b.send('a@r', 'range.write', { call: null })).rejects.toThrow(/body must be \{call/);
    await expect(
      b.send('a@r', 'range.write', { call: { bucket: aBucket, mod: 'KV.Bucket', fun: 'get', args: [aBucket, 'pre-0'] }, epoch: s.epoch }),
    ).rejects.toThrow(/is not a write/);
    await expect(
      b.send('a@r', 'range.write', { call: { bucket: 'zzz', mod: 'KV.Bucket', fun: 'put', args: ['zzz', 'k', 'v'] }, epoch: s.epoch }),
    ).rejects.toThrow(/does not take writes for this bucket/);
    // Nothing of it was stored, and a's data is intact.
    expect(await client(b).get('zzz', 'k')).not.toBe('v');
    expect(await client(b).get(aBucket, 'pre-0')).toBe(VALUE);
  }, 30_000);
});
