/**
 * `ringkv simulate --from-cluster` against a real 3-node cluster: nats-server plus three
 * `ringkv node start` processes. Buckets are created and filled through `route`; the simulation
 * must report exactly those names, with their stored sizes, on the nodes that hold them.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createNode, createRangeStrategy, remoteRouter, type RingkvNode } from '@ringkv/core';
import { connectNatsTransport, type NatsTransport } from '@ringkv/nats';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { describeDistributed, startNatsServer, type NatsServer, runRingkv, startNodeProcesses, type NodeProcesses } from '@ringkv/test-utils';

const TABLE = [
  { from: 0, to: 'h', node: 'n1@sim-e2e' },
  { from: 'i', to: 'q', node: 'n2@sim-e2e' },
  { from: 'r', to: 255, node: 'n3@sim-e2e' },
];

// bucket -> [key, value][]; sizes are key + value bytes, as the store counts them.
const DATA: Array<[string | Uint8Array, Array<[string, string]>]> = [
  ['apple', [['color', 'red'], ['weight', '150']]],
  ['cherry', [['k', 'v']]],
  ['kiwi', [['origin', 'new-zealand']]],
  ['zebra', []],
  [Uint8Array.of(0xff, 0x00, 0x7f), [['bin', 'ary\u0000bytes']]],
];

/** A bucket name as the JSON output writes it: the string when UTF-8, else its bytes. */
const jsonName = (b: string | Uint8Array) => (typeof b === 'string' ? b : { bytes: [...b] });
const sortByName = <T extends { bucket: unknown }>(list: T[]) => [...list].sort((a, b) => JSON.stringify(a.bucket).localeCompare(JSON.stringify(b.bucket)));
const size = (kvs: Array<[string, string]>) => kvs.reduce((s, [k, v]) => s + Buffer.byteLength(k) + Buffer.byteLength(v), 0);

