/**
 * `KV.Bucket.object` (get's reply, plus siblings and the joined vclock under the ring) and
 * `KV.Bucket.keys` (the live keys of a bucket), through route, plain and under the ring.
 */
import { createModuleRegistry, startLocalCluster, type LocalCluster } from '@ringkv/core';
import { createRingStrategy } from '@ringkv/ring';
import { afterEach, describe, expect, it } from 'vitest';
import { createStore, MAX_KEYS_PER_LISTING, type Store } from '@ringkv/store';

const utf8 = (s: string) => new TextEncoder().encode(s);
let cluster: LocalCluster | undefined;
let stores: Store[] = [];
afterEach(async () => {
  await cluster?.stop();
  await Promise.all(stores.map((s) => s.close()));
  cluster = undefined;
  stores = [];
});

async function start(kind: 'plain' | 'ring') {
  const names = kind === 'plain' ? ['solo@kv'] : ['a@kv', 'b@kv', 'c@kv'];
  const specs = [];
  for (const name of names) {
    const store = await createStore({ backend: 'memory' });
    stores.push(store);
    const modules = createModuleRegistry();
    store.register(modules);
    specs.push(
      kind === 'plain'
        ? { name, modules, routingTable: [{ from: 0, to: 255, node: name }] }
        : { name, modules, strategy: createRingStrategy({ members: names, n: 3, r: 2, w: 2 }, { background: false }) },
    );
  }
  cluster = await startLocalCluster(specs);
  return cluster.nodes[0]!;
}

describe('KV.Bucket.object and KV.Bucket.keys', () => {
  it('plain: object answers like get; keys lists in byte order, bounded, not_found for no bucket', async () => {
    const node = await start('plain');
    expect(await node.route('b', 'KV.Bucket', 'keys', ['b', 10])).toBe('not_found');
    expect(await node.route('b', 'KV.Bucket', 'object', ['b', 'k'])).toBe('not_found');
    await node.route('b', 'KV.Registry', 'create', ['b']);
    for (const k of ['z', 'a', '\u00ff', 'm']) await node.route('b', 'KV.Bucket', 'put', ['b', k, 'v']);
    expect(await node.route('b', 'KV.Bucket', 'object', ['b', 'a'])).toEqual({ value: utf8('v') });
    expect(await node.route('b', 'KV.Bucket', 'keys', ['b', 10])).toEqual({ keys: ['a', 'm', 'z', '\u00ff'].map(utf8), truncated: false });
    expect(await node.route('b', 'KV.Bucket', 'keys', ['b', 2])).toEqual({ keys: ['a', 'm'].map(utf8), truncated: true });
    await expect(node.route('b', 'KV.Bucket', 'keys', ['b', 0])).rejects.toThrow(/limit must be an integer/);
    await expect(node.route('b', 'KV.Bucket', 'keys', ['b', MAX_KEYS_PER_LISTING + 1])).rejects.toThrow(/limit must be an integer/);
  });

  it('ring: object answers siblings and the joined vclock; keys leaves deleted keys out', async () => {
    const node = await start('ring');
    await node.route('r', 'KV.Registry', 'create', ['r']);
    await node.route('r', 'KV.Bucket', 'put', ['r', 'k1', 'one']);
    await node.route('r', 'KV.Bucket', 'put', ['r', 'k2', 'two']);
    const before = (await node.route('r', 'KV.Bucket', 'object', ['r', 'k2'], { siblings: true })) as { vclock: Record<string, number> };
    await node.route('r', 'KV.Bucket', 'delete', ['r', 'k2']);
    const object = (await node.route('r', 'KV.Bucket', 'object', ['r', 'k1'], { siblings: true })) as { value: Uint8Array; siblings: Uint8Array[]; vclock: Record<string, number> };
    expect(object.value).toEqual(utf8('one'));
    expect(object.siblings).toEqual([utf8('one')]);
    // One coordinator wrote it: one actor, counting past the bucket's create the write built on.
    expect(Object.keys(object.vclock)).toHaveLength(1);
    expect(Object.values(object.vclock)[0]).toBeGreaterThanOrEqual(1);
    const deleted = (await node.route('r', 'KV.Bucket', 'object', ['r', 'k2'], { siblings: true })) as { value: null; siblings: unknown[]; vclock: Record<string, number> };
    expect(deleted.value).toBeNull();
    expect(deleted.siblings).toEqual([null]);
    // The delete built on the put it superseded.
    const actor = Object.keys(before.vclock)[0]!;
    expect(deleted.vclock[actor]).toBeGreaterThan(before.vclock[actor]!);
    // get's reply is unchanged.
    expect(await node.route('r', 'KV.Bucket', 'get', ['r', 'k1'])).toEqual({ value: utf8('one') });
    expect(await node.route('r', 'KV.Bucket', 'keys', ['r', 100])).toEqual({ keys: [utf8('k1')], truncated: false });
    expect(await node.route('nope', 'KV.Bucket', 'keys', ['nope', 100])).toBe('not_found');
  });
});
