/**
 * `GET /stats`: one JSON object in the spirit of Riak's, with Riak's names where ringkv has
 * the same number (`nodename`, `ring_members`, `connected_nodes`, `node_gets_total`,
 * `node_get_fsm_time_mean`, ... in microseconds) and ringkv's own under plain names.
 */
import type { RingkvNode } from '@ringkv/core';
import type { ClusterStatsSource, ClusterView } from './cluster-view.js';
import type { CommandStats, NodeMetrics } from './metrics.js';

export interface NodeStatsInput {
  node: RingkvNode;
  metrics: NodeMetrics;
  view: ClusterView;
  source?: ClusterStatsSource;
}

const GETS = ['KV.Bucket.object', 'KV.Bucket.get'];
const PUTS = ['KV.Bucket.put'];

function combine(stats: Record<string, CommandStats>, commands: readonly string[]): CommandStats | undefined {
  const found = commands.map((c) => stats[c]).filter((s): s is CommandStats => s !== undefined);
  if (found.length === 0) return undefined;
  // The busiest command's latencies stand for the group (they are the same operation).
  const main = [...found].sort((a, b) => b.calls - a.calls)[0]!;
  return { ...main, calls: found.reduce((n, s) => n + s.calls, 0) };
}

function fsm(prefix: string, s: CommandStats | undefined): Record<string, number> {
  return {
    [`${prefix}_fsm_time_mean`]: s?.meanUs ?? 0,
    [`${prefix}_fsm_time_median`]: s?.medianUs ?? 0,
    [`${prefix}_fsm_time_95`]: s?.p95Us ?? 0,
    [`${prefix}_fsm_time_99`]: s?.p99Us ?? 0,
    [`${prefix}_fsm_time_100`]: s?.maxUs ?? 0,
  };
}

export async function nodeStats(input: NodeStatsInput): Promise<Record<string, unknown>> {
  const { node, metrics, view, source } = input;
  const commands = metrics.commandStats();
  const gets = combine(commands, GETS);
  const puts = combine(commands, PUTS);
  const storage = source?.storage ? await source.storage() : undefined;
  const anti = source?.antiEntropy ? await source.antiEntropy() : undefined;
  const memory = process.memoryUsage();
  const placementOf = view.layout.kind === 'ring' ? { n_val: view.layout.n, r: view.layout.r, w: view.layout.w, ring_vnodes: view.layout.vnodes } : {};
  return {
    nodename: node.name,
    ring_members: view.members.map((m) => m.name),
    connected_nodes: view.members.filter((m) => !m.self && m.state === 'up').map((m) => m.name),
    member_states: Object.fromEntries(view.members.map((m) => [m.name, m.state])),
    strategy: view.strategy,
    strategy_description: view.describe,
    ...placementOf,
    ...(view.epoch !== undefined ? { ring_epoch: view.epoch } : {}),
    node_gets_total: gets?.calls ?? 0,
    node_puts_total: puts?.calls ?? 0,
    ...fsm('node_get', gets),
    ...fsm('node_put', puts),
    quorum_failures_total: metrics.quorumFailures(),
    commands,
    ...(storage
      ? {
          stored_buckets: storage.buckets,
          stored_keys: storage.keys,
          stored_bytes: storage.bytes,
          hinted_objects: Object.values(storage.hinted ?? {}).reduce((a, b) => a + b, 0),
        }
      : {}),
    transfers_in_progress: view.transfers.length,
    ...(anti
      ? {
          anti_entropy_exchanges: anti.exchanges,
          anti_entropy_repairs: anti.repairs,
          ...(anti.exchangesFailed !== undefined ? { anti_entropy_exchanges_failed: anti.exchangesFailed } : {}),
          ...(anti.bytesSent !== undefined ? { anti_entropy_bytes_sent: anti.bytesSent } : {}),
          ...(anti.bytesReceived !== undefined ? { anti_entropy_bytes_received: anti.bytesReceived } : {}),
          ...(anti.tombstonesReaped !== undefined ? { anti_entropy_tombstones_reaped: anti.tombstonesReaped } : {}),
          ...(anti.synced !== undefined ? { anti_entropy_synced: anti.synced } : {}),
        }
      : {}),
    memory_total: memory.rss,
    memory_heap_used: memory.heapUsed,
    sys_process_count: 1,
    nodejs_version: process.version,
    uptime_seconds: Math.round(process.uptime()),
  };
}
