import { ArgumentError, createModuleRegistry, startLocalCluster, type LocalCluster, type RingkvNode } from '@ringkv/core';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { BUCKETS_MESSAGE, createStore, type Store } from '../src/index.js';

const bytes = (...b: number[]) => new Uint8Array(b);
const utf8 = (s: string) => new TextEncoder().encode(s);

describe('KV functions through route (memory backend)', () => {
  let store: Store;
  let cluster: LocalCluster;
  let foo: RingkvNode;

  beforeEach(async () => {
    store = await createStore({ backend: 'memory' });
    const modules = createModuleRegistry();
    store.register(modules);
    cluster = await startLocalCluster([{ name: 'foo@computer-name', modules, routingTable: [{ from: 0, to: 255, node: 'foo@computer-name' }] }]);
    foo = cluster.node('foo@computer-name');
    store.attach(foo);
  });
  afterEach(async () => {
    await cluster.stop();
    await store.close();
  });

  const call = (mod: string, fun: string, args: unknown[]) => foo.route(args[0] as string, mod, fun, args);

  it('follows the guide session', async () => {
    expect(await call('KV.Bucket', 'get', ['shopping', 'eggs'])).toBe('not_found');
    expect(await call('KV.Registry', 'lookup', ['shopping'])).toBe(false);
    expect(await call('KV.Registry', 'create', ['shopping'])).toBe('ok');
    expect(await call('KV.Registry', 'lookup', ['shopping'])).toBe(true);
    expect(await call('KV.Bucket', 'put', ['shopping', 'eggs', '3'])).toBe('ok');
    expect(await call('KV.Bucket', 'get', ['shopping', 'eggs'])).toEqual({ value: utf8('3') });
    expect(await call('KV.Bucket', 'delete', ['shopping', 'eggs'])).toBe('ok');
    expect(await call('KV.Bucket', 'get', ['shopping', 'eggs'])).toEqual({ value: null });
  });

  it('answers every row of the reply table', async () => {
    expect(await call('KV.Bucket', 'put', ['nope', 'k', 'v'])).toBe('not_found');
    expect(await call('KV.Registry', 'lookup', ['nope'])).toBe(false); // put did not create it
    expect(await call('KV.Bucket', 'delete', ['nope', 'k'])).toBe('not_found');
    expect(await call('KV.Registry', 'create', ['b'])).toBe('ok');
    expect(await call('KV.Bucket', 'delete', ['b', 'missing'])).toBe('ok');
    expect(await call('KV.Bucket', 'put', ['b', 'k', 'one'])).toBe('ok');
    expect(await call('KV.Bucket', 'put', ['b', 'k', 'two'])).toBe('ok');
    expect(await call('KV.Bucket', 'get', ['b', 'k'])).toEqual({ value: utf8('two') });
    expect(await call('KV.Registry', 'create', ['b'])).toBe('ok'); // existing data kept
    expect(await call('KV.Bucket', 'get', ['b', 'k'])).toEqual({ value: utf8('two') });
  });

  it('keeps arbitrary bytes exactly, string and byte names being the same bucket', async () => {
    const bucket = bytes(0xff, 0x00, 0xc3, 0x28);
    const key = bytes(0x00, 0xff);
    const value = bytes(0xc3, 0x28, 0x00, 0xff, 0xfe);
    expect(await foo.route(bucket, 'KV.Registry', 'create', [bucket])).toBe('ok');
    expect(await foo.route(bucket, 'KV.Bucket', 'put', [bucket, key, value])).toBe('ok');
    expect(await foo.route(bucket, 'KV.Bucket', 'get', [bucket, key])).toEqual({ value });
    expect(await call('KV.Registry', 'create', ['ção'])).toBe('ok');
    expect(await foo.route(utf8('ção'), 'KV.Registry', 'lookup', [utf8('ção')])).toBe(true);
  });

  it('rejects bad arguments with an ArgumentError naming the argument', async () => {
    await call('KV.Registry', 'create', ['b']);
    await expect(foo.route('b', 'KV.Bucket', 'put', ['b', 42, 'v'])).rejects.toThrow(/key must be a string or a Uint8Array, got number/);
    await expect(foo.route('b', 'KV.Bucket', 'put', ['b', 'k', { x: 1 }])).rejects.toThrow(/value must be a string or a Uint8Array, got object/);
    await expect(foo.route('b', 'KV.Bucket', 'get', ['b', null])).rejects.toThrow(ArgumentError);
    await expect(foo.route('b', 'KV.Bucket', 'get', ['b', ''])).rejects.toThrow(/key must not be empty/);
    await expect(foo.route('b', 'KV.Registry', 'create', [7])).rejects.toThrow(/bucket must be a string or a Uint8Array, got number/);
    await expect(foo.route('b', 'KV.Registry', 'create', ['c'])).rejects.toThrow(/differs from the bucket the call was routed by/);
    // The node still serves.
    expect(await call('KV.Bucket', 'put', ['b', 'k', 'v'])).toBe('ok');
  });

  it('lists what it stores through kv.buckets, and reset empties everything', async () => {
    await call('KV.Registry', 'create', ['a']);
    await call('KV.Registry', 'create', ['b']);
    await call('KV.Bucket', 'put', ['b', 'k1', 'vv']);
    await call('KV.Bucket', 'put', ['b', 'k22', '']);
    const listing = (await foo.send('foo@computer-name', BUCKETS_MESSAGE, null)) as Array<{ bucket: Uint8Array; keys: number; bytes: number }>;
    expect(listing).toEqual([
      { bucket: utf8('a'), keys: 0, bytes: 0 },
      { bucket: utf8('b'), keys: 2, bytes: 2 + 2 + 3 + 0 },
    ]);
    await store.reset();
    expect(await call('KV.Registry', 'lookup', ['b'])).toBe(false);
    expect(await store.buckets()).toEqual([]);
  });
});

describe('plain operations behind a queued operation', () => {
  it('wait for it instead of running inline', async () => {
    const store = await createStore();
    const modules = createModuleRegistry();
    store.register(modules);
    const call = (mod: string, fun: string, args: unknown[], meta: Record<string, unknown> = {}) =>
      modules.resolve(mod, fun, args.length, 'n@h').fn({ node: 'n@h', bucket: args[0] as string, meta }, ...args) as Promise<unknown> | unknown;
    await call('KV.Registry', 'create', ['b']);
    // A versioned write queues work on bucket b; a plain put issued right after must come after it.
    const order: string[] = [];
    const versioned = Promise.resolve(
      call('KV.Registry', 'create', ['b'], { replica: { mode: 'write', version: { vv: { a: 1 }, ts: 1, actor: 'a' } } }),
    ).then(() => order.push('versioned'));
    const plain = Promise.resolve(call('KV.Bucket', 'put', ['b', 'k', 'v'])).then(() => order.push('plain'));
    await Promise.all([versioned, plain]);
    expect(order).toEqual(['versioned', 'plain']);
  });
});
