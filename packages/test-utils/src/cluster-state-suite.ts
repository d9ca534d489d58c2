/**
 * The contract every {@link ClusterStateStore} keeps, run unchanged against the in-memory store
 * and NATS JetStream KV: compare-and-set on revisions, watch in revision order, key checks.
 */
import { ArgumentError, RevisionMismatchError, type ClusterStateStore, type StateChange } from '@ringkv/core';
import { afterAll, beforeAll, expect, it, vi } from 'vitest';

export interface ClusterStateSetup {
  /** A store over an empty keyspace (each call a fresh one), and a second handle on the same data. */
  open(): Promise<{ store: ClusterStateStore; peer: ClusterStateStore }>;
  teardown?(): Promise<void>;
}

const enc = (s: string) => new TextEncoder().encode(s);
const dec = (b: Uint8Array) => new TextDecoder().decode(b);

export function clusterStateSuite(setup: ClusterStateSetup): void {
  let store: ClusterStateStore;
  let peer: ClusterStateStore;
  let n = 0;
  const key = (name: string) => `t${++n}.${name}`;

  beforeAll(async () => {
    ({ store, peer } = await setup.open());
  });
  afterAll(async () => {
    await store?.close();
    await peer?.close();
    await setup.teardown?.();
  });

  it('create stores a new key once; a second create loses', async () => {
    const k = key('state');
    expect(await store.get(k)).toBeUndefined();
    const rev = await store.create(k, enc('one'));
    expect(rev).toBeGreaterThan(0);
    const got = await peer.get(k);
    expect(got && dec(got.value)).toBe('one');
    expect(got?.revision).toBe(rev);
    await expect(peer.create(k, enc('two'))).rejects.toBeInstanceOf(RevisionMismatchError);
    expect(dec((await store.get(k))!.value)).toBe('one');
  });

  it('update is a compare-and-set on the revision: exactly one of two racing writers wins', async () => {
    const k = key('cas');
    const rev = await store.create(k, enc('0'));
    const results = await Promise.allSettled([store.update(k, enc('a'), rev), peer.update(k, enc('b'), rev)]);
    const won = results.filter((r) => r.status === 'fulfilled');
    const lost = results.filter((r) => r.status === 'rejected') as PromiseRejectedResult[];
    expect(won).toHaveLength(1);
    expect(lost).toHaveLength(1);
    expect(lost[0]!.reason).toBeInstanceOf(RevisionMismatchError);
    const now = (await store.get(k))!;
    expect(now.revision).toBe((won[0] as PromiseFulfilledResult<number>).value);
    expect(now.revision).toBeGreaterThan(rev);
    await expect(store.update(k, enc('c'), rev)).rejects.toBeInstanceOf(RevisionMismatchError);
    await expect(store.update(key('absent'), enc('c'), 1)).rejects.toBeInstanceOf(RevisionMismatchError);
  });

  it('many concurrent read-modify-write increments lose nothing', async () => {
    const k = key('counter');
    await store.create(k, enc('0'));
    const bump = async (s: ClusterStateStore) => {
      for (;;) {
        const e = (await s.get(k))!;
        try {
          await s.update(k, enc(String(Number(dec(e.value)) + 1)), e.revision);
          return;
        } catch (err) {
          if (!(err instanceof RevisionMismatchError)) throw err;
        }
      }
    };
    await Promise.all(Array.from({ length: 20 }, (_, i) => bump(i % 2 ? store : peer)));
    expect(dec((await store.get(k))!.value)).toBe('20');
  });

  it("values are bytes, copied: any byte comes back, and changing the caller's array changes nothing", async () => {
    const k = key('bytes');
    const value = Uint8Array.from({ length: 256 }, (_, i) => i);
    await store.create(k, value);
    value[0] = 99;
    const got = (await peer.get(k))!.value;
    expect(got[0]).toBe(0);
    expect([...got]).toEqual(Array.from({ length: 256 }, (_, i) => i));
  });

  it('delete removes; keys lists by prefix, sorted; a deleted key can be created again', async () => {
    const p = key('list');
    await store.create(`${p}.b`, enc('b'));
    await store.create(`${p}.a`, enc('a'));
    await store.create(`${p}x.c`, enc('c'));
    expect(await peer.keys(`${p}.`)).toEqual([`${p}.a`, `${p}.b`]);
    await peer.delete(`${p}.a`);
    expect(await store.get(`${p}.a`)).toBeUndefined();
    expect(await store.keys(`${p}.`)).toEqual([`${p}.b`]);
    await store.create(`${p}.a`, enc('again'));
    expect(dec((await peer.get(`${p}.a`))!.value)).toBe('again');
  });

  it("watch tells about every later change, in revision order, including deletes and other handles' writes", async () => {
    const k = key('watched');
    const seen: StateChange[] = [];
    const listener = await store.watch((c) => {
      if (c.key === k) seen.push(c);
    });
    try {
      const r1 = await peer.create(k, enc('1'));
      const r2 = await store.update(k, enc('2'), r1);
      await peer.delete(k);
      await vi.waitFor(() => expect(seen.length).toBeGreaterThanOrEqual(3), { timeout: 5000, interval: 10 });
      expect(seen.map((c) => (c.deleted ? 'del' : dec(c.value)))).toEqual(['1', '2', 'del']);
      expect(seen[0]!.revision).toBe(r1);
      expect(seen[1]!.revision).toBe(r2);
      expect(seen[2]!.revision).toBeGreaterThan(r2);
    } finally {
      await listener.close();
    }
    // Closed: nothing more arrives.
    const before = seen.length;
    await store.create(k, enc('3'));
    await new Promise((r) => setTimeout(r, 200));
    expect(seen.length).toBe(before);
  });

  it('refuses bad keys, revisions and values with ArgumentError', async () => {
    await expect(store.get('has space')).rejects.toBeInstanceOf(ArgumentError);
    await expect(store.get('a..b')).rejects.toBeInstanceOf(ArgumentError);
    await expect(store.create('a*', enc('x'))).rejects.toBeInstanceOf(ArgumentError);
    await expect(store.create('ok.key', 'not bytes' as never)).rejects.toBeInstanceOf(ArgumentError);
    await expect(store.update('ok.key', enc('x'), 0)).rejects.toBeInstanceOf(ArgumentError);
    await expect(store.update('ok.key', enc('x'), 1.5)).rejects.toBeInstanceOf(ArgumentError);
  });
}
