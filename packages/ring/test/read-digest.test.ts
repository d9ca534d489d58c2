import { afterEach, describe, expect, it, vi } from 'vitest';
import fc from 'fast-check';
import { BadRequestError, type Sibling, type VersionedObject, type VersionedReply } from '@ringkv/core';
import { versionDigest } from '../src/read-digest.js';
import { startTestRing, type TestRing } from './support/ring-cluster.js';

const WAIT = { timeout: 3000, interval: 10 };
const A = 'a@t';
const B = 'b@t';
const C = 'c@t';
const enc = new TextEncoder();

let ring: TestRing | undefined;
afterEach(async () => {
  await ring?.stop();
  ring = undefined;
});

// ---- the digest itself ----

const actor = fc.constantFrom('a@t#1', 'b@t#2', 'c@t#3', 'd@t#4', 'a@t#5');
const sibling: fc.Arbitrary<Sibling> = fc.record({
  value: fc.oneof(fc.string(), fc.uint8Array({ maxLength: 8 }), fc.constant(null)),
  tombstone: fc.boolean(),
  version: fc.record({
    vv: fc.dictionary(actor, fc.integer({ min: 1, max: 2 ** 40 }), { minKeys: 1, maxKeys: 4 }),
    ts: fc.integer({ min: 1, max: 2 ** 50 }),
    actor,
  }),
});
const object: fc.Arbitrary<VersionedObject> = fc.record({
  bucket: fc.oneof(fc.string({ minLength: 1, maxLength: 6 }), fc.uint8Array({ minLength: 1, maxLength: 9 })),
  key: fc.uint8Array({ maxLength: 9 }),
  // Distinct stamps, as a merged sibling set holds.
  siblings: fc.uniqueArray(sibling, { maxLength: 3, selector: (s) => `${s.version.ts}/${s.version.actor}` }),
});
const objects = fc.array(object, { minLength: 1, maxLength: 3 });

/** The same versions, siblings and vector entries in another order (what another replica's storage may hold). */
function reordered(list: readonly VersionedObject[], seed: number): VersionedObject[] {
  return list.map((o) => ({
    ...o,
    siblings: [...o.siblings]
      .sort((x, y) => ((x.version.ts * 31 + seed) % 7) - ((y.version.ts * 31 + seed) % 7))
      .map((s) => ({ ...s, version: { ...s.version, vv: Object.fromEntries(Object.entries(s.version.vv).reverse()) } })),
  }));
}

/** One change to what the read path compares: every one of them must change the digest. */
const changes: Array<[string, (o: VersionedObject[]) => VersionedObject[] | undefined]> = [
  ['timestamp', (l) => withFirstSibling(l, (s) => ({ ...s, version: { ...s.version, ts: s.version.ts + 1 } }))],
  ['actor', (l) => withFirstSibling(l, (s) => ({ ...s, version: { ...s.version, actor: `${s.version.actor}x` } }))],
  ['tombstone', (l) => withFirstSibling(l, (s) => ({ ...s, tombstone: !s.tombstone }))],
  ['vector counter', (l) => withFirstSibling(l, (s) => ({ ...s, version: { ...s.version, vv: bump(s.version.vv) } }))],
  ['vector actor', (l) => withFirstSibling(l, (s) => ({ ...s, version: { ...s.version, vv: { ...s.version.vv, 'z@t#9': 1 } } }))],
  ['sibling dropped', (l) => (l[0]!.siblings.length > 0 ? [{ ...l[0]!, siblings: l[0]!.siblings.slice(1) }, ...l.slice(1)] : undefined)],
  ['key', (l) => [{ ...l[0]!, key: Uint8Array.from([...l[0]!.key, 0]) }, ...l.slice(1)]],
  ['bucket', (l) => [{ ...l[0]!, bucket: `${typeof l[0]!.bucket === 'string' ? l[0]!.bucket : 'b'}!` }, ...l.slice(1)]],
  ['object dropped', (l) => (l.length > 1 ? l.slice(1) : undefined)],
];

function withFirstSibling(list: VersionedObject[], change: (s: Sibling) => Sibling): VersionedObject[] | undefined {
  const i = list.findIndex((o) => o.siblings.length > 0);
  if (i < 0) return undefined;
  const o = list[i]!;
  return list.map((x, j) => (j === i ? { ...o, siblings: [change(o.siblings[0]!), ...o.siblings.slice(1)] } : x));
}

