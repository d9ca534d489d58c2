import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { compareVectors, descends, increment, lastWriterWins, mergeSiblings, mergeVectors, type Sibling, type VersionVector } from '@ringkv/core';

const actor = fc.constantFrom('a#1', 'b#1', 'c#1', 'a#2', 'd#9');
const vector: fc.Arbitrary<VersionVector> = fc.dictionary(actor, fc.integer({ min: 1, max: 6 }), { maxKeys: 4 });
// A stamp names one write, so two siblings with the same stamp carry the same value: the value
// is derived from the stamp (independent values made impossible inputs, two different values
// under one stamp, on which the merge may keep either).
const sibling: fc.Arbitrary<Sibling<string>> = fc
  .record({ vv: vector, ts: fc.integer({ min: 0, max: 20 }), actor })
  .map((version) => ({ value: `${version.actor}@${version.ts}:${JSON.stringify(version.vv)}`, version }));
const siblings = fc.array(sibling, { maxLength: 5 }).map((s) => mergeSiblings<string>([], s));
// Sibling sets as they exist: merged already. Keys in canonical order so toEqual compares sets.
const canon = (s: readonly Sibling[]) => s.map((x) => JSON.stringify(x)).sort();

describe('version vectors (property tests)', () => {
  it('mergeVectors is commutative, associative and idempotent, and descends from both inputs', () => {
    fc.assert(
      fc.property(vector, vector, vector, (a, b, c) => {
        expect(mergeVectors(a, b)).toEqual(mergeVectors(b, a));
        expect(mergeVectors(mergeVectors(a, b), c)).toEqual(mergeVectors(a, mergeVectors(b, c)));
        expect(mergeVectors(a, a)).toEqual(mergeVectors(a, {}));
        expect(descends(mergeVectors(a, b), a)).toBe(true);
        expect(descends(mergeVectors(a, b), b)).toBe(true);
      }),
    );
  });

  it('increment gives a vector strictly after its input', () => {
    fc.assert(
      fc.property(vector, actor, (a, x) => {
        expect(compareVectors(increment(a, x), a)).toBe('after');
      }),
    );
  });

  it('compareVectors is the pointwise order over every actor of either vector (absent counts as 0)', () => {
    const reference = (a: VersionVector, b: VersionVector) => {
      const actors = new Set([...Object.keys(a), ...Object.keys(b)]);
      const ge = [...actors].every((k) => (a[k] ?? 0) >= (b[k] ?? 0));
      const le = [...actors].every((k) => (a[k] ?? 0) <= (b[k] ?? 0));
      return ge && le ? 'equal' : ge ? 'after' : le ? 'before' : 'concurrent';
    };
    const withZeros = fc.dictionary(actor, fc.integer({ min: 0, max: 3 }), { maxKeys: 5 });
    fc.assert(
      fc.property(fc.oneof(vector, withZeros), fc.oneof(vector, withZeros), (a, b) => {
        expect(compareVectors(a, b)).toBe(reference(a, b));
      }),
      { numRuns: 500 },
    );
  });

  it('merging one sibling into one gives what the general merge gives, element for element', () => {
    fc.assert(
      fc.property(sibling, sibling, fc.boolean(), (x, y, same) => {
        const other = same ? x : y;
        const pair = mergeSiblings([x], [other]);
        const general = mergeSiblings([], [x, other]);
        expect(pair.length).toBe(general.length);
        pair.forEach((s, i) => expect(s).toBe(general[i]));
      }),
      { numRuns: 500 },
    );
  });

  it('vectors built by increment and mergeVectors list their actors in order', () => {
    const anyActor = fc.string({ minLength: 1, maxLength: 6 });
    fc.assert(
      fc.property(fc.dictionary(anyActor, fc.nat(5), { maxKeys: 5 }), fc.dictionary(anyActor, fc.nat(5), { maxKeys: 5 }), anyActor, (a, b, x) => {
        const inOrder = (v: VersionVector) => expect(Object.keys(v)).toEqual(Object.keys(Object.fromEntries(Object.entries(v).sort(([p], [q]) => (p < q ? -1 : p > q ? 1 : 0)))));
        inOrder(increment(a, x));
        inOrder(mergeVectors(a, b));
        expect(increment(a, x)[x]).toBe((a[x] ?? 0) + 1);
      }),
      { numRuns: 300 },
    );
  });

  it('compareVectors is antisymmetric', () => {
    const flip = { before: 'after', after: 'before', equal: 'equal', concurrent: 'concurrent' } as const;
    fc.assert(
      fc.property(vector, vector, (a, b) => {
        expect(compareVectors(b, a)).toBe(flip[compareVectors(a, b)]);
      }),
    );
  });

  it('mergeSiblings is commutative, associative and idempotent', () => {
    fc.assert(
      fc.property(siblings, siblings, siblings, (a, b, c) => {
        expect(canon(mergeSiblings(a, b))).toEqual(canon(mergeSiblings(b, a)));
        expect(canon(mergeSiblings(mergeSiblings(a, b), c))).toEqual(canon(mergeSiblings(a, mergeSiblings(b, c))));
        expect(canon(mergeSiblings(a, a))).toEqual(canon(a));
      }),
      { numRuns: 300 },
    );
  });

  it('mergeSiblings keeps no sibling dominated by another and loses no undominated one', () => {
    fc.assert(
      fc.property(siblings, siblings, (a, b) => {
        const m = mergeSiblings(a, b);
        for (const x of m) for (const y of m) if (x !== y) expect(compareVectors(x.version.vv, y.version.vv)).not.toBe('before');
        for (const s of [...a, ...b]) {
          expect(m.some((k) => descends(k.version.vv, s.version.vv))).toBe(true);
        }
      }),
    );
  });

  it('last writer wins picks the same sibling whatever the order', () => {
    // (ts, actor) is unique per write: the hybrid clock never repeats a stamp for one actor.
    const unique = fc.uniqueArray(sibling, { minLength: 1, maxLength: 6, selector: (x) => `${x.version.ts}/${x.version.actor}` });
    fc.assert(
      fc.property(unique, (s) => {
        expect(lastWriterWins([...s].reverse())?.version).toEqual(lastWriterWins(s)?.version);
      }),
    );
  });
});
