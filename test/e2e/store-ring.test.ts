/**
 * The real store under the real ring (in-process): the guide's session replicated on N=3 of 4
 * nodes, a primary down (its writes held as hints by a fallback), the primary back with empty
 * storage, hinted handoff and read repair bringing it up to date.
 */
import { createInProcessNetwork, createModuleRegistry, createNode, type RingkvNode, type VersionedObject } from '@ringkv/core';
import { createRingStrategy, type RingStrategy } from '@ringkv/ring';
import { BUCKETS_MESSAGE, createStore, type BucketSummary, type Store } from '@ringkv/store';
import { afterEach, describe, expect, it } from 'vitest';

const MEMBERS = ['a@ringkv', 'b@ringkv', 'c@ringkv', 'd@ringkv'];
const utf8 = (s: string) => new TextEncoder().encode(s);

interface Member {
  node: RingkvNode;
  store: Store;
  strategy: RingStrategy;
}

describe('store under the ring (in-process, N=3 of 4, R=W=2)', () => {
  const network = createInProcessNetwork();
  const members = new Map<string, Member>();

  async function startMember(name: string): Promise<Member> {
    const store = await createStore({ backend: 'memory' });
    const modules = createModuleRegistry();
    store.register(modules);
    const strategy = createRingStrategy({ members: MEMBERS, n: 3 }, { background: false });
    const node = createNode({ name, transport: network.transport(), strategy, modules, hopTimeoutMs: 2000 });
    store.attach(node);
    await node.start();
    const m = { node, store, strategy };
    members.set(name, m);
    return m;
  }

  async function stopMember(name: string): Promise<void> {
    const m = members.get(name);
    members.delete(name);
    await m?.node.stop();
    await m?.store.close();
  }

  const listing = async (name: string) => (await members.get(name)!.node.send(name, BUCKETS_MESSAGE, null)) as BucketSummary[];
  const holds = async (name: string, bucket: string) => (await listing(name)).find((e) => Buffer.from(e.bucket).toString() === bucket);

  afterEach(async () => {
    for (const name of [...members.keys()]) await stopMember(name);
  });

  it('runs the guide session through any node, replicated on the bucket’s three primaries', async () => {
    for (const name of MEMBERS) await startMember(name);
    const [a, , c] = MEMBERS.map((n) => members.get(n)!.node);
    expect(await a!.route('shopping', 'KV.Bucket', 'get', ['shopping', 'eggs'])).toBe('not_found');
    expect(await a!.route('shopping', 'KV.Registry', 'create', ['shopping'])).toBe('ok');
    expect(await c!.route('shopping', 'KV.Registry', 'lookup', ['shopping'])).toBe(true);
    const value = new Uint8Array([0x00, 0xff, 0xc3, 0x28]);
    expect(await a!.route('shopping', 'KV.Bucket', 'put', ['shopping', 'eggs', value])).toBe('ok');
    expect(await c!.route('shopping', 'KV.Bucket', 'get', ['shopping', 'eggs'])).toEqual({ value });
    expect(await c!.route('shopping', 'KV.Bucket', 'delete', ['shopping', 'eggs'])).toBe('ok');
    expect(await a!.route('shopping', 'KV.Bucket', 'get', ['shopping', 'eggs'])).toEqual({ value: null });
    expect(await a!.route('nothing', 'KV.Bucket', 'put', ['nothing', 'k', 'v'])).toBe('not_found');

    const primaries = members.get(MEMBERS[0]!)!.strategy.ring.preferenceList('shopping', 3).map((r) => r.node);
    for (const name of MEMBERS) {
      const held = await holds(name, 'shopping');
      if (primaries.includes(name)) expect(held).toEqual({ bucket: utf8('shopping'), keys: 1, bytes: expect.any(Number) });
      else expect(held).toBeUndefined();
    }
  });

  it('holds writes for a down primary as hints, hands them off to it after an empty restart, read repair does the rest', async () => {
    for (const name of MEMBERS) await startMember(name);
    const coordinator = members.get(MEMBERS[0]!)!;
    const bucket = 'basket';
    const order = coordinator.strategy.ring.preferenceList(bucket, 4).map((r) => r.node);
    // Coordinate from a primary that stays up; take down the last primary.
    const down = order[2]!;
    const fallback = order[3]!;
    const via = members.get(order[0]!)!.node;
    expect(await via.route(bucket, 'KV.Registry', 'create', [bucket])).toBe('ok');
    expect(await via.route(bucket, 'KV.Bucket', 'put', [bucket, 'before', '1'])).toBe('ok');

    await stopMember(down);
    for (let i = 0; i < 5; i++) expect(await via.route(bucket, 'KV.Bucket', 'put', [bucket, `during${i}`, String(i)])).toBe('ok');
    const hinted = (await members.get(fallback)!.node.modules.resolve('Replica', 'hinted', 2, fallback).fn(
      { node: fallback, bucket: '', meta: {} },
      down,
      100,
    )) as VersionedObject[];
    expect(hinted.map((o) => Buffer.from(o.key).toString()).sort()).toEqual(['during0', 'during1', 'during2', 'during3', 'during4']);
    expect(await holds(fallback, bucket)).toBeUndefined(); // hints are not the fallback's own data

    // Back, with empty storage: a write succeeds, and the bucket object travels with it (issue
    // 14): the restarted node holds the bucket and the new key at once.
    await startMember(down);
    for (const name of [order[0]!, fallback]) members.get(name)!.strategy.detector()!.alive(down);
    expect(await via.route(bucket, 'KV.Bucket', 'put', [bucket, 'after', 'x'])).toBe('ok');
    expect((await holds(down, bucket))?.keys).toBe(1);

    expect(await members.get(fallback)!.strategy.handoffNow()).toBe(5);
    expect(((await members.get(fallback)!.store.replica.hinted(down, 100)) as VersionedObject[]).length).toBe(0);
    expect((await holds(down, bucket))?.keys).toBe(6);

    // Reading every key (R=2) repairs the restarted node, bucket object included.
    for (const key of ['before', 'during0', 'during4', 'after']) {
      expect(await via.route(bucket, 'KV.Bucket', 'get', [bucket, key])).not.toEqual({ value: null });
    }
    // Read repair runs after the reply: wait for it (bounded).
    for (let i = 0; i < 200 && (await holds(down, bucket))?.keys !== 7; i++) await new Promise((r) => setTimeout(r, 10));
    expect((await holds(down, bucket))?.keys).toBe(7);
    // Now it knows the bucket, and answers like the others.
    const local = await members.get(down)!.node.modules.resolve('KV.Bucket', 'put', 3, down).fn(
      { node: down, bucket, meta: { replica: { mode: 'write', version: { vv: { z: 1 }, ts: 1, actor: 'z' } } } },
      bucket,
      'direct',
      'v',
    );
    expect(local).toBe('ok');
  });
});
