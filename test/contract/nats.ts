/**
 * Contract clusters over NATS with real processes: a nats-server on a free loopback port and
 * the three contract nodes as `ringkv node start` processes, each with a generated config file.
 * Calls enter through a client connection of the test's own (not a node), as `ringkv route`
 * does. Another strategy over NATS is one call of {@link natsFactory} with its config fields.
 *
 * @example
 * contractSuite(natsFactory({
 *   name: 'ring x NATS', strategy: 'ring',
 *   config: { strategy: 'ring', ring: { members: [...CONTRACT_NODES], n: 3 } },
 *   view: () => createRingStrategy(...),
 * }));
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createRangeStrategy, remoteRouter, type Strategy } from '@ringkv/core';
import { connectNatsTransport } from '@ringkv/nats';
import { startNatsServer, startNodeProcesses } from '@ringkv/test-utils';
import { CONTRACT_NODES, CONTRACT_TABLE, type ContractCluster, type ContractFactory } from './factory.js';

/** The fixture functions every contract node loads. */
export const CONTRACT_MODULES = fileURLToPath(new URL('../fixtures/contract-modules.js', import.meta.url));

/** Extra wait of the test client beyond the per-hop timeout, so the hop's own error reaches it. */
const CLIENT_MARGIN_MS = 1000;
const DEFAULT_HOP_TIMEOUT_MS = 5000;

export interface NatsFactoryOptions {
  /** e.g. "range x NATS" */
  name: string;
  /** `range` or `ring`. */
  strategy: string;
  /** Config fields every node gets (strategy, routingTable, ring, hopTimeoutMs, ...), or a function of the node name. */
  config: Record<string, unknown> | ((node: string) => Record<string, unknown>);
  /** A strategy answering placement like the nodes do, for `owner()`. */
  view: () => Strategy;
  /** @default CONTRACT_NODES */
  nodes?: readonly string[];
}

export function natsFactory(options: NatsFactoryOptions): ContractFactory {
  const names = options.nodes ?? CONTRACT_NODES;
  return {
    name: options.name,
    strategy: options.strategy,
    async setup(): Promise<ContractCluster> {
      const nats = await startNatsServer();
      const dir = mkdtempSync(join(tmpdir(), 'ringkv-contract-'));
      const cleanup = async () => {
        await nats.stop();
        rmSync(dir, { recursive: true, force: true });
      };
      let processes;
      try {
        processes = await startNodeProcesses(
          names.map((node) => {
            const fields = typeof options.config === 'function' ? options.config(node) : options.config;
            const file = join(dir, `${node.replace(/[^A-Za-z0-9_-]/g, '_')}.json`);
            // Storage only: no TCP port is opened.
            writeFileSync(file, JSON.stringify({ ...fields, node, transport: 'nats', roles: ['storage'], modules: [CONTRACT_MODULES] }, null, 2));
            return { config: file, env: { NATS_URL: nats.url, RINGKV_CONFIG_DIR: dir } };
          }),
        );
      } catch (err) {
        await cleanup();
        throw err;
      }
      const client = await connectNatsTransport({ url: nats.url, name: `contract client ${options.name}` });
      const view = options.view();
      return {
        nodes: names,
        route(via, bucket, mod, fun, args, routeOptions) {
          return remoteRouter(client, via, { timeoutMs: DEFAULT_HOP_TIMEOUT_MS, marginMs: CLIENT_MARGIN_MS }).route(bucket, mod, fun, args, routeOptions);
        },
        owner: (bucket) => view.placement(bucket).replicas[0]!.node,
        async teardown() {
          await client.close();
          await processes.stop();
          await cleanup();
        },
      };
    },
  };
}

export const rangeNats = natsFactory({
  name: 'range x NATS',
  strategy: 'range',
  config: { strategy: 'range', routingTable: CONTRACT_TABLE },
  view: () => createRangeStrategy(CONTRACT_TABLE),
});
