/**
 * The exchange protocol between two in-memory replicas (no node, no transport): it finds
 * exactly the objects that differ, repairs them both ways with the sibling merge, sends only
 * the root when in sync, respects its bounds, and refuses malformed peer answers.
 */
import { mergeSiblings, type Sibling, type VersionedObject } from '@ringkv/core';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { runExchange, NOT_READY, type ExchangePeer, type ExchangeLocal } from '../../src/anti-entropy/exchange.js';
import { createHashTree, type HashTree, type TreeShape } from '../../src/anti-entropy/hash-tree.js';
import { decodeRef, encodeRef, entryHash, refId } from '../../src/anti-entropy/object-digest.js';

const enc = new TextEncoder();

interface Replica {
  objects: Map<string, VersionedObject>;
  tree: HashTree;
  local: ExchangeLocal;
  /** What the peer side was asked, for counting. */
  calls: { root: number; children: number; keys: number; fetch: number; merge: number };
  asPeer(): ExchangePeer;
}

function replica(shape?: TreeShape): Replica {
  const objects = new Map<string, VersionedObject>();
  const tree = createHashTree(shape);
  const calls = { root: 0, children: 0, keys: 0, fetch: 0, merge: 0 };
  const merge = async (incoming: readonly VersionedObject[]) => {
    for (const o of incoming) {
      const ref = encodeRef(o.bucket, o.key);
      const id = refId(ref);
      const siblings = mergeSiblings(objects.get(id)?.siblings ?? [], o.siblings);
      objects.set(id, { bucket: o.bucket, key: o.key, siblings });
      tree.set(id, entryHash(ref, siblings));
    }
  };
  const fetch = async (ids: readonly string[]) =>
    ids.map((id) => {
      const r = decodeRef(Buffer.from(id, 'latin1'))!;
      return objects.get(id) ?? { bucket: r.bucket, key: r.key, siblings: [] };
    });
  const r: Replica = {
    objects,
    tree,
    calls,
    local: { tree, fetch, merge },
    asPeer: () => ({
      root: async () => (calls.root++, tree.root()),
      children: async (level, parents) => (calls.children++, tree.children(level, parents)),
      keys: async (segments) => {
        calls.keys++;
        return segments.flatMap((s) => [...tree.segment(s)]);
      },
      fetch: async (ids) => (calls.fetch++, fetch(ids)),
      merge: async (objs) => {
        calls.merge++;
        await merge(objs);
      },
    }),
  };
  return r;
}

const sib = (value: string, actor: string, n: number, ts: number): Sibling => ({
  value: enc.encode(value),
  version: { vv: { [actor]: n }, ts, actor },
});
const obj = (key: string, siblings: Sibling[]): VersionedObject => ({ bucket: enc.encode('b'), key: enc.encode(key), siblings });

const limits = { maxKeys: 100_000, batchSize: 7 };

