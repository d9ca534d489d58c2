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
import { closeSync, fdatasyncSync, mkdtempSync, openSync, rmSync, statSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createInProcessNetwork, createModuleRegistry, createNode, createRangeStrategy, type RingkvNode } from '@ringkv/core';
import { createLmdbBackend, createStore, type StoreOptions } from '@ringkv/store';
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

/**
 * What the disk allows, with no server in front: `writers` closed-loop writers straight on the
 * LMDB backend's synchronous face, each writing one key and waiting for it to be on disk (the
 * default durability's acknowledgement) before the next, for `ms`. The text server on LMDB
 * cannot answer more PUTs than this with the same number of clients waiting.
 */
async function lmdbCeiling(path: string, writers: number, ms: number): Promise<number> {
  const backend = await createLmdbBackend({ path });
  const sync = backend.sync;
  if (!sync) throw new Error('the LMDB backend has no synchronous face');
  const table = new TextEncoder().encode('ceiling');
  const id = Buffer.from(table).toString('latin1');
  sync.createTable('plain', id, table);
  await sync.written?.();
  const value = new Uint8Array([0x61, 0x62, 0x63]);
  let done = 0;
  const end = performance.now() + ms;
  await Promise.all(
    Array.from({ length: writers }, async (_, w) => {
      for (let i = 0; performance.now() < end; i++) {
        sync.set('plain', id, table, new TextEncoder().encode(`k${w}-${i % 20}`), value);
        await sync.written?.();
        done++;
      }
    }),
  );
  await backend.close();
  return (done * 1000) / ms;
}

/** Median time of one 4 KiB write followed by fdatasync, in the folder the data goes to. */
function fdatasyncMs(dir: string, rounds = 200): number {
  const fd = openSync(join(dir, 'fsync-probe'), 'w');
  const buf = Buffer.alloc(4096, 1);
  const times: number[] = [];
  try {
    for (let i = 0; i < rounds; i++) {
      const t0 = performance.now();
      writeSync(fd, buf, 0, buf.length, (i % 16) * 4096);
      fdatasyncSync(fd);
      times.push(performance.now() - t0);
    }
  } finally {
    closeSync(fd);
  }
  times.sort((a, b) => a - b);
  return times[times.length >> 1]!;
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
  const ceilings: number[] = [];
  const flushes: number[] = [];
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
      // The disk's own bound, in the same round: LMDB with no server, as many writers as connections.
      ceilings.push(await lmdbCeiling(join(dir, `lmdb-ceiling-${round}`), serverLoad.connections, serverLoad.durationMs()));
      flushes.push(fdatasyncMs(dir));
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
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1]!;
  const ceiling = median(ceilings);
  lines.push(
    '',
    `Targets (issue 12), LMDB with the default durability against memory, same run: PUT >= 0.5x: ${fmt(lp, 2)} (${lp >= 0.5 ? 'met' : 'not met'}); GET >= 0.8x: ${fmt(lg, 2)} (${lg >= 0.8 ? 'met' : 'not met'}).`,
    '',
    `The disk's bound, measured in the same rounds: ${serverLoad.connections} writers straight on the LMDB backend (no server, no network), each waiting for its write to be on disk before the next, reach ${fmt(ceiling)} writes/s (median of ${ceilings.length} rounds: ${ceilings.map((c) => fmt(c)).join(', ')}), which is ${fmt(ceiling / put[0]!.opsPerSec, 2)}x the memory PUT above; one 4 KiB write + fdatasync takes ${fmt(median(flushes), 2)} ms (median). The text server on LMDB reaches ${fmt(put[1]!.opsPerSec / ceiling, 2)}x that bound. With as many clients waiting, no server can pass it: PUT >= 0.5x memory needs a disk whose flush lets ${fmt(0.5 * put[0]!.opsPerSec)} writes/s through. (An LMDB commit writes its pages, then flushes the data and the meta page: several flushes per batch, so a batch costs more than one probe. The server stays under the bound because its clients' next writes arrive spread out over the flush, not all at once, so its batches hold fewer than ${serverLoad.connections} writes.) \`syncIntervalMs\` trades this for speed (docs/store.md says what it can lose).`,
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
