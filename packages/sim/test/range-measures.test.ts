import { describe, expect, it } from 'vitest';
import { RingkvError } from '@ringkv/core';
import { balancedTable, bytesTable, evenTable, histogramOf, ownerChanges, simulate, SimulationError, splitLoadedTable } from '../src/index.js';

const bytes = (...first: number[]) => first.map((b) => Uint8Array.of(b, 0x61));

describe('range table, hand-computed', () => {
  it('4 buckets, 2 nodes -> 3 with a target table: one bucket moves, B -> C', () => {
    const report = simulate({
      change: { members: ['a@h', 'b@h'], add: ['c@h'] },
      strategies: [
        {
          kind: 'range',
          table: [{ from: 0, to: 127, node: 'a@h' }, { from: 128, to: 255, node: 'b@h' }],
          policy: { name: 'table', table: [{ from: 0, to: 99, node: 'a@h' }, { from: 100, to: 199, node: 'c@h' }, { from: 200, to: 255, node: 'b@h' }] },
        },
      ],
      buckets: [
        { name: 'a', bytes: 10 },
        { name: 'b', bytes: 20 },
        { name: Uint8Array.of(0xc0, 1), bytes: 30 },
        { name: Uint8Array.of(0xf0), bytes: 40 },
      ],
    });
    const r = report.results[0]!;
    expect(report.buckets).toBe(4);
    expect(report.bytes).toBe(100);
    expect(report.sizesKnown).toBe(true);
    expect(r.owner.changed).toBe(1);
    expect(r.owner.changedBytes).toBe(30);
    expect(r.owner.fraction).toBe(0.25);
    expect(r.owner.ideal).toBeCloseTo(1 / 3, 12);
    expect(r.owner.ratioToIdeal).toBeCloseTo(0.75, 12);
    expect(r.owner.betweenOldNodes).toBe(0);
    expect(r.transfers).toEqual([{ from: 'b@h', to: 'c@h', buckets: 1, bytes: 30 }]);
    expect(r.matrix.buckets).toEqual([[0, 0, 0], [0, 0, 1], [0, 0, 0]]);
    expect(r.load.before).toEqual([{ node: 'a@h', buckets: 2, bytes: 30 }, { node: 'b@h', buckets: 2, bytes: 70 }]);
    expect(r.load.after).toEqual([{ node: 'a@h', buckets: 2, bytes: 30 }, { node: 'c@h', buckets: 1, bytes: 30 }, { node: 'b@h', buckets: 1, bytes: 40 }].sort(byMemberOrder(['a@h', 'b@h', 'c@h'])));
    expect(r.load.stats.before.buckets).toMatchObject({ mean: 2, max: 2, maxOverMean: 1, cv: 0 });
    expect(r.load.stats.after.buckets.maxOverMean).toBeCloseTo(1.5, 12);
    expect(r.load.stats.after.buckets.cv).toBeCloseTo(Math.sqrt(2 / 9) / (4 / 3), 12);
    expect(r.load.stats.after.bytes.max).toBe(40);
  });

  it('even re-split 2 -> 3 moves 3 of 4, one of them between old nodes', () => {
    const r = simulate({
      change: { members: ['a@h', 'b@h'], add: ['c@h'] },
      strategies: [{ kind: 'range', policy: { name: 'even' } }],
      buckets: bytes(0, 100, 200, 255),
    }).results[0]!;
    expect(r.range!.before).toEqual([{ from: 0, to: 127, node: 'a@h' }, { from: 128, to: 255, node: 'b@h' }]);
    expect(r.range!.after).toEqual([{ from: 0, to: 84, node: 'a@h' }, { from: 85, to: 169, node: 'b@h' }, { from: 170, to: 255, node: 'c@h' }]);
    expect(r.owner.changed).toBe(3);
    expect(r.owner.fraction).toBe(0.75);
    expect(r.owner.betweenOldNodes).toBe(1);
    expect(r.transfers).toEqual([
      { from: 'b@h', to: 'c@h', buckets: 2, bytes: 0 },
      { from: 'a@h', to: 'b@h', buckets: 1, bytes: 0 },
    ]);
  });

  it('split-loaded cuts the busiest range at its median first byte and gives the upper half away', () => {
    const r = simulate({
      change: { members: ['a@h', 'b@h'], add: ['c@h'] },
      strategies: [{ kind: 'range', policy: { name: 'split-loaded' } }],
      buckets: bytes(10, 20, 200, 210, 220, 230),
    }).results[0]!;
    expect(r.range!.after).toEqual([
      { from: 0, to: 127, node: 'a@h' },
      { from: 128, to: 210, node: 'b@h' },
      { from: 211, to: 255, node: 'c@h' },
    ]);
    expect(r.owner.changed).toBe(2);
    expect(r.owner.betweenOldNodes).toBe(0);
    expect(r.load.after.map((l) => l.buckets)).toEqual([2, 2, 2]);
  });

  it('balanced cuts where the buckets split evenly', () => {
    const h = histogramOf([[97], [97], [98], [99], [100], [101]]);
    expect(balancedTable(['a@h', 'b@h', 'c@h'], h)).toEqual([
      { from: 0, to: 97, node: 'a@h' },
      { from: 98, to: 99, node: 'b@h' },
      { from: 100, to: 255, node: 'c@h' },
    ]);
    // Every member keeps at least one byte even when all buckets share one first byte.
    const crowded = balancedTable(['a@h', 'b@h', 'c@h'], histogramOf([[255], [255]]));
    expect(crowded.map((e) => e.to - e.from + 1).every((w) => w >= 1)).toBe(true);
    expect(crowded.at(-1)).toMatchObject({ to: 255 });
  });

  it('even table covers 0..255 in member order', () => {
    expect(evenTable(['x@h', 'y@h', 'z@h'])).toEqual([
      { from: 0, to: 84, node: 'x@h' },
      { from: 85, to: 169, node: 'y@h' },
      { from: 170, to: 255, node: 'z@h' },
    ]);
    expect(() => evenTable(Array.from({ length: 257 }, (_, i) => `n${i}@h`))).toThrow(SimulationError);
  });

  it('removing a member hands its ranges to the neighbour below (split-loaded) and counts the ideal as 1/n', () => {
    const r = simulate({
      change: { members: ['a@h', 'b@h', 'c@h', 'd@h'], remove: ['c@h'] },
      strategies: [{ kind: 'range', policy: { name: 'split-loaded' } }],
      buckets: bytes(0, 70, 140, 200),
    }).results[0]!;
    expect(r.range!.after.map((e) => e.node)).toEqual(['a@h', 'b@h', 'b@h', 'd@h']);
    expect(r.owner.changed).toBe(1);
    expect(r.transfers).toEqual([{ from: 'c@h', to: 'b@h', buckets: 1, bytes: 0 }]);
    expect(r.owner.ideal).toBeCloseTo(1 / 4, 12);
    expect(r.owner.betweenOldNodes).toBe(0);
    expect(r.load.after.map((l) => l.node)).toEqual(['a@h', 'b@h', 'd@h']);
  });

  it('buckets outside every range are counted as unplaced, not as moved', () => {
    const r = simulate({
      change: { members: ['a@h'], add: ['b@h'] },
      strategies: [{ kind: 'range', table: [{ from: 'a', to: 'z', node: 'a@h' }], policy: { name: 'table', table: [{ from: 'a', to: 'm', node: 'a@h' }, { from: 'n', to: 'z', node: 'b@h' }] } }],
      buckets: ['\u0000', 'hello', 'world', 'Zebra'],
    }).results[0]!;
    expect(r.unplaced).toEqual({ before: 2, after: 2 });
    expect(r.owner.changed).toBe(1);
    expect(r.owner.fraction).toBe(0.5);
  });

  it('ownerChanges names the buckets behind the count', () => {
    const names = bytes(0, 100, 200, 255);
    const report = simulate({ change: { members: ['a@h', 'b@h'], add: ['c@h'] }, strategies: [{ kind: 'range', policy: { name: 'even' } }], buckets: names });
    const moved = ownerChanges(report, report.results[0]!, names);
    expect(moved.map((m) => [m.bucket[0], m.from, m.to])).toEqual([[100, 'a@h', 'b@h'], [200, 'b@h', 'c@h'], [255, 'b@h', 'c@h']]);
    expect(ownerChanges(report, report.results[0]!, names, 1)).toHaveLength(1);
  });

  it('bytes splits the range holding the most bytes at its byte median, not the one with the most buckets', () => {
    const table = [
      { from: 0, to: 99, node: 'a@h' },
      { from: 100, to: 255, node: 'b@h' },
    ];
    // a: many small buckets; b: two big ones at 120 and 200.
    const h = histogramOf([[1, 10], [2, 10], [3, 10], [4, 10], [120, 5000], [200, 5000]]);
    const change = { added: ['c@h'], removed: [], after: ['a@h', 'b@h', 'c@h'] };
    expect(splitLoadedTable(table, change, h).find((e) => e.node === 'c@h')).toEqual({ from: 3, to: 99, node: 'c@h' });
    const byBytes = bytesTable(table, change, h);
    expect(byBytes).toEqual([
      { from: 0, to: 99, node: 'a@h' },
      { from: 100, to: 120, node: 'b@h' },
      { from: 121, to: 255, node: 'c@h' },
    ]);
    // Without sizes it falls back to bucket counts, like split-loaded.
    expect(bytesTable(table, change, histogramOf([[1], [2], [3], [4], [120], [200]]))).toEqual(splitLoadedTable(table, change, histogramOf([[1], [2], [3], [4], [120], [200]])));
  });

  it('bytes hands a leaving member\'s range to the lighter neighbour', () => {
    const table = [
      { from: 0, to: 99, node: 'a@h' },
      { from: 100, to: 199, node: 'b@h' },
      { from: 200, to: 255, node: 'c@h' },
    ];
    const h = histogramOf([[10, 9000], [150, 100], [210, 50]]);
    const change = { added: [], removed: ['b@h'], after: ['a@h', 'c@h'] };
    expect(bytesTable(table, change, h)[1]).toEqual({ from: 100, to: 199, node: 'c@h' });
    // split-loaded always takes the neighbour below.
    expect(splitLoadedTable(table, change, h)[1]).toEqual({ from: 100, to: 199, node: 'a@h' });
  });

  it('split-loaded fails clearly when nothing can be split', () => {
    const t = [{ from: 5, to: 5, node: 'a@h' }];
    expect(() => splitLoadedTable(t, { added: ['b@h'], removed: [], after: ['a@h', 'b@h'] }, histogramOf([[5]]))).toThrow(/every range is a single byte/);
  });
});

