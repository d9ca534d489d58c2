import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { simulate, type RangePolicy } from '../src/index.js';

const nameArb = fc.uint8Array({ minLength: 1, maxLength: 6 });
const members = (n: number, prefix = 'm') => Array.from({ length: n }, (_, i) => `${prefix}${i}@h`);

function sum(rows: readonly (readonly number[])[]): number {
  return rows.reduce((s, r) => s + r.reduce((a, b) => a + b, 0), 0);
}

describe('properties', () => {
  it('moved count equals the sum of the transfer matrix, and load is conserved (range)', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 6 }),
        fc.integer({ min: 0, max: 3 }),
        fc.constantFrom<RangePolicy['name']>('even', 'balanced', 'split-loaded'),
        fc.array(nameArb, { maxLength: 200 }),
        (n, k, policy, names) => {
          const r = simulate({
            change: { members: members(n), add: members(k, 'new') },
            strategies: [{ kind: 'range', policy: { name: policy } as RangePolicy }],
            buckets: names,
          }).results[0]!;
          expect(r.owner.changed).toBe(sum(r.matrix.buckets));
          expect(r.transfers.reduce((s, t) => s + t.buckets, 0)).toBe(r.owner.changed);
          const placedAfter = r.load.after.reduce((s, l) => s + l.buckets, 0);
          expect(placedAfter + r.unplaced.after).toBe(names.length);
          for (let i = 0; i < r.nodes.length; i++) expect(r.matrix.buckets[i]![i]).toBe(0);
          if (policy === 'split-loaded') expect(r.owner.betweenOldNodes).toBe(0);
        },
      ),
      { numRuns: 60 },
    );
  });

  it('the ring never moves anything between old nodes when only adding', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 5 }),
        fc.integer({ min: 1, max: 2 }),
        fc.integer({ min: 1, max: 3 }),
        fc.array(nameArb, { minLength: 1, maxLength: 150 }),
        (n, k, replicas, names) => {
          const r = simulate({
            change: { members: members(n), add: members(k, 'new') },
            strategies: [{ kind: 'ring', vnodes: 8, n: replicas }],
            buckets: names,
          }).results[0]!;
          expect(r.owner.betweenOldNodes).toBe(0);
          expect(r.replicaSets!.betweenOldNodes).toBe(0);
          expect(r.owner.changed).toBe(sum(r.matrix.buckets));
          expect(r.transfers.every((t) => t.to.startsWith('new'))).toBe(true);
          expect(r.replicaSets!.changed).toBeLessThanOrEqual(names.length);
          expect(r.replicaSets!.copies).toBeGreaterThanOrEqual(r.replicaSets!.changed - (n < replicas ? names.length : 0));
        },
      ),
      { numRuns: 40 },
    );
  });

  it('a change to nothing moves nothing', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 5 }), fc.array(nameArb, { maxLength: 100 }), (n, names) => {
        const report = simulate({
          change: { members: members(n) },
          strategies: [{ kind: 'range', policy: { name: 'split-loaded' } }, { kind: 'ring', vnodes: 4, n: 2 }],
          buckets: names,
        });
        for (const r of report.results) {
          expect(r.owner.changed).toBe(0);
          expect(r.owner.ideal).toBe(0);
          expect(r.owner.ratioToIdeal).toBeNull();
        }
        expect(report.results[1]!.replicaSets!.changed).toBe(0);
      }),
      { numRuns: 30 },
    );
  });
});
