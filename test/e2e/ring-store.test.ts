/**
 * The ring with the real store (@ringkv/store, memory backend) and the real text server, in one
 * process: the KV functions replicate, a node that restarts empty is brought back by hinted
 * handoff and read repair, concurrent writes converge, and the guide's session works unchanged.
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import { createInProcessNetwork, createModuleRegistry, createNode, type InProcessNetwork, type RingkvNode, type VersionedReply } from '@ringkv/core';
import { createRingStrategy, type RingStrategy } from '@ringkv/ring';
import { startServer } from '@ringkv/server';
import { createStore, type Store } from '@ringkv/store';
import { GUIDE_SESSION, openClient, runGuideSession } from '@ringkv/test-utils';

const WAIT = { timeout: 5000, interval: 20 };

const MEMBERS = ['a@ring', 'b@ring', 'c@ring'];
const enc = new TextEncoder();
const dec = new TextDecoder();

interface Member {
  node: RingkvNode;
  store: Store;
  strategy: RingStrategy;
}

interface Cluster {
  network: InProcessNetwork;
  members: Map<string, Member>;
  get(name: string): Member;
  /** Starts `name` afresh: new store (empty), new strategy (new incarnation). */
  restartEmpty(name: string): Promise<void>;
  kill(name: string): Promise<void>;
  stop(): Promise<void>;
}

async function startMember(network: InProcessNetwork, name: string, tombstoneGraceMs = 3_600_000): Promise<Member> {
  const store = await createStore({ backend: 'memory' });
  const modules = createModuleRegistry();
  store.register(modules);
  // Fast pings and handoff rounds so the test sees recovery in well under a second.
  const strategy = createRingStrategy({ members: MEMBERS, n: 3, r: 2, w: 2, pingIntervalMs: 50, pingTimeoutMs: 200, handoffIntervalMs: 100, tombstoneGraceMs });
  const node = createNode({ name, transport: network.transport(), strategy, modules, hopTimeoutMs: 1000 });
  store.attach(node);
  await node.start();
  return { node, store, strategy };
}

