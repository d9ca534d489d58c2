/**
 * What anti-entropy reads from storage: the change log (bounded, one entry per object, reset on
 * overflow and clear) and the Replica functions scan / changes / fetch / reapExact, over the
 * memory backend and an ioredis-compatible one.
 */
import { ArgumentError, type Sibling, type VersionedObject, type VersionStamp } from '@ringkv/core';
import RedisMock from 'ioredis-mock';
import { describe, expect, it } from 'vitest';
import { createChangeLog } from '../src/change-log.js';
import { createMemoryBackend, createRedisBackend, createStoreOn, type Backend } from '../src/index.js';
import { directCaller, uniquePrefix, utf8 } from '@ringkv/test-utils';

const stamp = (vv: Record<string, number>, ts: number, actor = 'a#1'): VersionStamp => ({ vv, ts, actor });
const write = (version: VersionStamp, hintFor?: string) => ({ replica: { mode: 'write', version, ...(hintFor ? { hintFor } : {}) } });

describe('change log', () => {
  it('records nothing until first read; then one entry per object, oldest change first', () => {
    const log = createChangeLog();
    log.record(utf8('b'), utf8('early'));
    const first = log.read(0, 10);
    expect(first).toMatchObject({ reset: true, refs: [] });
    log.record(utf8('b'), utf8('x'));
    log.record(utf8('b'), utf8('y'));
    log.record(utf8('b'), utf8('x'));
    const batch = log.read(first.seq, 10);
    expect(batch.reset).toBe(false);
    expect(batch.refs.map((r) => new TextDecoder().decode(r.key))).toEqual(['y', 'x']);
    expect(log.read(batch.seq, 10).refs).toEqual([]);
    expect(log.size()).toBe(0);
  });

  it('pages with limit and more; keys that differ only in where bucket ends stay apart', () => {
    const log = createChangeLog();
    let seq = log.read(0, 0).seq;
    log.record(utf8('ab'), utf8('c'));
    log.record(utf8('a'), utf8('bc'));
    log.record(utf8('b'), utf8('1'));
    const one = log.read(seq, 2);
    expect(one.refs.length).toBe(2);
    expect(one.more).toBe(true);
    seq = one.seq;
    const two = log.read(seq, 2);
    expect(two.refs.length).toBe(1);
    expect(two.more).toBe(false);
  });

  it('overflow and clear tell the reader to rebuild; since 0 always does', () => {
    const log = createChangeLog(3);
    const s = log.read(0, 0).seq;
    for (let i = 0; i < 4; i++) log.record(utf8('b'), utf8(`k${i}`));
    expect(log.read(s, 10).reset).toBe(true);
    const s2 = log.read(0, 0).seq;
    log.record(utf8('b'), utf8('z'));
    log.cleared();
    expect(log.read(s2, 10).reset).toBe(true);
    expect(log.read(0, 10).reset).toBe(true);
  });
});

