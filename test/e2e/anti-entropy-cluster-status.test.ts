/**
 * Issue 14's acceptance as an operator sees it, through `ringkv cluster status --json`, with
 * three managed `ringkv node start` processes over NATS (cluster state in JetStream KV):
 *
 * - LMDB: 10,000 keys; node c SIGKILLed, its data folder deleted, restarted; with no client
 *   reads at all, within two anti-entropy intervals `cluster status` shows c holding as many
 *   keys as the others, and its anti-entropy synced.
 * - Memory (every restart is a wipe): a rolling restart under a load of unique writes, each node
 *   restarted only once `cluster status` reports the one before synced and holding every key;
 *   every acknowledged write reads back through every node afterwards.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { kvCall, remoteRouter, type Transport } from '@ringkv/core';
import { connectNatsTransport } from '@ringkv/nats';
import {
  describeDistributed,
  clusterCommand,
  serverPortOf,
  startLoad,
  startNatsServer,
  startNodeProcess,
  textLoadClient,
  type NatsServer,
  type NodeProcess,
  type TextLoadClient,
} from '@ringkv/test-utils';
import { afterAll, beforeAll, expect, it, vi } from 'vitest';
import type { ClusterStatus } from 'ringkv';

const NAMES = ['a@aae', 'b@aae', 'c@aae'];
const INTERVAL_MS = 5000;
/** The rolling restart waits for three rounds of exchanges: shorter rounds keep it short. */
const ROLLING_INTERVAL_MS = 2000;

interface Cluster {
  nats: NatsServer;
  dir: string;
  nodes: Map<string, NodeProcess>;
  ports: Map<string, number>;
  start(name: string): Promise<NodeProcess>;
  status(): Promise<ClusterStatus>;
  stop(): Promise<void>;
}

