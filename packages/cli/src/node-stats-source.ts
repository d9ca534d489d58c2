/**
 * What a node's parts tell its HTTP server (@ringkv/http's ClusterStatsSource): storage numbers
 * from the store, hinted objects waiting by owner. Membership (epoch, transfers, member states)
 * and anti-entropy add their own functions here when they run on the node.
 */
import type { ClusterStatsSource, StorageStats } from '@ringkv/http';
import type { Store } from '@ringkv/store';

export function statsSourceFor(store: Store | undefined): ClusterStatsSource {
  if (!store) return {};
  return {
    async storage(): Promise<StorageStats> {
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
    },
  };
}
