import { ArgumentError, descends, type VersionedObject, type VersionedReply, type VersionStamp } from '@ringkv/core';
import fc from 'fast-check';
import RedisMock from 'ioredis-mock';
import { describe, expect, it } from 'vitest';
import { createStore, createStoreOn, createMemoryBackend } from '../src/index.js';
import { directCaller, uniquePrefix, utf8 } from '@ringkv/test-utils';

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
    await expect(createStore({ backend: 'disk' as 'memory' })).rejects.toThrow(/backend must be 'lmdb', 'memory' or 'redis', got "disk"/);
    await expect(createStore({ backend: 'lmdb' })).rejects.toThrow(/backend 'lmdb' needs lmdb options with a path/);
    await expect(createStore({ backend: 'lmdb', lmdb: { path: '' } })).rejects.toThrow(/path must be a non-empty string/);
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

describe('hinted handoff loses nothing', () => {
  // A fallback takes hinted writes while it hands batches to the owner (hinted, merge on the
  // owner, dropHinted), with writes arriving between reading a batch and dropping it. In the
  // end every write is covered by a sibling on the owner or still held by the fallback.
  it('keeps every write on the owner or in the hinted area, whatever the interleaving', async () => {
    const OWNER = 'owner@h';
    const actionArb = fc.oneof(
      fc.record({ kind: fc.constant('write' as const), key: fc.constantFrom('k1', 'k2', 'k3'), actor: fc.constantFrom('x', 'y'), del: fc.boolean() }),
      fc.record({ kind: fc.constant('read-batch' as const), limit: fc.integer({ min: 1, max: 3 }) }),
      fc.record({ kind: fc.constant('deliver' as const) }),
    );
    await fc.assert(
      fc.asyncProperty(fc.array(actionArb, { maxLength: 25 }), async (actions) => {
        const fallback = directCaller(createStoreOn(createMemoryBackend()), 'fallback@h');
        const owner = directCaller(createStoreOn(createMemoryBackend()), OWNER);
        const counters: Record<string, number> = {};
        const written: Array<{ key: string; version: VersionStamp }> = [];
        let batch: VersionedObject[] | undefined;
        let ts = 0;
        const deliver = async (objects: VersionedObject[]) => {
          await owner.call('Replica', 'merge', [objects]);
          await fallback.call('Replica', 'dropHinted', [OWNER, objects]);
        };
        for (const a of actions) {
          if (a.kind === 'write') {
            // Each actor builds on its own previous writes only, so writes of x and y are concurrent.
            counters[a.actor] = (counters[a.actor] ?? 0) + 1;
            const version = { vv: { [a.actor]: counters[a.actor]! }, ts: ++ts, actor: a.actor };
            const meta = { replica: { mode: 'write', version, hintFor: OWNER } };
            if (a.del) await fallback.call('KV.Bucket', 'delete', ['b', a.key], meta);
            else await fallback.call('KV.Bucket', 'put', ['b', a.key, `v${ts}`], meta);
            written.push({ key: a.key, version });
          } else if (a.kind === 'read-batch') {
            batch = (await fallback.call('Replica', 'hinted', [OWNER, a.limit])) as VersionedObject[];
          } else if (batch) {
            await deliver(batch);
            batch = undefined;
          }
        }
        for (const w of written) {
          const onOwner = ((await owner.call('KV.Bucket', 'get', ['b', w.key], { replica: { mode: 'read' } })) as VersionedReply).objects[1]!.siblings;
          const held = ((await fallback.call('KV.Bucket', 'get', ['b', w.key], { replica: { mode: 'read' } })) as VersionedReply).objects[1]!.siblings;
          expect([...onOwner, ...held].some((s) => descends(s.version.vv, w.version.vv))).toBe(true);
        }
        // And once everything is delivered, the fallback holds nothing more.
        for (let i = 0; i < 50; i++) {
          const rest = (await fallback.call('Replica', 'hinted', [OWNER, 10])) as VersionedObject[];
          if (rest.length === 0) break;
          await deliver(rest);
        }
        expect(await fallback.call('Replica', 'hinted', [OWNER, 10])).toEqual([]);
      }),
      { numRuns: 100 },
    );
  });
});
