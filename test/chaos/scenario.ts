/**
 * The fault-injection scenario behind `npm run chaos` and its short CI version: three ring
 * nodes (config/ring a, b, c; N = 3, R = 2, W = 2) as `ringkv node start` processes over a
 * 3-server NATS cluster, continuous load through their text servers, and one fault after
 * another: SIGKILL and restart of each node in turn, a rolling restart, SIGSTOP of a node for
 * longer than the timeouts (a gray failure: the process holds its connections but answers
 * nothing), a restart of every nats-server, and the loss of one of the three. Then the load
 * stops, and every acknowledged write is read back.
 *
 * Storage is LMDB (the default backend), one data folder per node under a temporary folder:
 * a SIGKILLed node comes back with what it acknowledged. The node launcher of the test harness
 * keeps nodes in memory unless told otherwise, so the backend is set explicitly and each node's
 * "storage:" start-up line is checked. `storage: 'memory'` shows what the check guards against
 * (a killed replica returns empty, and acknowledged writes whose replicas were all killed are
 * lost); `'redis'` stores in one redis-server with a key prefix per node.
 *
 * @example
 * const report = await runChaos(SHORT);
 * console.log(formatReport(report)); // report.lost must be 0
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  freePort,
  REPO_ROOT,
  startNatsCluster,
  startNodeProcesses,
  startRedisServer,
  type NatsCluster,
  type NodeProcess,
  type NodeProcesses,
  type RedisServer,
} from '@ringkv/test-utils';
import { longestGapWithin, startLoad, writeGaps, type FailedOp, type LoadRecord } from './load.js';
import { connectText, type TextConnection } from './text-client.js';

export interface ChaosOptions {
  /** Label for the report. */
  name: string;
  /** Per-hop timeout of the nodes (config hopTimeoutMs). */
  hopTimeoutMs: number;
  /** How long a SIGKILLed node stays down before it is restarted. */
  downMs: number;
  /** How long the gray-failure node stays stopped (must exceed hopTimeoutMs). */
  stopMs: number;
  /** How long every nats-server stays down during the bus restart. */
  natsDownMs: number;
  /** Load before the first fault, between faults, and after the last one. */
  steadyMs: number;
  /** Times the whole fault sequence runs. */
  rounds: number;
  writers: number;
  /** Where the nodes store. @default 'lmdb' */
  storage?: ChaosStorage;
  /** Progress lines (phase starts). */
  log?: (line: string) => void;
}

/** CI: one round, short outages (about a minute of load on a quiet machine). */
export const SHORT: ChaosOptions = {
  name: 'short',
  hopTimeoutMs: 2000,
  downMs: 1500,
  stopMs: 4000,
  natsDownMs: 1000,
  steadyMs: 2000,
  rounds: 1,
  writers: 6,
};
/** `npm run chaos`: default timeouts, longer outages, several rounds. */
export const LONG: ChaosOptions = {
  name: 'long',
  hopTimeoutMs: 5000,
  downMs: 5000,
  stopMs: 12_000,
  natsDownMs: 4000,
  steadyMs: 8000,
  rounds: 3,
  writers: 9,
};

export type ChaosStorage = 'lmdb' | 'memory' | 'redis';

const STORAGE_LABEL: Record<ChaosStorage, string> = {
  lmdb: 'lmdb (a data folder per node, writes answered once on disk)',
  memory: 'memory (a killed node comes back empty: acknowledged writes can be lost by design)',
  redis: 'redis (one redis-server, a key prefix per node; it outlives the node processes)',
};

export interface PhaseReport {
  readonly name: string;
  readonly ms: number;
  readonly writesOk: number;
  readonly writesFailed: number;
  readonly readsFailed: number;
  /** Longest stretch of this phase without a successful write. */
  readonly longestGapMs: number;
}

export interface ChaosReport {
  readonly options: ChaosOptions;
  readonly storage: string;
  readonly phases: PhaseReport[];
  readonly acknowledged: number;
  /** Acknowledged writes whose value could not be read back afterwards. */
  readonly lost: number;
  readonly lostSample: string[];
  readonly writesFailed: number;
  readonly readsOk: number;
  readonly readsFailed: number;
  readonly staleReads: number;
  readonly longestGapMs: number;
  readonly longestGapPhase: string;
  /** Failed writes found applied afterwards, in all and by what the error said. */
  readonly failedButApplied: number;
  readonly failedNotApplied: number;
  readonly failedUnknown: number;
  readonly failedBy: Record<string, { failed: number; applied: number }>;
  /** Writes whose error said "was not applied" that were applied after all (must be 0). */
  readonly contradicted: number;
  readonly durationMs: number;
}

