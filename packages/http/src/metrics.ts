/**
 * The node's Prometheus metrics (prom-client), one registry per node so that several nodes in
 * one process (tests, `ringkv dev`) never mix their numbers.
 *
 * Calls are counted where clients enter: {@link NodeMetrics.meter} wraps a node's `route` for
 * a protocol (`http`, `text`), so both servers of a node feed the same counters. Gauges about
 * storage, hinted handoff, the ring, transfers and anti-entropy are read from a
 * {@link ClusterStatsSource} when Prometheus scrapes, so the parts that know those numbers
 * plug in without depending on this package; `registry` is there for metrics of their own.
 *
 * @example
 * const metrics = createNodeMetrics({ node });
 * const router = metrics.meter(node, 'http');
 * await router.route('shopping', 'KV.Bucket', 'get', ['shopping', 'eggs']);
 * await metrics.registry.metrics(); // 'ringkv_calls_total{protocol="http",command="KV.Bucket.get",outcome="ok"} 1 ...'
 */
import type { RingkvNode, Router, RouteOptions } from '@ringkv/core';
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import { strategyMembers, type ClusterStatsSource } from './cluster-view.js';
import { errorAnswer } from './error-status.js';


/** Recent latencies kept per command for /stats percentiles. */
const RECENT_SAMPLES = 1024;

export interface CommandStats {
  calls: number;
  /** Latency percentiles of the most recent calls (up to 1024), in microseconds like Riak's *_fsm_time_*. */
  meanUs: number;
  medianUs: number;
  p95Us: number;
  p99Us: number;
  maxUs: number;
}

export interface NodeMetrics {
  readonly registry: Registry;
  /** A router that counts and times every call made through it, labelled with `protocol`. */
  meter<R extends Router>(router: R, protocol: string): R;
  /** Totals and recent latencies per command (`KV.Bucket.get`), for /stats. */
  commandStats(): Record<string, CommandStats>;
  /** Calls that failed their quorum, all protocols. */
  quorumFailures(): number;
  /** Counts one HTTP response. */
  httpResponse(method: string, route: string, status: number): void;
}

export interface NodeMetricsOptions {
  node: RingkvNode;
  source?: ClusterStatsSource;
  /** Collect Node.js process metrics (CPU, memory, event loop, GC). @default true */
  processMetrics?: boolean;
}

