import { describe, expect, it } from 'vitest';
import { createMemoryBackend, createStoreOn, type Backend } from '../src/index.js';
import { directCaller, utf8 } from '@ringkv/test-utils';

/** A memory backend whose reads of one field wait for a gate (a slow disk or a busy Redis). */
function gatedBackend(slowField: string): { backend: Backend; open(): void } {
  const inner = createMemoryBackend();
  let open!: () => void;
  const gate = new Promise<void>((r) => (open = r));
  const backend: Backend = {
    ...inner,
    kind: inner.kind,
    async get(space, name, field) {
      if (new TextDecoder().decode(field) === slowField) await gate;
      return inner.get(space, name, field);
    },
  };
  delete (backend as { sync?: unknown }).sync;
  return { backend, open };
}

const write = (ts: number) => ({ replica: { mode: 'write', version: { vv: { a: ts }, ts, actor: 'a' } } });

describe('versioned operations are serialized per key', () => {
  it('a write to one key does not wait behind a slow write to another key of the same bucket', async () => {
    const { backend, open } = gatedBackend('slow');
    const { call } = directCaller(createStoreOn(backend));
    await call('KV.Registry', 'create', ['b'], write(1));
    const order: string[] = [];
    const slow = Promise.resolve(call('KV.Bucket', 'put', ['b', 'slow', 'x'], write(2))).then(() => order.push('slow'));
    const behind = Promise.resolve(call('KV.Bucket', 'put', ['b', 'slow', 'y'], write(3))).then(() => order.push('slow again'));
    const fast = Promise.resolve(call('KV.Bucket', 'put', ['b', 'fast', 'z'], write(4))).then(() => order.push('fast'));
    await fast;
    expect(order).toEqual(['fast']);
    open();
    await Promise.all([slow, behind]);
    // The same key keeps arrival order.
    expect(order).toEqual(['fast', 'slow', 'slow again']);
    expect(await call('KV.Bucket', 'get', ['b', 'slow'], { replica: { mode: 'read' } })).toMatchObject({
      objects: [{ siblings: [{ value: true }] }, { siblings: [{ value: utf8('y') }] }],
    });
  });

  it("with serializeBy 'bucket', every key of a bucket waits its turn", async () => {
    const { backend, open } = gatedBackend('slow');
    const { call } = directCaller(createStoreOn(backend, { serializeBy: 'bucket' }));
    await call('KV.Registry', 'create', ['b'], write(1));
    const order: string[] = [];
    const slow = Promise.resolve(call('KV.Bucket', 'put', ['b', 'slow', 'x'], write(2))).then(() => order.push('slow'));
    const fast = Promise.resolve(call('KV.Bucket', 'put', ['b', 'fast', 'z'], write(3))).then(() => order.push('fast'));
    await new Promise((r) => setTimeout(r, 20));
    expect(order).toEqual([]);
    open();
    await Promise.all([slow, fast]);
    expect(order).toEqual(['slow', 'fast']);
  });
});

describe('Replica.absorb and the hinted owners seen by reads', () => {
  const stamp = (vv: Record<string, number>, ts: number, actor = 'a') => ({ vv, ts, actor });
  const key = utf8('k');

  it('merges and answers what the sender did not cover', async () => {
    const store = createStoreOn(createMemoryBackend());
    await store.replica.merge([{ bucket: 'b', key, siblings: [{ value: utf8('theirs'), version: stamp({ b: 1 }, 5, 'b') }] }], null);
    const mine = { value: utf8('mine'), version: stamp({ a: 1 }, 6) };
    expect(await store.replica.absorb([{ bucket: 'b', key, siblings: [mine] }], null)).toEqual([
      { bucket: 'b', key, siblings: [{ value: utf8('theirs'), version: stamp({ b: 1 }, 5, 'b') }] },
    ]);
    // A version that has seen both: nothing missed, and it replaces both.
    const both = { value: utf8('both'), version: stamp({ a: 2, b: 1 }, 7) };
    expect(await store.replica.absorb([{ bucket: 'b', key, siblings: [both] }], null)).toEqual([]);
    expect(await store.replica.absorb([{ bucket: 'b', key, siblings: [both] }], null)).toEqual([]);
  });

  it('reads see a hinted area as soon as it is written, and no longer once it is dropped', async () => {
    const store = createStoreOn(createMemoryBackend());
    const { call } = directCaller(store);
    const read = async () =>
      ((await call('KV.Bucket', 'get', ['b', 'k'], { replica: { mode: 'read' } })) as { objects: { siblings: { value: unknown }[] }[] }).objects[1]!.siblings.map((s) => s.value);
    expect(await read()).toEqual([]);
    const v1 = { value: utf8('v1'), version: stamp({ a: 1 }, 1) };
    await store.replica.merge([{ bucket: 'b', key, siblings: [v1] }], 'x@h');
    expect(await read()).toEqual([utf8('v1')]);
    await store.replica.dropHinted('x@h', [{ bucket: 'b', key, siblings: [v1] }]);
    expect(await read()).toEqual([]);
    const v2 = { value: utf8('v2'), version: stamp({ a: 2 }, 2) };
    await store.replica.merge([{ bucket: 'b', key, siblings: [v2] }], 'y@h');
    expect(await read()).toEqual([utf8('v2')]);
    // The node's epoch lives beside the hinted areas but is nobody's hinted area.
    const epoch = await store.replica.epoch('n@h');
    expect(epoch).toMatch(/^[0-9a-f]{16}$/);
    expect(await store.replica.epoch('n@h')).toBe(epoch);
    expect(await store.replica.hinted('n@h', 10)).toEqual([]);
    await store.reset();
    expect(await store.replica.epoch('n@h')).not.toBe(epoch);
  });
});
