/**
 * Issue 13's acceptance on the ring, with real node processes over NATS (cluster state in
 * JetStream KV), N=3 R=2 W=2, LMDB storage (a folder per node: a SIGKILLed node keeps its
 * data), driven by the `ringkv cluster` commands as an
 * operator would (docs/operations.md), under a continuous load of unique writes and reads
 * through the text servers:
 *
 *   3 -> 4 (join d; SIGKILL a node while it sends data, then restart it)
 *   4 -> 5 (join e; the nats-server restarts meanwhile)
 *   5 -> 4 (leave b)
 *   replace e by f
 *
 * After each change settles: every acknowledged write reads back through every node; each
 * bucket is held by exactly its replica set; the buckets moved are the plan's and the bytes
 * within 1% of it; nothing moved between two nodes that both stayed; transfer limits held in
 * every status sample and progress only grew. A node started with a member list that
 * disagrees with the cluster is reported. The write p99 before and during each change is
 * logged, not asserted: on two shared cores its ratio moves from run to run (docs/operations.md,
 * limits; `npm run bench -- membership` measures it side by side).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { decodeState, readSeen, readState, readTransfers, STATE_KEY, type ClusterStateStore, type RingLayout, type Transport } from '@ringkv/core';
import { connectClusterStateKv, connectNatsTransport } from '@ringkv/nats';
import { createRing, TRANSFER_PULL_MESSAGE } from '@ringkv/ring';
import { askHoldings, clusterStatus, type ClusterPlan, type ClusterStatus } from 'ringkv';
import { settledState } from '@ringkv/test-utils/managed-cluster';
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
  managedRingLmdbConfig,
} from '@ringkv/test-utils';
import { afterAll, beforeAll, expect, it, vi } from 'vitest';

const SEEDS = ['a@mship', 'b@mship', 'c@mship'];
const BUCKETS = Array.from({ length: 12 }, (_, i) => `b${i}`);
const PRELOAD_KEYS = 40;
// Most of what moves exists when the plan is made (the load's writes after it move too, and
// make the moved bytes exceed the plan's: kept well under 1% of it).
const VALUE = 'x'.repeat(8000);

describeDistributed('membership over NATS: join, join, leave, replace under load (issue 13)', () => {
  let nats: NatsServer;
  let dir: string;
  let state: ClusterStateStore;
  let transport: Transport;
  const nodes = new Map<string, NodeProcess>();
  const ports = new Map<string, number>();
  const clients: TextLoadClient[] = [];
  const acked = new Map<string, { bucket: string; key: string; value: string }>();
  const report: Record<string, unknown>[] = [];


  async function start(name: string, members: readonly string[] = []): Promise<NodeProcess> {
    const p = await startNodeProcess({ config: managedRingLmdbConfig(dir, name, members), env: { NATS_URL: nats.url, RINGKV_STORAGE_BACKEND: 'lmdb' } });
    nodes.set(name, p);
    readPort(name, p);
    return p;
  }

  const readPort = (name: string, p: NodeProcess) => ports.set(name, serverPortOf(p));

  const cli = (...args: string[]) => clusterCommand(nats.url)(...args);

  async function settle(members: readonly string[]): Promise<ClusterStatus> {
    // The transition's end first, from the cluster state alone: `cluster status` asks every
    // node for everything it holds, and asking that four times a second through the whole
    // change would load the nodes whose latency the test measures.
    try {
      await vi.waitFor(async () => expect((await readState(state))?.doc.transition).toBeUndefined(), { timeout: 90_000, interval: 100 });
    } catch (err) {
      // Stuck: say where each transfer is and what the nodes last said, not only the phase.
      const transfers = await readTransfers(state).catch((e: unknown) => String(e));
      const logs = [...nodes.entries()].map(([n, p]) => `--- ${n} (${p.running() ? 'running' : 'stopped'})\n${p.output().split('\n').slice(-15).join('\n')}`);
      throw new Error(`${(err as Error).message}\ntransfers: ${JSON.stringify(transfers)}\n${logs.join('\n')}`);
    }
    return vi.waitFor(
      async () => {
        const s = await clusterStatus(state, transport, { livenessMs: 2000 });
        expect(s.transition, JSON.stringify(s.transition)).toBeNull();
        expect(s.settled).toBe(true);
        expect(
          s.members
            .filter((m) => m.state === 'valid')
            .map((m) => m.node)
            .sort(),
        ).toEqual([...members].sort());
        expect(s.members.every((m) => !members.includes(m.node) || m.epoch === s.epoch)).toBe(true);
        // Every member, not only those whose heartbeat is fresh, acknowledged the epoch and swept
        // what it no longer owns: a transition's cleanup does not wait for a node it cannot hear,
        // and a node back from a SIGKILL sweeps on its own next tick (in one CI rehearsal the
        // restarted node's heartbeat was 4.5 s old when the others had finished, and it still
        // held a bucket it had given away). The holdings are checked after this.
        await settledState(state, members);
        return s;
      },
      { timeout: 90_000, interval: 250 },
    );
  }

  /**
   * Samples `cluster status` every 200 ms until stopped, checking the transfer limits and that
   * progress never goes back. It counts the samples taken while a transition was in the state
   * (how many depends on how fast the change runs, so the test asks for at least one) and keeps
   * the most transfers it saw running into and out of one node.
   */
  function sampleStatus(): {
    stop(): Promise<{ samples: number; transitionSamples: number; maxIn: number; maxOut: number; timeline: string[] }>;
  } {
    let stopped = false;
    const t0 = Date.now();
    const timeline: string[] = [];
    let lastPhase = '';
    const last = new Map<string, number>();
    let samples = 0;
    let transitionSamples = 0;
    let maxIn = 0;
    let maxOut = 0;
    const run = (async () => {
      while (!stopped) {
        try {
          const s = await clusterStatus(state, transport, { timeoutMs: 1000, livenessMs: 2000 });
          samples++;
          if (s.transition) transitionSamples++;
          const phase = `${s.epoch}:${s.transition?.phase ?? 'stable'}`;
          if (phase !== lastPhase) timeline.push(`${Date.now() - t0}ms ${phase}`);
          lastPhase = phase;
          const running = s.transfers.filter((t) => t.status === 'running');
          for (const node of new Set(running.flatMap((t) => [t.from, t.to]))) {
            const into = running.filter((t) => t.to === node).length;
            const out = running.filter((t) => t.from === node).length;
            maxIn = Math.max(maxIn, into);
            maxOut = Math.max(maxOut, out);
            expect(into, `transfers into ${node}`).toBeLessThanOrEqual(s.limits.in);
            expect(out, `transfers out of ${node}`).toBeLessThanOrEqual(s.limits.out);
          }
          for (const t of s.transfers) {
            const key = `${s.transition?.id}/${t.id}`;
            expect(t.doneBytes, `progress of ${key}`).toBeGreaterThanOrEqual(last.get(key) ?? 0);
            last.set(key, t.doneBytes);
          }
        } catch (err) {
          if ((err as Error).name === 'AssertionError') throw err;
          // The nats-server restarting: no sample this round.
        }
        await new Promise((r) => setTimeout(r, 200));
      }
    })();
    return {
      async stop() {
        stopped = true;
        await run;
        return { samples, transitionSamples, maxIn, maxOut, timeline };
      },
    };
  }

  /** Runs one membership change end to end and checks what the issue asks of it. */
  async function change(
    label: string,
    stageArgs: string[][],
    after: readonly string[],
    during?: (plan: ClusterPlan) => Promise<void>,
  ): Promise<LoadStats> {
    const before = (await readState(state))!.doc;
    const beforeLayout = before.layout as RingLayout;
    const load = startLoad({ clients, buckets: BUCKETS, workers: 3, prefix: `${label}-`, pauseMs: 70 });
    // Before: 3 s of the same load (about 100 writes, so one slow write is not the p99 alone).
    await new Promise((r) => setTimeout(r, 3000));
    const baseline = load.stats().writeLatencies.length;
    for (const args of stageArgs) await cli(...args);
    const plan = JSON.parse(await cli('plan', '--json')) as ClusterPlan;
    expect(plan.betweenStaying).toBe(0);
    const sampler = sampleStatus();
    // During: from the moment the cluster state holds the transition (not from the start of
    // the commit command, whose process start-up is the test's, not the cluster's).
    let committedAt = 0;
    const watch = await state.watch((c) => {
      if (committedAt === 0 && c.key === STATE_KEY && !c.deleted && decodeState(c.value).transition) committedAt = Date.now();
    });
    await cli('commit');
    await vi.waitFor(() => expect(committedAt).toBeGreaterThan(0), { timeout: 10_000, interval: 20 });
    await watch.close();
    await during?.(plan);
    await settle(after);
    const settleMs = Date.now() - committedAt;
    const limits = await sampler.stop();
    const stats = await load.stop();
    for (const a of stats.acked.values()) acked.set(`${a.bucket}\u0000${a.key}`, a);

    // Availability: share of client operations that succeeded, and the longest write gap.
    const availability = stats.ok / (stats.ok + stats.failed);
    const lat = stats.writeLatencies;
    const p99Before = percentile(
      lat.slice(0, baseline).map((l) => l.ms),
      99,
    );
    const p99During = percentile(
      lat.filter((l) => l.at >= committedAt && l.at <= committedAt + settleMs).map((l) => l.ms),
      99,
    );

    // Moved = planned: the transfers' buckets per source -> destination are the plan's, bytes within 1%.
    const transfers = (await readTransfers(state))!.doc.items;
    const planned = new Map(plan.moves.map((m) => [`${m.from}>${m.to}`, m.buckets]));
    const moved = new Map(transfers.map((t) => [`${t.from}>${t.to}`, t.doneBuckets]));
    expect(moved).toEqual(planned);
    const plannedBytes = plan.moves.reduce((s, m) => s + m.bytes, 0);
    const movedBytes = transfers.reduce((s, t) => s + t.doneBytes, 0);
    const staying = after.filter((m) => beforeLayout.members.includes(m));
    for (const t of transfers) {
      expect(t.status).toBe('done');
      expect(staying.includes(t.from) && staying.includes(t.to), `${t.from} -> ${t.to} moved between staying nodes`).toBe(false);
    }

    report.push({
      label,
      ok: stats.ok,
      failed: stats.failed,
      failures: stats.failures.slice(0, 5),
      availability,
      longestWriteGapMs: stats.longestWriteGapMs,
      p99Before,
      p99During,
      plannedBytes,
      movedBytes,
      settleMs,
      ...limits,
    });
    // Every acknowledged write (of every change so far) reads back through every node: two
    // pipelined connections per node, all nodes at once.
    const wrong = await unreadAcknowledged([...acked.values()], ports, after);
    expect(wrong.slice(0, 5), `${wrong.length} acknowledged writes read back wrong`).toEqual([]);

    // Each bucket is held by exactly its replica set: no orphans, none missing.
    const layout = (await readState(state))!.doc.layout as RingLayout;
    const ring = createRing({ members: layout.members, vnodes: layout.vnodes });
    const holdings = await askHoldings(
      transport,
      [...nodes.keys()].filter((n) => nodes.get(n)!.running()),
      5000,
    );
    for (const h of holdings) {
      expect(h.ok, `${h.node} answered`).toBe(true);
      const held = new Set(h.buckets.filter((b) => b.keys > 0).map((b) => new TextDecoder().decode(b.bucket)));
      for (const b of BUCKETS) {
        const owners = ring.preferenceList(b, 3).map((r) => r.node);
        if (held.has(b) !== owners.includes(h.node)) {
          // Say what is there (or what is missing) before failing: which keys, and each node's cleanup state.
          const page = (await transport
            .request(
              h.node,
              { type: TRANSFER_PULL_MESSAGE, body: { bucket: new TextEncoder().encode(b), after: null, limit: 5 } },
              { timeoutMs: 5000 },
            )
            .catch((err: unknown) => ({ objects: [], error: String(err) }))) as { objects: Array<{ key: Uint8Array }> };
          const seen = await readSeen(state);
          expect.fail(
            `${b} on ${h.node}: held ${held.has(b)}, owners ${owners.join(', ')} (epoch ${String((await readState(state))!.doc.epoch)}); ` +
              `keys there: ${page.objects.map((o) => new TextDecoder().decode(o.key)).join(', ')}; seen: ${JSON.stringify(seen)}`,
          );
        }
      }
    }
    expect(Math.abs(movedBytes - plannedBytes) / plannedBytes, `moved ${movedBytes} vs planned ${plannedBytes}`).toBeLessThanOrEqual(0.01);
    // The limits were checked while this change ran (the run as a whole must also have seen
    // transfers running: checked with the last change).
    expect(limits.transitionSamples, limits.timeline.join('; ')).toBeGreaterThanOrEqual(1);
    return stats;
  }

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'ringkv-mship-'));
    nats = await startNatsServer();
    await Promise.all(SEEDS.map((n) => start(n, SEEDS)));
    state = await connectClusterStateKv({ url: nats.url });
    transport = await connectNatsTransport({ url: nats.url, name: 'membership test' });
    // The load enters through a and c; b is the node SIGKILLed while it sends (a client of the
    // killed process itself would lose its command in flight: that is the client's connection,
    // not the cluster's availability).
    clients.push(textLoadClient(() => ['a@mship', 'c@mship'].filter((n) => nodes.get(n)?.running()).map((n) => ports.get(n)!)));
    clients.push(textLoadClient(() => ['c@mship', 'a@mship'].filter((n) => nodes.get(n)?.running()).map((n) => ports.get(n)!)));
    for (const b of BUCKETS) expect(await clients[0]!.create(b)).toBe('OK');
    // About 3 MB per replica before the first change, so moves are mostly what existed at plan time.
    const writers = Array.from({ length: 8 }, () => textLoadClient(() => SEEDS.map((n) => ports.get(n)!)));
    for (const b of BUCKETS) {
      await Promise.all(
        Array.from({ length: PRELOAD_KEYS }, async (_, k) => {
          const reply = await writers[k % writers.length]!.put(b, `pre${k}`, VALUE);
          expect(reply).toBe('OK');
          acked.set(`${b}\u0000pre${k}`, { bucket: b, key: `pre${k}`, value: VALUE });
        }),
      );
    }
    for (const w of writers) w.close();
  }, 180_000);

  afterAll(async () => {
    for (const c of clients) c.close();
    await Promise.all([...nodes.values()].map((n) => n.kill('SIGKILL')));
    await transport?.close();
    await state?.close();
    await nats?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
    console.log(`[membership] ${JSON.stringify(report, null, 1)}`);
  });

  it('a joining node needs only name, strategy and roles: it waits as a non-member, then 3 -> 4 with a sending node SIGKILLed and restarted', async () => {
    const d = await start('d@mship');
    expect(d.output()).toMatch(/not a member of the cluster/);
    let killed = '';
    const stats = await change('join-d', [['join', 'd@mship']], [...SEEDS, 'd@mship'], async () => {
      // Once data flows, SIGKILL a node that sends, then bring it back: its transfers resume from their cursors.
      const t = await vi.waitFor(
        async () => {
          const doc = await readTransfers(state);
          const running = doc?.doc.items.find((i) => i.from === 'b@mship' && i.status === 'running' && i.doneBuckets < i.buckets.length);
          expect(running).toBeDefined();
          return running!;
        },
        { timeout: 30_000, interval: 20 },
      );
      killed = t.from;
      const victim = nodes.get(killed)!;
      await victim.kill('SIGKILL');
      await new Promise((r) => setTimeout(r, 1500));
      await victim.restart();
      readPort(killed, victim);
    });
    expect(killed).not.toBe('');
    expect(stats.ok / (stats.ok + stats.failed)).toBeGreaterThanOrEqual(0.999);
    expect(stats.longestWriteGapMs).toBeLessThanOrEqual(1000);
  }, 240_000);

  it('4 -> 5 while the nats-server restarts', async () => {
    await start('e@mship');
    const stats = await change('join-e', [['join', 'e@mship']], [...SEEDS, 'd@mship', 'e@mship'], async () => {
      await vi.waitFor(async () => expect((await readState(state))!.doc.transition?.phase).toBe('stream'), {
        timeout: 30_000,
        interval: 50,
      });
      await nats.restart();
    });
    // Calls between nodes ride through the restart (the transport waits for the reconnect and
    // resends what is safe to resend): clients barely notice. A call that is not safe to send
    // twice (a replica write during the transition, a forwarded route) and is in flight at the
    // instant the server dies fails with "outcome unknown", by design: with some 600 client
    // operations in this change that one failure is 0.16%, so this step alone is held to 99.5%
    // and the 99.9% is checked over all the changes together (in the last one).
    expect(stats.ok / (stats.ok + stats.failed)).toBeGreaterThanOrEqual(0.995);
    expect(stats.longestWriteGapMs).toBeLessThanOrEqual(1000);
  }, 240_000);

  it('5 -> 4: b leaves, ends holding nothing, and its departure keeps writes available', async () => {
    const stats = await change('leave-b', [['leave', 'b@mship']], ['a@mship', 'c@mship', 'd@mship', 'e@mship']);
    expect(stats.ok / (stats.ok + stats.failed)).toBeGreaterThanOrEqual(0.999);
    expect(stats.longestWriteGapMs).toBeLessThanOrEqual(1000);
    const [b] = await askHoldings(transport, ['b@mship']);
    expect(b!.buckets.filter((x) => x.keys > 0)).toEqual([]);
  }, 240_000);

  it('replace e by f', async () => {
    await start('f@mship');
    const stats = await change('replace-e', [['replace', 'e@mship', 'f@mship']], ['a@mship', 'c@mship', 'd@mship', 'f@mship']);
    expect(stats.ok / (stats.ok + stats.failed)).toBeGreaterThanOrEqual(0.999);
    // The bound over every change of this run together (the restart's included).
    const all = report.reduce<{ ok: number; failed: number }>((t, r) => ({ ok: t.ok + Number(r.ok), failed: t.failed + Number(r.failed) }), { ok: 0, failed: 0 });
    expect(report.map((r) => r.label)).toEqual(['join-d', 'join-e', 'leave-b', 'replace-e']);
    // The transfer limits were checked against transfers actually running, not only idle states.
    expect(Math.max(...report.map((r) => Number(r.maxIn))), 'most transfers seen running into one node').toBeGreaterThanOrEqual(1);
    expect(all.ok / (all.ok + all.failed), JSON.stringify(all)).toBeGreaterThanOrEqual(0.999);
  }, 240_000);

  it('a node whose config disagrees with the cluster says so, follows the cluster, and status reports it', async () => {
    const g = await start('g@mship', ['a@mship', 'b@mship', 'g@mship']);
    expect(g.output()).toMatch(/config file disagrees with the committed cluster state/);
    const s = JSON.parse(await cli('status', '--json')) as ClusterStatus;
    expect(s.warnings.join('\n')).toMatch(/g@mship: config file disagrees/);
    expect(s.members.find((m) => m.node === 'g@mship')?.state).toBe('not-member');
    // And it routes with the cluster's ring, not its file's: a write through it lands on the real owners.
    const c = textLoadClient(() => [ports.get('g@mship')!]);
    expect(await c.put('b0', 'via-g', 'yes')).toBe('OK');
    expect(await c.get('b0', 'via-g')).toBe('yes');
    c.close();
  }, 60_000);
});
