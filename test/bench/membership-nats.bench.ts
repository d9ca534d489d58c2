/**
 * Membership changes under load over NATS: node processes (`ringkv node start`, LMDB storage,
 * cluster state in JetStream KV) driven by the `ringkv cluster` commands, as
 * test/e2e/membership-nats.test.ts runs them, without its fault injection: 3 -> 4 (join d)
 * and 4 -> 3 (d leaves), five times. Reports the write latency before and during each change
 * side by side (p50, p90, p99 and their ratios), availability and time to settle, and the same
 * over the writes of all joins, all leaves and all changes pooled: one change holds some 50
 * writes, so its own p99 is about its slowest write, and the pooled p99 is the steadier measure.
 *
 * "Before" is 3 s of the load before the change is staged; "during" runs from the moment the
 * cluster state holds the transition until the cluster is settled.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { decodeState, readTransfers, STATE_KEY, type ClusterStateStore, type Transport } from '@ringkv/core';
import { connectClusterStateKv, connectNatsTransport } from '@ringkv/nats';
import { clusterStatus } from 'ringkv';
import {
  clusterCommand,
  managedRingLmdbConfig,
  percentile,
  serverPortOf,
  startLoad,
  startNatsServer,
  startNodeProcess,
  textLoadClient,
  type NatsServer,
  type NodeProcess,
  type TextLoadClient,
} from '@ringkv/test-utils';
import { settledState } from '@ringkv/test-utils/managed-cluster';
import type { BenchSection } from './run.js';

const SEEDS = ['a@mbench', 'b@mbench', 'c@mbench'];
const JOINER = 'd@mbench';
const BUCKETS = Array.from({ length: 12 }, (_, i) => `b${i}`);
const PRELOAD_KEYS = 40;
const VALUE = 'x'.repeat(8000);

const ROUNDS = 5;

interface Row {
  change: string;
  /** Raw write latencies (ms), for the pooled rows. */
  raw: { before: number[]; during: number[] };
  writes: { before: number; during: number };
  before: { p50: number; p90: number; p99: number };
  during: { p50: number; p90: number; p99: number };
  availability: number;
  ops: { ok: number; failed: number };
  movedBytes: number;
  settleMs: number;
}

const q = (v: number[]) => ({ p50: percentile(v, 50), p90: percentile(v, 90), p99: percentile(v, 99) });