describe('bad input gives a clear error', () => {
  const base = { strategies: [{ kind: 'range', policy: { name: 'even' } }] as const, buckets: ['x'] };
  it.each([
    [{ ...base, change: { members: ['a@h'], add: ['a@h'] } }, /add: "a@h" is already a member/],
    [{ ...base, change: { members: ['a@h'], remove: ['z@h'] } }, /remove: "z@h" is not a member/],
    [{ ...base, change: { members: ['a@h'], remove: ['a@h'] } }, /removes every member/],
    [{ ...base, change: { members: ['a@h', 'a@h'] } }, /listed twice/],
    [{ ...base, change: { members: ['a@h'] }, buckets: ['ok', ''] }, /bucket #1: name is empty/],
    [{ ...base, change: { members: ['a@h'] }, buckets: [{ name: 'x', bytes: -1 }] }, /bytes must be a finite number/],
    [{ ...base, change: { members: ['a@h'] }, buckets: [42] }, /bucket #0: must be a name/],
    [{ ...base, change: { members: ['a@h'] }, strategies: [] }, /at least one strategy/],
    [{ ...base, change: { members: ['a@h'] }, strategies: [{ kind: 'hash' }] }, /strategies\[0\]\.kind/],
    [{ ...base, change: { members: ['a@h'], add: ['b@h'] }, strategies: [{ kind: 'range', policy: { name: 'table', table: [{ from: 0, to: 255, node: 'q@h' }] } }] }, /"q@h" is not a member after the change/],
    [{ ...base, change: { members: ['a@h'] }, strategies: [{ kind: 'range', policy: { name: 'table', table: [{ from: 9, to: 1, node: 'a@h' }] } }] }, /is empty \(from > to\)/],
    [{ ...base, change: { members: ['a@h'] }, strategies: [{ kind: 'ring', n: 0 }] }, /n must be a positive integer/],
  ])('%#', (options, message) => {
    expect(() => simulate(options as never)).toThrow(RingkvError);
    expect(() => simulate(options as never)).toThrow(message);
  });
});

function byMemberOrder(order: string[]) {
  return (a: { node: string }, b: { node: string }) => order.indexOf(a.node) - order.indexOf(b.node);
}
