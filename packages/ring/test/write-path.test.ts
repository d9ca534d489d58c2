import { afterEach, describe, expect, it, vi } from 'vitest';
import fc from 'fast-check';
import { BadRequestError, type Logger, type Sibling } from '@ringkv/core';
import { annotate, createHybridClock, createKeyLocks, createPreferenceLists, createRing, type HybridClock } from '../src/index.js';
import { startTestRing, type TestRing } from './support/ring-cluster.js';

/** Bounded waits for background work (read repair, the last replica's merge). */
const WAIT = { timeout: 3000, interval: 10 };

const A = 'a@t';
const B = 'b@t';
const C = 'c@t';
const D = 'd@t';

let ring: TestRing | undefined;
afterEach(async () => {
  await ring?.stop();
  ring = undefined;
});

/** Records the type of every message `node` sends (after the batcher, i.e. what hits the transport). */
function recordSends(r: TestRing, node: string): Array<{ to: string; type: string; items?: string[] }> {
  const n = r.node(node);
  const send = n.send.bind(n);
  const sent: Array<{ to: string; type: string; items?: string[] }> = [];
  n.send = (to, type, body, t) => {
    const items = type === 'ring.batch' ? (body as { items: [string, unknown][] }).items.map(([k]) => k) : undefined;
    sent.push({ to, type, ...(items ? { items } : {}) });
    return send(to, type, body, t);
  };
  return sent;
}

const values = (siblings: Sibling[]) => siblings.map((s) => s.value);

