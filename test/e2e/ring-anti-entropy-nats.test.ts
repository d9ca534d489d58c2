/**
 * Active anti-entropy with real processes: three `ringkv node start` nodes over a real
 * nats-server (memory storage, so a restart is a wipe), 2,000 keys written, one node SIGKILLed
 * and restarted empty. With no client reads at all, anti-entropy alone brings every key back
 * within two intervals, and the nodes' logs show the exchanges and repairs.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, expect, it, vi } from 'vitest';
import { BUCKETS_MESSAGE, kvCall, remoteRouter, type BucketSummary, type Transport } from '@ringkv/core';
import { connectNatsTransport } from '@ringkv/nats';
import { describeDistributed, startNatsServer, startNodeProcesses, type NatsServer, type NodeProcesses } from '@ringkv/test-utils';

const A = 'a@ringkv';
const C = 'c@ringkv';
const BUCKET = 'stock';
const KEYS = 2000;
const INTERVAL_MS = 4000;

describeDistributed('anti-entropy: 3 node processes over NATS, SIGKILL, restart empty, no reads', () => {
  let nats: NatsServer;
  let dir: string;
  let nodes: NodeProcesses;
  let client: Transport;

  const keysOn = async (node: string): Promise<number> => {
    const list = (await client.request(node, { type: BUCKETS_MESSAGE, body: {} }, { timeoutMs: 5000 })) as BucketSummary[];
    return list.reduce((s, b) => s + b.keys, 0);
  };

  beforeAll(async () => {
    nats = await startNatsServer();
    dir = mkdtempSync(join(tmpdir(), 'ringkv-aae-'));
    const specs = ['a', 'b', 'c'].map((n) => {
      const source = fileURLToPath(new URL(`../../config/ring/${n}.json`, import.meta.url));
      const config = JSON.parse(readFileSync(source, 'utf8')) as { ring: Record<string, unknown> };
      config.ring = { ...config.ring, r: 2, w: 2, antiEntropy: { intervalMs: INTERVAL_MS } };
      const file = join(dir, `${n}.json`);
      writeFileSync(file, JSON.stringify({ ...config, storage: { backend: 'memory' } }));
      return { config: file, env: { NATS_URL: nats.url, PORT: '0', RINGKV_CONFIG_DIR: dir }, readyTimeoutMs: 60_000 };
    });
    nodes = await startNodeProcesses(specs);
    client = await connectNatsTransport({ url: nats.url, name: 'aae test client' });
  }, 60_000);

  afterAll(async () => {
    await client?.close();
    await nodes?.stop();
    await nats?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('a SIGKILLed node restarted empty holds every key again within two intervals, with no client reads', async () => {
    const route = remoteRouter(client, A, { timeoutMs: 9000 });
    expect(await kvCall(route, 'create', [BUCKET])).toBe('ok');
    for (let i = 0; i < KEYS; i += 50) {
      const answers = await Promise.all(Array.from({ length: 50 }, (_, j) => kvCall(route, 'put', [BUCKET, `k${i + j}`, `v${i + j}`])));
      expect(answers.every((x) => x === 'ok')).toBe(true);
    }
    await vi.waitFor(async () => expect(await keysOn(C)).toBe(KEYS), { timeout: 10_000, interval: 200 });

    const c = nodes.byName(C);
    await c.kill('SIGKILL');
    await c.restart();
    const restartedAt = Date.now();
    await vi.waitFor(async () => expect(await keysOn(C)).toBe(KEYS), { timeout: 2 * INTERVAL_MS + 2000, interval: 200 });
    const took = Date.now() - restartedAt;
    expect(took, nodes.output()).toBeLessThanOrEqual(2 * INTERVAL_MS);
    // Its activity is in the logs: trees built, exchanges that repaired c.
    await vi.waitFor(() => expect(nodes.output()).toMatch(/anti-entropy: exchange with c@ringkv: \d+ objects differed/), { timeout: 5000 });
    expect(c.output()).toMatch(/anti-entropy: trees built from \d+ objects/);
  }, 120_000);
});
