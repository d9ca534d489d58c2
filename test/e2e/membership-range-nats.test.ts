/**
 * Issue 13's acceptance on the range table: node processes over NATS with a committed
 * cluster-wide table (cluster state in JetStream KV), LMDB storage, driven by the `ringkv
 * cluster` commands, under a continuous load of unique writes and reads through the text servers:
 *
 *   3 -> 4 (join d)
 *   4 -> 3 (leave b; b, the node sending its buckets, is SIGKILLed mid-transfer and restarted)
 *
 * After each change settles: every acknowledged write reads back through every node; each bucket
 * exists on exactly its owner in the committed table; the buckets moved are the plan's and the
 * bytes within 1% of it; nothing moved between two nodes that both stayed. Availability and the
 * write p99 before and during the change are logged; the availability of the join (no node
 * killed) is asserted. The p99 ratio is not: on two shared cores it moves from run to run
 * (docs/operations.md, limits; `npm run bench -- membership` measures it side by side).
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { decodeState, findEntry, readState, renderTable, readTransfers, STATE_KEY, type ClusterStateStore, type RangeEntryInput, type RangeLayout, type Transport } from '@ringkv/core';
import { connectClusterStateKv, connectNatsTransport } from '@ringkv/nats';
import { askHoldings, clusterStatus, type ClusterPlan } from 'ringkv';
import {
  describeDistributed,
  percentile,
  clusterCommand,
  serverPortOf,
  startLoad,
  startNatsServer,
  startNodeProcess,
  textLoadClient,
  unreadAcknowledged,
  type LoadStats,
  type NatsServer,
  type NodeProcess,
  type TextLoadClient,
} from '@ringkv/test-utils';
import { afterAll, beforeAll, expect, it, vi } from 'vitest';

const SEEDS = ['a@rng', 'b@rng', 'c@rng'];
// First bytes spread over the seed table (a: digits and upper case, b: a..m, c: n..z).
const BUCKETS = [...'0369CFILORUX', ...'adgjm', ...'psvy'].map((c) => `${c}bkt`);
const TABLE: RangeEntryInput[] = [
  { from: 0, to: 0x60, node: 'a@rng' },
  { from: 0x61, to: 0x6d, node: 'b@rng' },
  { from: 0x6e, to: 0xff, node: 'c@rng' },
];
const PRELOAD_KEYS = 30;
const VALUE = 'x'.repeat(6000);

describeDistributed('membership over NATS on a committed range table: join, then leave with the sender killed (issue 13)', () => {
  let nats: NatsServer;
  let dir: string;
  let state: ClusterStateStore;
  let transport: Transport;
  const nodes = new Map<string, NodeProcess>();
  const ports = new Map<string, number>();
  const clients: TextLoadClient[] = [];
  const acked = new Map<string, { bucket: string; key: string; value: string }>();
  const report: Record<string, unknown>[] = [];

  async function start(name: string, seed = false): Promise<NodeProcess> {
    const path = join(dir, `${name.split('@')[0]}.json`);
    writeFileSync(
      path,
      JSON.stringify({
        node: name,
        strategy: 'range',
        roles: ['server', 'storage'],
        server: { port: 0 },
        cluster: { managed: true, heartbeatMs: 200, livenessMs: 2000, transferBatch: 20 },
        storage: { backend: 'lmdb', path: join(dir, name.split('@')[0]!), syncIntervalMs: 100 },
        // A joining node's file needs no table: it comes from the cluster.
        ...(seed ? { routingTable: TABLE } : {}),
      }),
    );
    const p = await startNodeProcess({ config: path, env: { NATS_URL: nats.url, RINGKV_STORAGE_BACKEND: 'lmdb' } });
    nodes.set(name, p);
    readPort(name, p);
    return p;
  }

  const readPort = (name: string, p: NodeProcess) => ports.set(name, serverPortOf(p));

  const cli = (...args: string[]) => clusterCommand(nats.url)(...args);

  async function change(label: string, stageArgs: string[], after: readonly string[], during?: () => Promise<void>): Promise<LoadStats> {
    const before = (await readState(state))!.doc.layout as RangeLayout;
    const load = startLoad({ clients, buckets: BUCKETS, workers: 3, prefix: `${label}-`, pauseMs: 50 });
    // Before: 3 s of the same load (about 100 writes, so one slow write is not the p99 alone).
    await new Promise((r) => setTimeout(r, 3000));
    const baseline = load.stats().writeLatencies.length;
    await cli(...stageArgs);
    const plan = JSON.parse(await cli('plan', '--json')) as ClusterPlan;
    expect(plan.betweenStaying).toBe(0);
    expect(plan.moves.length).toBeGreaterThan(0);
    // During: from the moment the cluster state holds the transition (not from the start of
    // the commit command, whose process start-up is the test's, not the cluster's).
    let committedAt = 0;
    const watch = await state.watch((c) => {
      if (committedAt === 0 && c.key === STATE_KEY && !c.deleted && decodeState(c.value).transition) committedAt = Date.now();
    });
    await cli('commit');
    await vi.waitFor(() => expect(committedAt).toBeGreaterThan(0), { timeout: 10_000, interval: 20 });
    await watch.close();
    await during?.();
    const status = await vi.waitFor(
      async () => {
        const s = await clusterStatus(state, transport, { livenessMs: 2000 });
        expect(s.transition).toBeNull();
        expect(s.settled).toBe(true);
        expect(s.members.filter((m) => m.state === 'valid').map((m) => m.node)).toEqual([...after].sort());
        return s;
      },
      { timeout: 90_000, interval: 250 },
    );
    const settleMs = Date.now() - committedAt;
    const stats = await load.stop();
    for (const a of stats.acked.values()) acked.set(`${a.bucket}\u0000${a.key}`, a);
    const lat = stats.writeLatencies;
    const transfers = (await readTransfers(state))!.doc.items;
    const plannedBytes = plan.moves.reduce((s, m) => s + m.bytes, 0);
    const movedBytes = transfers.reduce((s, t) => s + t.doneBytes, 0);
    report.push({
      label,
      epoch: status.epoch,
      ok: stats.ok,
      failed: stats.failed,
      failures: stats.failures.slice(0, 3),
      availability: stats.ok / (stats.ok + stats.failed),
      longestWriteGapMs: stats.longestWriteGapMs,
      p99Before: percentile(lat.slice(0, baseline).map((l) => l.ms), 99),
      p99During: percentile(lat.filter((l) => l.at >= committedAt && l.at <= committedAt + settleMs).map((l) => l.ms), 99),
      plannedBytes,
      movedBytes,
      settleMs,
    });

    // Moved = planned: the same source -> destination pairs and buckets, bytes within 1%.
    expect(new Map(transfers.map((t) => [`${t.from}>${t.to}`, t.doneBuckets]))).toEqual(new Map(plan.moves.map((m) => [`${m.from}>${m.to}`, m.buckets])));
    for (const t of transfers) {
      expect(t.status).toBe('done');
      expect(before.members.includes(t.from) && after.includes(t.from) && before.members.includes(t.to) && after.includes(t.to)).toBe(false);
    }
    expect(Math.abs(movedBytes - plannedBytes) / plannedBytes, `moved ${movedBytes} vs planned ${plannedBytes}`).toBeLessThanOrEqual(0.01);

    // Every acknowledged write (of every change so far) reads back through every node.
    const wrong = await unreadAcknowledged([...acked.values()], ports, after);
    expect(wrong.slice(0, 5), `${wrong.length} acknowledged writes read back wrong`).toEqual([]);

    // Each bucket exists on exactly its owner in the committed table: no orphans, none missing.
    const layout = (await readState(state))!.doc.layout as RangeLayout;
    expect(layout.table).toEqual(plan.to.strategy === 'range' ? plan.to.table : null);
    expect(status.table).toEqual(layout.table);
    expect(await cli('status')).toContain(`table: ${renderTable(layout.table)}`);
    const holdings = await askHoldings(transport, [...nodes.keys()], 5000);
    for (const h of holdings) {
      expect(h.ok, `${h.node} answered`).toBe(true);
      const held = new Set(h.buckets.map((b) => new TextDecoder().decode(b.bucket)));
      for (const b of BUCKETS) expect(held.has(b), `${b} on ${h.node}`).toBe(findEntry(layout.table, b.charCodeAt(0))!.node === h.node);
    }
    return stats;
  }

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'ringkv-mrange-'));
    nats = await startNatsServer();
    await Promise.all(SEEDS.map((n) => start(n, true)));
    state = await connectClusterStateKv({ url: nats.url });
    transport = await connectNatsTransport({ url: nats.url, name: 'range membership test' });
    // The load enters through a and c; b is the node killed while it sends.
    clients.push(textLoadClient(() => ['a@rng', 'c@rng'].filter((n) => nodes.get(n)?.running()).map((n) => ports.get(n)!)));
    clients.push(textLoadClient(() => ['c@rng', 'a@rng'].filter((n) => nodes.get(n)?.running()).map((n) => ports.get(n)!)));
    for (const b of BUCKETS) expect(await clients[0]!.create(b)).toBe('OK');
    const writers = Array.from({ length: 6 }, () => textLoadClient(() => SEEDS.map((n) => ports.get(n)!)));
    for (const b of BUCKETS) {
      await Promise.all(
        Array.from({ length: PRELOAD_KEYS }, async (_, k) => {
          expect(await writers[k % writers.length]!.put(b, `pre${k}`, VALUE)).toBe('OK');
          acked.set(`${b}\u0000pre${k}`, { bucket: b, key: `pre${k}`, value: VALUE });
        }),
      );
    }
    for (const w of writers) w.close();
  }, 120_000);

  afterAll(async () => {
    for (const c of clients) c.close();
    await Promise.all([...nodes.values()].map((n) => n.kill('SIGKILL')));
    await transport?.close();
    await state?.close();
    await nats?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
    console.log(`[membership-range] ${JSON.stringify(report, null, 1)}`);
  });

  it('3 -> 4: d (a file with no table) joins and takes half of the heaviest range; writes stay available', async () => {
    const d = await start('d@rng');
    expect(d.output()).toMatch(/not a member of the cluster/);
    const stats = await change('join-d', ['join', 'd@rng'], [...SEEDS, 'd@rng']);
    expect(stats.ok / (stats.ok + stats.failed)).toBeGreaterThanOrEqual(0.999);
    expect(stats.longestWriteGapMs).toBeLessThanOrEqual(1000);
  }, 180_000);

  it('4 -> 3: b leaves; SIGKILLed while it sends, it resumes after its restart, then holds nothing', async () => {
    await change('leave-b', ['leave', 'b@rng'], ['a@rng', 'c@rng', 'd@rng'], async () => {
      await vi.waitFor(
        async () => {
          const doc = await readTransfers(state);
          expect(doc?.doc.items.some((i) => i.from === 'b@rng' && i.status === 'running' && i.doneBytes > 0 && i.doneBuckets < i.buckets.length)).toBe(true);
        },
        { timeout: 30_000, interval: 20 },
      );
      const b = nodes.get('b@rng')!;
      await b.kill('SIGKILL');
      await new Promise((r) => setTimeout(r, 1000));
      await b.restart();
      readPort('b@rng', b);
    });
    const [b] = await askHoldings(transport, ['b@rng']);
    expect(b!.buckets).toEqual([]);
  }, 180_000);
});