describe('write path: one round trip', () => {
  it('versions the write on the receiving replica and sends the result once to each other replica', async () => {
    ring = await startTestRing([A, B, C]);
    const sent = recordSends(ring, A);
    expect(await ring.node(A).route('fruit', 'T', 'put', ['fruit', 'apple', 'red'])).toBe('ok');
    // No version read first, no ring.apply: one ring.replicate per other replica.
    expect(sent.map((s) => s.type).sort()).toEqual(['ring.replicate', 'ring.replicate']);
    expect(new Set(sent.map((s) => s.to))).toEqual(new Set([B, C]));
    await vi.waitFor(() => {
      for (const n of [A, B, C]) expect(values(ring!.stores.get(n)!.primary('fruit', 'apple'))).toEqual(['red']);
    }, WAIT);
  });

  it('forwards a write from a node that holds no replica of the bucket to one that does', async () => {
    ring = await startTestRing([A, B, C, D]);
    const outsider = [A, B, C, D].find(
      (m) =>
        !ring!.strategies
          .get(A)!
          .ring.preferenceList('fw', 3)
          .some((r) => r.node === m),
    )!;
    expect(await ring.node(outsider).route('fw', 'T', 'put', ['fw', 'k', 'v'])).toBe('ok');
    expect(ring.stores.get(outsider)!.primary('fw', 'k')).toEqual([]);
    expect(await ring.node(outsider).route('fw', 'T', 'get', ['fw', 'k'])).toEqual({ value: 'v' });
  });

  it('a coordinator that missed an acknowledged write, with its clock behind, still writes over it', async () => {
    // B's clock runs 10 s behind: by timestamps alone its later write would lose to A's earlier one.
    const clocks = new Map<string, HybridClock>([[B, createHybridClock(() => Date.now() - 10_000)]]);
    ring = await startTestRing([A, B, C], {}, { clockFor: (n) => clocks.get(n) });
    await ring.node(B).stop();
    expect(await ring.node(A).route('late', 'T', 'put', ['late', 'k', 'one'])).toBe('ok');
    // B comes back with its data, but without 'one' (nobody hands it off in this test).
    await ring.node(B).start();
    for (const n of [A, B, C]) ring.down.get(n)!.clear();
    expect(values(ring.stores.get(B)!.primary('late', 'k'))).toEqual([]);
    expect(await ring.node(B).route('late', 'T', 'put', ['late', 'k', 'two'])).toBe('ok');
    for (const via of [A, B, C])
      expect(await ring.node(via).route('late', 'T', 'get', ['late', 'k'], { r: 3, siblings: true })).toEqual({ value: 'two' });
    await vi.waitFor(() => {
      for (const n of [A, B, C]) expect(values(ring!.stores.get(n)!.primary('late', 'k'))).toEqual(['two']);
    }, WAIT);
  });

  it('a write versioned before a read repair brought the coordinator an acknowledged delete still writes over it', async () => {
    // All clocks frozen: the delete and the put get the same timestamp, so only the vector can
    // order them. b misses c's delete; a read through a starts a repair towards b, which lands
    // on b while b coordinates a put of the same key (after the version was read, or before
    // the replicas' answers are looked at). The put must still descend from the delete.
    ring = await startTestRing([A, B, C], { n: 3, r: 2, w: 2 }, { clockFor: () => createHybridClock(() => 1000) });
    await ring.node(B).stop();
    expect(await ring.node(C).route('m', 'T', 'del', ['m', 'k0'])).toBe('ok');
    await ring.node(B).start();
    for (const n of [A, B, C]) ring.down.get(n)!.delete(B);
    expect(await ring.node(A).route('m', 'T', 'get', ['m', 'k0'])).toEqual({ value: null });
    expect(await ring.node(B).route('m', 'T', 'put', ['m', 'k0', ''])).toBe('ok');
    for (const n of [A, B, C]) expect(await ring.node(n).route('m', 'T', 'get', ['m', 'k0']), `read via ${n}`).toEqual({ value: '' });
  });

  it('keeps writes racing through two coordinators as siblings, resolved the same way everywhere', async () => {
    ring = await startTestRing([A, B, C]);
    await Promise.all([
      ring.node(A).route('race', 'T', 'put', ['race', 'k', 'a']),
      ring.node(B).route('race', 'T', 'put', ['race', 'k', 'b']),
    ]);
    const answers = await Promise.all([A, B, C].map((via) => ring!.node(via).route('race', 'T', 'get', ['race', 'k'], { r: 3 })));
    expect(new Set(answers.map((a) => JSON.stringify(a))).size).toBe(1);
    expect(['a', 'b']).toContain((answers[0] as { value: string }).value);
    await vi.waitFor(() => {
      const held = [A, B, C].map((n) =>
        JSON.stringify(
          ring!.stores
            .get(n)!
            .primary('race', 'k')
            .map((s) => s.version),
        ),
      );
      expect(new Set(held).size).toBe(1);
    }, WAIT);
  });

  it('batches the replica messages of writes started together into one request per node', async () => {
    ring = await startTestRing([A, B, C]);
    const sent = recordSends(ring, A);
    await Promise.all(Array.from({ length: 5 }, (_, i) => ring!.node(A).route('batch', 'T', 'put', ['batch', `k${i}`, `v${i}`])));
    const toB = sent.filter((s) => s.to === B);
    expect(toB).toEqual([{ to: B, type: 'ring.batch', items: Array(5).fill('ring.replicate') }]);
    await vi.waitFor(() => {
      for (let i = 0; i < 5; i++) expect(values(ring!.stores.get(B)!.primary('batch', `k${i}`))).toEqual([`v${i}`]);
    }, WAIT);
  });

  it('sends each message alone when batching is off', async () => {
    ring = await startTestRing([A, B, C], { batchReplicaMessages: false });
    const sent = recordSends(ring, A);
    await Promise.all(Array.from({ length: 3 }, (_, i) => ring!.node(A).route('nb', 'T', 'put', ['nb', `k${i}`, 'v'])));
    expect(sent.filter((s) => s.to === B).map((s) => s.type)).toEqual(['ring.replicate', 'ring.replicate', 'ring.replicate']);
  });

  it('answers each message of a batch on its own, errors included', async () => {
    ring = await startTestRing([A, B, C]);
    const reply = (await ring.node(A).send(B, 'ring.batch', {
      items: [
        ['ring.ping', { from: A }],
        ['ring.merge', { objects: [{ nope: 1 }] }],
        ['ring.batch', { items: [] }],
        ['Kernel.node', {}],
      ],
    })) as [number, unknown][];
    expect(reply.map(([ok]) => ok)).toEqual([0, 1, 1, 1]);
    expect((reply[1]![1] as { message: string }).message).toMatch(/every object needs/);
    expect((reply[2]![1] as { message: string }).message).toMatch(/cannot hold a batch/);
    await expect(ring.node(A).send(B, 'ring.batch', { items: 'x' })).rejects.toThrow(BadRequestError);
  });

  it('with the older read-before-write path, reads versions first and applies on every replica', async () => {
    ring = await startTestRing([A, B, C], { writePath: 'read-before-write' });
    const sent = recordSends(ring, A);
    expect(await ring.node(A).route('old', 'T', 'put', ['old', 'k', 'v'])).toBe('ok');
    expect(sent.every((s) => s.type === 'ring.apply' || (s.type === 'ring.batch' && s.items!.every((t) => t === 'ring.apply')))).toBe(true);
    expect(sent.length).toBeGreaterThanOrEqual(2);
    expect(await ring.node(C).route('old', 'T', 'get', ['old', 'k'])).toEqual({ value: 'v' });
  });
});