for (const [name, open] of [
  ['memory', async (): Promise<Backend> => createMemoryBackend()],
  ['ioredis-mock', async (): Promise<Backend> => createRedisBackend({ keyPrefix: uniquePrefix('aae'), client: new RedisMock() })],
] as const) {
  describe(`Replica functions for anti-entropy (${name})`, () => {
    async function setup() {
      const store = createStoreOn(await open());
      const kv = directCaller(store);
      const call = (fun: string, args: unknown[]) => kv.call('Replica', fun, args);
      return { store, kv, call };
    }

    it('scan walks the primary area in (bucket, key) order, resumably, leaving hinted data out', async () => {
      const { store, kv, call } = await setup();
      await kv.call('KV.Registry', 'create', ['b2'], write(stamp({ 'a#1': 1 }, 1)));
      await kv.call('KV.Registry', 'create', ['b1'], write(stamp({ 'a#1': 2 }, 2)));
      for (const k of ['z', 'a', 'm']) await kv.call('KV.Bucket', 'put', ['b1', k, 'v'], write(stamp({ 'a#1': 3 }, 3)));
      await kv.call('KV.Bucket', 'put', ['b2', 'hint', 'v'], write(stamp({ 'a#1': 4 }, 4), 'other@h'));
      const seen: string[] = [];
      let after: Uint8Array | null = null;
      let calls = 0;
      do {
        const batch = (await call('scan', [after, 2])) as { objects: VersionedObject[]; next: Uint8Array | null };
        expect(batch.objects.length).toBeLessThanOrEqual(2);
        for (const o of batch.objects) seen.push(`${new TextDecoder().decode(o.bucket as Uint8Array)}/${new TextDecoder().decode(o.key)}`);
        after = batch.next;
        calls++;
      } while (after !== null && calls < 10);
      expect(seen).toEqual(['b1/', 'b1/a', 'b1/m', 'b1/z', 'b2/']);
      await store.close();
    });

    it('changes lists what was written since the last read, with current siblings; reset clears the reader', async () => {
      const { store, kv, call } = await setup();
      const first = (await call('changes', [0, 100])) as { reset: boolean; seq: number };
      expect(first.reset).toBe(true);
      await kv.call('KV.Registry', 'create', ['b'], write(stamp({ 'a#1': 1 }, 1)));
      await kv.call('KV.Bucket', 'put', ['b', 'k', 'v1'], write(stamp({ 'a#1': 2 }, 2)));
      await kv.call('KV.Bucket', 'put', ['b', 'k', 'v2'], write(stamp({ 'a#1': 3 }, 3)));
      await kv.call('KV.Bucket', 'put', ['b', 'h', 'x'], write(stamp({ 'a#1': 4 }, 4), 'other@h'));
      const batch = (await call('changes', [first.seq, 100])) as { reset: boolean; seq: number; objects: VersionedObject[] };
      expect(batch.reset).toBe(false);
      expect(batch.objects.map((o) => new TextDecoder().decode(o.key))).toEqual(['', 'k']);
      expect((batch.objects[1]!.siblings[0] as Sibling).value).toEqual(utf8('v2'));
      await store.reset();
      expect(((await call('changes', [batch.seq, 100])) as { reset: boolean }).reset).toBe(true);
      await store.close();
    });

    it('fetch answers primary-area objects (empty siblings when absent) and rejects bad refs', async () => {
      const { store, kv, call } = await setup();
      await kv.call('KV.Registry', 'create', ['b'], write(stamp({ 'a#1': 1 }, 1)));
      await kv.call('KV.Bucket', 'put', ['b', 'k', 'v'], write(stamp({ 'a#1': 2 }, 2)));
      const got = (await call('fetch', [
        [
          { bucket: utf8('b'), key: utf8('k') },
          { bucket: 'b', key: utf8('none') },
        ],
      ])) as VersionedObject[];
      expect(got[0]!.siblings.length).toBe(1);
      expect(got[1]!.siblings).toEqual([]);
      await expect(call('fetch', ['x'])).rejects.toBeInstanceOf(ArgumentError);
      await expect(call('fetch', [[{ bucket: 'b', key: 'k' }]])).rejects.toThrow(/refs\[0\]\.key must be a Uint8Array/);
      await expect(call('scan', [null, -1])).rejects.toThrow(/limit must be an integer/);
      await expect(call('changes', ['1', 1])).rejects.toThrow(/since must be/);
      await store.close();
    });

    it('reapExact removes only the exact all-tombstone objects given, never one that changed or holds a value', async () => {
      const { store, kv, call } = await setup();
      await kv.call('KV.Registry', 'create', ['b'], write(stamp({ 'a#1': 1 }, 1)));
      for (const k of ['gone', 'changed', 'alive']) {
        await kv.call('KV.Bucket', 'put', ['b', k, 'v'], write(stamp({ 'a#1': 2 }, 2)));
        await kv.call('KV.Bucket', 'delete', ['b', k], write(stamp({ 'a#1': 3 }, 3)));
      }
      const fetch = async (k: string) => ((await call('fetch', [[{ bucket: 'b', key: utf8(k) }]])) as VersionedObject[])[0]!;
      const gone = await fetch('gone');
      const changed = await fetch('changed');
      await kv.call('KV.Bucket', 'put', ['b', 'changed', 'again'], write(stamp({ 'a#1': 4 }, 4)));
      const alive = { ...(await fetch('alive')), siblings: [{ value: utf8('v'), version: stamp({ 'a#1': 9 }, 9) }] };
      expect(await call('reapExact', [[gone, changed, alive]])).toBe(1);
      expect((await fetch('gone')).siblings).toEqual([]);
      expect((await fetch('changed')).siblings.length).toBe(1);
      expect((await fetch('alive')).siblings.length).toBe(1);
      // A newer hinted value for the same object keeps the tombstone.
      await kv.call('KV.Bucket', 'delete', ['b', 'held'], write(stamp({ 'a#1': 5 }, 5)));
      await kv.call('KV.Bucket', 'put', ['b', 'held', 'new'], write(stamp({ 'a#1': 6 }, 6), 'other@h'));
      expect(await call('reapExact', [[await fetch('held')]])).toBe(0);
      await store.close();
    });
  });
}
