/**
 * Route latency and throughput at 1, 16, 64 and 256 calls in flight, for:
 *
 * - a local call (the owner is the node called);
 * - an in-process hop (two nodes in this process, in-process transport);
 * - a NATS hop: node `foo@bench` in this process forwards to node `bar@bench` in a child
 *   process, over a nats-server on loopback (the full path: route, placement, msgpackr
 *   envelope, our reply plumbing, the remote router and registry, and back);
 * - raw NATS request/reply between the same two processes: `nc.request()` of the client
 *   library with the same msgpackr payload, answered in the child by a bare subscription
 *   that decodes the request and encodes the reply the same way.
 *
 * The child process runs this same file with RINGKV_ROUTE_BENCH_ROLE=responder.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { loadavg } from 'node:os';
import { fileURLToPath } from 'node:url';
import {
  createInProcessNetwork,
  createModuleRegistry,
  createNode,
  createRangeStrategy,
  type ModuleRegistry,
  type RingkvNode,
} from '@ringkv/core';
import { connectNatsTransport, decodeRequest, encodeRequest, encodeResult, decodeReply } from '@ringkv/nats';
import { connect } from 'nats';
import { startNatsServer } from '@ringkv/test-utils';
import type { BenchSection } from './run.js';
import { closedLoop, fmt, type LoadResult } from './stats.js';

const IN_FLIGHT = [1, 16, 64, 256] as const;
const CELL_MS = Number(process.env.RINGKV_BENCH_CELL_MS ?? 800);
const ROUNDS = 3;
const WARMUP_MS = 200;
const RAW_SUBJECT = 'bench.raw';
const PAYLOAD = new Uint8Array(64).map((_, i) => i);
const BUCKET = 'bench';

function benchModules(): ModuleRegistry {
  const modules = createModuleRegistry();
  modules.register('Bench', 'echo', { kind: 'plain', arity: 1, fn: (_ctx, v) => v });
  return modules;
}

const everythingTo = (node: string) => createRangeStrategy([{ from: 0, to: 255, node }]);

/** The child: node bar@bench and a raw responder on one process. */
async function responderMain(): Promise<void> {
  const url = process.env.NATS_URL!;
  const transport = await connectNatsTransport({ url, name: 'bar@bench' });
  const bar = createNode({ name: 'bar@bench', transport, modules: benchModules(), strategy: everythingTo('bar@bench') });
  await bar.start();
  const nc = await connect({ servers: url, name: 'raw responder' });
  nc.subscribe(RAW_SUBJECT, {
    callback: (_err, m) => {
      const req = decodeRequest(m.data);
      const value = (req.body as { args: unknown[] }).args[0];
      m.respond(encodeResult(value));
    },
  });
  await nc.flush();
  process.stdout.write('ready\n');
  await new Promise<void>((resolve) => process.once('SIGTERM', resolve));
  await bar.stop();
  await transport.close();
  await nc.close();
}

function startResponder(url: string): Promise<ChildProcess> {
  const file = fileURLToPath(import.meta.url);
  const child = spawn(process.execPath, ['--import', 'tsx', file], {
    cwd: fileURLToPath(new URL('../../', import.meta.url)),
    env: { ...process.env, NATS_URL: url, RINGKV_ROUTE_BENCH_ROLE: 'responder' },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  return new Promise((resolve, reject) => {
    let out = '';
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      if (out.includes('ready')) resolve(child);
    });
    child.once('exit', (code) => reject(new Error(`bench responder exited with ${code}`)));
  });
}

async function measure(op: () => Promise<unknown>, inFlight: number): Promise<LoadResult> {
  await closedLoop(op, inFlight, WARMUP_MS);
  return closedLoop(op, inFlight, CELL_MS);
}

function check(value: unknown): void {
  const v = value as Uint8Array;
  if (!(v instanceof Uint8Array) || v.length !== PAYLOAD.length || v[63] !== 63) throw new Error('bench: wrong echo');
}

