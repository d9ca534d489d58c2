/**
 * The ring's acceptance scenario with real processes: three `ringkv node start` nodes from
 * config/ring/{a,b,c}.json over a real nats-server, N = 3, R = 2, W = 2. Write 1,000 keys,
 * SIGKILL one node, read everything back and keep writing, restart it (empty: memory storage),
 * and watch hinted handoff and read repair bring it up to date. No acknowledged write is lost.
 * Then: concurrent writes from two coordinators converge, and the text server works unchanged.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, expect, it, vi } from 'vitest';
import { KV_FUNCTIONS, kvCall, remoteRouter, type KvArgs, type KvOp, type RouteOptions, type Transport, type VersionedReply } from '@ringkv/core';
import { connectNatsTransport } from '@ringkv/nats';
import { describeDistributed, startNatsServer, type NatsServer, startNodeProcesses, type NodeProcesses, GUIDE_SESSION, openClient, runGuideSession } from '@ringkv/test-utils';

const A = 'a@ringkv';
const B = 'b@ringkv';
const C = 'c@ringkv';
const BUCKET = 'inventory';
const KEYS = 1000;
const dec = new TextDecoder();

describeDistributed('ring: 3 node processes over NATS, N=3 R=2 W=2, SIGKILL and restart', () => {
  let nats: NatsServer;
  let dir: string;
  let nodes: NodeProcesses;
  let client: Transport;
  /** The value of every acknowledged write, by key. */
  const acknowledged = new Map<string, string>();

  const route = <O extends KvOp>(via: string, op: O, args: KvArgs<O>, options?: RouteOptions) =>
    kvCall(remoteRouter(client, via, { timeoutMs: 9_000 }), op, args, options);

  /** What `node` holds for `key` on its own (a replica-level read, no coordination). */
  async function held(node: string, key: string): Promise<string | undefined> {
    const reply = (await client.request(node, { type: 'ring.apply', body: { bucket: BUCKET, mod: KV_FUNCTIONS.get.mod, fun: KV_FUNCTIONS.get.fun, args: [BUCKET, key], meta: { mode: 'read' } } }, { timeoutMs: 5000 })) as VersionedReply;
    const siblings = reply.objects.find((o) => o.key.length > 0)?.siblings ?? [];
    const winner = [...siblings].sort((x, y) => x.version.ts - y.version.ts || (x.version.actor < y.version.actor ? -1 : 1)).at(-1);
    return winner && !winner.tombstone ? dec.decode(winner.value as Uint8Array) : undefined;
  }

  async function inBatches<T>(items: readonly T[], size: number, fn: (item: T) => Promise<void>): Promise<void> {
    for (let i = 0; i < items.length; i += size) await Promise.all(items.slice(i, i + size).map(fn));
  }

  async function putAll(via: string, entries: readonly [string, string][]): Promise<void> {
    await inBatches(entries, 25, async ([k, v]) => {
      expect(await route(via, 'put', [BUCKET, k, v])).toBe('ok');
      acknowledged.set(k, v);
    });
  }

  async function missingOn(node: string): Promise<string[]> {
    const missing: string[] = [];
    await inBatches([...acknowledged], 50, async ([k, v]) => {
      if ((await held(node, k)) !== v) missing.push(k);
    });
    return missing;
  }

  beforeAll(async () => {
    nats = await startNatsServer();
    dir = mkdtempSync(join(tmpdir(), 'ringkv-ring-kill-'));
    const specs = ['a', 'b', 'c'].map((n) => {
      const source = fileURLToPath(new URL(`../../config/ring/${n}.json`, import.meta.url));
      const config = JSON.parse(readFileSync(source, 'utf8')) as { ring: Record<string, unknown> };
      // Anti-entropy off: this scenario is about hinted handoff and read repair on their own
      // (anti-entropy would repair C before the reads; test/e2e/ring-anti-entropy-nats.test.ts).
      config.ring = { ...config.ring, r: 2, w: 2, antiEntropy: { enabled: false } };
      const file = join(dir, `${n}.json`);
      writeFileSync(file, JSON.stringify(config));
      return { config: file, env: { NATS_URL: nats.url, PORT: '0', RINGKV_CONFIG_DIR: dir } };
    });
    nodes = await startNodeProcesses(specs);
    client = await connectNatsTransport({ url: nats.url, name: 'ring-kill test client' });
  }, 60_000);

  afterAll(async () => {
    await client?.close();
    await nodes?.stop();
    await nats?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  }, 60_000);

  it('writes 1,000 keys, survives SIGKILL of one node, and brings it back up to date by hinted handoff and read repair', async () => {
    expect(await route(A, 'create', [BUCKET])).toBe('ok');
    await putAll(A, Array.from({ length: KEYS }, (_, i) => [`k${i}`, `v${i}`] as [string, string]));
    expect(await missingOn(C)).toEqual([]);

    const c = nodes.byName(C);
    await c.kill('SIGKILL');

    // Every acknowledged write reads back through the two live nodes ...
    await inBatches([...acknowledged], 50, async ([k, v]) => {
      const reply = (await route(k.length % 2 ? A : B, 'get', [BUCKET, k])) as { value: Uint8Array };
      expect(dec.decode(reply.value)).toBe(v);
    });
    // ... and writing goes on: new keys, and overwrites of old ones.
    const during = [
      ...Array.from({ length: 200 }, (_, i) => [`k${KEYS + i}`, `late${i}`] as [string, string]),
      ...Array.from({ length: 100 }, (_, i) => [`k${i}`, `new${i}`] as [string, string]),
    ];
    await putAll(B, during);

    await c.restart();
    // Hinted handoff: what was written while C was down reaches it without anyone reading it.
    await vi.waitFor(async () => {
      const missing = new Set(await missingOn(C));
      expect(during.filter(([k]) => missing.has(k))).toEqual([]);
    }, { timeout: 20_000, interval: 200 });
    // The rest (written before the kill) was lost with C's memory: reads repair it.
    expect((await missingOn(C)).length).toBeGreaterThan(0);
    await inBatches([...acknowledged], 50, async ([k, v]) => {
      const reply = (await route(A, 'get', [BUCKET, k], { r: 3 })) as { value: Uint8Array };
      expect(dec.decode(reply.value)).toBe(v);
    });
    await vi.waitFor(async () => expect(await missingOn(C)).toEqual([]), { timeout: 20_000, interval: 200 });
    // No acknowledged write lost anywhere.
    for (const node of [A, B]) expect(await missingOn(node)).toEqual([]);
  }, 120_000);

  it('resolves concurrent writes to one key from two coordinators the same way on every replica', async () => {
    for (let round = 0; round < 5; round++) {
      const key = `race${round}`;
      await Promise.all([route(A, 'put', [BUCKET, key, `a${round}`]), route(B, 'put', [BUCKET, key, `b${round}`])]);
      const answers = await Promise.all([A, B, C].map(async (via) => dec.decode(((await route(via, 'get', [BUCKET, key], { r: 3 })) as { value: Uint8Array }).value)));
      expect(new Set(answers).size).toBe(1);
      expect([`a${round}`, `b${round}`]).toContain(answers[0]);
      await vi.waitFor(async () => {
        expect(await Promise.all([A, B, C].map((n) => held(n, key)))).toEqual([answers[0], answers[0], answers[0]]);
      }, { timeout: 5000, interval: 200 });
    }
  }, 60_000);

  it('serves the text protocol unchanged on the ring-configured cluster', async () => {
    const port = Number(nodes.byName(A).output().match(/port (\d+)\)/)?.[1]);
    expect(port).toBeGreaterThan(0);
    const c = await openClient(port);
    try {
      expect(await runGuideSession(c)).toEqual(GUIDE_SESSION.map(([, reply]) => reply));
    } finally {
      c.close();
    }
  }, 30_000);
});
