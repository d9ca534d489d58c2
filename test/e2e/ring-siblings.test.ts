/**
 * Keeping siblings is possible for callers that ask: two concurrent versions of one key (written
 * by actors that never saw each other, planted on the replicas as a partition would leave them)
 * come back as both values with route option `siblings`, and as the last writer's alone without.
 */
import { afterEach, expect, it } from 'vitest';
import { createModuleRegistry, startLocalCluster, type LocalCluster, type VersionStamp } from '@ringkv/core';
import { createRingStrategy, MERGE_MESSAGE } from '@ringkv/ring';
import { createStore, type Store } from '@ringkv/store';

const MEMBERS = ['a@sib', 'b@sib', 'c@sib'];
const enc = new TextEncoder();

let cluster: LocalCluster | undefined;
let stores: Store[] = [];
afterEach(async () => {
  await cluster?.stop();
  await Promise.all(stores.map((s) => s.close()));
  cluster = undefined;
  stores = [];
});

it('answers concurrent siblings to a caller that asks, and the last writer to one that does not', async () => {
  const specs = [];
  for (const name of MEMBERS) {
    const store = await createStore({ backend: 'memory' });
    stores.push(store);
    const modules = createModuleRegistry();
    store.register(modules);
    specs.push({ name, modules, strategy: createRingStrategy({ members: MEMBERS, n: 3, r: 3, w: 3 }) });
  }
  cluster = await startLocalCluster(specs);
  stores.forEach((s, i) => s.attach(cluster!.nodes[i]!));
  const a = cluster.node('a@sib');
  expect(await a.route('cart', 'KV.Registry', 'create', ['cart'])).toBe('ok');
  expect(await a.route('cart', 'KV.Bucket', 'put', ['cart', 'item', 'base'])).toBe('ok');

  // Two writers that both saw only nothing of each other: concurrent vectors, later stamp wins LWW.
  const left: VersionStamp = { vv: { 'x#1': 1 }, ts: 1_000, actor: 'x#1' };
  const right: VersionStamp = { vv: { 'y#1': 1 }, ts: 2_000, actor: 'y#1' };
  const object = (value: string, version: VersionStamp) => ({ bucket: 'cart', key: enc.encode('item'), siblings: [{ value: enc.encode(value), version }] });
  await a.send('b@sib', MERGE_MESSAGE, { objects: [object('left', left)], hintFor: null });
  await a.send('c@sib', MERGE_MESSAGE, { objects: [object('right', right)], hintFor: null });

  const withSiblings = (await a.route('cart', 'KV.Bucket', 'get', ['cart', 'item'], { siblings: true })) as { value: Uint8Array; siblings: Uint8Array[] };
  // 'base' is dominated by neither planted version (they never saw it), so three concurrent values remain.
  expect(withSiblings.siblings.map((v) => new TextDecoder().decode(v)).sort()).toEqual(['base', 'left', 'right']);
  expect(new TextDecoder().decode(withSiblings.value)).toBe(
    // the base write's hybrid timestamp is "now", far above the planted ones
    'base',
  );

  const plain = (await a.route('cart', 'KV.Bucket', 'get', ['cart', 'item'])) as { value: Uint8Array; siblings?: unknown };
  expect(new TextDecoder().decode(plain.value)).toBe('base');
  expect(plain.siblings).toBeUndefined();
});