interface Phase {
  name: string;
  from: number;
  to: number;
}

const BUCKET = 'chaos';
/** Longest a steady phase waits for the first successful write after a fault. */
const RECOVERY_MS = 30_000;
const NODES = ['a', 'b', 'c'] as const;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export async function runChaos(options: ChaosOptions): Promise<ChaosReport> {
  const log = options.log ?? (() => {});
  const started = Date.now();
  const dir = mkdtempSync(join(tmpdir(), 'ringkv-chaos-'));
  let nats: NatsCluster | undefined;
  let redis: RedisServer | undefined;
  let nodes: NodeProcesses | undefined;
  try {
    const storage = options.storage ?? 'lmdb';
    nats = await startNatsCluster(3);
    if (storage === 'redis') redis = await startRedisServer();
    const natsUrl = nats.urls.join(',');
    const ports = await Promise.all(NODES.map(() => freePort()));
    const specs = NODES.map((n, i) => {
      const base = JSON.parse(readFileSync(join(REPO_ROOT, 'config', 'ring', `${n}.json`), 'utf8')) as { ring: Record<string, unknown> };
      const config = {
        ...base,
        hopTimeoutMs: options.hopTimeoutMs,
        ring: { ...base.ring, r: 2, w: 2 },
        nats: { url: natsUrl },
        // Every node serves the text protocol, so clients have somewhere to go when one is down.
        roles: ['server', 'storage'],
        server: { port: ports[i] },
        storage: storageConfig(storage, dir, n, redis),
      };
      const file = join(dir, `${n}.json`);
      writeFileSync(file, JSON.stringify(config));
      // The launcher's RINGKV_STORAGE_BACKEND=memory would override the file's backend.
      const env = { RINGKV_CONFIG_DIR: dir, NATS_URL: natsUrl, PORT: String(ports[i]), RINGKV_STORAGE_BACKEND: storage };
      return { config: file, env, readyTimeoutMs: 60_000 };
    });
    nodes = await startNodeProcesses(specs);
    for (const n of nodes.nodes) {
      const line = /^.*storage: (\S+).*$/m.exec(n.output());
      if (line?.[1] !== storage)
        throw new Error(`node ${n.name()} should store on ${storage}, its start-up said: ${line?.[0] ?? '(no storage line)'}`);
    }
    const byName = (n: (typeof NODES)[number]) => nodes!.byName(`${n}@ringkv`);

    const setup = await connectText(ports[0]!, 5000);
    const created = await setup.call(`CREATE ${BUCKET}`, 'create', 10_000);
    setup.close();
    if (!created.ok) throw new Error(`CREATE ${BUCKET} failed: ${created.reason}\n${nodes.output()}`);

    const opTimeoutMs = 2 * options.hopTimeoutMs + 2000;
    const load = startLoad({ ports, bucket: BUCKET, writers: options.writers, opTimeoutMs });
    const phases: Phase[] = [];
    const phase = async (name: string, body: () => Promise<void>) => {
      log(`chaos: ${name}`);
      const p: Phase = { name, from: Date.now(), to: 0 };
      phases.push(p);
      try {
        await body();
      } finally {
        p.to = Date.now();
      }
    };
    // A steady phase also waits (up to RECOVERY_MS) for the cluster to take writes again, so
    // "writes succeed after every fault" does not depend on how fast a loaded machine is.
    const steady = (name = 'steady load') =>
      phase(name, async () => {
        const from = Date.now();
        await sleep(options.steadyMs);
        while (Date.now() - from < RECOVERY_MS && (load.record.writeTimes.at(-1) ?? 0) < from) await sleep(100);
      });

    const killAndRestart = async (node: NodeProcess) => {
      await node.kill('SIGKILL');
      await sleep(options.downMs);
      await node.restart();
    };

    try {
      await steady();
      for (let round = 1; round <= options.rounds; round++) {
        const tag = options.rounds > 1 ? ` (round ${round})` : '';
        for (const n of NODES) {
          await phase(`SIGKILL ${n}, restart after ${options.downMs} ms${tag}`, () => killAndRestart(byName(n)));
        }
        await steady();
        await phase(`rolling restart a, b, c (SIGTERM, each back before the next)${tag}`, async () => {
          for (const n of NODES) await byName(n).restart();
        });
        await phase(`rolling SIGKILL a, b, c (each restarted at once)${tag}`, async () => {
          for (const n of NODES) {
            await byName(n).kill('SIGKILL');
            await byName(n).restart();
          }
        });
        await steady();
        const gray = NODES[(round - 1) % NODES.length]!;
        await phase(`SIGSTOP ${gray} for ${options.stopMs} ms (hop timeout ${options.hopTimeoutMs} ms)${tag}`, async () => {
          const pid = byName(gray).pid()!;
          process.kill(pid, 'SIGSTOP');
          try {
            await sleep(options.stopMs);
          } finally {
            process.kill(pid, 'SIGCONT');
          }
        });
        await steady();
        await phase(`restart of every nats-server (${options.natsDownMs} ms down)${tag}`, async () => {
          await Promise.all(nats!.servers.map((s) => s.restart(options.natsDownMs)));
        });
        await steady();
      }
      await phase('loss of one nats-server of three (not restarted)', async () => {
        await nats!.servers[0]!.stop();
        await sleep(options.steadyMs);
      });
      await steady('steady load after the last fault');
    } finally {
      await load.stop();
    }

    log('chaos: reading back every acknowledged write');
    const record = load.record;
    const check = await readBack(ports, record);
    return report(options, phases, record, check, Date.now() - started);
  } catch (err) {
    if (nodes) (err as Error).message += `\n--- node output ---\n${nodes.output().slice(-20_000)}`;
    throw err;
  } finally {
    await nodes?.stop();
    await nats?.stop();
    await redis?.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

function storageConfig(storage: ChaosStorage, dir: string, node: string, redis: RedisServer | undefined): Record<string, unknown> {
  if (storage === 'lmdb') return { backend: 'lmdb', path: join(dir, 'data', node) };
  if (storage === 'redis') return { backend: 'redis', redis: { url: redis!.url, keyPrefix: `chaos:${node}:` } };
  return { backend: 'memory' };
}

interface ReadBack {
  /** key -> the value read back ('' when missing), for every key asked. */
  values: Map<string, string>;
  /** Keys that could not be read at all (errors on every try). */
  unreadable: string[];
}

/** Reads `keys` through every node's text server, pipelined, retrying errors a few times. */
async function readKeys(ports: readonly number[], keys: readonly string[]): Promise<ReadBack> {
  const values = new Map<string, string>();
  let todo = [...keys];
  for (let attempt = 0; attempt < 6 && todo.length > 0; attempt++) {
    if (attempt > 0) await sleep(1000);
    const conns: TextConnection[] = [];
    for (const port of ports) {
      try {
        conns.push(await connectText(port, 2000));
      } catch {
        // a node still restarting: the others read
      }
    }
    if (conns.length === 0) continue;
    const again: string[] = [];
    const batches: string[][] = [];
    for (let i = 0; i < todo.length; i += 200) batches.push(todo.slice(i, i + 200));
    await Promise.all(
      conns.map(async (conn, c) => {
        for (let b = c; b < batches.length; b += conns.length) {
          const batch = batches[b]!;
          const results = await conn.getMany(
            batch.map((k) => `GET ${BUCKET} ${k}`),
            30_000,
          );
          batch.forEach((k, i) => {
            const r = results[i]!;
            if (r.ok) values.set(k, r.value ?? '');
            else again.push(k);
          });
        }
      }),
    );
    for (const c of conns) c.close();
    todo = again;
  }
  return { values, unreadable: todo };
}

async function readBack(ports: readonly number[], record: LoadRecord): Promise<ReadBack & { failedWrites: readonly FailedOp[] }> {
  const failedWrites = record.failed.filter((f) => f.op === 'put');
  const keys = [...record.acknowledged.keys(), ...failedWrites.map((f) => f.key)];
  return { ...(await readKeys(ports, keys)), failedWrites };
}

/** What a failed write's error said about whether it ran. */
function failureKind(reason: string): string {
  if (/the write may have been applied/.test(reason)) return 'QuorumError, "may have been applied"';
  if (/the write was not applied/.test(reason)) return 'QuorumError, "was not applied"';
  if (/^TimeoutError/.test(reason)) return 'TimeoutError';
  if (/^NodeUnreachableError/.test(reason)) return 'NodeUnreachableError';
  if (/^TransportError/.test(reason)) return 'TransportError';
  if (reason === 'no reply in time') return 'no reply within the client deadline';
  if (/^connection /.test(reason)) return 'connection lost';
  const cls = reason.match(/^(\w+Error)/)?.[1];
  return cls ?? reason.slice(0, 40);
}

function report(
  options: ChaosOptions,
  phases: Phase[],
  record: LoadRecord,
  check: ReadBack & { failedWrites: readonly FailedOp[] },
  durationMs: number,
): ChaosReport {
  const lostKeys = [...record.acknowledged].filter(([k, v]) => check.values.get(k) !== v).map(([k]) => k);
  const failedBy: Record<string, { failed: number; applied: number }> = {};
  let applied = 0;
  let notApplied = 0;
  let unknown = 0;
  let contradicted = 0;
  for (const f of check.failedWrites) {
    const kind = failureKind(f.reason);
    const entry = (failedBy[kind] ??= { failed: 0, applied: 0 });
    entry.failed++;
    const got = check.values.get(f.key);
    if (got === undefined) unknown++;
    else if (got === f.value) {
      applied++;
      entry.applied++;
      if (kind === 'QuorumError, "was not applied"') contradicted++;
    } else notApplied++;
  }
  const gaps = writeGaps(record);
  const phaseReports = phases.map((p) => ({
    name: p.name,
    ms: p.to - p.from,
    writesOk: record.writeTimes.filter((t) => t >= p.from && t < p.to).length,
    writesFailed: record.failed.filter((f) => f.op === 'put' && f.at >= p.from && f.at < p.to).length,
    readsFailed: record.failed.filter((f) => f.op === 'get' && f.at >= p.from && f.at < p.to).length,
    longestGapMs: longestGapWithin(gaps, p.from, p.to),
  }));
  const worst = phaseReports.reduce((a, b) => (b.longestGapMs > a.longestGapMs ? b : a), phaseReports[0]!);
  return {
    options,
    storage: STORAGE_LABEL[options.storage ?? 'lmdb'],
    phases: phaseReports,
    acknowledged: record.acknowledged.size,
    lost: lostKeys.length,
    lostSample: lostKeys
      .slice(0, 10)
      .map((k) => `${k}: acknowledged ${record.acknowledged.get(k)}, read ${JSON.stringify(check.values.get(k) ?? '(unreadable)')}`),
    writesFailed: check.failedWrites.length,
    readsOk: record.reads.ok,
    readsFailed: record.reads.failed,
    staleReads: record.staleReads.length,
    longestGapMs: Math.max(0, ...gaps.map((g) => g.to - g.from)),
    longestGapPhase: worst?.name ?? '',
    failedButApplied: applied,
    failedNotApplied: notApplied,
    failedUnknown: unknown,
    failedBy,
    contradicted,
    durationMs,
  };
}

export function formatReport(r: ChaosReport): string {
  const s = (ms: number) => `${(ms / 1000).toFixed(1)} s`;
  const lines = [
    `chaos (${r.options.name}): ${s(r.durationMs)}, ${r.options.writers} writers + 1 reader through the text servers of 3 ring nodes (N3 R2 W2, hop timeout ${r.options.hopTimeoutMs} ms) over a 3-server NATS cluster; storage ${r.storage}`,
    '',
    '| phase | time | writes ok | writes failed | reads failed | longest without a write |',
    '|---|---|---|---|---|---|',
    ...r.phases.map((p) => `| ${p.name} | ${s(p.ms)} | ${p.writesOk} | ${p.writesFailed} | ${p.readsFailed} | ${s(p.longestGapMs)} |`),
    '',
    `acknowledged writes: ${r.acknowledged}; lost: ${r.lost}${r.lostSample.length ? ` (${r.lostSample.join('; ')})` : ''}`,
    `operations failed: ${r.writesFailed} writes, ${r.readsFailed} reads (reads ok: ${r.readsOk}; stale reads: ${r.staleReads})`,
    `longest window without a successful write: ${s(r.longestGapMs)} (${r.longestGapPhase})`,
    `writes reported failed that were in fact applied: ${r.failedButApplied} of ${r.writesFailed} (not applied: ${r.failedNotApplied}, unreadable: ${r.failedUnknown}); said "was not applied" but applied: ${r.contradicted}`,
    ...Object.entries(r.failedBy)
      .sort((a, b) => b[1].failed - a[1].failed)
      .map(([kind, v]) => `  ${kind}: ${v.failed} failed, ${v.applied} applied`),
  ];
  return lines.join('\n');
}