describe('write path: a node that does not answer', () => {
  it('never holds a write past W answers, and never waits for a node the detector holds down', async () => {
    ring = await startTestRing([A, B, C]);
    // C hangs (a gray failure: reachable, never answers).
    ring.node(C).handle('ring.replicate', () => new Promise(() => {}));
    ring.node(C).handle('ring.batch', () => new Promise(() => {}));
    let t0 = Date.now();
    expect(await ring.node(A).route('hang', 'T', 'put', ['hang', 'k', 'v'])).toBe('ok');
    expect(Date.now() - t0).toBeLessThan(500); // hop timeout is 1000 ms: A did not wait for C
    // W = 3 has to wait for C: it fails after the timeout, not later, and C is suspected.
    t0 = Date.now();
    await expect(ring.node(A).route('hang', 'T', 'put', ['hang', 'k', 'v2'], { w: 3 })).rejects.toThrow(/needed 3, 2 answered/);
    expect(Date.now() - t0).toBeLessThan(3000);
    expect(ring.down.get(A)!.has(C)).toBe(true);
    // Held down: the next W = 3 write fails at once, W = 2 answers at once.
    t0 = Date.now();
    await expect(ring.node(A).route('hang', 'T', 'put', ['hang', 'k', 'v3'], { w: 3 })).rejects.toThrow(/c@t \(NodeDown/);
    expect(await ring.node(A).route('hang', 'T', 'put', ['hang', 'k', 'v4'])).toBe('ok');
    expect(Date.now() - t0).toBeLessThan(500);
  });
});

describe('forged timestamps (maximum clock offset)', () => {
  const FORGED = 2 ** 53 - 2;

  it('refuses a forged ring.apply, ring.replicate, ring.merge and ring.handoff; the value neither spreads nor pins the clock', async () => {
    const clock = createHybridClock();
    ring = await startTestRing([A, B, C], { maxClockOffsetMs: 5000 }, { clockFor: (n) => (n === A ? clock : undefined) });
    await ring.node(A).route('f', 'T', 'put', ['f', 'k', 'honest']);
    const version = { vv: { 'mallory#1': 1 }, ts: FORGED, actor: 'mallory#1' };
    const apply = ring
      .node(A)
      .send(B, 'ring.apply', { bucket: 'f', mod: 'T', fun: 'put', args: ['f', 'k', 'forged'], meta: { mode: 'write', version } });
    await expect(apply).rejects.toThrow(/beyond the maximum clock offset of 5000 ms/);
    const objects = [{ bucket: 'f', key: new TextEncoder().encode('k'), siblings: [{ value: 'forged', version }] }];
    for (const type of ['ring.replicate', 'ring.merge', 'ring.handoff']) {
      await expect(ring.node(A).send(B, type, { objects, hintFor: null })).rejects.toThrow(BadRequestError);
    }
    expect(values(ring.stores.get(B)!.primary('f', 'k'))).toEqual(['honest']);

    // Even a forged version already in a replica's storage is ignored by reads and never repaired onto others.
    (ring.stores.get(B)!.primary('f', 'k') as Sibling[]).push({ value: 'forged', version });
    expect(await ring.node(A).route('f', 'T', 'get', ['f', 'k'], { r: 3 })).toEqual({ value: 'honest' });
    await new Promise((r) => setTimeout(r, 50));
    for (const n of [A, C]) expect(values(ring.stores.get(n)!.primary('f', 'k'))).toEqual(['honest']);
    expect(clock.now()).toBeLessThan(Date.now() * 1000 + 10_000_000);
    expect(await ring.node(A).route('f', 'T', 'put', ['f', 'k', 'later'])).toBe('ok');
    expect(await ring.node(C).route('f', 'T', 'get', ['f', 'k'])).toEqual({ value: 'later' });
  });

  it('logs forged stamps with a rate limit: 50 forged messages and 50 reads of a forged copy write at most 5 lines of each kind', async () => {
    const lines = new Map<string, string[]>();
    const recording = (node: string): Logger => {
      const log = (m: string) => lines.set(node, [...(lines.get(node) ?? []), m]);
      return { debug: () => {}, info: () => {}, warn: log, error: log };
    };
    ring = await startTestRing([A, B, C], { maxClockOffsetMs: 5000 }, { loggerFor: recording });
    await ring.node(A).route('f', 'T', 'put', ['f', 'k', 'honest']);
    const version = { vv: { 'mallory#1': 1 }, ts: FORGED, actor: 'mallory#1' };
    const body = { bucket: 'f', mod: 'T', fun: 'put', args: ['f', 'k', 'forged'], meta: { mode: 'write', version } };
    const refusals = await Promise.allSettled(Array.from({ length: 50 }, () => ring!.node(A).send(B, 'ring.apply', body)));
    expect(refusals.every((r) => r.status === 'rejected' && /beyond the maximum clock offset/.test(String(r.reason)))).toBe(true);
    const refused = (lines.get(B) ?? []).filter((l) => l.startsWith('refused ring.apply'));
    expect(refused.length).toBeGreaterThan(0);
    expect(refused.length).toBeLessThanOrEqual(5);

    (ring.stores.get(B)!.primary('f', 'k') as Sibling[]).push({ value: 'forged', version });
    for (let i = 0; i < 50; i++) expect(await ring.node(A).route('f', 'T', 'get', ['f', 'k'], { r: 3 })).toEqual({ value: 'honest' });
    const ignored = (lines.get(A) ?? []).filter((l) =>
      /^ignored \d+ version\(s\) from b@t stamped beyond the maximum clock offset/.test(l),
    );
    expect(ignored.length).toBeGreaterThan(0);
    expect(ignored.length).toBeLessThanOrEqual(5);
  });

  it('the hybrid clock ignores stamps beyond the offset', () => {
    const clock = createHybridClock(() => 1000, { maxOffsetMs: 10 });
    clock.observe(1000 * 1000 + 10_000);
    expect(clock.now()).toBe(1000 * 1000 + 10_001);
    clock.observe(1000 * 1000 + 10_002 + 1);
    expect(clock.plausible(FORGED)).toBe(false);
    clock.observe(FORGED);
    expect(clock.now()).toBe(1000 * 1000 + 10_002);
  });
});

describe('preference lists with stand-ins, computed once per ring', () => {
  const members = [A, B, C, D, 'e@t'];
  const r = createRing({ members, vnodes: 32 });

  it('agree with the pure ring for any bucket and any set of down members', () => {
    const lists = createPreferenceLists(r, 3);
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 1, maxLength: 8 }), fc.subarray(members), (bucket, down) => {
        const isUp = (m: string) => !down.includes(m);
        const apl = lists.annotated(bucket, isUp);
        expect(apl.replicas).toEqual(r.preferenceList(bucket, 3, isUp));
        expect(apl.primaries).toEqual(r.preferenceList(bucket, 3).map((x) => x.node));
        // Every member is exactly one of: live primary, fallback, spare, down primary, or down non-primary.
        const used = new Set([...apl.replicas.map((x) => x.node), ...apl.spares]);
        expect(used.size).toBe(apl.replicas.length + apl.spares.length);
        for (const m of apl.spares) expect(isUp(m) && !apl.primaries.includes(m)).toBe(true);
        expect(apl.unplaced.length + apl.replicas.filter((x) => x.role === 'fallback').length).toBe(
          apl.primaries.filter((p) => !isUp(p)).length,
        );
      }),
      { numRuns: 300 },
    );
  });

  it('caches the walk per bucket, and a new ring gets new walks', () => {
    const lists = createPreferenceLists(r, 3, { cacheSize: 2 });
    expect(lists.walk('x')).toBe(lists.walk('x'));
    expect(createPreferenceLists(r, 3, { cacheSize: 0 }).walk('x')).toEqual(lists.walk('x'));
    expect(annotate(lists.walk('x'), 3).replicas).toEqual(r.preferenceList('x', 3));
  });

  it('the strategy answers from its current ring, which can be swapped', async () => {
    ring = await startTestRing([A, B, C]);
    const strategy = ring.strategies.get(A)!;
    expect(
      strategy
        .placement('swap')
        .replicas.map((x) => x.node)
        .sort(),
    ).toEqual([A, B, C]);
    const bigger = createRing({ members: [A, B, C, D, 'e@t'], vnodes: 64 });
    strategy.setRing(bigger);
    expect(strategy.ring).toBe(bigger);
    expect(strategy.placement('swap').replicas).toEqual(bigger.preferenceList('swap', 3));
  });
});

describe('key locks', () => {
  it('run one key in arrival order and other keys concurrently', async () => {
    const locks = createKeyLocks();
    const order: string[] = [];
    let open!: () => void;
    const gate = new Promise<void>((r) => (open = r));
    const slow = locks.run('k1', async () => {
      await gate;
      order.push('k1 first');
    });
    const behind = locks.run('k1', async () => {
      order.push('k1 second');
    });
    await locks.run('k2', async () => {
      order.push('k2');
    });
    expect(order).toEqual(['k2']);
    open();
    await Promise.all([slow, behind]);
    expect(order).toEqual(['k2', 'k1 first', 'k1 second']);
    expect(locks.pending()).toBeLessThanOrEqual(1);
  });
});
