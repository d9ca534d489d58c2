/**
 * Storage backends under the text server (issue 12): a single node (in-process transport, text
 * server) on memory, on LMDB with the default durability (a write is answered once flushed to
 * disk), on LMDB flushing every 100 ms (`storage.syncIntervalMs: 100`), and on Redis (a
 * redis-server started here), PUT then GET with the load generator of server.bench.ts, rounds
 * interleaved across backends. Then each of memory and LMDB in a child process of its own, fed
 * 1,000,000 keys of 100 bytes through the store (1,000 writes in flight), reporting the
 * process's RSS and the data file's size on disk.
 * Bounded: RINGKV_BENCH_SERVER_MS per measurement, RINGKV_BENCH_ROUNDS rounds,
 * RINGKV_BENCH_STORAGE_KEYS keys for the size part (default 1,000,000).
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createInProcessNetwork, createModuleRegistry, createNode, createRangeStrategy, type RingkvNode } from '@ringkv/core';
import { createStore, type StoreOptions } from '@ringkv/store';
import type { BenchSection } from './run.js';
import { serverLoad } from './server.bench.js';
import { fmt, type LoadResult } from './stats.js';

const THIS_FILE = fileURLToPath(import.meta.url);
const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));
const NODE = 'store@bench';

async function nodeOn(options: StoreOptions): Promise<{ node: RingkvNode; close(): Promise<void> }> {
  const network = createInProcessNetwork();
  const modules = createModuleRegistry();
  const store = await createStore(options);
  store.register(modules);
  const node = createNode({ name: NODE, transport: network.transport(), modules, strategy: createRangeStrategy([{ from: 0, to: 255, node: NODE }]) });
  await node.start();
  store.attach(node);
  return {
    node,
    async close() {
      await node.stop();
      await store.close();
    },
  };
}

interface SizeReport {
  keys: number;
  seconds: number;
  rssMiB: number;
  heapMiB: number;
  fileMiB?: number;
  diskMiB?: number;
}

/** Child: writes `keys` keys of 100 bytes into one bucket through the store, 1,000 in flight. */
async function sizeMain(kind: 'memory' | 'lmdb', keys: number, path: string): Promise<void> {
  const store = await createStore(kind === 'lmdb' ? { backend: 'lmdb', lmdb: { path } } : { backend: 'memory' });
  const modules = createModuleRegistry();
  store.register(modules);
  const put = modules.resolve('KV.Bucket', 'put', 3, NODE).fn;
  const create = modules.resolve('KV.Registry', 'create', 1, NODE).fn;
  const bucket = new TextEncoder().encode('sized');
  const ctx = { node: NODE, bucket, meta: {} };
  await create(ctx, bucket);
  const value = new Uint8Array(100).fill(0x61);
  const t0 = performance.now();
  let next = 0;
  await Promise.all(
    Array.from({ length: 1000 }, async () => {
      while (next < keys) {
        const i = next++;
        const r = await put(ctx, bucket, new TextEncoder().encode(`key-${i}`), value);
        if (r !== 'ok') throw new Error(`put answered ${String(r)}`);
      }
    }),
  );
  const seconds = (performance.now() - t0) / 1000;
  (globalThis as { gc?: () => void }).gc?.();
  const mem = process.memoryUsage();
  const report: SizeReport = { keys, seconds, rssMiB: mem.rss / 2 ** 20, heapMiB: mem.heapUsed / 2 ** 20 };
  await store.close();
  if (kind === 'lmdb') {
    const st = statSync(join(path, 'data.mdb'));
    report.fileMiB = st.size / 2 ** 20;
    report.diskMiB = (st.blocks * 512) / 2 ** 20;
  }
  process.stdout.write(JSON.stringify(report));
}

function runSize(kind: 'memory' | 'lmdb', keys: number, path: string): Promise<SizeReport> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--expose-gc', '--import', 'tsx', THIS_FILE], {
      cwd: REPO_ROOT,
      env: { ...process.env, RINGKV_BENCH_ROLE: 'storage-size', RINGKV_BENCH_SIZE: JSON.stringify({ kind, keys, path }) },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    const kill = setTimeout(() => child.kill('SIGKILL'), 600_000);
    child.once('error', reject);
    child.once('exit', (code) => {
      clearTimeout(kill);
      if (code !== 0) return reject(new Error(`size child (${kind}) exited with ${code}`));
      resolve(JSON.parse(out) as SizeReport);
    });
  });
}

