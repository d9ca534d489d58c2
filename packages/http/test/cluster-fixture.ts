/**
 * In-process clusters with the real store behind an HTTP server on a node that stores nothing
 * (every call is routed): one under the range table, one under the ring. The same test bodies
 * run against both (http-api.test.ts).
 */
import { createInProcessNetwork, createModuleRegistry, createNode, createRangeStrategy, type RingkvNode, type Strategy } from '@ringkv/core';
import { createRingStrategy } from '@ringkv/ring';
import { createStore, type Store } from '@ringkv/store';
import { startHttpServer, type HttpServerOptions, type RunningHttpServer } from '../src/index.js';

export type Kind = 'range' | 'ring';

export interface HttpCluster {
  kind: Kind;
  /** The server-only node the HTTP server runs on. */
  web: RingkvNode;
  storage: RingkvNode[];
  stores: Store[];
  http: RunningHttpServer;
  base: string;
  /** Stops a storage node (it stops answering). */
  stopStorage(name: string): Promise<void>;
  stop(): Promise<void>;
}

export const RANGE_NODES = ['foo@http', 'bar@http'];
export const RING_NODES = ['a@http', 'b@http', 'c@http'];
/** Under the range table, buckets starting with 0xfd go to a node that never answers. */
export const HANG_BYTE = 0xfd;

export async function startHttpCluster(kind: Kind, options: Partial<Omit<HttpServerOptions, 'node' | 'port'>> = {}): Promise<HttpCluster> {
  const network = createInProcessNetwork();
  const names = kind === 'range' ? RANGE_NODES : RING_NODES;
  const strategy = (): Strategy =>
    kind === 'range'
      ? createRangeStrategy([
          { from: 0, to: 0x7f, node: RANGE_NODES[0]! },
          { from: 0x80, to: HANG_BYTE - 1, node: RANGE_NODES[1]! },
          { from: HANG_BYTE, to: HANG_BYTE, node: 'hang@http' },
          { from: HANG_BYTE + 1, to: 0xff, node: RANGE_NODES[1]! },
        ])
      : createRingStrategy({ members: RING_NODES, n: 3, r: 2, w: 2, pingIntervalMs: 200, pingTimeoutMs: 200 });
  const hang = await network.transport().listen('hang@http', () => new Promise(() => {}));
  const stores: Store[] = [];
  const storage: RingkvNode[] = [];
  for (const name of names) {
    const store = await createStore({ backend: 'memory' });
    const modules = createModuleRegistry();
    store.register(modules);
    const node = createNode({ name, transport: network.transport(), modules, strategy: strategy(), hopTimeoutMs: 2000 });
    await node.start();
    store.attach(node);
    stores.push(store);
    storage.push(node);
  }
  const web = createNode({ name: 'web@http', transport: network.transport(), strategy: strategy(), hopTimeoutMs: 2000 });
  await web.start();
  const http = await startHttpServer({ node: web, port: 0, host: '127.0.0.1', ...options });
  const stopped = new Set<string>();
  return {
    kind,
    web,
    storage,
    stores,
    http,
    base: `http://127.0.0.1:${http.port}`,
    async stopStorage(name) {
      stopped.add(name);
      await storage.find((n) => n.name === name)!.stop();
    },
    async stop() {
      await http.close();
      await web.stop();
      for (const n of storage) if (!stopped.has(n.name)) await n.stop();
      await hang.close();
      await Promise.all(stores.map((s) => s.close()));
    },
  };
}