async function startCluster(tombstoneGraceMs?: number): Promise<Cluster> {
  const network = createInProcessNetwork();
  const members = new Map<string, Member>();
  for (const name of MEMBERS) members.set(name, await startMember(network, name, tombstoneGraceMs));
  const cluster: Cluster = {
    network,
    members,
    get: (name) => members.get(name)!,
    async kill(name) {
      const m = members.get(name)!;
      await m.node.stop();
      await m.node.transport.close();
      await m.store.close();
    },
    async restartEmpty(name) {
      members.set(name, await startMember(network, name));
    },
    async stop() {
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

/** What `name` holds for (bucket, key) on its own, asked directly with a replica-level read. */
async function heldBy(cluster: Cluster, name: string, bucket: string, key: string): Promise<string | null | 'absent'> {
  const via = cluster.get(MEMBERS.find((m) => m !== name)!).node;
  const reply = (await via.send(name, 'ring.apply', { bucket, mod: 'KV.Bucket', fun: 'get', args: [bucket, key], meta: { mode: 'read' } })) as VersionedReply;
  const obj = reply.objects.find((o) => o.key.length > 0)!;
  if (obj.siblings.length === 0) return 'absent';
  const winner = [...obj.siblings].sort((x, y) => x.version.ts - y.version.ts).at(-1)!;
  return winner.tombstone ? null : dec.decode(winner.value as Uint8Array);
}

let cluster: Cluster | undefined;
afterEach(async () => {
  await cluster?.stop();
  cluster = undefined;
});

describe('ring x @ringkv/store (in-process)', () => {
  it('replicates the KV functions on all three nodes and answers like the plain store', async () => {
    cluster = await startCluster();
    const a = cluster.get('a@ring').node;
    expect(await a.route('shopping', 'KV.Bucket', 'put', ['shopping', 'eggs', '3'])).toBe('not_found');
    expect(await a.route('shopping', 'KV.Bucket', 'get', ['shopping', 'eggs'])).toBe('not_found');
    expect(await a.route('shopping', 'KV.Registry', 'create', ['shopping'])).toBe('ok');
    expect(await a.route('shopping', 'KV.Registry', 'lookup', ['shopping'])).toBe(true);
    expect(await a.route('shopping', 'KV.Bucket', 'put', ['shopping', 'eggs', '3'])).toBe('ok');
    expect(await cluster.get('b@ring').node.route('shopping', 'KV.Bucket', 'get', ['shopping', 'eggs'])).toEqual({ value: enc.encode('3') });
    for (const n of MEMBERS) expect(await heldBy(cluster, n, 'shopping', 'eggs')).toBe('3');
    expect(await cluster.get('c@ring').node.route('shopping', 'KV.Bucket', 'delete', ['shopping', 'eggs'])).toBe('ok');
    expect(await a.route('shopping', 'KV.Bucket', 'get', ['shopping', 'eggs'])).toEqual({ value: null });
    for (const n of MEMBERS) expect(await heldBy(cluster, n, 'shopping', 'eggs')).toBe(null);
  });

  it('a node that restarts empty is brought up to date by hinted handoff and read repair; no acknowledged write is lost', async () => {
    cluster = await startCluster();
    const a = cluster.get('a@ring').node;
    await a.route('inv', 'KV.Registry', 'create', ['inv']);
    for (let i = 0; i < 50; i++) expect(await a.route('inv', 'KV.Bucket', 'put', ['inv', `k${i}`, `v${i}`])).toBe('ok');

    await cluster.kill('c@ring');
    // Reads and writes go on with R = W = 2.
    for (let i = 0; i < 50; i++) expect(await a.route('inv', 'KV.Bucket', 'get', ['inv', `k${i}`])).toEqual({ value: enc.encode(`v${i}`) });
    for (let i = 50; i < 80; i++) expect(await cluster.get('b@ring').node.route('inv', 'KV.Bucket', 'put', ['inv', `k${i}`, `v${i}`])).toBe('ok');

    await cluster.restartEmpty('c@ring');
    // Hinted handoff brings back what was written while it was down ...
    await vi.waitFor(async () => {
      for (let i = 50; i < 80; i++) expect(await heldBy(cluster!, 'c@ring', 'inv', `k${i}`)).toBe(`v${i}`);
    }, WAIT);
    expect(await heldBy(cluster, 'c@ring', 'inv', 'k0')).toBe('absent');
    // ... and reading the older keys repairs them.
    for (let i = 0; i < 80; i++) {
      expect(await cluster.get('c@ring').node.route('inv', 'KV.Bucket', 'get', ['inv', `k${i}`], { r: 3 })).toEqual({ value: enc.encode(`v${i}`) });
    }
    await vi.waitFor(async () => {
      for (let i = 0; i < 80; i++) expect(await heldBy(cluster!, 'c@ring', 'inv', `k${i}`)).toBe(`v${i}`);
    }, WAIT);
    // A write coordinated by the restarted node (new incarnation, empty before) still supersedes older writes.
    expect(await cluster.get('c@ring').node.route('inv', 'KV.Bucket', 'put', ['inv', 'k1', 'new'])).toBe('ok');
    for (const n of MEMBERS) expect(await heldBy(cluster, n, 'inv', 'k1')).toBe('new');
  });

  it('concurrent writes to one key from two coordinators resolve the same way on every replica', async () => {
    cluster = await startCluster();
    await cluster.get('a@ring').node.route('race', 'KV.Registry', 'create', ['race']);
    for (let round = 0; round < 10; round++) {
      const key = `k${round}`;
      await Promise.all([
        cluster.get('a@ring').node.route('race', 'KV.Bucket', 'put', ['race', key, `from-a-${round}`]),
        cluster.get('b@ring').node.route('race', 'KV.Bucket', 'put', ['race', key, `from-b-${round}`]),
      ]);
      const answers = await Promise.all(MEMBERS.map((n) => cluster!.get(n).node.route('race', 'KV.Bucket', 'get', ['race', key], { r: 3 })));
      const values = answers.map((x) => dec.decode((x as { value: Uint8Array }).value));
      expect(new Set(values).size).toBe(1);
      expect([`from-a-${round}`, `from-b-${round}`]).toContain(values[0]);
      // After read repair every replica holds the same winner on its own.
      await vi.waitFor(async () => {
        const held = await Promise.all(MEMBERS.map((n) => heldBy(cluster!, n, 'race', key)));
        expect(held).toEqual([values[0], values[0], values[0]]);
      }, WAIT);
    }
  });

  it('reaps tombstones once the grace period passed and the cluster is whole, without bringing values back', async () => {
    cluster = await startCluster(500);
    const a = cluster.get('a@ring').node;
    await a.route('tomb', 'KV.Registry', 'create', ['tomb']);
    await a.route('tomb', 'KV.Bucket', 'put', ['tomb', 'gone', 'old']);
    await a.route('tomb', 'KV.Bucket', 'delete', ['tomb', 'gone']);
    for (const n of MEMBERS) expect(await heldBy(cluster, n, 'tomb', 'gone')).toBe(null);
    // Too young: nothing reaped.
    await cluster.get('a@ring').strategy.reapNow();
    expect(await heldBy(cluster, 'a@ring', 'tomb', 'gone')).toBe(null);
    await new Promise((r) => setTimeout(r, 550));
    for (const n of MEMBERS) expect(await cluster.get(n).strategy.reapNow()).toEqual({ reaped: true });
    for (const n of MEMBERS) expect(await heldBy(cluster, n, 'tomb', 'gone')).toBe('absent');
    expect(await a.route('tomb', 'KV.Bucket', 'get', ['tomb', 'gone'], { r: 3 })).toEqual({ value: null });
    // The bucket itself (a live object) is untouched.
    expect(await a.route('tomb', 'KV.Registry', 'lookup', ['tomb'])).toBe(true);
  });

  it('serves the guide\'s text-protocol session unchanged on a ring-configured cluster', async () => {
    cluster = await startCluster();
    const server = await startServer({ node: cluster.get('a@ring').node, port: 0, host: '127.0.0.1' });
    try {
      const c = await openClient(server.port);
      try {
        expect(await runGuideSession(c)).toEqual(GUIDE_SESSION.map(([, reply]) => reply));
      } finally {
        c.close();
      }
      // The data went to the ring: every replica holds the tombstone for eggs.
      for (const n of MEMBERS) expect(await heldBy(cluster, n, 'shopping', 'eggs')).toBe(null);
    } finally {
      await server.close();
    }
  });
});