function bump(vv: Readonly<Record<string, number>>): Record<string, number> {
  const [k, v] = Object.entries(vv)[0]!;
  return { ...vv, [k]: v + 1 };
}

describe('versionDigest', () => {
  it('is the same for the same versions in any order, and for a bucket given as its bytes', () => {
    fc.assert(
      fc.property(objects, fc.nat(100), (list, seed) => {
        expect(versionDigest(reordered(list, seed))).toEqual(versionDigest(list));
        const asBytes = list.map((o) => ({ ...o, bucket: typeof o.bucket === 'string' ? enc.encode(o.bucket) : o.bucket }));
        expect(versionDigest(asBytes)).toEqual(versionDigest(list));
      }),
      { numRuns: 300 },
    );
  });

  it('changes with every part of a version the read path compares, and not with the value', () => {
    fc.assert(
      fc.property(objects, (list) => {
        const d = versionDigest(list);
        for (const [what, change] of changes) {
          const other = change(list);
          if (other) expect(versionDigest(other), what).not.toEqual(d);
        }
        const revalued = list.map((o) => ({ ...o, siblings: o.siblings.map((s) => ({ ...s, value: 'other' })) }));
        expect(versionDigest(revalued)).toEqual(d);
      }),
      { numRuns: 300 },
    );
  });

  it('tells apart objects that only swapped contents', () => {
    const s = (ts: number): Sibling => ({ value: 'v', version: { vv: { 'a@t#1': ts }, ts, actor: 'a@t#1' } });
    const x = { bucket: 'b', key: enc.encode('x'), siblings: [s(1)] };
    const y = { bucket: 'b', key: enc.encode('y'), siblings: [s(2)] };
    expect(versionDigest([x, y])).not.toEqual(versionDigest([{ ...x, siblings: y.siblings }, { ...y, siblings: x.siblings }]));
    expect(versionDigest([x, y])).not.toEqual(versionDigest([y, x]));
  });
});

// ---- digest reads through the coordinator ----

interface Sent {
  to: string;
  digest: boolean;
}

/**
 * Records the reads `node` sends (batched or not) and lets a test rewrite what a replica
 * answers to a digest read, as a node from before digests or a hostile one would.
 */
function watchReads(r: TestRing, node: string, answer?: (to: string, reply: unknown) => unknown, strip?: (to: string) => boolean): Sent[] {
  const n = r.node(node);
  const send = n.send.bind(n);
  const sent: Sent[] = [];
  type Apply = { meta?: { mode?: string }; digest?: boolean };
  const rewrite = (to: string, body: Apply): Apply => {
    if (body.meta?.mode === 'read') sent.push({ to, digest: body.digest === true });
    if (body.digest && strip?.(to)) {
      const { digest: _omitted, ...rest } = body;
      return rest;
    }
    return body;
  };
  const answered = (to: string, body: Apply, reply: unknown) => (body.digest && answer ? answer(to, reply) : reply);
  n.send = async (to, type, body, t) => {
    if (type === 'ring.apply') {
      const b = rewrite(to, body as Apply);
      return answered(to, b, await send(to, type, b, t));
    }
    if (type === 'ring.batch') {
      const items = (body as { items: [string, unknown][] }).items.map(([k, v]) => [k, k === 'ring.apply' ? rewrite(to, v as Apply) : v] as [string, unknown]);
      const replies = (await send(to, type, { items }, t)) as [number, unknown][];
      return replies.map(([ok, v], i) => (ok === 0 && items[i]![0] === 'ring.apply' ? [0, answered(to, items[i]![1] as Apply, v)] : [ok, v]));
    }
    return send(to, type, body, t);
  };
  return sent;
}

function recordMerges(r: TestRing, node: string): string[] {
  const n = r.node(node);
  const send = n.send.bind(n);
  const merges: string[] = [];
  n.send = (to, type, body, t) => {
    if (type === 'ring.merge') merges.push(to);
    if (type === 'ring.batch') for (const [k] of (body as { items: [string, unknown][] }).items) if (k === 'ring.merge') merges.push(to);
    return send(to, type, body, t);
  };
  return merges;
}

