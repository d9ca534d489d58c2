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