describe('anti-entropy exchange (two in-memory replicas)', () => {
  it('finds exactly the differing objects and leaves both replicas with the same merged sets', async () => {
    // One stamp is one write: the value follows from (actor, counter, ts), as it does in the ring.
    const write = fc
      .record({
        key: fc.integer({ min: 0, max: 40 }),
        actor: fc.constantFrom('a', 'b'),
        n: fc.integer({ min: 1, max: 3 }),
        ts: fc.nat(100),
      })
      .map((w) => ({ ...w, value: `${w.actor}${w.n}@${w.ts}` }));
    await fc.assert(
      fc.asyncProperty(
        fc.array(write, { maxLength: 40 }),
        fc.array(write, { maxLength: 40 }),
        fc.array(write, { maxLength: 40 }),
        async (both, onlyA, onlyB) => {
          const a = replica({ fanout: 4, depth: 3 });
          const b = replica({ fanout: 4, depth: 3 });
          for (const w of both) {
            await a.local.merge([obj(`k${w.key}`, [sib(w.value, w.actor, w.n, w.ts)])]);
            await b.local.merge([obj(`k${w.key}`, [sib(w.value, w.actor, w.n, w.ts)])]);
          }
          for (const w of onlyA) await a.local.merge([obj(`k${w.key}`, [sib(w.value, w.actor, w.n, w.ts)])]);
          for (const w of onlyB) await b.local.merge([obj(`k${w.key}`, [sib(w.value, w.actor, w.n, w.ts)])]);
          const differ = new Set(
            [...a.objects.keys(), ...b.objects.keys()].filter(
              (id) => a.tree.get(id)?.lo !== b.tree.get(id)?.lo || a.tree.get(id)?.hi !== b.tree.get(id)?.hi,
            ),
          );

          const result = await runExchange(a.local, b.asPeer(), limits);
          expect(result.differing).toBe(differ.size);
          expect(result.inSync).toBe(differ.size === 0);
          expect(result.truncated).toBe(false);
          expect(Buffer.from(a.tree.root())).toEqual(Buffer.from(b.tree.root()));
          for (const [id, o] of a.objects) expect(b.objects.get(id)!.siblings).toEqual(o.siblings);
          expect(a.objects.size).toBe(b.objects.size);
          // A second exchange finds nothing and sends the root only.
          const again = await runExchange(a.local, b.asPeer(), limits);
          expect(again.inSync).toBe(true);
        },
      ),
      { numRuns: 200 },
    );
  });

  it('in sync, only the root is asked for', async () => {
    const a = replica();
    const b = replica();
    const objects = Array.from({ length: 500 }, (_, i) => obj(`k${i}`, [sib(`v${i}`, 'a', 1, i)]));
    await a.local.merge(objects);
    await b.local.merge(objects);
    const result = await runExchange(a.local, b.asPeer(), limits);
    expect(result).toMatchObject({ inSync: true, ready: true, differing: 0, pushed: 0, pulled: 0 });
    expect(b.calls).toEqual({ root: 1, children: 0, keys: 0, fetch: 0, merge: 0 });
  });

  it('repairs an empty replica completely, a bounded number of objects per exchange', async () => {
    const a = replica();
    const b = replica();
    await a.local.merge(Array.from({ length: 1000 }, (_, i) => obj(`k${i}`, [sib(`v${i}`, 'a', 1, i)])));
    let rounds = 0;
    let paced = 0;
    for (;;) {
      const r = await runExchange(b.local, a.asPeer(), { maxKeys: 300, batchSize: 50, pace: async (n) => void (paced += n) });
      rounds++;
      expect(r.pulled).toBeLessThanOrEqual(300);
      if (!r.truncated) break;
      expect(rounds).toBeLessThan(10);
    }
    expect(rounds).toBe(4);
    expect(paced).toBe(1000);
    expect(b.objects.size).toBe(1000);
    expect(Buffer.from(b.tree.root())).toEqual(Buffer.from(a.tree.root()));
  });

  it('a peer that is not ready yet is left alone', async () => {
    const a = replica();
    const peer: ExchangePeer = { ...replica().asPeer(), root: async () => NOT_READY };
    expect(await runExchange(a.local, peer, limits)).toMatchObject({ ready: false, inSync: false, differing: 0 });
  });

  it('refuses malformed answers from a peer instead of repairing from them', async () => {
    const a = replica();
    await a.local.merge([obj('k', [sib('v', 'a', 1, 1)])]);
    const b = replica();
    const short: ExchangePeer = { ...b.asPeer(), children: async () => new Uint8Array(3) };
    await expect(runExchange(a.local, short, limits)).rejects.toThrow(RangeError);
    // Entries outside the segments asked for are ignored.
    const stranger: ExchangePeer = {
      ...b.asPeer(),
      keys: async () => [[refId(encodeRef('b', enc.encode('elsewhere'))), { hi: 1, lo: 2 }]],
      fetch: async () => {
        throw new Error('must not fetch an entry it never asked about');
      },
    };
    const r = await runExchange(a.local, stranger, limits);
    expect(r.pulled).toBe(0);
  });
});
