/**
 * Versioned operations on a backend with a synchronous face run inline when nothing is queued
 * for their key (no queue, no promise), and take the queue otherwise: they never overtake an
 * operation queued before them, and a write made inline is acknowledged only once the backend
 * says it is durable.
 */
import { describe, expect, it } from 'vitest';
import type { Sibling } from '@ringkv/core';
import { directCaller, utf8 } from '@ringkv/test-utils';
import { createBucketQueue } from '../src/bucket-queue.js';
import { createMemoryBackend } from '../src/memory-backend.js';
import { createStoreOn } from '../src/store.js';
import { createVersionedStore, LATER } from '../src/versioned-store.js';
import type { Backend, SyncBackend } from '../src/backend.js';

const write = (ts: number) => ({ replica: { mode: 'write', version: { vv: { a: ts }, ts, actor: 'a' } } });
const read = { replica: { mode: 'read' } };
const sib = (value: string, n: number): Sibling => ({ value: utf8(value), version: { vv: { a: n }, ts: n, actor: 'a' } });

describe('versioned operations inline on a synchronous backend', () => {
  it('run at once, synchronously, when the key is idle and the hinted owners are known', async () => {
    const store = createVersionedStore(createMemoryBackend(), createBucketQueue());
    const bucket = utf8('b');
    const key = utf8('k');
    // The owner list is read (asynchronously) by the first operation that needs it.
    expect(store.now(bucket, key, () => 'ran')).toBe(LATER);
    await store.withKey(bucket, key, (o) => o.visible(key));
    let ran = false;
    const merged = store.now(bucket, key, (o) => {
      ran = true;
      return o.merge(key, [sib('1', 1)], undefined);
    });
    // Synchronous: done before anything else had a turn.
    expect(ran).toBe(true);
    expect(merged).toEqual([sib('1', 1)]);
    expect(await store.withKey(bucket, key, (o) => o.area(key, undefined))).toEqual([sib('1', 1)]);
    expect(store.written()).toBeUndefined();
  });

  it('memory keeps a handed-over array as it is, and copies anything else', () => {
    const sync = createMemoryBackend().sync!;
    const given = new Uint8Array([1, 2, 3]);
    expect(sync.set('versioned', 't', utf8('t'), utf8('handed'), given, true)).toBe(given);
    expect(sync.get('versioned', 't', utf8('handed'))).toBe(given);
    const kept = new Uint8Array([4, 5]);
    const stored = sync.set('versioned', 't', utf8('t'), utf8('copied'), kept);
    expect(stored).not.toBe(kept);
    kept[0] = 9;
    expect([...sync.get('versioned', 't', utf8('copied'))!]).toEqual([4, 5]);
    // A Buffer may be a slice of a shared pool: copied even when handed over.
    const pooled = Buffer.from([7, 8]);
    expect(sync.set('versioned', 't', utf8('t'), utf8('pooled'), pooled, true)).not.toBe(pooled);
  });

  it('never overtake an operation queued for the same key; other keys still run inline', async () => {
    const store = createStoreOn(createMemoryBackend());
    const { call } = directCaller(store);
    await call('KV.Registry', 'create', ['b'], write(1));
    await call('KV.Bucket', 'get', ['b', 'k'], read);
    // Something slow holds key k's queue (a hinted-area drop waiting on its storage read).
    let open!: () => void;
    const gate = new Promise<void>((r) => (open = r));
    const blocker = blockKey(store, 'b', 'k', gate);
    const order: string[] = [];
    const put = Promise.resolve(call('KV.Bucket', 'put', ['b', 'k', 'after'], write(3))).then((r) => order.push(`put ${String(r)}`));
    const get = Promise.resolve(call('KV.Bucket', 'get', ['b', 'k'], read)).then(() => order.push('get'));
    const other = Promise.resolve(call('KV.Bucket', 'put', ['b', 'other', 'x'], write(4))).then((r) => order.push(`other ${String(r)}`));
    await other;
    await new Promise((r) => setTimeout(r, 20));
    expect(order).toEqual(['other ok']);
    open();
    await Promise.all([blocker, put, get]);
    // Arrival order on the busy key: the put, then the get that came after it.
    expect(order).toEqual(['other ok', 'put ok', 'get']);
    const got = (await call('KV.Bucket', 'get', ['b', 'k'], read)) as { objects: { siblings: { value: unknown }[] }[] };
    expect(got.objects[1]!.siblings.map((s) => s.value)).toEqual([utf8('after')]);
  });

  it('acknowledge a write made inline only once the backend says it is durable', async () => {
    const { backend, flush } = slowDiskBackend();
    const store = createStoreOn(backend);
    const { call } = directCaller(store);
    const created = Promise.resolve(call('KV.Registry', 'create', ['b'], write(1)));
    flush();
    expect(await created).toBe('ok');
    await call('KV.Bucket', 'get', ['b', 'k'], read);
    let acked = false;
    const put = Promise.resolve(call('KV.Bucket', 'put', ['b', 'k', 'v'], write(2))).then((r) => {
      acked = true;
      return r;
    });
    const absorbed = store.replica.absorb([{ bucket: 'b', key: utf8('j'), siblings: [sib('w', 3)] }], null).then((r) => {
      acked = true;
      return r;
    });
    await new Promise((r) => setTimeout(r, 20));
    expect(acked).toBe(false);
    flush();
    expect(await put).toBe('ok');
    expect(await absorbed).toEqual([]);
  });

  it('a merge waits for what it wrote inline even when another write took the disk’s promise meanwhile', async () => {
    const { backend, flush } = slowDiskBackend();
    const store = createStoreOn(backend);
    const { call } = directCaller(store);
    const created = Promise.resolve(call('KV.Registry', 'create', ['b'], write(1)));
    flush();
    await created;
    await call('KV.Bucket', 'get', ['b', 'k1'], read);
    let open!: () => void;
    const gate = new Promise<void>((r) => (open = r));
    const blocker = blockKey(store, 'b', 'k2', gate);
    let acked = false;
    // k1 merges inline; k2 is busy, so the merge waits in k2's queue...
    const merged = store.replica.merge([{ bucket: 'b', key: utf8('k1'), siblings: [sib('x', 5)] }, { bucket: 'b', key: utf8('k2'), siblings: [sib('y', 6)] }], null).then(() => (acked = true));
    // ... while a put writes inline and takes the disk's promise (which covers k1's write too).
    const put = Promise.resolve(call('KV.Bucket', 'put', ['b', 'k3', 'z'], write(7)));
    open();
    await blocker;
    await new Promise((r) => setTimeout(r, 20));
    expect(acked).toBe(false);
    flush();
    await Promise.all([merged, put]);
    expect(acked).toBe(true);
  });

  it('a write that stores nothing is answered at once, even while other writes wait for the disk', async () => {
    const { backend } = slowDiskBackend();
    const store = createStoreOn(backend);
    const { call } = directCaller(store);
    await call('KV.Bucket', 'get', ['nobucket', 'k'], read);
    // A write that is not durable yet...
    void store.replica.merge([{ bucket: 'b', key: utf8('j'), siblings: [sib('w', 3)] }], null);
    // ... does not hold up a put that stored nothing (no bucket object: 'not_found').
    expect(await call('KV.Bucket', 'put', ['nobucket', 'k', 'v'], write(2))).toBe('not_found');
  });
});

