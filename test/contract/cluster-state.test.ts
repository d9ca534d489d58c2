import { createMemoryClusterStateStore } from '@ringkv/core';
import { connectClusterStateKv } from '@ringkv/nats';
import { describe, expect, it, vi } from 'vitest';
import { clusterStateSuite, describeDistributed, startNatsServer, type NatsServer } from '@ringkv/test-utils';

describe('cluster state: in-memory', () =>
  clusterStateSuite({
    async open() {
      const store = createMemoryClusterStateStore();
      // Two handles on one map: the in-memory store is shared by reference.
      return { store, peer: store };
    },
  }));

describeDistributed('cluster state: NATS JetStream KV', () => {
  let nats: NatsServer | undefined;
  clusterStateSuite({
    async open() {
      nats = await startNatsServer();
      const store = await connectClusterStateKv({ url: nats.url, bucket: 'contract' });
      const peer = await connectClusterStateKv({ url: nats.url, bucket: 'contract' });
      return { store, peer };
    },
    teardown: async () => nats?.stop(),
  });
});

describeDistributed('cluster state: JetStream KV across a nats-server restart', () => {
  it('keeps the data (store folder) and the watch, and CAS works again after reconnecting', async () => {
    const nats = await startNatsServer();
    const store = await connectClusterStateKv({ url: nats.url, bucket: 'restart' });
    try {
      const enc = (s: string) => new TextEncoder().encode(s);
      const seen: string[] = [];
      const listener = await store.watch((c) => {
        if (!c.deleted) seen.push(new TextDecoder().decode(c.value));
      });
      const rev = await store.create('cluster.state', enc('before'));
      await nats.restart();
      // Writes fail while the server is away; retry until the client reconnected.
      let rev2 = 0;
      const deadline = Date.now() + 20_000;
      while (rev2 === 0 && Date.now() < deadline) {
        try {
          rev2 = await store.update('cluster.state', enc('after'), rev);
        } catch {
          await new Promise((r) => setTimeout(r, 200));
        }
      }
      expect(rev2).toBeGreaterThan(rev);
      expect(new TextDecoder().decode((await store.get('cluster.state'))!.value)).toBe('after');
      await vi.waitFor(() => expect(seen).toEqual(['before', 'after']), { timeout: 10_000, interval: 50 });
      await listener.close();
    } finally {
      await store.close();
      await nats.stop();
    }
  }, 60_000);
});