export async function run(): Promise<BenchSection> {
  const generator = serverLoad.prepare();
  const dir = mkdtempSync(join(tmpdir(), 'ringkv-bench-storage-'));
  const { hasRedisServer, startRedisServer } = await import('@ringkv/test-utils');
  const redis = hasRedisServer() ? await startRedisServer() : undefined;
  const setups: Array<{ label: string; options: StoreOptions }> = [
    { label: 'memory', options: { backend: 'memory' } },
    { label: 'LMDB, default durability (answered once on disk)', options: { backend: 'lmdb', lmdb: { path: join(dir, 'lmdb-flush') } } },
    { label: 'LMDB, syncIntervalMs 100', options: { backend: 'lmdb', lmdb: { path: join(dir, 'lmdb-interval'), syncIntervalMs: 100 } } },
    ...(redis ? [{ label: 'Redis (redis-server, no persistence)', options: { backend: 'redis', redis: { url: redis.url, keyPrefix: 'bench:' } } as StoreOptions }] : []),
  ];
  const nodes: Array<{ node: RingkvNode; close(): Promise<void> }> = [];
  const results = setups.map(() => ({ put: [] as LoadResult[], get: [] as LoadResult[] }));
  let sizes: { memory?: SizeReport; lmdb?: SizeReport; error?: string } = {};
  const keys = Math.round(Number(process.env.RINGKV_BENCH_STORAGE_KEYS ?? 1_000_000)) || 1_000_000;
  try {
    for (const s of setups) nodes.push(await nodeOn(s.options));
    for (const n of nodes) await serverLoad.withServer(n.node, (port) => serverLoad.warmUp(port));
    for (let round = 1; round <= serverLoad.rounds(); round++) {
      process.stderr.write(`bench storage: round ${round}/${serverLoad.rounds()}\n`);
      for (const [i, n] of nodes.entries()) {
        const r = await serverLoad.withServer(n.node, (port) => serverLoad.measure(port));
        results[i]!.put.push(r.put);
        results[i]!.get.push(r.get);
      }
    }
    for (const n of nodes.splice(0)) await n.close();
    try {
      process.stderr.write(`bench storage: ${keys} keys of 100 bytes into memory, then LMDB\n`);
      sizes.memory = await runSize('memory', keys, '');
      sizes.lmdb = await runSize('lmdb', keys, join(dir, 'lmdb-size'));
    } catch (err) {
      sizes = { ...sizes, error: (err as Error).message };
    }
  } finally {
    for (const n of nodes) await n.close();
    await redis?.stop();
    serverLoad.cleanup();
    rmSync(dir, { recursive: true, force: true });
  }

  const put = results.map((r) => serverLoad.summarise(r.put));
  const get = results.map((r) => serverLoad.summarise(r.get));
  const ratio = (a: number, b: number) => fmt(a / b, 2);
  const lines = [
    `A single node (in-process transport, text server, range table to itself) per backend; ${serverLoad.connections} connections, pipelining off, ${serverLoad.keys} keys in one bucket, 3-byte values. Load generator: ${generator}. ${serverLoad.rounds()} rounds of ${serverLoad.durationMs() / 1000} s per measurement, interleaved across backends; the median round is shown.`,
    '',
    '| backend | PUT ops/s | PUT p50 / p99 ms | PUT vs memory | GET ops/s | GET p50 / p99 ms | GET vs memory | errors |',
    '|---|---:|---:|---:|---:|---:|---:|---:|',
    ...setups.map(
      (s, i) =>
        `| ${s.label} | ${fmt(put[i]!.opsPerSec)} | ${fmt(put[i]!.p50Ms, 2)} / ${fmt(put[i]!.p99Ms, 2)} | ${ratio(put[i]!.opsPerSec, put[0]!.opsPerSec)} | ${fmt(get[i]!.opsPerSec)} | ${fmt(get[i]!.p50Ms, 2)} / ${fmt(get[i]!.p99Ms, 2)} | ${ratio(get[i]!.opsPerSec, get[0]!.opsPerSec)} | ${put[i]!.errors + get[i]!.errors} |`,
    ),
  ];
  if (!redis) lines.push('', 'redis-server is not installed: no Redis row in this run.');
  const lp = put[1]!.opsPerSec / put[0]!.opsPerSec;
  const lg = get[1]!.opsPerSec / get[0]!.opsPerSec;
  lines.push(
    '',
    `Targets (issue 12), LMDB with the default durability against memory, same run: PUT >= 0.5x: ${fmt(lp, 2)} (${lp >= 0.5 ? 'met' : 'not met'}); GET >= 0.8x: ${fmt(lg, 2)} (${lg >= 0.8 ? 'met' : 'not met'}).`,
  );
  if (sizes.memory && sizes.lmdb) {
    const m = sizes.memory;
    const l = sizes.lmdb;
    lines.push(
      '',
      `${fmt(keys)} keys of 100 bytes (keys \`key-<n>\`, one bucket), written through the store with 1,000 writes in flight, each backend in a process of its own; RSS after a full GC.`,
      '',
      '| backend | write time s | writes/s | RSS MiB | JS heap MiB | data file MiB | on disk MiB |',
      '|---|---:|---:|---:|---:|---:|---:|',
      `| memory | ${fmt(m.seconds, 1)} | ${fmt(m.keys / m.seconds)} | ${fmt(m.rssMiB)} | ${fmt(m.heapMiB)} | | |`,
      `| LMDB (default durability) | ${fmt(l.seconds, 1)} | ${fmt(l.keys / l.seconds)} | ${fmt(l.rssMiB)} | ${fmt(l.heapMiB)} | ${fmt(l.fileMiB ?? NaN)} | ${fmt(l.diskMiB ?? NaN)} |`,
    );
  } else if (sizes.error) {
    lines.push('', `Size measurement failed: ${sizes.error}`);
  }
  return { title: 'Storage backends', markdown: lines.join('\n') };
}

if (process.env.RINGKV_BENCH_ROLE === 'storage-size' && process.argv[1] === THIS_FILE) {
  const { kind, keys, path } = JSON.parse(process.env.RINGKV_BENCH_SIZE ?? '{}') as { kind: 'memory' | 'lmdb'; keys: number; path: string };
  await sizeMain(kind, keys, path);
}
