/**
 * The HTTP API beside the text protocol (issue 15): PUT and GET throughput and latency on one
 * node (in-process transport, memory store), 50 connections, one request in flight each,
 * 3-byte values, measured in the same run, interleaved round by round:
 *
 * - the text protocol, as `startServer` runs it alone;
 * - the text protocol metered (calls counted and timed for /metrics), as a node with
 *   `http.port` runs it;
 * - the HTTP API (`PUT /buckets/bench/keys/kN` with an octet-stream body, answered 204; `GET`,
 *   answered 200 with the value), keep-alive connections.
 *
 * Both load generators are C (server-load.c for the text protocol, http-load.c for HTTP),
 * compiled with `cc` at bench time, so that the client is not what limits the numbers.
 * Bounded: RINGKV_BENCH_SERVER_MS per measurement (default 2000), RINGKV_BENCH_ROUNDS (3).
 */
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createInProcessNetwork, createModuleRegistry, createNode, createRangeStrategy, kvCall, type RingkvNode } from '@ringkv/core';
import { createNodeMetrics, startHttpServer } from '@ringkv/http';
import { startServer } from '@ringkv/server';
import { createStore } from '@ringkv/store';
import type { BenchSection } from './run.js';
import { fmt, type LoadResult } from './stats.js';

const CONNECTIONS = 50;
const KEYS = 1000;
const VALUE = 'xxx';
const BUCKET = 'bench';
const NODE = 'solo@bench';

const envNumber = (name: string, fallback: number) => {
  const v = Number(process.env[name] ?? fallback);
  return Number.isFinite(v) && v > 0 ? v : fallback;
};
const durationMs = () => envNumber('RINGKV_BENCH_SERVER_MS', 2000);
const rounds = () => Math.round(envNumber('RINGKV_BENCH_ROUNDS', 3));

function compile(dir: string, source: string, name: string): string | undefined {
  const bin = join(dir, name);
  const r = spawnSync('cc', ['-O2', '-o', bin, fileURLToPath(new URL(source, import.meta.url))], { encoding: 'utf8' });
  if (r.status !== 0) {
    process.stderr.write(`bench http: cc failed for ${source} (${r.error?.message ?? r.stderr.trim()})\n`);
    return undefined;
  }
  return bin;
}

function runLoad(bin: string, args: string[], ms: number): Promise<LoadResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(bin, args, { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    const kill = setTimeout(() => child.kill('SIGKILL'), ms + 30_000);
    child.once('error', reject);
    child.once('exit', (code) => {
      clearTimeout(kill);
      try {
        if (code !== 0) throw new Error(`${bin} exited with ${code}`);
        resolve(JSON.parse(out) as LoadResult);
      } catch (err) {
        reject(err);
      }
    });
  });
}

interface PutGet {
  put: LoadResult;
  get: LoadResult;
}

async function soloNode(): Promise<RingkvNode> {
  const modules = createModuleRegistry();
  const store = await createStore({ backend: 'memory' });
  store.register(modules);
  const node = createNode({ name: NODE, transport: createInProcessNetwork().transport(), modules, strategy: createRangeStrategy([{ from: 0, to: 255, node: NODE }]) });
  await node.start();
  store.attach(node);
  return node;
}

function summarise(results: LoadResult[]): LoadResult & { min: number; max: number } {
  const sorted = [...results].sort((a, b) => a.opsPerSec - b.opsPerSec);
  const mid = sorted[Math.floor((sorted.length - 1) / 2)]!;
  return { ...mid, errors: results.reduce((n, r) => n + r.errors, 0), min: sorted[0]!.opsPerSec, max: sorted.at(-1)!.opsPerSec };
}

