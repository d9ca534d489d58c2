/**
 * Versioned (ring) mode with hand-built stamps: what a replica stores and answers when the
 * ring sets `ctx.meta.replica`. Run once per backend (versioned.test.ts, redis-server.test.ts).
 */
import { ArgumentError, type Sibling, type VersionedObject, type VersionedReply, type VersionStamp } from '@ringkv/core';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { BUCKET_EXISTS, createStoreOn, type Backend, type Store } from '@ringkv/store';
import { bytes, directCaller, utf8, type DirectCaller } from './store-helpers.js';

const stamp = (vv: Record<string, number>, ts: number, actor = 'a#1'): VersionStamp => ({ vv, ts, actor });
const write = (version: VersionStamp, hintFor?: string) => ({ replica: { mode: 'write', version, ...(hintFor ? { hintFor } : {}) } });
const READ = { replica: { mode: 'read' } };
const resolve = (objects: readonly VersionedObject[]) => ({ replica: { mode: 'resolve', objects } });
const EMPTY = new Uint8Array(0);

export function versionedSuite(name: string, open: () => Promise<Backend>): void {
  describe(`versioned mode (${name})`, () => {
    let store: Store;
    let kv: DirectCaller;
    const call = (mod: string, fun: string, args: unknown[], meta?: Record<string, unknown>) => kv.call(mod, fun, args, meta);
    const create = (b: string | Uint8Array, v: VersionStamp, hintFor?: string) => call('KV.Registry', 'create', [b], write(v, hintFor));
    const put = (b: string | Uint8Array, k: string | Uint8Array, val: string | Uint8Array, v: VersionStamp, hintFor?: string) =>
      call('KV.Bucket', 'put', [b, k, val], write(v, hintFor));
    const del = (b: string, k: string, v: VersionStamp, hintFor?: string) => call('KV.Bucket', 'delete', [b, k], write(v, hintFor));
    const read = async (b: string | Uint8Array, k: string | Uint8Array) => (await call('KV.Bucket', 'get', [b, k], READ)) as VersionedReply;
    const keySiblings = async (b: string, k: string) => (await read(b, k)).objects[1]!.siblings;

    beforeEach(async () => {
      store = createStoreOn(await open());
      kv = directCaller(store);
    });
    afterEach(async () => {
      await store.reset();
      await store.close();
    });

    it('create stores a bucket object; lookup reads it and resolves it', async () => {
      const v = stamp({ 'a#1': 1 }, 100);
      expect(await call('KV.Registry', 'lookup', ['b'], READ)).toEqual({ objects: [{ bucket: utf8('b'), key: EMPTY, siblings: [] }] });
      expect(await create('b', v)).toBe('ok');
      const reply = (await call('KV.Registry', 'lookup', ['b'], READ)) as VersionedReply;
      expect(reply).toEqual({ objects: [{ bucket: utf8('b'), key: EMPTY, siblings: [{ value: BUCKET_EXISTS, version: v }] }] });
      expect(await call('KV.Registry', 'lookup', ['b'], resolve(reply.objects))).toBe(true);
      expect(await call('KV.Registry', 'lookup', ['b'], resolve([]))).toBe(false);
      // Plain mode does not see versioned data: the two never mix on one node.
      expect(await call('KV.Registry', 'lookup', ['b'])).toBe(false);
    });

    it('put and delete on a primary without the bucket answer not_found and store nothing', async () => {
      expect(await put('b', 'k', 'v', stamp({ 'a#1': 1 }, 1))).toBe('not_found');
      expect(await del('b', 'k', stamp({ 'a#1': 2 }, 2))).toBe('not_found');
      expect(await keySiblings('b', 'k')).toEqual([]);
    });

    it('a new owner marked gaining stores puts before the bucket object streamed in', async () => {
      const gaining = (v: VersionStamp) => ({ replica: { mode: 'write', version: v, gaining: true } });
      expect(await call('KV.Bucket', 'put', ['b', 'k', 'v'], gaining(stamp({ 'a#1': 1 }, 1)))).toBe('ok');
      expect((await keySiblings('b', 'k')).map((s) => s.value)).toEqual([utf8('v')]);
    });

    it('Replica.scanBucket pages a bucket in key byte order, resumable after any key; dropBucket forgets it', async () => {
      await create('b', stamp({ 'a#1': 1 }, 1));
      const keys = [bytes(0xff), bytes(0x00, 0x01), utf8('m'), utf8('a'), bytes(0x80)];
      for (const [i, k] of keys.entries()) await put('b', k, `v${i}`, stamp({ 'a#1': i + 2 }, i + 2));
      const seen: Uint8Array[] = [];
      let after: Uint8Array | null = null;
      let total = 0;
      for (let pages = 0; pages < 10; pages++) {
        const page = await store.replica.scanBucket('b', after, 2);
        seen.push(...page.objects.map((o) => o.key));
        total += page.bytes;
        if (!page.next) break;
        after = page.next;
      }
      // The bucket object (empty key) first, then keys in byte order, each once.
      expect(seen.map((k) => Buffer.from(k).toString('hex'))).toEqual(['', '0001', '61', '6d', '80', 'ff']);
      const summary = (await store.buckets()).find((x) => Buffer.from(x.bucket).toString() === 'b')!;
      expect(total).toBe(summary.bytes);
      await expect(store.replica.scanBucket('b', 'not bytes', 2)).rejects.toBeInstanceOf(ArgumentError);
      await expect(store.replica.scanBucket('b', null, 0)).rejects.toBeInstanceOf(ArgumentError);
      await expect(store.replica.scanBucket('', null, 2)).rejects.toBeInstanceOf(ArgumentError);
      expect(await store.replica.dropBucket('b')).toBe('ok');
      expect((await store.replica.scanBucket('b', null, 10)).objects).toEqual([]);
      expect((await store.buckets()).some((x) => Buffer.from(x.bucket).toString() === 'b')).toBe(false);
    });

    it('drops a dominated sibling and keeps concurrent ones', async () => {
      await create('b', stamp({ 'a#1': 1 }, 1));
      const v1 = stamp({ 'a#1': 1 }, 10);
      const v2 = stamp({ 'a#1': 2 }, 20);
      const c = stamp({ 'a#1': 1, 'c#1': 1 }, 15, 'c#1');
      expect(await put('b', 'k', 'one', v1)).toBe('ok');
      expect(await put('b', 'k', 'two', v2)).toBe('ok');
      expect(await keySiblings('b', 'k')).toEqual([{ value: utf8('two'), version: v2 }]);
      // c descends v1 but not v2: concurrent with v2, both kept.
      expect(await put('b', 'k', 'three', c)).toBe('ok');
      expect(await keySiblings('b', 'k')).toEqual([
        { value: utf8('three'), version: c },
        { value: utf8('two'), version: v2 },
      ]);
      // A late, stale write (dominated by what is stored) changes nothing but is acknowledged.
      expect(await put('b', 'k', 'stale', v1)).toBe('ok');
      expect((await keySiblings('b', 'k')).map((s) => s.value)).toEqual([utf8('three'), utf8('two')]);
      // A write that saw both replaces them.
      const both = stamp({ 'a#1': 3, 'c#1': 1 }, 30);
      await put('b', 'k', 'four', both);
      expect(await keySiblings('b', 'k')).toEqual([{ value: utf8('four'), version: both }]);
    });

    it('resolves get: missing bucket, missing key, live value, tombstone, concurrent siblings by last writer', async () => {
      const bucketObj = { bucket: 'b', key: EMPTY, siblings: [{ value: BUCKET_EXISTS, version: stamp({ x: 1 }, 1) }] };
      const keyObj = (siblings: Sibling[]) => ({ bucket: utf8('b'), key: utf8('k'), siblings });
      const get = (objects: VersionedObject[]) => call('KV.Bucket', 'get', ['b', 'k'], resolve(objects));
      expect(await get([])).toBe('not_found');
      expect(await get([keyObj([{ value: utf8('v'), version: stamp({ a: 1 }, 5) }])])).toBe('not_found');
      expect(await get([bucketObj])).toEqual({ value: null });
      expect(await get([bucketObj, keyObj([])])).toEqual({ value: null });
      expect(await get([bucketObj, keyObj([{ value: bytes(0xff, 0), version: stamp({ a: 1 }, 5) }])])).toEqual({ value: bytes(0xff, 0) });
      expect(await get([bucketObj, keyObj([{ value: null, tombstone: true, version: stamp({ a: 2 }, 6) }])])).toEqual({ value: null });
      const concurrent = [
        { value: utf8('older'), version: stamp({ a: 1 }, 5, 'z') },
        { value: utf8('newer'), version: stamp({ b: 1 }, 7, 'a') },
        { value: utf8('tie-loser'), version: stamp({ c: 1 }, 7, '0') },
      ];
      // Several siblings reach resolve only when the caller asked for them: all are answered.
      expect(await get([bucketObj, keyObj(concurrent)])).toEqual({
        value: utf8('newer'),
        siblings: [utf8('older'), utf8('tie-loser'), utf8('newer')],
      });
      const deletedLast = [...concurrent, { value: null, tombstone: true, version: stamp({ d: 1 }, 9) }];
      expect(await get([bucketObj, keyObj(deletedLast)])).toEqual({
        value: null,
        siblings: [utf8('older'), utf8('tie-loser'), utf8('newer'), null],
      });
    });

    it('stores deletes as tombstones that dominate the value they saw', async () => {
      await create('b', stamp({ 'a#1': 1 }, 1));
      await put('b', 'k', 'v', stamp({ 'a#1': 1 }, 10));
      const d = stamp({ 'a#1': 2 }, 20);
      expect(await del('b', 'k', d)).toBe('ok');
      const reply = await read('b', 'k');
      expect(reply.objects[1]!.siblings).toEqual([{ value: null, tombstone: true, version: d }]);
      expect(await call('KV.Bucket', 'get', ['b', 'k'], resolve(reply.objects))).toEqual({ value: null });
    });

    it('round-trips arbitrary bytes, empty and 1 MiB values through versioned records', async () => {
      const bucket = bytes(0xff, 0x00, 0xc3, 0x28);
      const big = new Uint8Array(1 << 20).map((_, i) => (i * 7) & 0xff);
      await create(bucket, stamp({ a: 1 }, 1));
      await put(bucket, bytes(0x00), bytes(), stamp({ a: 1 }, 2));
      await put(bucket, bytes(0xc3, 0x28), big, stamp({ a: 1 }, 3));
      const reply = await read(bucket, bytes(0x00));
      expect(reply.objects[1]!.siblings[0]!.value).toEqual(bytes());
      const bigBack = (await read(bucket, bytes(0xc3, 0x28))).objects[1]!.siblings[0]!.value as Uint8Array;
      expect(Buffer.compare(bigBack, big)).toBe(0);
      expect(await call('KV.Bucket', 'get', [bucket, bytes(0xc3, 0x28)], resolve(reply.objects))).toEqual({ value: null });
    });

    describe('hinted writes', () => {
      const owner = 'c@host';

      it('a fallback stores and acknowledges even without the bucket; reads here see it, the primary area does not hold it', async () => {
        const v = stamp({ 'a#1': 1 }, 10);
        expect(await put('b', 'k', 'held', v, owner)).toBe('ok');
        expect(await keySiblings('b', 'k')).toEqual([{ value: utf8('held'), version: v }]);
        expect(await store.buckets()).toEqual([]);
        expect(await call('Replica', 'hinted', [owner, 10])).toEqual([{ bucket: utf8('b'), key: utf8('k'), siblings: [{ value: utf8('held'), version: v }] }]);
        expect(await call('Replica', 'hinted', ['other@host', 10])).toEqual([]);
      });

      it('hinted lists bucket objects too, and honours the limit', async () => {
        await create('b', stamp({ a: 1 }, 1), owner);
        for (let i = 0; i < 5; i++) await put('b', `k${i}`, 'v', stamp({ a: 1 }, 2 + i), owner);
        const all = (await call('Replica', 'hinted', [owner, 100])) as VersionedObject[];
        expect(all.length).toBe(6);
        expect(all.some((o) => o.key.length === 0)).toBe(true);
        expect(((await call('Replica', 'hinted', [owner, 2])) as VersionedObject[]).length).toBe(2);
      });

      it('dropHinted forgets what was handed off but keeps a newer write that arrived meanwhile', async () => {
        await put('b', 'k1', 'one', stamp({ a: 1 }, 10), owner);
        await put('b', 'k2', 'two', stamp({ a: 1 }, 11), owner);
        const batch = (await call('Replica', 'hinted', [owner, 10])) as VersionedObject[];
        // The owner is still down: a newer write to k2 lands here after the batch was read.
        const newer = stamp({ a: 2 }, 12);
        await put('b', 'k2', 'two-newer', newer, owner);
        expect(await call('Replica', 'dropHinted', [owner, batch])).toBe('ok');
        expect(await call('Replica', 'hinted', [owner, 10])).toEqual([{ bucket: utf8('b'), key: utf8('k2'), siblings: [{ value: utf8('two-newer'), version: newer }] }]);
        // Handing off that one too empties the area; dropping twice is harmless.
        const rest = (await call('Replica', 'hinted', [owner, 10])) as VersionedObject[];
        await call('Replica', 'dropHinted', [owner, rest]);
        await call('Replica', 'dropHinted', [owner, rest]);
        expect(await call('Replica', 'hinted', [owner, 10])).toEqual([]);
        expect(await keySiblings('b', 'k2')).toEqual([]);
      });

      it('dropHinted keeps a concurrent sibling the handed-off copy did not include', async () => {
        await put('b', 'k', 'x', stamp({ a: 1 }, 10), owner);
        const batch = (await call('Replica', 'hinted', [owner, 10])) as VersionedObject[];
        const concurrent = stamp({ c: 1 }, 11, 'c');
        await put('b', 'k', 'y', concurrent, owner);
        await call('Replica', 'dropHinted', [owner, batch]);
        expect(await keySiblings('b', 'k')).toEqual([{ value: utf8('y'), version: concurrent }]);
      });
    });

    describe('Replica.merge', () => {
      it('merges objects into the primary area (read repair), idempotently, with no bucket check', async () => {
        const v = stamp({ a: 1 }, 5);
        const objects = [
          { bucket: 'b', key: EMPTY, siblings: [{ value: BUCKET_EXISTS, version: stamp({ a: 1 }, 1) }] },
          { bucket: utf8('b'), key: utf8('k'), siblings: [{ value: utf8('v'), version: v }] },
        ];
        expect(await call('Replica', 'merge', [objects])).toBe('ok');
        expect(await call('Replica', 'merge', [objects])).toBe('ok');
        const reply = await read('b', 'k');
        expect(reply.objects[1]!.siblings).toEqual([{ value: utf8('v'), version: v }]);
        expect(await call('KV.Bucket', 'get', ['b', 'k'], resolve(reply.objects))).toEqual({ value: utf8('v') });
        expect(await store.buckets()).toEqual([{ bucket: utf8('b'), keys: 1, bytes: expect.any(Number) }]);
      });

      it('merges into a hinted area with hintFor', async () => {
        const objects = [{ bucket: 'b', key: utf8('k'), siblings: [{ value: utf8('v'), version: stamp({ a: 1 }, 5) }] }];
        await call('Replica', 'merge', [objects, 'd@host']);
        expect(((await call('Replica', 'hinted', ['d@host', 10])) as VersionedObject[]).length).toBe(1);
        expect(await store.buckets()).toEqual([]);
      });

      it('rejects malformed objects with an error naming the field', async () => {
        await expect(call('Replica', 'merge', ['nope'])).rejects.toThrow(/objects must be an array/);
        await expect(call('Replica', 'merge', [[{ bucket: 'b', key: 'k', siblings: [] }]])).rejects.toThrow(/objects\[0\]\.key must be a Uint8Array/);
        await expect(call('Replica', 'merge', [[{ bucket: 'b', key: utf8('k'), siblings: [{ value: utf8('v'), version: { vv: { a: -1 }, ts: 1, actor: 'a' } }] }]])).rejects.toThrow(
          /objects\[0\]\.siblings\[0\]\.version\.vv\["a"\] must be a non-negative integer/,
        );
        await expect(call('Replica', 'merge', [[{ bucket: 'b', key: utf8('k'), siblings: [{ value: 3, version: stamp({ a: 1 }, 1) }] }]])).rejects.toThrow(
          /siblings\[0\]\.value must be bytes/,
        );
        await expect(call('Replica', 'merge', [[{ bucket: '', key: utf8('k'), siblings: [] }]])).rejects.toThrow(/objects\[0\]\.bucket must not be empty/);
        await expect(call('Replica', 'hinted', ['', 1])).rejects.toThrow(/owner must be a non-empty node name/);
        await expect(call('Replica', 'hinted', ['o@h', 0])).rejects.toThrow(/limit must be a positive integer/);
        await expect(call('Replica', 'reap', ['soon'])).rejects.toThrow(/olderThanTs must be a number/);
      });
    });

    describe('Replica.reap', () => {
      beforeEach(async () => {
        await create('b', stamp({ a: 1 }, 1));
      });
      const reap = (ts: number) => call('Replica', 'reap', [ts]);

      it('removes a tombstone older than the cutoff that dominates everything stored for the key', async () => {
        await put('b', 'k', 'v', stamp({ a: 1 }, 10));
        await del('b', 'k', stamp({ a: 2 }, 20));
        expect(await reap(20)).toBe(0); // not older than the cutoff
        expect(await reap(21)).toBe(1);
        expect(await keySiblings('b', 'k')).toEqual([]);
        expect(await reap(1000)).toBe(0);
        // The bucket object is no tombstone: it stays.
        expect(await call('KV.Registry', 'lookup', ['b'], resolve((await call('KV.Registry', 'lookup', ['b'], READ) as VersionedReply).objects))).toBe(true);
      });

      it('keeps a tombstone concurrent with a live value (reaping would not resurrect, but keeping both is the honest state)', async () => {
        await put('b', 'k', 'live', stamp({ c: 1 }, 10, 'c'));
        await del('b', 'k', stamp({ a: 2 }, 20));
        expect(await reap(100)).toBe(0);
        expect((await keySiblings('b', 'k')).length).toBe(2);
      });

      it('keeps a tombstone while a hinted copy on this node holds a value it does not dominate', async () => {
        await put('b', 'k', 'v', stamp({ a: 1 }, 10));
        await del('b', 'k', stamp({ a: 2 }, 20));
        await put('b', 'k', 'held', stamp({ h: 1 }, 15, 'h'), 'owner@host');
        expect(await reap(100)).toBe(0);
        // Once the hinted copy is handed off and dropped, the tombstone can go.
        await call('Replica', 'dropHinted', ['owner@host', await call('Replica', 'hinted', ['owner@host', 10])]);
        expect(await reap(100)).toBe(1);
      });

      it('reaps when the hinted copy is dominated by the tombstone, and never reaps hinted tombstones', async () => {
        await put('b', 'k', 'v', stamp({ a: 1 }, 10));
        await put('b', 'k', 'v', stamp({ a: 1 }, 10), 'owner@host');
        await del('b', 'k', stamp({ a: 2 }, 20));
        await del('b', 'gone', stamp({ a: 1 }, 5), 'owner@host');
        expect(await reap(100)).toBe(1);
        const hinted = (await call('Replica', 'hinted', ['owner@host', 10])) as VersionedObject[];
        expect(hinted.map((o) => Buffer.from(o.key).toString())).toEqual(['gone', 'k']);
      });

      it('does not let a dominated value come back after reaping on this node', async () => {
        await put('b', 'k', 'v', stamp({ a: 1 }, 10));
        await del('b', 'k', stamp({ a: 2 }, 20));
        await reap(100);
        const reply = await read('b', 'k');
        expect(await call('KV.Bucket', 'get', ['b', 'k'], resolve(reply.objects))).toEqual({ value: null });
      });
    });

    it('rejects a write function called in read mode, a bad stamp and a bad hintFor', async () => {
      await expect(call('KV.Bucket', 'put', ['b', 'k', 'v'], READ)).rejects.toThrow(/KV.Bucket.put is a write function: replica mode must be 'write', got 'read'/);
      await expect(call('KV.Bucket', 'get', ['b', 'k'], write(stamp({ a: 1 }, 1)))).rejects.toThrow(ArgumentError);
      await expect(call('KV.Registry', 'create', ['b'], { replica: { mode: 'write', version: { vv: {}, ts: 'x', actor: 'a' } } })).rejects.toThrow(
        /replica.version.ts must be a finite number/,
      );
      await expect(call('KV.Registry', 'create', ['b'], { replica: { mode: 'write', version: stamp({}, 1), hintFor: 7 } })).rejects.toThrow(/hintFor/);
      await expect(call('KV.Bucket', 'get', ['b', 'k'], { replica: { mode: 'resolve', objects: 'x' } })).rejects.toThrow(/replica.objects must be an array/);
    });

    it('lists versioned buckets in Replica.buckets with key counts (bucket object not counted)', async () => {
      await create('b', stamp({ a: 1 }, 1));
      await create('a', stamp({ a: 1 }, 1));
      await put('b', 'k1', 'v', stamp({ a: 1 }, 2));
      await del('b', 'k2', stamp({ a: 1 }, 3));
      const listing = (await call('Replica', 'buckets', [])) as Array<{ bucket: Uint8Array; keys: number; bytes: number }>;
      expect(listing.map((e) => [Buffer.from(e.bucket).toString(), e.keys])).toEqual([
        ['a', 0],
        ['b', 2],
      ]);
      expect(listing.every((e) => e.bytes > 0)).toBe(true);
    });

    it('registers the Replica module with its kinds', () => {
      const names = kv.modules.list();
      for (const f of ['Replica.merge/*', 'Replica.hinted/2', 'Replica.dropHinted/2', 'Replica.reap/1', 'Replica.buckets/0']) expect(names).toContain(f);
      expect(kv.modules.lookup('Replica', 'merge', 2)?.kind).toBe('write');
      expect(kv.modules.lookup('Replica', 'hinted', 2)?.kind).toBe('read');
      expect(kv.modules.lookup('KV.Bucket', 'get', 2)?.kind).toBe('read');
      expect(kv.modules.lookup('KV.Bucket', 'put', 3)?.kind).toBe('write');
    });
  });
}
