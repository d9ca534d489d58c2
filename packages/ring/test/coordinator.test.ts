import { afterEach, describe, expect, it, vi } from 'vitest';
import { ArgumentError, BadRequestError, compareVectors, UndefinedFunctionError } from '@ringkv/core';
import { QuorumError } from '../src/index.js';
import { writeOutcome } from '../src/replica-io.js';
import { startTestRing, type TestRing } from './support/ring-cluster.js';

/** Background work (read repair, handoff) is awaited with vitest's one wait helper. */
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

describe('ring coordinator: writes and W', () => {
  it('applies a write on all N replicas with one version and answers once W acknowledged', async () => {
    ring = await startTestRing([A, B, C]);
    expect(await ring.node(A).route('fruit', 'T', 'put', ['fruit', 'apple', 'red'])).toBe('ok');
    const versions = [A, B, C].map((n) => ring!.stores.get(n)!.primary('fruit', 'apple'));
    for (const v of versions) {
      expect(v).toHaveLength(1);
      expect(v[0]!.value).toBe('red');
    }
    expect(new Set(versions.map((v) => JSON.stringify(v[0]!.version))).size).toBe(1);
    expect(versions[0]![0]!.version.actor).toBe(ring.strategies.get(A)!.actor());
  });

  it('meets W = 2 with one replica unreachable, and fails W = 3 with a QuorumError naming the failed node', async () => {
    ring = await startTestRing([A, B, C]);
    await ring.node(C).stop();
    expect(await ring.node(A).route('fruit', 'T', 'put', ['fruit', 'kiwi', 'green'])).toBe('ok');
    // The failed write taught A's failure detector that C is down: the next one does not even try it.
    expect(ring.down.get(A)!.has(C)).toBe(true);
    const suspected = (await ring.node(A).route('fruit', 'T', 'put', ['fruit', 'kiwi', 'brown'], { w: 3 }).catch((e: unknown) => e)) as QuorumError;
    expect(suspected.message).toBe(
      'write quorum not met for T.put on "fruit": needed 3, 2 answered; failed: c@t (NodeDown: suspected down, no live node left to stand in); the write may have been applied: 2 replicas acknowledged, 1 hinted copy stored',
    );
    expect(suspected.mayHaveApplied).toBe(true);
    ring.down.get(A)!.clear();
    const err = (await ring.node(A).route('fruit', 'T', 'put', ['fruit', 'kiwi', 'brown'], { w: 3 }).catch((e: unknown) => e)) as QuorumError;
    expect(err).toBeInstanceOf(QuorumError);
    expect(err.message).toMatch(/write quorum not met for T\.put on "fruit": needed 3, 2 answered; failed: c@t \(NodeUnreachableError: /);
    expect(err.needed).toBe(3);
    expect(err.answered).toBe(2);
    expect(err.failures.map((f) => f.node)).toEqual([C]);
  });

  it('says a write that missed its quorum may have been applied, also after the error crossed the wire', async () => {
    ring = await startTestRing([A, B, C], {}, { withoutStore: ['s@t'], extraNodes: ['s@t'] });
    await ring.node(C).stop();
    // s@t stores nothing: it forwards to a primary, which coordinates; the error comes back over the transport.
    const err = (await ring.node('s@t').route('fruit', 'T', 'put', ['fruit', 'fig', 'ripe'], { w: 3 }).catch((e: unknown) => e)) as QuorumError;
    expect(err).toBeInstanceOf(QuorumError);
    expect(err.mayHaveApplied).toBe(true);
    expect(err.message).toMatch(/; the write may have been applied: 2 replicas acknowledged, 1 hinted copy stored$/);
    // And it was: the two live replicas hold it.
    expect([A, B].map((n) => ring!.stores.get(n)!.primary('fruit', 'fig')[0]?.value)).toEqual(['ripe', 'ripe']);
    // A read that misses its quorum applied nothing.
    const read = (await ring.node(A).route('fruit', 'T', 'get', ['fruit', 'fig'], { r: 3 }).catch((e: unknown) => e)) as QuorumError;
    expect(read).toBeInstanceOf(QuorumError);
    expect(read.mayHaveApplied).toBe(false);
    expect(read.message).not.toMatch(/applied/);
  });

  it('tells "not applied" only when no replica was reached, and "may have been" after any acknowledgement or timeout', () => {
    const fail = (node: string, name: string) => ({ replica: { node, role: 'primary' as const }, error: Object.assign(new Error('x'), { name }) });
    expect(writeOutcome(0, [fail(A, 'NodeUnreachableError'), fail(B, 'NodeUnreachableError')])).toEqual({
      may: false,
      text: 'the write was not applied: no replica was reached',
    });
    expect(writeOutcome(0, [fail(A, 'NodeUnreachableError'), fail(B, 'TimeoutError')])).toEqual({
      may: true,
      text: 'the write may have been applied: 1 did not answer (timed out or lost the connection)',
    });
    expect(writeOutcome(1, [fail(B, 'TransportError'), fail(C, 'NodeUnreachableError')])).toEqual({
      may: true,
      text: 'the write may have been applied: 1 replica acknowledged, 1 did not answer (timed out or lost the connection)',
    });
    expect(writeOutcome(0, [fail(B, 'NodeUnreachableError')], 1)).toEqual({ may: true, text: 'the write may have been applied: 1 hinted copy stored' });
  });

  it('a later write dominates an earlier acknowledged one, whichever node coordinates', async () => {
    ring = await startTestRing([A, B, C]);
    await ring.node(A).route('b1', 'T', 'put', ['b1', 'k', 'one']);
    await ring.node(B).route('b1', 'T', 'put', ['b1', 'k', 'two']);
    await ring.node(C).route('b1', 'T', 'put', ['b1', 'k', 'three']);
    for (const n of [A, B, C]) {
      const held = ring.stores.get(n)!.primary('b1', 'k');
      expect(held.map((s) => s.value)).toEqual(['three']);
    }
    expect(await ring.node(B).route('b1', 'T', 'get', ['b1', 'k'], { siblings: true })).toEqual({ value: 'three' });
  });

  it('rethrows the function\'s own error instead of a QuorumError', async () => {
    ring = await startTestRing([A, B, C]);
    const err = (await ring.node(A).route('b1', 'T', 'put', ['b1', '', 'x']).catch((e: unknown) => e)) as Error;
    expect(err.name).toBe('TypeError');
    expect(err.message).toBe('key must be a non-empty string');
  });

  it('rejects per-call quorums outside 1..n', async () => {
    ring = await startTestRing([A, B, C]);
    await expect(ring.node(A).route('b1', 'T', 'put', ['b1', 'k', 'x'], { w: 4 })).rejects.toThrow(ArgumentError);
    await expect(ring.node(A).route('b1', 'T', 'get', ['b1', 'k'], { r: 0 })).rejects.toThrow(/option r must be an integer from 1 to n \(3\)/);
  });
});

describe('ring coordinator: reads, R, siblings, read repair', () => {
  it('meets R = 2 with one replica unreachable, and fails R = 3 with a QuorumError', async () => {
    ring = await startTestRing([A, B, C]);
    await ring.node(A).route('fruit', 'T', 'put', ['fruit', 'fig', 'purple']);
    await ring.node(B).stop();
    expect(await ring.node(A).route('fruit', 'T', 'get', ['fruit', 'fig'])).toEqual({ value: 'purple' });
    const err = (await ring.node(C).route('fruit', 'T', 'get', ['fruit', 'fig'], { r: 3 }).catch((e: unknown) => e)) as Error;
    expect(err.name).toBe('QuorumError');
    expect(err.message).toMatch(/read quorum not met for T\.get on "fruit": needed 3, 2 answered; failed: b@t \(NodeUnreachableError/);
  });

  it('resolves concurrent writes by last writer wins on every node, keeps both for callers who ask, and repairs replicas to the same siblings', async () => {
    ring = await startTestRing([A, B, C]);
    // Partition: A sees only itself, then B sees only itself; each writes with w = 1.
    ring.down.get(A)!.add(B).add(C);
    await ring.node(A).route('cart', 'T', 'put', ['cart', 'eggs', 'six'], { w: 1 });
    ring.down.get(A)!.clear();
    ring.down.get(B)!.add(A).add(C);
    await new Promise((r) => setTimeout(r, 5));
    await ring.node(B).route('cart', 'T', 'put', ['cart', 'eggs', 'twelve'], { w: 1 });
    ring.down.get(B)!.clear();
    const [onA] = ring.stores.get(A)!.primary('cart', 'eggs');
    const [onB] = ring.stores.get(B)!.primary('cart', 'eggs');
    expect(compareVectors(onA!.version.vv, onB!.version.vv)).toBe('concurrent');
    expect(ring.stores.get(C)!.primary('cart', 'eggs')).toEqual([]);

    // The later hybrid timestamp wins, the same everywhere.
    for (const via of [A, B, C]) {
      expect(await ring.node(via).route('cart', 'T', 'get', ['cart', 'eggs'], { r: 3 })).toEqual({ value: 'twelve' });
    }
    expect(await ring.node(C).route('cart', 'T', 'get', ['cart', 'eggs'], { r: 3, siblings: true })).toEqual({ siblings: ['six', 'twelve'] });
    // Read repair brought every replica to the same sibling set.
    await vi.waitFor(() => {
      const sets = [A, B, C].map((n) => JSON.stringify(ring!.stores.get(n)!.primary('cart', 'eggs')));
      expect(new Set(sets).size).toBe(1);
      expect(JSON.parse(sets[0]!)).toHaveLength(2);
    }, WAIT);
    // Each replica alone (r = 1) now answers the same.
    for (const via of [A, B, C]) expect(await ring.node(via).route('cart', 'T', 'get', ['cart', 'eggs'], { r: 1 })).toEqual({ value: 'twelve' });
    // A write after reading both siblings supersedes them.
    await ring.node(A).route('cart', 'T', 'put', ['cart', 'eggs', 'ten']);
    expect(await ring.node(C).route('cart', 'T', 'get', ['cart', 'eggs'], { r: 3, siblings: true })).toEqual({ value: 'ten' });
  });

  it('repairs a replica that missed a write', async () => {
    ring = await startTestRing([A, B, C]);
    ring.down.get(A)!.add(C);
    await ring.node(A).route('b2', 'T', 'put', ['b2', 'k', 'v1']);
    ring.down.get(A)!.clear();
    expect(ring.stores.get(C)!.primary('b2', 'k')).toEqual([]);
    expect(await ring.node(A).route('b2', 'T', 'get', ['b2', 'k'], { r: 3 })).toEqual({ value: 'v1' });
    await vi.waitFor(() => expect(ring!.stores.get(C)!.primary('b2', 'k').map((s) => s.value)).toEqual(['v1']), WAIT);
  });

  it('deletes leave tombstones that read as missing and dominate the value', async () => {
    ring = await startTestRing([A, B, C]);
    await ring.node(A).route('b3', 'T', 'put', ['b3', 'k', 'v']);
    await ring.node(B).route('b3', 'T', 'del', ['b3', 'k']);
    expect(await ring.node(C).route('b3', 'T', 'get', ['b3', 'k'])).toEqual({ value: null });
    for (const n of [A, B, C]) expect(ring.stores.get(n)!.primary('b3', 'k').map((s) => s.tombstone)).toEqual([true]);
  });
});

describe('ring coordinator: sloppy quorum and hinted handoff', () => {
  /** A bucket whose primaries (4 members, n 3) include `node` but not as first. */
  function bucketWith(r: TestRing, node: string): { bucket: string; primaries: string[]; fallback: string } {
    const strategy = r.strategies.get(A)!;
    for (let i = 0; ; i++) {
      const bucket = `hb${i}`;
      const primaries = strategy.ring.preferenceList(bucket, 3).map((x) => x.node);
      if (primaries.includes(node) && primaries[0] !== node && primaries[0] !== D) {
        const fallback = [A, B, C, D].find((m) => !primaries.includes(m))!;
        return { bucket, primaries, fallback };
      }
    }
  }

  it('writes for a down primary go to a fallback with a hint, and are handed back when it returns', async () => {
    ring = await startTestRing([A, B, C, D]);
    const { bucket, primaries, fallback } = bucketWith(ring, D);
    const coordinator = primaries[0]!;
    // The coordinator learns D is down only by failing to reach it (no prior suspicion).
    await ring.node(D).stop();
    expect(await ring.node(coordinator).route(bucket, 'T', 'put', [bucket, 'k', 'v1'])).toBe('ok');
    expect(ring.down.get(coordinator)!.has(D)).toBe(true);
    await vi.waitFor(() => expect(ring!.stores.get(fallback)!.hinted(D, bucket, 'k').map((s) => s.value)).toEqual(['v1']), WAIT);
    // While D is known down, placement names the fallback directly.
    const placement = ring.strategies.get(coordinator)!.placement(bucket);
    expect(placement.replicas.find((r) => r.role === 'fallback')).toEqual({ node: fallback, role: 'fallback', hintFor: D });
    await ring.node(coordinator).route(bucket, 'T', 'put', [bucket, 'k2', 'v2']);
    expect(ring.stores.get(fallback)!.hintCount(D)).toBe(2);

    // D comes back (empty: a new incarnation); the fallback hands off and drops its copies.
    await ring.node(D).start();
    expect(ring.stores.get(D)!.primary(bucket, 'k')).toEqual([]);
    expect(await ring.strategies.get(fallback)!.handoffNow()).toBe(2);
    expect(ring.stores.get(D)!.primary(bucket, 'k').map((s) => s.value)).toEqual(['v1']);
    expect(ring.stores.get(D)!.primary(bucket, 'k2').map((s) => s.value)).toEqual(['v2']);
    expect(ring.stores.get(fallback)!.hintCount(D)).toBe(0);
    // Idempotent: nothing left, nothing sent twice.
    expect(await ring.strategies.get(fallback)!.handoffNow()).toBe(0);
  });

  it('on a ring with no spare node (3 members, n 3), a live replica keeps a hinted copy that does not count toward W', async () => {
    ring = await startTestRing([A, B, C]);
    const primaries = ring.strategies.get(A)!.ring.preferenceList('three', 3).map((r) => r.node);
    const [first, second, last] = primaries as [string, string, string];
    await ring.node(last).stop();
    expect(await ring.node(first).route('three', 'T', 'put', ['three', 'k', 'v'])).toBe('ok');
    await vi.waitFor(() => expect(ring!.stores.get(first)!.hinted(last, 'three', 'k').map((s) => s.value)).toEqual(['v']), WAIT);
    // Known down now: the next write is hinted from the start; W = 3 still fails (the copy does not count).
    await expect(ring.node(first).route('three', 'T', 'put', ['three', 'k', 'v2'], { w: 3 })).rejects.toThrow(/needed 3, 2 answered/);
    expect(ring.stores.get(second)!.hintCount(last)).toBe(0);
    await ring.node(last).start();
    // Hearing from it again starts the handoff at once.
    ring.strategies.get(first)!.detector()!.alive(last);
    await vi.waitFor(() => expect(ring!.stores.get(last)!.primary('three', 'k').map((s) => s.value)).toEqual(['v2']), WAIT);
    expect(ring.stores.get(first)!.hintCount(last)).toBe(0);
  });

  it('hands off in bounded batches until everything is home', async () => {
    ring = await startTestRing([A, B, C, D], { handoffBatchSize: 3 });
    const { bucket, primaries, fallback } = bucketWith(ring, D);
    ring.down.get(primaries[0]!)!.add(D);
    for (let i = 0; i < 10; i++) await ring.node(primaries[0]!).route(bucket, 'T', 'put', [bucket, `k${i}`, `v${i}`]);
    expect(ring.stores.get(fallback)!.hintCount(D)).toBe(10);
    // Count the batches the fallback sends; two rounds started together share one transfer.
    const holder = ring.node(fallback);
    const send = holder.send.bind(holder);
    const batches: number[] = [];
    holder.send = (to, type, body, t) => {
      if (type === 'ring.handoff') batches.push((body as { objects: unknown[] }).objects.length);
      return send(to, type, body, t);
    };
    const [first, second] = await Promise.all([ring.strategies.get(fallback)!.handoffNow(), ring.strategies.get(fallback)!.handoffNow()]);
    expect(first).toBe(10);
    expect(second).toBe(10);
    expect(batches).toEqual([3, 3, 3, 1]);
    for (let i = 0; i < 10; i++) expect(ring.stores.get(D)!.primary(bucket, `k${i}`).map((s) => s.value)).toEqual([`v${i}`]);
  });
});

describe('ring coordinator: plain calls, forwarding, bad messages', () => {
  it('runs plain calls on the first live primary', async () => {
    ring = await startTestRing([A, B, C]);
    const primaries = ring.strategies.get(A)!.ring.preferenceList('plain', 3).map((r) => r.node);
    const via = primaries[2]!;
    expect(await ring.node(via).route('plain', 'Kernel', 'node', [])).toBe(primaries[0]);
    ring.down.get(via)!.add(primaries[0]!);
    expect(await ring.node(via).route('plain', 'Kernel', 'node', [])).toBe(primaries[1]);
    // Not yet known down: the unreachable first primary is skipped within the same call.
    ring.down.get(via)!.clear();
    await ring.node(primaries[0]!).stop();
    expect(await ring.node(via).route('plain', 'Kernel', 'node', [])).toBe(primaries[1]);
    expect(ring.down.get(via)!.has(primaries[0]!)).toBe(true);
  });

  it('forwards calls a node cannot run (a server-only node) to the first live primary', async () => {
    // s@t is not a member and has no store: it forwards, the primary coordinates.
    ring = await startTestRing([A, B, C], {}, { withoutStore: ['s@t'], extraNodes: ['s@t'] });
    expect(await ring.node('s@t').route('fw', 'T', 'put', ['fw', 'k', 'v'])).toBe('ok');
    expect(await ring.node('s@t').route('fw', 'T', 'get', ['fw', 'k'])).toEqual({ value: 'v' });
    const err = (await ring.node(A).route('fw', 'Nope', 'x', []).catch((e: unknown) => e)) as Error;
    expect(err).toBeInstanceOf(UndefinedFunctionError);
  });

  it('answers malformed replica messages with BadRequestError, and keeps serving', async () => {
    ring = await startTestRing([A, B, C]);
    for (const body of [null, 42, { bucket: 'b', mod: 'T', fun: 'put', args: 'x', meta: { mode: 'write' } }, { bucket: '', mod: 'T', fun: 'get', args: [], meta: { mode: 'read' } }, { bucket: 'b', mod: 'T', fun: 'put', args: ['b', 'k', 'v'], meta: { mode: 'write' } }]) {
      const err = (await ring.node(A).send(B, 'ring.apply', body).catch((e: unknown) => e)) as Error;
      expect([BadRequestError.name, "EmptyBucketError"], `${JSON.stringify(body)} -> ${err.name}: ${err.message}`).toContain(err.name);
    }
    // A read function cannot be run as a write through the replica message.
    const err = (await ring.node(A).send(B, 'ring.apply', { bucket: 'b', mod: 'T', fun: 'get', args: ['b', 'k'], meta: { mode: 'write', version: { vv: {}, ts: 1, actor: 'x' } } }).catch((e: unknown) => e)) as Error;
    expect(err.message).toMatch(/is a read function, not a write/);
    await expect(ring.node(A).send(B, 'ring.merge', { objects: [{ nope: 1 }] })).rejects.toThrow(/every object needs/);
    expect(await ring.node(A).route('ok', 'T', 'put', ['ok', 'k', 'v'])).toBe('ok');
  });
});

describe('tombstone reaping', () => {
  it('reaps only when every member is up and nobody holds hints, without resurrecting values', async () => {
    ring = await startTestRing([A, B, C, D], { tombstoneGraceMs: 1 });
    await ring.node(A).route('t', 'T', 'put', ['t', 'k', 'v']);
    await ring.node(A).route('t', 'T', 'del', ['t', 'k']);
    await new Promise((r) => setTimeout(r, 5));
    ring.down.get(A)!.add(B);
    expect(await ring.strategies.get(A)!.reapNow()).toEqual({ reaped: false, reason: 'members down: b@t' });
    ring.down.get(A)!.clear();
    const replicas = ring.strategies.get(A)!.ring.preferenceList('t', 3).map((r) => r.node);
    for (const n of replicas) expect(ring.stores.get(n)!.primary('t', 'k')).toHaveLength(1);
    for (const n of replicas) expect((await ring.strategies.get(n)!.reapNow()).reaped).toBe(true);
    for (const n of replicas) expect(ring.stores.get(n)!.primary('t', 'k')).toEqual([]);
    expect(await ring.node(B).route('t', 'T', 'get', ['t', 'k'], { r: 3 })).toEqual({ value: null });
  });

  it('does not reap while hinted data is pending', async () => {
    ring = await startTestRing([A, B, C, D], { tombstoneGraceMs: 1 });
    const primaries = ring.strategies.get(A)!.ring.preferenceList('h', 3).map((r) => r.node);
    const outsider = [A, B, C, D].find((m) => !primaries.includes(m))!;
    ring.down.get(primaries[0]!)!.add(primaries[2]!);
    await ring.node(primaries[0]!).route('h', 'T', 'put', ['h', 'k', 'v']);
    ring.down.get(primaries[0]!)!.clear();
    expect(ring.stores.get(outsider)!.hintCount(primaries[2]!)).toBe(1);
    expect(await ring.strategies.get(primaries[1]!)!.reapNow()).toEqual({ reaped: false, reason: 'hinted data pending' });
  });
});