export async function run(): Promise<BenchSection> {
  const loadStart = loadavg()[0]!.toFixed(1);
  const nats = await startNatsServer();
  const child = await startResponder(nats.url);
  const network = createInProcessNetwork();
  const stops: Array<() => Promise<unknown>> = [];
  try {
    // Local: the node owns the bucket.
    const local = createNode({ name: 'solo@bench', transport: network.transport(), modules: benchModules(), strategy: everythingTo('solo@bench') });
    await local.start();
    // In-process hop: a forwards to b.
    const a = createNode({ name: 'a@bench', transport: network.transport(), modules: benchModules(), strategy: everythingTo('b@bench') });
    const b = createNode({ name: 'b@bench', transport: network.transport(), modules: benchModules(), strategy: everythingTo('b@bench') });
    await a.start();
    await b.start();
    // NATS hop: foo (here) forwards to bar (child process).
    const transport = await connectNatsTransport({ url: nats.url, name: 'foo@bench' });
    const foo: RingkvNode = createNode({ name: 'foo@bench', transport, modules: benchModules(), strategy: everythingTo('bar@bench') });
    await foo.start();
    stops.push(() => foo.stop(), () => transport.close());
    // Raw: the client library's own request/reply, same payload, same two processes.
    const nc = await connect({ servers: nats.url, name: 'raw client' });
    stops.push(() => nc.close());
    const rawPayload = encodeRequest({ type: 'route', body: { bucket: BUCKET, mod: 'Bench', fun: 'echo', args: [PAYLOAD], path: ['foo@bench'] } });

    const modes: Array<{ label: string; op: () => Promise<unknown> }> = [
      { label: 'local call', op: () => local.route(BUCKET, 'Bench', 'echo', [PAYLOAD]).then(check) },
      { label: 'in-process hop', op: () => a.route(BUCKET, 'Bench', 'echo', [PAYLOAD]).then(check) },
      { label: 'NATS hop (route, 2 processes)', op: () => foo.route(BUCKET, 'Bench', 'echo', [PAYLOAD]).then(check) },
      {
        label: 'raw NATS nc.request() (2 processes)',
        op: async () => {
          const m = await nc.request(RAW_SUBJECT, rawPayload, { timeout: 5000 });
          const r = decodeReply(m.data, 'raw');
          if (!r.ok) throw r.error;
          check(r.value);
        },
      },
    ];

    // Interleaved rounds: each in-flight level runs every path once per round, so load from
    // elsewhere on the machine hits all paths alike; the median round (by throughput) is shown.
    const results = new Map<string, LoadResult[]>(modes.map((m) => [m.label, []]));
    // Untimed: let the JIT settle every path before anything is measured.
    for (const mode of modes) await closedLoop(mode.op, 16, 1000);
    for (const n of IN_FLIGHT) {
      const rounds = new Map<string, LoadResult[]>(modes.map((m) => [m.label, []]));
      for (let round = 0; round < ROUNDS; round++) {
        for (const mode of modes) rounds.get(mode.label)!.push(await measure(mode.op, n));
      }
      for (const mode of modes) {
        const sorted = rounds.get(mode.label)!.sort((x, y) => x.opsPerSec - y.opsPerSec);
        const r = sorted[Math.floor(sorted.length / 2)]!;
        process.stderr.write(`  ${mode.label} @${n}: ${fmt(r.opsPerSec)} ops/s p50 ${fmt(r.p50Ms, 3)} ms p99 ${fmt(r.p99Ms, 3)} ms errors ${r.errors}\n`);
        results.get(mode.label)!.push(r);
      }
    }

    const head = `| path | ${IN_FLIGHT.map((n) => `${n} in flight`).join(' | ')} |`;
    const sep = `|---|${IN_FLIGHT.map(() => '---:').join('|')}|`;
    const table = (cell: (r: LoadResult) => string) =>
      [head, sep, ...modes.map((m) => `| ${m.label} | ${results.get(m.label)!.map(cell).join(' | ')} |`)].join('\n');
    const natsRow = results.get(modes[2]!.label)!;
    const rawRow = results.get(modes[3]!.label)!;
    const ratios = [
      head.replace('| path |', '| ratio |'),
      sep,
      `| throughput, NATS route / raw nc.request() | ${IN_FLIGHT.map((_, i) => `${fmt(natsRow[i]!.opsPerSec / rawRow[i]!.opsPerSec, 2)}x`).join(' | ')} |`,
      `| p50 latency, NATS route / raw nc.request() | ${IN_FLIGHT.map((_, i) => `${fmt(natsRow[i]!.p50Ms / rawRow[i]!.p50Ms, 2)}x`).join(' | ')} |`,
    ].join('\n');
    const errors = [...results.values()].flat().reduce((s, r) => s + r.errors, 0);
    const at64 = IN_FLIGHT.indexOf(64);
    const markdown = [
      `Closed loop, after 1 s of untimed warm-up per path; for each in-flight level, ${ROUNDS} interleaved rounds of every path (${CELL_MS} ms each after ${WARMUP_MS} ms warm-up), the median round shown; payload: \`Bench.echo\` of ${PAYLOAD.length} bytes (msgpackr request ${rawPayload.length} bytes). ` +
        'The NATS hop is node foo@bench in the bench process forwarding to node bar@bench in a child process through a nats-server on 127.0.0.1; ' +
        'raw NATS is `nc.request()` from the same bench process to a bare subscription in the same child process, with the same msgpackr request and reply. ' +
        `Errors during the run: ${errors}.`,
      '',
      '**Throughput (calls/s)**',
      '',
      table((r) => fmt(r.opsPerSec)),
      '',
      '**Latency p50 / p99 (ms)**',
      '',
      table((r) => `${fmt(r.p50Ms, 3)} / ${fmt(r.p99Ms, 3)}`),
      '',
      '**NATS route against raw NATS, same run** (targets at 64 in flight: throughput >= 2x, p50 <= 1x)',
      '',
      ratios,
      '',
      `At 64 in flight: ${fmt(natsRow[at64]!.opsPerSec / rawRow[at64]!.opsPerSec, 2)}x the raw throughput, p50 ${fmt(natsRow[at64]!.p50Ms / rawRow[at64]!.p50Ms, 2)}x the raw p50. ` +
        'The machine is shared (2 cores, other work running), so absolute numbers vary between runs; the ratios are measured side by side. ' +
        'Reading the table: the NATS hop spreads its work over three processes (bench, nats-server, child), while the in-process hop runs on one core ' +
        'and deep-copies every message (structuredClone) with a timer per call. ' +
        `Load average (1 min) when this bench started: ${loadStart}, when it ended: ${loadavg()[0]!.toFixed(1)} (2 cores).`,
    ].join('\n');

    await local.stop();
    await a.stop();
    await b.stop();
    return { title: 'Route: local, in-process hop, NATS hop, raw NATS', markdown };
  } finally {
    for (const stop of stops.reverse()) await stop().catch(() => {});
    child.kill('SIGTERM');
    await new Promise((r) => child.once('exit', r));
    await nats.stop();
  }
}

if (process.env.RINGKV_ROUTE_BENCH_ROLE === 'responder') {
  responderMain().catch((err: unknown) => {
    process.stderr.write(`bench responder: ${(err as Error).stack}\n`);
    process.exit(1);
  });
}
