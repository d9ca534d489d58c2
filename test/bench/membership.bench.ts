/**
 * Membership changes under load, in one process (in-process transport, memory stores, the
 * in-memory cluster state), through the same plan and commit code as `ringkv cluster plan` /
 * `commit`: 3 -> 4 (join) then 4 -> 3 (leave), on the ring and on a committed range table,
 * with a closed-loop load of unique writes and reads running before and during each change. Reports moved vs planned bytes, availability,
 * the longest gap between successful writes, write p99 before and during, and time to settle.
 */
import { createInProcessNetwork, createMemoryClusterStateStore, readTransfers, type ClusterLayout, type RingLayout } from '@ringkv/core';
import { percentile, startLoad } from '@ringkv/test-utils';
import { routeLoadClient as client, settledState, startManagedMember, stopManagedMembers, type ManagedMember } from '@ringkv/test-utils/managed-cluster';
import { commitPlan, planStaged, stage } from 'ringkv';
import { loadavg } from 'node:os';
import type { BenchSection } from './run.js';

const RING_SEED: RingLayout = { strategy: 'ring', members: ['a@bench', 'b@bench', 'c@bench'], n: 3, r: 2, w: 2, vnodes: 256 };
const RING_BUCKETS = Array.from({ length: 32 }, (_, i) => `bucket-${i}`);
// The range table places by first byte: names spread over it, and a seed table cut for them.
const RANGE_BUCKETS = [...'0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz'].filter((_, i) => i % 2 === 0).map((c) => `${c}-bucket`);
const RANGE_SEED: ClusterLayout = {
  strategy: 'range',
  members: ['a@bench', 'b@bench', 'c@bench'],
  table: [
    { from: 0, to: 0x46, node: 'a@bench' },
    { from: 0x47, to: 0x64, node: 'b@bench' },
    { from: 0x65, to: 0xff, node: 'c@bench' },
  ],
};
const PRELOAD = 100;
const VALUE = new Uint8Array(1000).fill(120);
const enc = new TextEncoder();

interface Row {
  strategy: string;
  change: string;
  plannedBytes: number;
  movedBytes: number;
  plannedBuckets: number;
  movedBuckets: number;
  ops: number;
  availability: number;
  longestGapMs: number;
  p99Before: number;
  p99During: number;
  settleMs: number;
}

export async function run(): Promise<BenchSection> {
  const load0 = loadavg()[0]!;
  const rows = [...(await scenario('ring', RING_SEED, RING_BUCKETS)), ...(await scenario('range table', RANGE_SEED, RANGE_BUCKETS))];
  const load1 = loadavg()[0]!;
  const kib = (b: number) => `${(b / 1024).toFixed(0)} KiB`;
  const lines = [
    `In one process: in-process transport, memory stores, in-memory cluster state. Ring: N=3 R=2 W=2, ${RING_SEED.vnodes} vnodes, ${RING_BUCKETS.length} buckets. Range table: a committed cluster table of three ranges, ${RANGE_BUCKETS.length} buckets whose first bytes spread over it; the next table from \`cluster plan\`'s default policy (bytes). Each bucket has ${PRELOAD} keys of ${VALUE.length} bytes before the first change. Load: 4 workers through a and c, each pausing 1 ms between commands (unique keys, a read of an earlier key every 3 writes), 2 s before the change (the "before" window) and until it settled. Plan and commit through the code of \`ringkv cluster plan\` / \`commit\`; settled = no transition, every node on the last epoch and cleaned up.`,
    '',
    '| strategy | change | planned (buckets, bytes) | moved (buckets, bytes) | moved / planned bytes | client ops | succeeded | longest write gap | write p99 before | write p99 during | p99 ratio | time to settle |',
    '|---|---|---|---|---|---|---|---|---|---|---|---|',
    ...rows.map(
      (r) =>
        `| ${r.strategy} | ${r.change} | ${r.plannedBuckets}, ${kib(r.plannedBytes)} | ${r.movedBuckets}, ${kib(r.movedBytes)} | ${(r.movedBytes / r.plannedBytes).toFixed(4)} | ${r.ops} | ${(r.availability * 100).toFixed(2)}% | ${r.longestGapMs} ms | ${r.p99Before} ms | ${r.p99During} ms | ${(r.p99During / Math.max(1, r.p99Before)).toFixed(2)}x | ${(r.settleMs / 1000).toFixed(1)} s |`,
    ),
    '',
    `Moved bytes exceed the plan by what the load wrote into moving buckets between the plan and the stream (the plan counts what the members held when it ran). Load average (1 min) at the start: ${load0.toFixed(1)}, at the end: ${load1.toFixed(1)} (2 cores shared with other work: absolute times are noisy; moved/planned and the availability are not).`,
  ];
  return { title: 'Membership changes under load (in process)', markdown: lines.join('\n') };
}