export async function run(): Promise<BenchSection> {
  const dir = mkdtempSync(join(tmpdir(), 'ringkv-http-bench-'));
  const textLoad = compile(dir, './server-load.c', 'server-load');
  const httpLoad = compile(dir, './http-load.c', 'http-load');
  if (!textLoad || !httpLoad) {
    rmSync(dir, { recursive: true, force: true });
    return { title: 'HTTP API beside the text protocol', markdown: 'No C compiler (`cc`) on this machine: not measured.' };
  }
  const node = await soloNode();
  await kvCall(node, 'create', [BUCKET]);
  const metrics = createNodeMetrics({ node });
  const plainText = await startServer({ node, port: 0, host: '127.0.0.1' });
  const meteredText = await startServer({ node: metrics.meter(node, 'text'), port: 0, host: '127.0.0.1' });
  const http = await startHttpServer({ node, port: 0, host: '127.0.0.1', metrics, maxConnections: 1024 });
  const ms = durationMs();
  const text = (port: number): Promise<PutGet> =>
    (async () => ({
      put: await runLoad(textLoad, [String(port), String(CONNECTIONS), String(ms), `PUT ${BUCKET} k%lu ${VALUE}\n`, 'OK\r\n', String(KEYS)], ms),
      get: await runLoad(textLoad, [String(port), String(CONNECTIONS), String(ms), `GET ${BUCKET} k%lu\n`, `${VALUE}\r\nOK\r\n`, String(KEYS)], ms),
    }))();
  const overHttp = async (): Promise<PutGet> => ({
    put: await runLoad(httpLoad, [String(http.port), String(CONNECTIONS), String(ms), 'PUT', `/buckets/${BUCKET}/keys/k%lu`, VALUE, '204', String(KEYS)], ms),
    get: await runLoad(httpLoad, [String(http.port), String(CONNECTIONS), String(ms), 'GET', `/buckets/${BUCKET}/keys/k%lu`, '-', '200', String(KEYS)], ms),
  });
  const results = { plain: [] as PutGet[], metered: [] as PutGet[], http: [] as PutGet[] };
  try {
    // Warm-up (not reported): the JIT compiles every path before the first round.
    await runLoad(textLoad, [String(plainText.port), String(CONNECTIONS), '1000', `PUT ${BUCKET} k%lu ${VALUE}\n`, 'OK\r\n', String(KEYS)], 1000);
    await runLoad(httpLoad, [String(http.port), String(CONNECTIONS), '1000', 'PUT', `/buckets/${BUCKET}/keys/k%lu`, VALUE, '204', String(KEYS)], 1000);
    await runLoad(httpLoad, [String(http.port), String(CONNECTIONS), '1000', 'GET', `/buckets/${BUCKET}/keys/k%lu`, '-', '200', String(KEYS)], 1000);
    for (let round = 1; round <= rounds(); round++) {
      process.stderr.write(`bench http: round ${round}/${rounds()}\n`);
      results.plain.push(await text(plainText.port));
      results.metered.push(await text(meteredText.port));
      results.http.push(await overHttp());
    }
  } finally {
    await http.close();
    await meteredText.close();
    await plainText.close();
    await node.stop();
    rmSync(dir, { recursive: true, force: true });
  }
  const s = {
    plainPut: summarise(results.plain.map((r) => r.put)),
    plainGet: summarise(results.plain.map((r) => r.get)),
    meteredPut: summarise(results.metered.map((r) => r.put)),
    meteredGet: summarise(results.metered.map((r) => r.get)),
    httpPut: summarise(results.http.map((r) => r.put)),
    httpGet: summarise(results.http.map((r) => r.get)),
  };
  const row = (name: string, r: LoadResult & { min: number; max: number }, base: LoadResult) =>
    `| ${name} | ${fmt(r.opsPerSec)} | ${fmt(r.min)}..${fmt(r.max)} | ${fmt(r.p50Ms, 2)} | ${fmt(r.p99Ms, 2)} | ${r.errors} | ${fmt(r.opsPerSec / base.opsPerSec, 2)} |`;
  const lines = [
    `One node in this process (in-process transport, memory store) with three servers on it. ${CONNECTIONS} connections, one request in flight each, ${KEYS} keys, 3-byte values. Load generators: server-load.c (text) and http-load.c (HTTP/1.1 keep-alive), both C. ${rounds()} interleaved rounds of ${ms / 1000} s per measurement; the median round is shown with the range over the rounds. The last column is the throughput relative to the plain text protocol for the same operation, measured in the same rounds. The machine is shared (2 cores, other work running): absolute numbers move between runs, ratios from one interleaved run are what counts.`,
    '',
    '| server and operation | ops/s (median) | ops/s range | p50 ms | p99 ms | errors | vs text protocol |',
    '|---|---:|---:|---:|---:|---:|---:|',
    row('text protocol PUT', s.plainPut, s.plainPut),
    row('text protocol PUT, metered (a node with http.port)', s.meteredPut, s.plainPut),
    row('HTTP PUT (204)', s.httpPut, s.plainPut),
    row('text protocol GET', s.plainGet, s.plainGet),
    row('text protocol GET, metered (a node with http.port)', s.meteredGet, s.plainGet),
    row('HTTP GET (200)', s.httpGet, s.plainGet),
    '',
    `HTTP / text protocol: PUT ${fmt(s.httpPut.opsPerSec / s.plainPut.opsPerSec, 2)}, GET ${fmt(s.httpGet.opsPerSec / s.plainGet.opsPerSec, 2)}. Metered / plain text protocol (the cost of counting and timing every call for /metrics): PUT ${fmt(s.meteredPut.opsPerSec / s.plainPut.opsPerSec, 2)}, GET ${fmt(s.meteredGet.opsPerSec / s.plainGet.opsPerSec, 2)}.`,
  ];
  return { title: 'HTTP API beside the text protocol', markdown: lines.join('\n') };
}