describeDistributed('ringkv simulate --from-cluster (3 node processes over NATS)', () => {
  let nats: NatsServer;
  let nodes: NodeProcesses;
  let transport: NatsTransport;
  let client: RingkvNode;
  let dir: string;
  const configs: string[] = [];

  beforeAll(async () => {
    nats = await startNatsServer();
    dir = mkdtempSync(join(tmpdir(), 'ringkv-sim-e2e-'));
    for (const name of ['n1@sim-e2e', 'n2@sim-e2e', 'n3@sim-e2e']) {
      const file = join(dir, `${name.split('@')[0]}.json`);
      writeFileSync(file, JSON.stringify({ node: name, routingTable: TABLE, transport: 'nats', nats: { url: nats.url }, roles: ['storage'] }));
      configs.push(file);
    }
    nodes = await startNodeProcesses(configs.map((config) => ({ config, env: { NATS_URL: nats.url }, cwd: dir })));
    transport = await connectNatsTransport({ url: nats.url, name: 'sim-e2e client' });
    client = createNode({ name: 'client@sim-e2e', transport, strategy: createRangeStrategy(TABLE) });
    for (const [bucket, kvs] of DATA) {
      expect(await client.route(bucket, 'KV.Registry', 'create', [bucket])).toBe('ok');
      for (const [k, v] of kvs) expect(await client.route(bucket, 'KV.Bucket', 'put', [bucket, k, v])).toBe('ok');
    }
  });

  afterAll(async () => {
    await transport?.close();
    await nodes?.stop();
    await nats?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('reports the buckets really stored, with their sizes, on the nodes holding them', async () => {
    const run = await runRingkv(['simulate', '--from-cluster', '--config', configs[0]!, '--add-node', 'n4@sim-e2e', '--policy', 'split-loaded', '--json', '--list-buckets'], { cwd: dir });
    expect(run.stderr, nodes.output()).toBe('');
    expect(run.code).toBe(0);
    const report = JSON.parse(run.stdout) as {
      source: string;
      buckets: number;
      bytes: number;
      sizesKnown: boolean;
      cluster: Record<string, { buckets: number; bytes: number }>;
      bucketList: Array<{ bucket: unknown; bytes: number }>;
      results: Array<{ load: { before: Array<{ node: string; buckets: number; bytes: number }> }; range: { before: unknown[] } }>;
    };
    expect(report.buckets).toBe(DATA.length);
    expect(sortByName(report.bucketList)).toEqual(sortByName(DATA.map(([b, kvs]) => ({ bucket: jsonName(b), bytes: size(kvs) }))));
    expect(report.sizesKnown).toBe(true);
    expect(report.bytes).toBe(DATA.reduce((s, [, kvs]) => s + size(kvs), 0));
    expect(report.cluster).toEqual({
      'n1@sim-e2e': { buckets: 2, bytes: size(DATA[0]![1]) + size(DATA[1]![1]) },
      'n2@sim-e2e': { buckets: 1, bytes: size(DATA[2]![1]) },
      'n3@sim-e2e': { buckets: 2, bytes: size(DATA[4]![1]) },
    });
    // The simulation placed them with the cluster's own table: the same nodes, the same sizes.
    expect(report.results[0]!.range.before).toHaveLength(3);
    expect(report.results[0]!.load.before.map((l) => [l.node, l.buckets, l.bytes])).toEqual(
      Object.entries(report.cluster).map(([node, s]) => [node, s.buckets, s.bytes]),
    );

    // And the plan names the real buckets that would move to the new node.
    const plan = await runRingkv(['plan', '--config', configs[0]!, '--add-node', 'n4@sim-e2e', '--policy', 'split-loaded', '--from-cluster', '--json'], { cwd: dir });
    expect(plan.code, plan.stderr).toBe(0);
    const moved = (JSON.parse(plan.stdout) as { moved: Array<{ bucket: unknown; to: string }> }).moved;
    const names = new Set(DATA.map(([b]) => JSON.stringify(jsonName(b))));
    expect(moved.length).toBeGreaterThan(0);
    for (const m of moved) {
      expect(m.to).toBe('n4@sim-e2e');
      expect(names.has(JSON.stringify(m.bucket))).toBe(true);
    }
  });
});

describeDistributed('ringkv simulate --from-cluster (3 ring nodes, N=2, over NATS)', () => {
  const MEMBERS = ['r1@sim-e2e', 'r2@sim-e2e', 'r3@sim-e2e'];
  const BUCKETS = ['shopping', 'groceries', 'music', 'photos', 'zebra'];
  let nats: NatsServer;
  let nodes: NodeProcesses;
  let transport: NatsTransport;
  let dir: string;
  const configs: string[] = [];

  beforeAll(async () => {
    nats = await startNatsServer();
    dir = mkdtempSync(join(tmpdir(), 'ringkv-sim-e2e-ring-'));
    for (const name of MEMBERS) {
      const file = join(dir, `${name.split('@')[0]}.json`);
      writeFileSync(file, JSON.stringify({ node: name, strategy: 'ring', ring: { members: MEMBERS, n: 2 }, transport: 'nats', nats: { url: nats.url }, roles: ['storage'] }));
      configs.push(file);
    }
    nodes = await startNodeProcesses(configs.map((config) => ({ config, env: { NATS_URL: nats.url }, cwd: dir })));
    transport = await connectNatsTransport({ url: nats.url, name: 'sim-e2e ring client' });
    // Enter the cluster at r1, as `ringkv route --via` does: r1 coordinates the replicas.
    const client = remoteRouter(transport, MEMBERS[0]!, { timeoutMs: 4000 });
    const route = (bucket: string, mod: string, fun: string, args: unknown[]) => client.route(bucket, mod, fun, args);
    for (const [i, bucket] of BUCKETS.entries()) {
      expect(await route(bucket, 'KV.Registry', 'create', [bucket])).toBe('ok');
      for (let k = 0; k < i; k++) expect(await route(bucket, 'KV.Bucket', 'put', [bucket, `key${k}`, 'x'.repeat(10 * (k + 1))])).toBe('ok');
    }
  });

  afterAll(async () => {
    await transport?.close();
    await nodes?.stop();
    await nats?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('counts each replicated bucket once and places it on the ring the cluster uses', async () => {
    const run = await runRingkv(['simulate', '--from-cluster', '--config', configs[0]!, '--add-node', 'r4@sim-e2e', '--json', '--list-buckets'], { cwd: dir });
    expect(run.code, `${run.stderr}\n${nodes.output()}`).toBe(0);
    const report = JSON.parse(run.stdout) as {
      buckets: number;
      cluster: Record<string, { buckets: number; bytes: number }>;
      bucketList: Array<{ bucket: string; bytes: number }>;
      results: Array<{ kind: string; replicaSets: { n: number }; replicaLoad: { before: Array<{ node: string; buckets: number }> } }>;
    };
    expect(report.bucketList.map((b) => b.bucket).sort()).toEqual([...BUCKETS].sort());
    expect(report.buckets).toBe(BUCKETS.length);
    // N=2: every bucket is held by two of the three nodes.
    expect(Object.values(report.cluster).reduce((s, n) => s + n.buckets, 0)).toBe(2 * BUCKETS.length);
    // A bucket holding more data reports more bytes (sizes are the store's encoded records).
    const bytes = new Map(report.bucketList.map((b) => [b.bucket, b.bytes]));
    for (let i = 1; i < BUCKETS.length; i++) expect(bytes.get(BUCKETS[i]!)!).toBeGreaterThan(bytes.get(BUCKETS[i - 1]!)!);
    const ring = report.results[0]!;
    expect(ring.kind).toBe('ring');
    expect(ring.replicaSets.n).toBe(2);
    // The simulated replica placement before the change is where the cluster really keeps them.
    expect(Object.fromEntries(ring.replicaLoad.before.map((l) => [l.node, l.buckets]))).toEqual(
      Object.fromEntries(Object.entries(report.cluster).map(([node, s]) => [node, s.buckets])),
    );
  });
});
