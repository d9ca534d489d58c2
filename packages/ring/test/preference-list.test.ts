/**
 * The annotated list of a bucket whose primaries are all up is built once and shared (frozen);
 * whatever the liveness does between calls, every call answers what computing it afresh
 * answers, the spares included (they are read when asked, not when the list was built).
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { annotate, createPreferenceLists, createRing, createRingStrategy } from '../src/index.js';
import { startTestRing } from './support/ring-cluster.js';

const members = ['a@t', 'b@t', 'c@t', 'd@t', 'e@t'];
const ring = createRing({ members, vnodes: 32 });
const plain = (apl: ReturnType<typeof annotate>) => ({ replicas: apl.replicas, primaries: apl.primaries, unplaced: apl.unplaced, spares: apl.spares });

describe('preference lists shared while the primaries are up', () => {
  it('answer what a fresh computation answers, as liveness changes between calls', () => {
    fc.assert(
      fc.property(
        fc.array(fc.record({ bucket: fc.constantFrom('x', 'y', 'z'), down: fc.subarray(members, { maxLength: 3 }) }), { minLength: 1, maxLength: 30 }),
        (steps) => {
          const lists = createPreferenceLists(ring, 3);
          const down = new Set<string>();
          // One liveness function for the whole run, whose answers change (as a detector's do).
          const isUp = (m: string) => !down.has(m);
          for (const step of steps) {
            down.clear();
            for (const m of step.down) down.add(m);
            const apl = lists.annotated(step.bucket, isUp);
            expect(plain(apl)).toEqual(plain(annotate(ring.walk(step.bucket, members.length), 3, members.length, isUp)));
          }
        },
      ),
      { numRuns: 300 },
    );
  });

  it('hand out one frozen list per bucket while every primary is up, and a fresh one otherwise', () => {
    const lists = createPreferenceLists(ring, 3);
    const down = new Set<string>();
    const isUp = (m: string) => !down.has(m);
    const first = lists.annotated('x', isUp);
    expect(lists.annotated('x', isUp)).toBe(first);
    expect(Object.isFrozen(first) && Object.isFrozen(first.replicas) && Object.isFrozen(first.replicas[0])).toBe(true);
    // A spare going down shows in the shared list's spares at once.
    const spare = first.spares[0]!;
    down.add(spare);
    expect(lists.annotated('x', isUp)).toBe(first);
    expect(first.spares).not.toContain(spare);
    down.clear();
    // A primary down: not the shared list, and a fallback stands in.
    down.add(first.primaries[0]!);
    const degraded = lists.annotated('x', isUp);
    expect(degraded).not.toBe(first);
    expect(degraded.replicas.some((r) => r.role === 'fallback' && r.hintFor === first.primaries[0])).toBe(true);
    down.clear();
    expect(lists.annotated('x', isUp)).toBe(first);
    // Without a cache nothing is shared.
    const uncached = createPreferenceLists(ring, 3, { cacheSize: 0 });
    expect(uncached.annotated('x', isUp)).not.toBe(uncached.annotated('x', isUp));
  });

  it("the strategy's placement is one frozen value per bucket while its primaries are up", async () => {
    const test = await startTestRing(['a@t', 'b@t', 'c@t', 'd@t']);
    try {
      const strategy = test.strategies.get('a@t')!;
      const p = strategy.placement('x');
      expect(strategy.placement('x')).toBe(p);
      expect(Object.isFrozen(p)).toBe(true);
      expect({ n: p.n, r: p.r, w: p.w }).toEqual({ n: strategy.config.n, r: strategy.config.r, w: strategy.config.w });
      test.down.get('a@t')!.add(p.primaries[0] === 'a@t' ? p.primaries[1]! : p.primaries[0]!);
      const degraded = strategy.placement('x');
      expect(degraded).not.toBe(p);
      expect(degraded.replicas.some((r) => r.role === 'fallback')).toBe(true);
      test.down.get('a@t')!.clear();
      expect(strategy.placement('x')).toBe(p);
      // Without a detector (not attached) it is shared too.
      const detached = createRingStrategy({ members: ['a@t', 'b@t', 'c@t'], n: 3 });
      expect(detached.placement('x')).toBe(detached.placement('x'));
    } finally {
      await test.stop();
    }
  });
});
