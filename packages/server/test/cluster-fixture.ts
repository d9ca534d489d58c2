/** One in-process node holding the real store, plus a TCP server in front of it. */
import { createInProcessNetwork, createModuleRegistry, createNode, createRangeStrategy, type Logger, type RingkvNode } from '@ringkv/core';
import { createStore, type Store } from '@ringkv/store';
import { startServer, type ChangeFeed, type RunningServer, type ServerOptions, type Router } from '../src/index.js';

export interface Fixture {
  node: RingkvNode;
  store: Store;
  server: RunningServer;
  logs: string[];
  stop(): Promise<void>;
}

export const NODE = 'solo@test';

/**
 * The node owns bytes 0x01..0xef; 0x00 and 0xf0..0xff have no entry, except 0xfe, which points
 * at a node nobody serves, and 0xfd, which points at a node that never answers.
 */
export async function startFixture(
  options: Partial<Omit<ServerOptions, 'node' | 'port'>> & { wrap?: (node: RingkvNode) => Router; feedFrom?: () => ChangeFeed } = {},
): Promise<Fixture> {
  const modules = createModuleRegistry();
  const store = await createStore({ backend: 'memory' });
  store.register(modules);
  const network = createInProcessNetwork();
  const transport = network.transport();
  const hang = await network.transport().listen('hang@test', () => new Promise(() => {}));
  const node = createNode({
    name: NODE,
    transport,
    modules,
    hopTimeoutMs: 300,
    strategy: createRangeStrategy([
      { from: 1, to: 0xef, node: NODE },
      { from: 0xfd, to: 0xfd, node: 'hang@test' },
      { from: 0xfe, to: 0xfe, node: 'gone@test' },
    ]),
  });
  await node.start();
  store.attach(node);
  const logs: string[] = [];
  const logger: Logger = { debug: () => {}, info: (m) => void logs.push(m), warn: (m) => void logs.push(m), error: (m) => void logs.push(m) };
  const { wrap, feedFrom, ...rest } = options;
  const router = wrap ? wrap(node) : node;
  const server = await startServer({ node: router, port: 0, host: '127.0.0.1', logger, ...(feedFrom ? { feed: feedFrom() } : {}), ...rest });
  return {
    node,
    store,
    server,
    logs,
    async stop() {
      await server.close();
      await node.stop();
      await transport.close();
      await hang.close();
      await store.close();
    },
  };
}