async function scenario(strategy: string, seed: ClusterLayout, buckets: readonly string[]): Promise<Row[]> {
  const network = createInProcessNetwork();
  const state = createMemoryClusterStateStore();
  const members = new Map<string, ManagedMember>();
  const startMember = (name: string, seed?: ClusterLayout) =>
    startManagedMember(network, state, name, { ...(seed ? { seed } : {}), heartbeatMs: 200, livenessMs: 2000 });
  const settled = () => settledState(state).then(() => true, () => false);
  for (const name of seed.members) members.set(name, await startMember(name, seed));
  const a = members.get('a@bench')!.node;
  for (const b of buckets) {
    await a.route(b, 'KV.Registry', 'create', [b]);
    await Promise.all(Array.from({ length: PRELOAD }, (_, i) => a.route(b, 'KV.Bucket', 'put', [b, enc.encode(`pre-${i}`), VALUE])));
  }
  members.set('d@bench', await startMember('d@bench'));
  const rows: Row[] = [];

  async function change(label: string, staged: Parameters<typeof stage>[1]): Promise<void> {
    const load = startLoad({
      clients: ['a@bench', 'c@bench'].map((n) => client(members.get(n)!.node)),
      buckets,
      workers: 4,
      prefix: `${label}-`,
      pauseMs: 1,
    });
    await new Promise((r) => setTimeout(r, 2000));
    const baselineEnd = Date.now();
    await stage(state, staged);
    const plan = await planStaged(state, network.transport());
    const committedAt = Date.now();
    await commitPlan(state);
    const deadline = Date.now() + 120_000;
    while (!(await settled())) {
      if (Date.now() > deadline) throw new Error(`${label} did not settle`);
      await new Promise((r) => setTimeout(r, 50));
    }
    const settleMs = Date.now() - committedAt;
    const stats = await load.stop();
    const transfers = (await readTransfers(state))!.doc.items;
    const lat = stats.writeLatencies;
    rows.push({
      strategy,
      change: label,
      plannedBytes: plan.moves.reduce((s, m) => s + m.bytes, 0),
      movedBytes: transfers.reduce((s, t) => s + t.doneBytes, 0),
      plannedBuckets: plan.moves.reduce((s, m) => s + m.buckets, 0),
      movedBuckets: transfers.reduce((s, t) => s + t.doneBuckets, 0),
      ops: stats.ok + stats.failed,
      availability: stats.ok / (stats.ok + stats.failed),
      longestGapMs: stats.longestWriteGapMs,
      p99Before: percentile(
        lat.filter((l) => l.at < baselineEnd).map((l) => l.ms),
        99,
      ),
      p99During: percentile(
        lat.filter((l) => l.at >= committedAt && l.at <= committedAt + settleMs).map((l) => l.ms),
        99,
      ),
      settleMs,
    });
  }

  await change('3 -> 4 (join d)', { action: 'join', node: 'd@bench' });
  await change('4 -> 3 (leave b)', { action: 'leave', node: 'b@bench' });
  await stopManagedMembers(members.values());
  return rows;
}
