import { ArgumentError, type VersionedReply, type VersionStamp } from '@ringkv/core';
import fc from 'fast-check';
import RedisMock from 'ioredis-mock';
import { describe, expect, it } from 'vitest';
import { createStore, createStoreOn, createMemoryBackend } from '../src/index.js';
import { directCaller, uniquePrefix, utf8 } from './helpers.js';

describe('createStore', () => {
  it('defaults to memory and takes an ioredis-compatible client for redis', async () => {
    const memory = await createStore();
    expect(memory.backend.kind).toBe('memory');
    const redis = await createStore({ backend: 'redis', redis: { url: 'redis://unused', keyPrefix: uniquePrefix('store') }, client: new RedisMock() });
    expect(redis.backend.kind).toBe('redis');
    const { call } = directCaller(redis);
    expect(await call('KV.Registry', 'create', ['b'])).toBe('ok');
    expect(await call('KV.Bucket', 'put', ['b', 'k', 'v'])).toBe('ok');
    expect(await call('KV.Bucket', 'get', ['b', 'k'])).toEqual({ value: utf8('v') });
    await redis.reset();
    expect(await call('KV.Registry', 'lookup', ['b'])).toBe(false);
    await redis.close();
    await memory.close();
  });

  it('rejects bad options with an ArgumentError saying what is wrong', async () => {
    await expect(createStore({ backend: 'disk' as 'memory' })).rejects.toThrow(/backend must be 'memory' or 'redis', got "disk"/);
    await expect(createStore({ backend: 'redis' })).rejects.toThrow(/needs redis.url/);
    await expect(createStore({ backend: 'redis', redis: 'x' as never })).rejects.toThrow(/redis options must be an object/);
    await expect(createStore(null as never)).rejects.toBeInstanceOf(ArgumentError);
  });
});

describe('replicas converge', () => {
  // Two replicas receiving the same versioned writes in different orders store the same thing:
  // what "concurrent writes resolve the same way on every replica" needs from storage.
  it('stores the same siblings whatever order writes arrive in', async () => {
    const actors = ['a#1', 'b#1', 'c#1'];
    const stampArb = fc
      .record({
        vv: fc.dictionary(fc.constantFrom(...actors), fc.integer({ min: 1, max: 3 }), { maxKeys: 3 }),
        ts: fc.integer({ min: 1, max: 50 }),
        actor: fc.constantFrom(...actors),
      })
      .map((s): VersionStamp => s);
    const writeArb = fc.record({ key: fc.constantFrom('k1', 'k2'), del: fc.boolean(), value: fc.uint8Array({ maxLength: 4 }), version: stampArb });
    await fc.assert(
      fc.asyncProperty(fc.array(writeArb, { minLength: 1, maxLength: 12 }), fc.func(fc.integer()), async (generated, order) => {
        // A coordinator never stamps two different writes identically: make (ts, actor) unique.
        const writes = generated.map((w, i) => ({ ...w, version: { ...w.version, ts: w.version.ts * 100 + i } }));
        const shuffled = writes.map((w, i) => ({ w, r: order(i) })).sort((x, y) => x.r - y.r).map((x) => x.w);
        const replies: unknown[] = [];
        for (const sequence of [writes, shuffled]) {
          const { call } = directCaller(createStoreOn(createMemoryBackend()));
          await call('KV.Registry', 'create', ['b'], { replica: { mode: 'write', version: { vv: { 'a#1': 1 }, ts: 0, actor: 'a#1' } } });
          for (const w of sequence) {
            const meta = { replica: { mode: 'write', version: w.version } };
            if (w.del) await call('KV.Bucket', 'delete', ['b', w.key], meta);
            else await call('KV.Bucket', 'put', ['b', w.key, w.value], meta);
          }
          const reads = [];
          for (const key of ['k1', 'k2']) {
            const r = (await call('KV.Bucket', 'get', ['b', key], { replica: { mode: 'read' } })) as VersionedReply;
            reads.push(r, await call('KV.Bucket', 'get', ['b', key], { replica: { mode: 'resolve', objects: r.objects } }));
          }
          replies.push(reads);
        }
        expect(replies[1]).toEqual(replies[0]);
      }),
      { numRuns: 100 },
    );
  });
});
