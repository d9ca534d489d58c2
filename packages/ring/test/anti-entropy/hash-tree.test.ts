import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { createHashTree, HASH_BYTES, levelSize, type EntryHash, type HashTree, type TreeShape } from '../../src/anti-entropy/hash-tree.js';

const SMALL: TreeShape = { fanout: 4, depth: 3 };
const hashArb = fc.record({ hi: fc.nat({ max: 0xffffffff }), lo: fc.nat({ max: 0xffffffff }) }).filter((h) => h.hi !== 0 || h.lo !== 0);
const entriesArb = fc.dictionary(fc.string({ minLength: 1, maxLength: 6 }), hashArb, { maxKeys: 60 });

function allLevels(tree: HashTree): string[] {
  const out: string[] = [];
  for (let l = 0; l <= tree.shape.depth; l++) {
    out.push(
      Buffer.from(
        tree.hashes(
          l,
          Array.from({ length: levelSize(tree.shape, l) }, (_, i) => i),
        ),
      ).toString('hex'),
    );
  }
  return out;
}

function build(entries: ReadonlyArray<readonly [string, EntryHash]>, shape = SMALL): HashTree {
  const t = createHashTree(shape);
  for (const [id, h] of entries) t.set(id, h);
  return t;
}

describe('hash tree (pure)', () => {
  it('every level is independent of insertion order', () => {
    fc.assert(
      fc.property(entriesArb, fc.nat(), (entries, seed) => {
        const list = Object.entries(entries);
        const shuffled = [...list].sort((a, b) => ((a[0].charCodeAt(0) * 31 + seed) % 97) - ((b[0].charCodeAt(0) * 31 + seed) % 97));
        expect(allLevels(build(shuffled))).toEqual(allLevels(build(list)));
      }),
    );
  });

  it('updating and removing entries incrementally gives the tree of the final set', () => {
    fc.assert(
      fc.property(
        entriesArb,
        entriesArb,
        fc.array(fc.string({ minLength: 1, maxLength: 6 }), { maxLength: 20 }),
        (first, second, removed) => {
          const t = build(Object.entries(first));
          for (const [id, h] of Object.entries(second)) t.set(id, h);
          for (const id of removed) t.set(id, undefined);
          const final = new Map<string, EntryHash>([...Object.entries(first), ...Object.entries(second)]);
          for (const id of removed) final.delete(id);
          const fresh = build([...final]);
          expect(allLevels(t)).toEqual(allLevels(fresh));
          expect(t.size).toBe(final.size);
          expect(new Set(t.ids())).toEqual(new Set(final.keys()));
        },
      ),
    );
  });

  it('an empty tree, and one emptied again, has a zero root', () => {
    const zero = '0'.repeat(2 * HASH_BYTES);
    expect(Buffer.from(createHashTree(SMALL).root()).toString('hex')).toBe(zero);
    fc.assert(
      fc.property(entriesArb, (entries) => {
        const t = build(Object.entries(entries));
        for (const id of Object.keys(entries)) t.set(id, undefined);
        expect(Buffer.from(t.root()).toString('hex')).toBe(zero);
        expect(t.size).toBe(0);
      }),
    );
  });

  it('a changed entry changes the root and exactly the nodes on its path', () => {
    fc.assert(
      fc.property(
        entriesArb.filter((e) => Object.keys(e).length > 0),
        hashArb,
        (entries, other) => {
          const list = Object.entries(entries);
          const [id, h] = list[0]!;
          fc.pre(other.hi !== h.hi || other.lo !== h.lo);
          const a = build(list);
          const b = build(list);
          b.set(id, other);
          const seg = a.segmentOf(id);
          for (let l = 0; l <= SMALL.depth; l++) {
            const size = levelSize(SMALL, l);
            const onPath = seg >>> (Math.log2(SMALL.fanout) * (SMALL.depth - l));
            for (let i = 0; i < size; i++) {
              const same = Buffer.from(a.hashes(l, [i])).equals(Buffer.from(b.hashes(l, [i])));
              expect(same).toBe(i !== onPath);
            }
          }
        },
      ),
    );
  });

  it("children(level, parents) are the hashes of each parent's children in order; segments list their entries", () => {
    const t = build(Array.from({ length: 200 }, (_, i) => [`key${i}`, { hi: i + 1, lo: i * 7 }] as const));
    const kids = t.children(2, [3, 1]);
    expect(kids.length).toBe(2 * SMALL.fanout * HASH_BYTES);
    expect(Buffer.from(kids.subarray(0, SMALL.fanout * HASH_BYTES))).toEqual(Buffer.from(t.hashes(2, [12, 13, 14, 15])));
    let total = 0;
    for (let s = 0; s < levelSize(SMALL, SMALL.depth); s++) {
      for (const id of t.segment(s).keys()) expect(t.segmentOf(id)).toBe(s);
      total += t.segment(s).size;
    }
    expect(total).toBe(200);
  });

  it('rejects bad shapes and out-of-range nodes with a RangeError', () => {
    expect(() => createHashTree({ fanout: 3, depth: 2 })).toThrow(RangeError);
    expect(() => createHashTree({ fanout: 16, depth: 7 })).toThrow(/fanout\^depth/);
    const t = createHashTree(SMALL);
    expect(() => t.hashes(1, [4])).toThrow(RangeError);
    expect(() => t.children(0, [0])).toThrow(/root has no parent/);
    expect(() => t.children(2, [-1])).toThrow(RangeError);
    expect(() => t.hashes(9, [0])).toThrow(RangeError);
  });

  it('spreads keys over segments (default shape): no segment holds more than a handful at 1 key per segment', () => {
    const t = createHashTree();
    for (let i = 0; i < 65_536; i++) t.set(`bucket/k${i}`, { hi: i, lo: 1 });
    let max = 0;
    let used = 0;
    for (let s = 0; s < 65_536; s++) {
      const n = t.segment(s).size;
      if (n > 0) used++;
      max = Math.max(max, n);
    }
    // Poisson(1): about 63% of segments used, the fullest around 8-10.
    expect(used / 65_536).toBeGreaterThan(0.6);
    expect(max).toBeLessThan(14);
  });
});