/**
 * Holds the queue of (bucket, key) of `store` until `gate` opens: a merge into the key on a
 * backend read that waits. Built from the store's own replica functions so the same queue is
 * used: a hinted-area drop reads the key's area inside its queue.
 */
function blockKey(store: ReturnType<typeof createStoreOn>, bucket: string, key: string, gate: Promise<void>): Promise<unknown> {
  const backend = store.backend as Backend & { get: Backend['get'] };
  const inner = backend.get.bind(backend);
  let armed = true;
  (backend as { get: Backend['get'] }).get = async (space, name, field) => {
    if (armed && space === 'hinted') {
      armed = false;
      await gate;
    }
    return inner(space, name, field);
  };
  // dropHinted reads the owner's area of the key in the key's queue (asynchronously).
  return store.replica.dropHinted('x@h', [{ bucket, key: utf8(key), siblings: [] }]);
}

/**
 * A memory backend whose synchronous writes become durable only when `flush()` is called, and
 * whose `written()` hands the durability of the writes so far to one caller, as LMDB's does.
 */
function slowDiskBackend(): { backend: Backend; flush(): void } {
  const inner = createMemoryBackend();
  let pending: Promise<void> | undefined;
  let unflushed: Array<() => void> = [];
  const sync: SyncBackend = {
    ...inner.sync!,
    set(space, id, name, field, value) {
      inner.sync!.set(space, id, name, field, value);
      pending ??= new Promise<void>((r) => unflushed.push(r));
    },
    written() {
      const taken = pending;
      pending = undefined;
      return taken;
    },
  };
  const backend: Backend = {
    ...inner,
    kind: inner.kind,
    sync,
    async set(space, name, field, value) {
      await inner.set(space, name, field, value);
    },
  };
  return {
    backend,
    flush() {
      for (const done of unflushed) done();
      unflushed = [];
    },
  };
}