async function startCluster(backend: 'lmdb' | 'memory', intervalMs: number): Promise<Cluster> {
  const nats = await startNatsServer();
  const dir = mkdtempSync(join(tmpdir(), `ringkv-aae-status-${backend}-`));
  const nodes = new Map<string, NodeProcess>();
  const ports = new Map<string, number>();
  const configFor = (name: string): string => {
    const short = name.split('@')[0]!;
    const path = join(dir, `${short}.json`);
    writeFileSync(
      path,
      JSON.stringify({
        node: name,
        strategy: 'ring',
        roles: ['server', 'storage'],
        server: { port: 0 },
        cluster: { managed: true, heartbeatMs: 200, livenessMs: 2000 },
        storage: backend === 'lmdb' ? { backend, path: join(dir, `data-${short}`), syncIntervalMs: 100 } : { backend },
        ring: {
          members: NAMES,
          n: 3,
          r: 2,
          w: 2,
          vnodes: 64,
          pingIntervalMs: 200,
          pingTimeoutMs: 1000,
          // Hinted handoff would refill a wiped node too: this is about anti-entropy alone.
          handoffIntervalMs: 3_600_000,
          antiEntropy: { intervalMs },
        },
      }),
    );
    return path;
  };
  const cluster: Cluster = {
    nats,
    dir,
    nodes,
    ports,
    async start(name) {
      const p = await startNodeProcess({ config: configFor(name), env: { NATS_URL: nats.url, RINGKV_STORAGE_BACKEND: backend }, readyTimeoutMs: 60_000 });
      nodes.set(name, p);
      ports.set(name, serverPortOf(p));
      return p;
    },
    async status() {
      return JSON.parse(await clusterCommand(nats.url)('status', '--json')) as ClusterStatus;
    },
    async stop() {
      await Promise.all([...nodes.values()].map((n) => n.kill('SIGKILL')));
      await nats.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
  await Promise.all(NAMES.map((n) => cluster.start(n)));
  return cluster;
}

const keysOf = (s: ClusterStatus, node: string): number => s.members.find((m) => m.node === node)?.keys ?? -1;

describeDistributed('anti-entropy through `ringkv cluster status` (issue 14)', () => {
  let lmdb: Cluster;
  let client: Transport;
  const KEYS = 10_000;

  beforeAll(async () => {
    lmdb = await startCluster('lmdb', INTERVAL_MS);
    client = await connectNatsTransport({ url: lmdb.nats.url, name: 'aae status test' });
  }, 90_000);
  afterAll(async () => {
    await client?.close();
    await lmdb?.stop();
  });

  it('a node whose data folder was deleted holds every key again within two intervals, with no reads; status shows it', async () => {
    const route = remoteRouter(client, NAMES[0]!, { timeoutMs: 9000 });
    await vi.waitFor(async () => expect(await kvCall(route, 'create', ['stock'])).toBe('ok'), { timeout: 20_000, interval: 250 });
    for (let i = 0; i < KEYS; i += 250) {
      const answers = await Promise.all(Array.from({ length: 250 }, (_, j) => kvCall(route, 'put', ['stock', `k${i + j}`, `v${i + j}`])));
      expect(answers.every((x) => x === 'ok')).toBe(true);
    }
    // Every replica has every key before the wipe (N = 3 of 3 members).
    const full = await vi.waitFor(
      async () => {
        const s = await lmdb.status();
        for (const n of NAMES) expect(keysOf(s, n)).toBe(KEYS);
        return s;
      },
      { timeout: 30_000, interval: 500 },
    );
    expect(full.members.every((m) => m.antiEntropy !== null && m.antiEntropy !== undefined)).toBe(true);

    const c = lmdb.nodes.get(NAMES[2]!)!;
    await c.kill('SIGKILL');
    rmSync(join(lmdb.dir, 'data-c'), { recursive: true, force: true });
    await lmdb.start(NAMES[2]!);
    const restarted = Date.now();
    const back = await vi.waitFor(
      async () => {
        const s = await lmdb.status();
        expect(keysOf(s, NAMES[2]!)).toBe(keysOf(s, NAMES[0]!));
        return s;
      },
      { timeout: 2 * INTERVAL_MS + 10_000, interval: 250 },
    );
    const tookMs = Date.now() - restarted;
    console.log(`anti-entropy via cluster status: wiped node back to ${keysOf(back, NAMES[2]!)} keys in ${tookMs} ms (interval ${INTERVAL_MS} ms)`);
    expect(keysOf(back, NAMES[2]!)).toBe(KEYS);
    // Two intervals, plus what a loaded machine takes to run the status command itself.
    expect(tookMs).toBeLessThan(2 * INTERVAL_MS + 5000);
    // The peers' exchanges with it pushed what it lacked (counted by the side that started each).
    const repaired = back.members.filter((m) => m.node !== NAMES[2]).reduce((n, m) => n + (m.antiEntropy?.repairs ?? 0), 0);
    expect(repaired).toBeGreaterThanOrEqual(KEYS);
    await vi.waitFor(async () => expect((await lmdb.status()).members.find((m) => m.node === NAMES[2])?.antiEntropy?.synced).toBe(true), {
      timeout: 3 * INTERVAL_MS,
      interval: 500,
    });
  }, 180_000);
});

describeDistributed('a rolling restart of a memory-backed ring, paced by `ringkv cluster status` (issue 14)', () => {
  let mem: Cluster;
  const clients: TextLoadClient[] = [];

  beforeAll(async () => {
    mem = await startCluster('memory', ROLLING_INTERVAL_MS);
  }, 90_000);
  afterAll(async () => {
    for (const c of clients) c.close();
    await mem?.stop();
  });

  it('loses no acknowledged write when each node waits for the one before to be synced', async () => {
    const livePorts = () => [...mem.ports.values()];
    const setup = textLoadClient(livePorts);
    clients.push(setup);
    const BUCKETS = ['r0', 'r1', 'r2', 'r3'];
    for (const b of BUCKETS) await vi.waitFor(async () => expect(await setup.create(b)).toBe('OK'), { timeout: 20_000, interval: 250 });
    const loadClients = [0, 1, 2].map(() => textLoadClient(livePorts, 5000));
    clients.push(...loadClients);
    const load = startLoad({ clients: loadClients, buckets: BUCKETS, workers: 3, prefix: 'roll-' });
    const synced = async (name: string) =>
      vi.waitFor(
        async () => {
          const s = await mem.status();
          const m = s.members.find((x) => x.node === name);
          expect(m?.up, JSON.stringify(m)).toBe(true);
          expect(m?.antiEntropy?.synced, JSON.stringify(m)).toBe(true);
          // Holds what the others hold (writes keep arriving: within what a second adds).
          const most = Math.max(...s.members.map((x) => x.keys));
          expect(m!.keys).toBeGreaterThanOrEqual(most - 200);
          return s;
        },
        { timeout: 4 * ROLLING_INTERVAL_MS + 30_000, interval: 500 },
      );
    await new Promise((r) => setTimeout(r, 1000));
    for (const name of NAMES) {
      const p = mem.nodes.get(name)!;
      mem.ports.delete(name);
      await p.kill('SIGTERM');
      await mem.start(name);
      await synced(name);
    }
    const stats = await load.stop();
    console.log(`rolling restart paced by cluster status: ${stats.acked.size} acknowledged, ${stats.failed} failed`);
    expect(stats.acked.size).toBeGreaterThan(100);
    // Every acknowledged write, read back through every node.
    const items = [...stats.acked.values()];
    for (const name of NAMES) {
      const reader = textLoadClient(() => [mem.ports.get(name)!]);
      clients.push(reader);
      const got = await reader.getMany(items.map(({ bucket, key }) => ({ bucket, key })));
      const lost = items.filter((it, i) => got[i] !== it.value);
      expect(lost.slice(0, 5), `${lost.length} acknowledged writes not read back through ${name}`).toEqual([]);
    }
  }, 240_000);
});