/** A put acknowledged and then held by all three replicas. */
async function putEverywhere(r: TestRing, bucket: string, key: string, value: string): Promise<void> {
  expect(await r.node(A).route(bucket, 'T', 'put', [bucket, key, value])).toBe('ok');
  await vi.waitFor(() => {
    for (const n of [A, B, C]) expect(r.stores.get(n)!.primary(bucket, key).map((s) => s.value)).toEqual([value]);
  }, WAIT);
}

describe('digest reads', () => {
  it('asks the other replicas only for a digest when they agree, and repairs nobody', async () => {
    ring = await startTestRing([A, B, C]);
    await putEverywhere(ring, 'd1', 'k', 'v1');
    const merges = recordMerges(ring, A);
    const sent = watchReads(ring, A);
    expect(await ring.node(A).route('d1', 'T', 'get', ['d1', 'k'], { r: 3 })).toEqual({ value: 'v1' });
    expect(sent.sort((x, y) => x.to.localeCompare(y.to))).toEqual([
      { to: B, digest: true },
      { to: C, digest: true },
    ]);
    await new Promise((r) => setTimeout(r, 20));
    expect(merges).toEqual([]);
  });

  it('reads a replica whose digest differs in full, and repairs it', async () => {
    ring = await startTestRing([A, B, C]);
    await putEverywhere(ring, 'd2', 'k', 'v1');
    ring.down.get(A)!.add(C);
    await ring.node(A).route('d2', 'T', 'put', ['d2', 'k', 'v2']);
    ring.down.get(A)!.clear();
    expect(ring.stores.get(C)!.primary('d2', 'k').map((s) => s.value)).toEqual(['v1']);
    const sent = watchReads(ring, A);
    expect(await ring.node(A).route('d2', 'T', 'get', ['d2', 'k'], { r: 3 })).toEqual({ value: 'v2' });
    expect(sent.filter((s) => s.to === C)).toEqual([
      { to: C, digest: true },
      { to: C, digest: false },
    ]);
    expect(sent.filter((s) => s.to === B)).toEqual([{ to: B, digest: true }]);
    await vi.waitFor(() => expect(ring!.stores.get(C)!.primary('d2', 'k').map((s) => s.value)).toEqual(['v2']), WAIT);
  });

  it('a coordinator that missed an acknowledged write reads it from the others (R = 2), and is repaired itself', async () => {
    ring = await startTestRing([A, B, C]);
    await putEverywhere(ring, 'd3', 'k', 'v1');
    // A write acknowledged by B and C (W = 2) while they could not reach A.
    ring.down.get(B)!.add(A);
    expect(await ring.node(B).route('d3', 'T', 'put', ['d3', 'k', 'v2'])).toBe('ok');
    ring.down.get(B)!.clear();
    expect(ring.stores.get(A)!.primary('d3', 'k').map((s) => s.value)).toEqual(['v1']);
    expect(await ring.node(A).route('d3', 'T', 'get', ['d3', 'k'])).toEqual({ value: 'v2' });
    await vi.waitFor(() => expect(ring!.stores.get(A)!.primary('d3', 'k').map((s) => s.value)).toEqual(['v2']), WAIT);
  });

  it('takes a full answer from a replica that does not know digests, without asking it twice', async () => {
    ring = await startTestRing([A, B, C]);
    await putEverywhere(ring, 'd4', 'k', 'v1');
    ring.down.get(A)!.add(C);
    await ring.node(A).route('d4', 'T', 'put', ['d4', 'k', 'v2']);
    ring.down.get(A)!.clear();
    // C answers as a node from before digests would: the flag never reaches it.
    const sent = watchReads(ring, A, undefined, (to) => to === C);
    expect(await ring.node(A).route('d4', 'T', 'get', ['d4', 'k'], { r: 3 })).toEqual({ value: 'v2' });
    expect(sent.filter((s) => s.to === C)).toEqual([{ to: C, digest: true }]);
    await vi.waitFor(() => expect(ring!.stores.get(C)!.primary('d4', 'k').map((s) => s.value)).toEqual(['v2']), WAIT);
  });

  it('reads in full a replica whose digest answer is malformed or wrong, and answers right', async () => {
    for (const forged of ['x', null, 7, { digest: 'x' }, { digest: [1] }, { digest: [1, 2, 3] }, { digest: ['1', '2'] }, { digest: [0, 0] }, { digest: [Number.NaN, Number.NaN] }]) {
      ring = await startTestRing([A, B, C]);
      await putEverywhere(ring, 'd5', 'k', 'v1');
      const sent = watchReads(ring, A, (to, reply) => (to === B ? forged : reply));
      const got = await ring.node(A).route('d5', 'T', 'get', ['d5', 'k'], { r: 3 }).catch((e: unknown) => e);
      expect(got, JSON.stringify(forged)).toEqual({ value: 'v1' });
      expect(sent.filter((s) => s.to === B), JSON.stringify(forged)).toEqual([
        { to: B, digest: true },
        { to: B, digest: false },
      ]);
      await ring.stop();
      ring = undefined;
    }
  });

  it('with digestReads off, reads every replica in full', async () => {
    ring = await startTestRing([A, B, C], { digestReads: false });
    await putEverywhere(ring, 'd6', 'k', 'v1');
    const sent = watchReads(ring, A);
    expect(await ring.node(A).route('d6', 'T', 'get', ['d6', 'k'], { r: 3 })).toEqual({ value: 'v1' });
    expect(sent.map((s) => s.digest)).toEqual([false, false]);
  });

  it('a node that is not a replica reads in full; concurrent siblings are all read back', async () => {
    ring = await startTestRing([A, B, C], {}, { withoutStore: ['s@t'], extraNodes: ['s@t'] });
    ring.down.get(A)!.add(B).add(C);
    await ring.node(A).route('d7', 'T', 'put', ['d7', 'k', 'six'], { w: 1 });
    ring.down.get(A)!.clear();
    ring.down.get(B)!.add(A).add(C);
    await new Promise((r) => setTimeout(r, 5));
    await ring.node(B).route('d7', 'T', 'put', ['d7', 'k', 'twelve'], { w: 1 });
    ring.down.get(B)!.clear();
    // Through A (a replica): B's digest differs and is read in full; both siblings come back.
    expect(await ring.node(A).route('d7', 'T', 'get', ['d7', 'k'], { r: 3, siblings: true })).toEqual({ siblings: ['six', 'twelve'] });
    await vi.waitFor(() => {
      for (const n of [A, B, C]) expect(ring!.stores.get(n)!.primary('d7', 'k')).toHaveLength(2);
    }, WAIT);
    expect(await ring.node('s@t').route('d7', 'T', 'get', ['d7', 'k'], { siblings: true })).toEqual({ siblings: ['six', 'twelve'] });
  });

  it('a replica answers a digest read with the digest of what it holds, and refuses a digest that is not a flag or not on a read', async () => {
    ring = await startTestRing([A, B, C]);
    await putEverywhere(ring, 'd8', 'k', 'v1');
    const read = { bucket: 'd8', mod: 'T', fun: 'get', args: ['d8', 'k'], meta: { mode: 'read' } };
    const full = (await ring.node(A).send(B, 'ring.apply', read)) as VersionedReply;
    expect(await ring.node(A).send(B, 'ring.apply', { ...read, digest: true })).toEqual({ digest: [...versionDigest(full.objects)] });
    expect(await ring.node(A).send(B, 'ring.apply', { ...read, digest: false })).toEqual(full);
    for (const body of [{ ...read, digest: 'yes' }, { ...read, digest: 1 }, { bucket: 'd8', mod: 'T', fun: 'put', args: ['d8', 'k', 'x'], meta: { mode: 'write', version: { vv: { x: 1 }, ts: 1, actor: 'x' } }, digest: true }]) {
      const err = (await ring.node(A).send(B, 'ring.apply', body).catch((e: unknown) => e)) as Error;
      expect(err.name, JSON.stringify(body)).toBe(BadRequestError.name);
      expect(err.message).toMatch(/ring\.apply: (digest must be true or false, got|only a read can be answered with a digest)/);
    }
    // Nothing was written by the refused write.
    expect(ring.stores.get(B)!.primary('d8', 'k').map((s) => s.value)).toEqual(['v1']);
  });
});