export async function run(): Promise<BenchSection> {
  const load0 = loadavg()[0]!;
  const dir = mkdtempSync(join(tmpdir(), 'ringkv-mbench-'));
  const nats: NatsServer = await startNatsServer();
  const nodes = new Map<string, NodeProcess>();
  const clients: TextLoadClient[] = [];
  let state: ClusterStateStore | undefined;
  let transport: Transport | undefined;
  const rows: Row[] = [];
  try {
    const start = async (name: string, members: readonly string[] = []) => {
      const path = managedRingLmdbConfig(dir, name, members);
      nodes.set(name, await startNodeProcess({ config: path, env: { NATS_URL: nats.url, RINGKV_STORAGE_BACKEND: 'lmdb' } }));
    };
    await Promise.all(SEEDS.map((n) => start(n, SEEDS)));
    await start(JOINER);
    state = await connectClusterStateKv({ url: nats.url });
    transport = await connectNatsTransport({ url: nats.url, name: 'membership bench' });
    const ports = () => ['a@mbench', 'c@mbench'].map((n) => serverPortOf(nodes.get(n)!));
    clients.push(textLoadClient(ports), textLoadClient(() => [...ports()].reverse()));
    for (const b of BUCKETS) await clients[0]!.create(b);
    const writers = Array.from({ length: 8 }, () => textLoadClient(() => SEEDS.map((n) => serverPortOf(nodes.get(n)!))));
    for (const b of BUCKETS) await Promise.all(Array.from({ length: PRELOAD_KEYS }, (_, k) => writers[k % writers.length]!.put(b, `pre${k}`, VALUE)));
    for (const w of writers) w.close();
    const cli = clusterCommand(nats.url);

    const change = async (label: string, stageArgs: string[], after: readonly string[]): Promise<void> => {
      // Keys are one word of the text protocol: the row number, not the label.
      const load = startLoad({ clients, buckets: BUCKETS, workers: 3, prefix: `c${rows.length}-`, pauseMs: 70 });
      await new Promise((r) => setTimeout(r, 3000));
      const baseline = load.stats().writeLatencies.length;
      await cli(...stageArgs);
      await cli('plan', '--json');
      let committedAt = 0;
      const watch = await state!.watch((c) => {
        if (committedAt === 0 && c.key === STATE_KEY && !c.deleted && decodeState(c.value).transition) committedAt = Date.now();
      });
      await cli('commit');
      // Settled: found from the cluster state alone (the state and the members' heartbeats, a
      // read each), 10 times a second; \`cluster status\` asks every node for what it holds and
      // the cluster state for a key listing, so it runs once, to confirm. Polling it at that
      // rate loaded the nodes and nats-server whose latency this measures.
      const deadline = Date.now() + 120_000;
      let settleMs = 0;
      for (;;) {
        if (Date.now() > deadline) throw new Error(`${label} did not settle`);
        const done = committedAt > 0 && (await settledState(state!, after).then(() => true, () => false));
        if (done) {
          settleMs = Date.now() - committedAt;
          const s = await clusterStatus(state!, transport!, { livenessMs: 2000 });
          const valid = s.members.filter((m) => m.state === 'valid').map((m) => m.node).sort();
          if (s.settled && valid.join() === [...after].sort().join()) break;
        }
        await new Promise((r) => setTimeout(r, 100));
      }
      await watch.close();
      const stats = await load.stop();
      const lat = stats.writeLatencies;
      const before = lat.slice(0, baseline).map((l) => l.ms);
      const during = lat.filter((l) => l.at >= committedAt && l.at <= committedAt + settleMs).map((l) => l.ms);
      rows.push({
        change: label,
        raw: { before, during },
        writes: { before: before.length, during: during.length },
        before: q(before),
        during: q(during),
        availability: stats.ok / (stats.ok + stats.failed),
        ops: { ok: stats.ok, failed: stats.failed },
        movedBytes: (await readTransfers(state!))!.doc.items.reduce((s, t) => s + t.doneBytes, 0),
        settleMs,
      });
    };
    for (let round = 1; round <= ROUNDS; round++) {
      await change(`3 -> 4 (join d), run ${round}`, ['join', JOINER], [...SEEDS, JOINER]);
      await change(`4 -> 3 (d leaves), run ${round}`, ['leave', JOINER], SEEDS);
    }
  } finally {
    for (const c of clients) c.close();
    await Promise.all([...nodes.values()].map((n) => n.kill('SIGKILL')));
    await transport?.close();
    await state?.close();
    await nats.stop();
    rmSync(dir, { recursive: true, force: true });
  }
  const load1 = loadavg()[0]!;
  const x = (a: number, b: number) => `${(a / Math.max(1, b)).toFixed(1)}x`;
  const pooled = (change: string, of: Row[]): Row => {
    const before = of.flatMap((r) => r.raw.before);
    const during = of.flatMap((r) => r.raw.during);
    const ok = of.reduce((t, r) => t + r.ops.ok, 0);
    const failed = of.reduce((t, r) => t + r.ops.failed, 0);
    return {
      change,
      raw: { before, during },
      writes: { before: before.length, during: during.length },
      before: q(before),
      during: q(during),
      availability: ok / Math.max(1, ok + failed),
      ops: { ok, failed },
      movedBytes: of.reduce((t, r) => t + r.movedBytes, 0),
      settleMs: of.reduce((t, r) => t + r.settleMs, 0),
    };
  };
  const joins = rows.filter((r) => r.change.includes('join'));
  const leaves = rows.filter((r) => r.change.includes('leaves'));
  const totals = [pooled(`all ${joins.length} joins, pooled`, joins), pooled(`all ${leaves.length} leaves, pooled`, leaves), pooled(`all ${rows.length} changes, pooled`, rows)];
  const lines = [
    `Node processes over NATS (JetStream KV cluster state), LMDB storage (flushed every 100 ms), N=3 R=2 W=2, 64 vnodes, heartbeats every 200 ms; ${BUCKETS.length} buckets of ${PRELOAD_KEYS} keys of ${VALUE.length} bytes before the first change, ${((BUCKETS.length * PRELOAD_KEYS * VALUE.length) / 2 ** 20).toFixed(1)} MiB in all. Load through the text servers of a and c: 3 workers, each pausing 70 ms between commands (unique keys, a read every 3 writes). Before = 3 s of that load before the change is staged; during = from the moment the cluster state holds the transition until it is settled (no transition, every member acknowledged the last epoch and cleaned up; \`cluster status\` confirms). Same load, same run, side by side.`,
    '',
    '| change | writes before / during | p50 before -> during | p90 before -> during | p99 before -> during | p99 ratio | succeeded | moved | time to settle |',
    '|---|---|---|---|---|---|---|---|---|',
    ...[...rows, ...totals].map(
      (r) =>
        `| ${r.change} | ${r.writes.before} / ${r.writes.during} | ${r.before.p50} -> ${r.during.p50} ms (${x(r.during.p50, r.before.p50)}) | ${r.before.p90} -> ${r.during.p90} ms (${x(r.during.p90, r.before.p90)}) | ${r.before.p99} -> ${r.during.p99} ms | ${x(r.during.p99, r.before.p99)} | ${(r.availability * 100).toFixed(2)}% | ${(r.movedBytes / 2 ** 20).toFixed(1)} MiB | ${(r.settleMs / 1000).toFixed(1)} s |`,
    ),
    '',
    `Four node processes and nats-server share the 2 cores with whatever else runs (load average ${load0.toFixed(1)} at the start, ${load1.toFixed(1)} at the end). A change of this size settles in about 2 s, so one change's "during" holds some 50 writes and its p99 is about its slowest one: its ratio moves from run to run. The pooled rows put the writes of every change of a kind together (the success share and the moved bytes and settle time are then over all of them, the moved bytes and time summed); issue 13 asks for the write p99 during transfers within 3x of before.`,
  ];
  return { title: 'Membership changes under load (node processes over NATS)', markdown: lines.join('\n') };
}
