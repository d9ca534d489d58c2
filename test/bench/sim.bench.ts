/**
 * Speed of the migration simulation: placements per second for the range table and the ring,
 * and the wall time of one simulation over 1,000,000 bucket names (10 -> 11 nodes, range and
 * ring side by side, in one pass).
 */
import { lookupRange, DEFAULT_RING_N } from '@ringkv/core';
import { createRing } from '@ringkv/ring';
import { evenTable, randomBucketNames, simulate } from '@ringkv/sim';
import type { BenchSection } from './run.js';
import { fmt } from './stats.js';

const members = (n: number) => Array.from({ length: n }, (_, i) => `node${i + 1}@bench`);

function timed(fn: () => number): { perSec: number; count: number; seconds: number } {
  const t0 = performance.now();
  const count = fn();
  const seconds = (performance.now() - t0) / 1000;
  return { perSec: count / seconds, count, seconds };
}

export async function run(): Promise<BenchSection> {
  const names = [...randomBucketNames({ count: 200_000, seed: 42 })];
  const table = evenTable(members(10));
  const ring = createRing({ members: members(10) });
  const ring64 = createRing({ members: members(10), vnodes: 64 });

  // Warm up the code paths once, then measure.
  for (const n of names.slice(0, 5000)) {
    lookupRange(table, n);
    ring.preferenceList(n, DEFAULT_RING_N);
  }
  let sink = 0;
  const range = timed(() => {
    for (const n of names) sink += lookupRange(table, n).from;
    return names.length;
  });
  const ringOwner = timed(() => {
    for (const n of names) sink += ring.owner(n).length;
    return names.length;
  });
  const ringList = timed(() => {
    for (const n of names) sink += ring.preferenceList(n, DEFAULT_RING_N).length;
    return names.length;
  });
  const ring64List = timed(() => {
    for (const n of names) sink += ring64.preferenceList(n, DEFAULT_RING_N).length;
    return names.length;
  });
  if (sink < 0) throw new Error('unreachable');

  const simRuns: Array<[string, Parameters<typeof simulate>[0]['strategies']]> = [
    ['range (even) only', [{ kind: 'range', policy: { name: 'even' } }]],
    ['range (even) + range (split-loaded) + ring (default)', [{ kind: 'range', policy: { name: 'even' } }, { kind: 'range', policy: { name: 'split-loaded' } }, { kind: 'ring' }]],
  ];
  const rows: string[] = [];
  for (const [label, strategies] of simRuns) {
    const heapBefore = process.memoryUsage().heapUsed;
    let peak = 0;
    const t = timed(() => {
      const report = simulate({
        change: { members: members(10), add: ['node11@bench'] },
        strategies,
        buckets: randomBucketNames({ count: 1_000_000, seed: 7 }),
        onProgress: () => {
          peak = Math.max(peak, process.memoryUsage().heapUsed - heapBefore);
        },
        progressEvery: 100_000,
      });
      return report.buckets;
    });
    rows.push(`| ${label} | ${fmt(t.count)} | ${fmt(t.seconds, 2)} | ${fmt(t.perSec)} | ${fmt(peak / 2 ** 20, 0)} |`);
  }

  const markdown = [
    'Placements of 200,000 random byte names (8 to 16 bytes), 10 members, one after the other in one process.',
    '',
    '| placement | per second |',
    '|---|---:|',
    `| range table: \`lookupRange\` (first byte, 10 entries) | ${fmt(range.perSec)} |`,
    `| ring: \`owner\` (${ring.vnodes} vnodes) | ${fmt(ringOwner.perSec)} |`,
    `| ring: \`preferenceList\`, N=${DEFAULT_RING_N} (${ring.vnodes} vnodes) | ${fmt(ringList.perSec)} |`,
    `| ring: \`preferenceList\`, N=${DEFAULT_RING_N} (64 vnodes) | ${fmt(ring64List.perSec)} |`,
    '',
    'One simulation of 1,000,000 random names, 10 -> 11 nodes, names generated while streaming (one pass; every strategy measured per bucket). A ring strategy places each bucket twice (before and after), with its preference list.',
    '',
    '| strategies | buckets | wall time (s) | buckets per second | heap growth seen (MiB) |',
    '|---|---:|---:|---:|---:|',
    ...rows,
  ].join('\n');
  return { title: 'Migration simulation (@ringkv/sim)', markdown };
}