export function createNodeMetrics(options: NodeMetricsOptions): NodeMetrics {
  const { node, source } = options;
  const registry = new Registry();
  registry.setDefaultLabels({ node: node.name });
  if (options.processMetrics !== false) collectDefaultMetrics({ register: registry });

  const calls = new Counter({
    name: 'ringkv_calls_total',
    help: 'Client calls routed by this node, by protocol, command (module.function) and outcome',
    labelNames: ['protocol', 'command', 'outcome'] as const,
    registers: [registry],
  });
  const latency = new Histogram({
    name: 'ringkv_call_duration_seconds',
    help: 'Time from a client call entering route to its answer, by protocol and command',
    labelNames: ['protocol', 'command'] as const,
    buckets: [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [registry],
  });
  const quorum = new Counter({
    name: 'ringkv_quorum_failures_total',
    help: 'Client calls that failed because fewer replicas than the quorum answered',
    labelNames: ['command'] as const,
    registers: [registry],
  });
  const http = new Counter({
    name: 'ringkv_http_responses_total',
    help: 'HTTP responses by method, route pattern and status',
    labelNames: ['method', 'route', 'status'] as const,
    registers: [registry],
  });

  const storage = async () => (source?.storage ? await source.storage() : undefined);
  // Gauges fed by the source exist only when the source provides their number: an absent
  // series says "not known here", a zero would claim a value.
  const when = (provided: unknown) => (provided ? [registry] : []);
  new Gauge({
    name: 'ringkv_stored_keys',
    help: 'Keys this node stores (replicas included under the ring)',
    registers: when(source?.storage),
    async collect() {
      const s = await storage();
      if (s) this.set(s.keys);
    },
  });
  new Gauge({
    name: 'ringkv_stored_bytes',
    help: 'Bytes of keys and values this node stores',
    registers: when(source?.storage),
    async collect() {
      const s = await storage();
      if (s) this.set(s.bytes);
    },
  });
  new Gauge({
    name: 'ringkv_stored_buckets',
    help: 'Buckets this node stores',
    registers: when(source?.storage),
    async collect() {
      const s = await storage();
      if (s) this.set(s.buckets);
    },
  });
  new Gauge({
    name: 'ringkv_hinted_objects',
    help: 'Objects this node holds for a down owner, waiting for hinted handoff, by owner',
    labelNames: ['owner'] as const,
    registers: when(source?.storage),
    async collect() {
      this.reset();
      const s = await storage();
      for (const [owner, n] of Object.entries(s?.hinted ?? {})) this.set({ owner }, n);
    },
  });
  new Gauge({
    name: 'ringkv_members',
    help: 'Cluster members as this node sees them, by state',
    labelNames: ['state'] as const,
    registers: [registry],
    async collect() {
      this.reset();
      const members = source?.members ? await source.members() : strategyMembers(node);
      const counts: Record<string, number> = {};
      for (const m of members) counts[m.state] = (counts[m.state] ?? 0) + 1;
      for (const [state, n] of Object.entries(counts)) this.set({ state }, n);
    },
  });
  new Gauge({
    name: 'ringkv_ring_epoch',
    help: 'The committed cluster epoch (absent until membership changes provide one)',
    registers: when(source?.epoch),
    async collect() {
      this.reset();
      const epoch = await source?.epoch?.();
      if (epoch !== undefined) this.set(epoch);
    },
  });
  new Gauge({
    name: 'ringkv_transfers_in_progress',
    help: 'Data transfers in progress',
    registers: when(source?.transfers),
    async collect() {
      this.set(source?.transfers ? (await source.transfers()).length : 0);
    },
  });
  new Gauge({
    name: 'ringkv_transfer_progress_ratio',
    help: 'Progress of each transfer in progress, 0 to 1',
    labelNames: ['from', 'to'] as const,
    registers: when(source?.transfers),
    async collect() {
      this.reset();
      for (const t of source?.transfers ? await source.transfers() : []) {
        this.set({ from: t.from, to: t.to }, t.total > 0 ? Math.min(1, t.done / t.total) : 0);
      }
    },
  });
  new Gauge({
    name: 'ringkv_anti_entropy_exchanges',
    help: 'Anti-entropy exchanges run since the node started (absent without anti-entropy)',
    registers: when(source?.antiEntropy),
    async collect() {
      this.reset();
      const s = await source?.antiEntropy?.();
      if (s) this.set(s.exchanges);
    },
  });
  new Gauge({
    name: 'ringkv_anti_entropy_repairs',
    help: 'Objects repaired by anti-entropy since the node started (absent without anti-entropy)',
    registers: when(source?.antiEntropy),
    async collect() {
      this.reset();
      const s = await source?.antiEntropy?.();
      if (s) this.set(s.repairs);
    },
  });

  new Gauge({
    name: 'ringkv_anti_entropy_exchanges_failed',
    help: 'Anti-entropy exchanges that failed since the node started (absent without anti-entropy)',
    registers: when(source?.antiEntropy),
    async collect() {
      this.reset();
      const s = await source?.antiEntropy?.();
      if (s?.exchangesFailed !== undefined) this.set(s.exchangesFailed);
    },
  });
  new Gauge({
    name: 'ringkv_anti_entropy_bytes',
    help: 'Bytes of anti-entropy exchange messages since the node started, by direction (absent without anti-entropy)',
    labelNames: ['direction'] as const,
    registers: when(source?.antiEntropy),
    async collect() {
      this.reset();
      const s = await source?.antiEntropy?.();
      if (s?.bytesSent !== undefined) this.set({ direction: 'sent' }, s.bytesSent);
      if (s?.bytesReceived !== undefined) this.set({ direction: 'received' }, s.bytesReceived);
    },
  });
  new Gauge({
    name: 'ringkv_anti_entropy_tombstones_reaped',
    help: 'Tombstones removed after every replica confirmed them, since the node started (absent without anti-entropy)',
    registers: when(source?.antiEntropy),
    async collect() {
      this.reset();
      const s = await source?.antiEntropy?.();
      if (s?.tombstonesReaped !== undefined) this.set(s.tombstonesReaped);
    },
  });
  new Gauge({
    name: 'ringkv_anti_entropy_synced',
    help: '1 once this node built its trees and finished an exchange with every live peer (what a rolling restart waits for), else 0',
    registers: when(source?.antiEntropy),
    async collect() {
      this.reset();
      const s = await source?.antiEntropy?.();
      if (s?.synced !== undefined) this.set(s.synced ? 1 : 0);
    },
  });

  const recent = new Map<string, { calls: number; samples: number[]; next: number }>();
  let quorumTotal = 0;

  function record(protocol: string, command: string, outcome: string, seconds: number): void {
    calls.inc({ protocol, command, outcome });
    latency.observe({ protocol, command }, seconds);
    if (outcome === 'quorum') {
      quorum.inc({ command });
      quorumTotal++;
    }
    let r = recent.get(command);
    if (!r) recent.set(command, (r = { calls: 0, samples: [], next: 0 }));
    r.calls++;
    const us = Math.round(seconds * 1e6);
    if (r.samples.length < RECENT_SAMPLES) r.samples.push(us);
    else {
      r.samples[r.next] = us;
      r.next = (r.next + 1) % RECENT_SAMPLES;
    }
  }

  return {
    registry,
    meter<R extends Router>(router: R, protocol: string): R {
      const route = (bucket: Parameters<Router['route']>[0], mod: string, fun: string, args?: readonly unknown[], opts?: RouteOptions) => {
        const command = `${mod}.${fun}`;
        const start = performance.now();
        const done = (outcome: string) => record(protocol, command, outcome, (performance.now() - start) / 1000);
        let answer: Promise<unknown>;
        try {
          answer = router.route(bucket, mod, fun, args, opts);
        } catch (err) {
          done(errorAnswer(err).outcome);
          return Promise.reject(err);
        }
        return answer.then(
          (reply) => {
            done(reply === 'not_found' ? 'not_found' : 'ok');
            return reply;
          },
          (err: unknown) => {
            done(errorAnswer(err).outcome);
            throw err;
          },
        );
      };
      // Keep the router's other members (a node's transport, for SUBSCRIBE): only route is metered.
      return new Proxy(router, { get: (target, prop, receiver) => (prop === 'route' ? route : Reflect.get(target, prop, receiver)) });
    },
    commandStats() {
      const out: Record<string, CommandStats> = {};
      for (const [command, r] of recent) {
        const sorted = [...r.samples].sort((a, b) => a - b);
        const at = (p: number) => sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? 0;
        out[command] = {
          calls: r.calls,
          meanUs: sorted.length ? Math.round(sorted.reduce((a, b) => a + b, 0) / sorted.length) : 0,
          medianUs: at(50),
          p95Us: at(95),
          p99Us: at(99),
          maxUs: sorted.at(-1) ?? 0,
        };
      }
      return out;
    },
    quorumFailures: () => quorumTotal,
    httpResponse(method, route, status) {
      http.inc({ method, route, status: String(status) });
    },
  };
}
