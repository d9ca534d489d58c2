/**
 * What a node's parts tell its HTTP server (@ringkv/http's ClusterStatsSource): storage numbers
 * from the store, hinted objects waiting by owner, and the anti-entropy counters of whatever
 * ring strategy the node runs now. Membership (epoch, transfers, member states) adds its own
 * functions here when it runs on the node.
 */
import { readState, readTransfers, type ClusterStateStore, type RingkvNode } from '@ringkv/core';
import type { AntiEntropyStats as HttpAntiEntropyStats, ClusterStatsSource, StorageStats, Transfer } from '@ringkv/http';
import type { AntiEntropyStats, MembershipAgent } from '@ringkv/ring';
import type { Store } from '@ringkv/store';

/** In a managed cluster: the node's membership agent and the cluster state it follows. */
export interface MembershipSource {
  agent: Pick<MembershipAgent, 'epoch'>;
  state: ClusterStateStore;
}

export function statsSourceFor(store: Store | undefined, node?: Pick<RingkvNode, 'strategy'>, membership?: MembershipSource): ClusterStatsSource {
  const source: ClusterStatsSource = {};
  if (node) {
    // Asked of the strategy in effect at each scrape: membership swaps strategies at runtime.
    source.antiEntropy = () => antiEntropyOf(node.strategy());
  }
  if (membership) {
    source.epoch = () => membership.agent.epoch();
    source.transfers = async () => transfersOf(membership.state);
  }
  if (!store) return source;
  source.storage = async (): Promise<StorageStats> => {
    const buckets = await store.buckets();
    const hinted: Record<string, number> = {};
    for (const owner of await store.backend.tables('hinted')) {
      hinted[new TextDecoder().decode(owner)] = (await store.backend.stats('hinted', owner)).keys;
    }
    return {
      buckets: buckets.length,
      keys: buckets.reduce((n, b) => n + b.keys, 0),
      bytes: buckets.reduce((n, b) => n + b.bytes, 0),
      hinted,
    };
  };
  return source;
}

/** The ring strategy's counters in the HTTP package's terms; undefined when it runs none (range table, or turned off). */
export function antiEntropyOf(strategy: unknown): HttpAntiEntropyStats | undefined {
  // The ring strategy, and a managed cluster's epoch strategy, answer it; the range table does not.
  const own = strategy as { antiEntropyStats?: unknown } | null;
  const get = own?.antiEntropyStats;
  if (typeof get !== 'function') return undefined;
  const s = (get as () => AntiEntropyStats).call(own);
  if (!s.enabled) return undefined;
  return {
    exchanges: s.exchanges,
    repairs: s.keysRepaired,
    exchangesFailed: s.exchangesFailed,
    bytesSent: s.bytesSent,
    bytesReceived: s.bytesReceived,
    tombstonesReaped: s.tombstonesReaped,
    synced: s.synced,
  };
}

/**
 * The transfers of the transition in progress, as the dashboard and /metrics show them: bytes
 * done against the plan, and how many of its buckets. None when nothing moves.
 */
export async function transfersOf(state: ClusterStateStore): Promise<Transfer[]> {
  const current = await readState(state);
  const transition = current?.doc.transition;
  if (!transition) return [];
  const doc = await readTransfers(state);
  if (!doc || doc.doc.transition !== transition.id) return [];
  return doc.doc.items
    .filter((t) => t.status !== 'done' && t.status !== 'cancelled')
    .map((t) => ({
      from: t.from,
      to: t.to,
      done: t.doneBytes,
      total: t.plannedBytes,
      unit: 'bytes',
      what: `${t.doneBuckets}/${t.buckets.length} buckets, ${t.status}`,
    }));
}
