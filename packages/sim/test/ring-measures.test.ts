import { createRing } from '@ringkv/ring';
import { describe, expect, it } from 'vitest';
import { idealChangedFraction, equalWeights, loadStats, ownerChanges, randomBucketNames, simulate } from '../src/index.js';

const members = (n: number) => Array.from({ length: n }, (_, i) => `n${i + 1}@h`);

describe('ideal movement', () => {
  const ideal = (before: number, after: string[], replicas: number, b = members(before)) =>
    idealChangedFraction({ before: equalWeights(b), after: equalWeights(after), replicas });
  it('adding k to n: k/(n+k) for the owner', () => {
    expect(ideal(5, members(6), 1)).toBeCloseTo(1 / 6, 12);
    expect(ideal(3, members(5), 1)).toBeCloseTo(2 / 5, 12);
  });
  it('removing one of n: 1/n for the owner, N/n for replica sets', () => {
    expect(ideal(4, members(3), 1)).toBeCloseTo(1 / 4, 12);
    expect(ideal(5, members(4), 3)).toBeCloseTo(3 / 5, 12);
  });
  it('replica sets when adding one: min(1, N/(n+1))', () => {
    expect(ideal(5, members(6), 3)).toBeCloseTo(3 / 6, 12);
    expect(ideal(2, members(3), 3)).toBe(1);
    expect(ideal(3, members(3), 3)).toBe(0);
  });
  it('weights set the fair shares', () => {
    const before = new Map([['a', 1], ['b', 1]]);
    const after = new Map([['a', 1], ['b', 1], ['c', 2]]);
    expect(idealChangedFraction({ before, after, replicas: 1 })).toBeCloseTo(0.5, 12);
  });
});

describe('load statistics', () => {
  it('max/mean and coefficient of variation', () => {
    expect(loadStats([2, 2])).toEqual({ total: 4, mean: 2, max: 2, maxOverMean: 1, cv: 0 });
    const s = loadStats([1, 3]);
    expect(s.maxOverMean).toBe(1.5);
    expect(s.cv).toBe(0.5);
    expect(loadStats([0, 0]).cv).toBe(0);
    expect(loadStats([]).mean).toBe(0);
  });
});

describe('ring measures', () => {
  const names = [...randomBucketNames({ count: 3000, seed: 7 })];

  it('agrees bucket by bucket with the ring it simulates', () => {
    const before = createRing({ members: members(3), vnodes: 32 });
    const after = createRing({ members: members(4), vnodes: 32 });
    let owners = 0;
    let sets = 0;
    const toNew = new Map<string, number>();
    for (const name of names) {
      const ob = before.owner(name);
      if (ob !== after.owner(name)) {
        owners++;
        toNew.set(ob, (toNew.get(ob) ?? 0) + 1);
      }
      const pb = before.preferenceList(name, 2).map((r) => r.node).sort();
      const pa = after.preferenceList(name, 2).map((r) => r.node).sort();
      if (pb.join() !== pa.join()) sets++;
    }
    const report = simulate({ change: { members: members(3), add: ['n4@h'] }, strategies: [{ kind: 'ring', vnodes: 32, n: 2 }], buckets: names });
    const r = report.results[0]!;
    expect(r.owner.changed).toBe(owners);
    expect(r.replicaSets!.changed).toBe(sets);
    expect(r.replicaSets!.copies).toBe(sets); // one node joins: each changed set gains exactly it
    expect(r.transfers.map((t) => [t.from, t.buckets]).sort()).toEqual([...toNew].sort());
    expect(r.transfers.every((t) => t.to === 'n4@h')).toBe(true);
    expect(r.owner.betweenOldNodes).toBe(0);
    expect(r.replicaSets!.betweenOldNodes).toBe(0);
    expect(r.load.after.reduce((s, l) => s + l.buckets, 0)).toBe(names.length);
    expect(r.replicaLoad!.after.reduce((s, l) => s + l.buckets, 0)).toBe(2 * names.length);
    expect(ownerChanges(report, r, names)).toHaveLength(owners);
  });

  it('removing a member moves only what it owned, to the survivors', () => {
    const r = simulate({ change: { members: members(4), remove: ['n2@h'] }, strategies: [{ kind: 'ring', vnodes: 64, n: 3 }], buckets: names }).results[0]!;
    expect(r.owner.changed).toBe(r.load.before.find((l) => l.node === 'n2@h')!.buckets);
    expect(r.transfers.every((t) => t.from === 'n2@h')).toBe(true);
    expect(r.replicaSets!.betweenOldNodes).toBe(0);
    expect(r.replicaSets!.ideal).toBeCloseTo(3 / 4, 12);
  });

  it('caps N at the member count and reports the set growing', () => {
    const r = simulate({ change: { members: members(2), add: ['n3@h'] }, strategies: [{ kind: 'ring', vnodes: 16, n: 3 }], buckets: names.slice(0, 100) }).results[0]!;
    expect(r.replicaSets!.changed).toBe(100);
    expect(r.replicaLoad!.after.map((l) => l.buckets)).toEqual([100, 100, 100]);
  });

  it('sizes are summed per node and per transfer', () => {
    const r = simulate({
      change: { members: members(2), add: ['n3@h'] },
      strategies: [{ kind: 'ring', vnodes: 16, n: 1 }],
      buckets: names.slice(0, 500).map((name, i) => ({ name, bytes: i })),
    }).results[0]!;
    const total = (500 * 499) / 2;
    expect(r.load.before.reduce((s, l) => s + l.bytes, 0)).toBe(total);
    expect(r.load.after.reduce((s, l) => s + l.bytes, 0)).toBe(total);
    expect(r.transfers.reduce((s, t) => s + t.bytes, 0)).toBe(r.owner.changedBytes);
  });

  it('reports progress while streaming', () => {
    const seen: number[] = [];
    simulate({ change: { members: members(2) }, strategies: [{ kind: 'ring', n: 1, vnodes: 8 }], buckets: names, onProgress: (d) => seen.push(d), progressEvery: 1000 });
    expect(seen).toEqual([1000, 2000, 3000, 3000]);
  });
});

describe('random names', () => {
  it('are repeatable by seed and differ across seeds', () => {
    const a = [...randomBucketNames({ count: 50, seed: 3 })];
    expect([...randomBucketNames({ count: 50, seed: 3 })]).toEqual(a);
    expect([...randomBucketNames({ count: 50, seed: 4 })]).not.toEqual(a);
    const alnum = [...randomBucketNames({ count: 50, seed: 3, charset: 'alnum' })];
    expect(alnum.every((n) => /^[a-z0-9]{8,16}$/.test(Buffer.from(n).toString('latin1')))).toBe(true);
  });
});
