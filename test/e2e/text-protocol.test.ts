/**
 * The text-protocol suite over {range, ring} x {memory, Redis}: one body (@ringkv/test-utils'
 * `textProtocolSuite`), four clusters of in-process nodes with the real store and a text server
 * in front of the first node.
 */
import { createInProcessNetwork, createModuleRegistry, createNode, createRangeStrategy, type RingkvNode, type Strategy } from '@ringkv/core';
import { createRingStrategy } from '@ringkv/ring';
import { startServer } from '@ringkv/server';
import { createStore, type Store } from '@ringkv/store';
import { describeDistributed, startRedisServer, textProtocolSuite, uniquePrefix, type RedisServer, type TextProtocolCluster } from '@ringkv/test-utils';
import { afterAll, beforeAll } from 'vitest';

const FOO = 'foo@computer-name';
const BAR = 'bar@computer-name';
const RING = ['a@ring', 'b@ring', 'c@ring'];

type Backend = { kind: 'memory' } | { kind: 'redis'; url: () => string };

/** Nodes `names` on one in-process network, each with its own store and strategy. */
async function startCluster(names: readonly string[], strategyFor: (name: string) => Strategy, backend: Backend): Promise<TextProtocolCluster> {
  const network = createInProcessNetwork();
  const nodes: RingkvNode[] = [];
  const stores: Store[] = [];
  for (const name of names) {
    const modules = createModuleRegistry();
    const store = await createStore(backend.kind === 'memory' ? { backend: 'memory' } : { backend: 'redis', redis: { url: backend.url(), keyPrefix: uniquePrefix('text') } });
    store.register(modules);
    const node = createNode({ name, transport: network.transport(), strategy: strategyFor(name), modules, hopTimeoutMs: 5000 });
    await node.start();
    store.attach(node);
    nodes.push(node);
    stores.push(store);
  }
  const server = await startServer({ node: nodes[0]!, port: 0, host: '127.0.0.1' });
  return {
    port: server.port,
    async teardown() {
      await server.close();
      for (const node of nodes) await node.stop();
      for (const store of stores) await store.close();
    },
  };
}

// The guide's tables: foo routes a..m to itself and n..z to bar, which keeps a..z.
const range = (backend: Backend) => () =>
  startCluster([FOO, BAR], (name) => createRangeStrategy(name === FOO ? [{ from: 'a', to: 'm', node: FOO }, { from: 'n', to: 'z', node: BAR }] : [{ from: 'a', to: 'z', node: BAR }]), backend);
const ring = (backend: Backend) => () => startCluster(RING, () => createRingStrategy({ members: RING, n: 3 }), backend);

textProtocolSuite({ name: 'range table + memory', setup: range({ kind: 'memory' }) });
textProtocolSuite({ name: 'ring (N3 R2 W2) + memory', setup: ring({ kind: 'memory' }) });

describeDistributed('over a real redis-server', () => {
  let redis: RedisServer;
  beforeAll(async () => {
    redis = await startRedisServer();
  });
  afterAll(() => redis?.stop());
  const backend: Backend = { kind: 'redis', url: () => redis.url };
  textProtocolSuite({ name: 'range table + Redis', setup: range(backend) });
  textProtocolSuite({ name: 'ring (N3 R2 W2) + Redis', setup: ring(backend) });
}, { needs: ['redis-server'] });
