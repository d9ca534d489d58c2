/**
 * Several nodes in one process over the in-process transport: the embedded default, and the
 * quickest way to try ringkv as a library.
 *
 * @example
 * const cluster = await startLocalCluster([
 *   { name: 'foo@computer-name', routingTable: [{ from: 'a', to: 'm', node: 'foo@computer-name' }, { from: 'n', to: 'z', node: 'bar@computer-name' }] },
 *   { name: 'bar@computer-name', routingTable: [{ from: 'a', to: 'z', node: 'bar@computer-name' }] },
 * ]);
 * await cluster.node('foo@computer-name').route('world', 'Kernel', 'node', []); // 'bar@computer-name'
 * await cluster.stop();
 */
import { ArgumentError } from './errors.js';
import { createInProcessNetwork, type InProcessNetwork } from './in-process-transport.js';
import type { Logger } from './logger.js';
import type { ModuleRegistry } from './module-registry.js';
import { createNode, type RingkvNode } from './node.js';
import { createRangeStrategy } from './range-strategy.js';
import type { RangeEntryInput, RangeTable } from './range-table.js';
import type { Strategy } from './strategy.js';

export interface LocalNodeSpec {
  name: string;
  /** Range table for this node (ignored when `strategy` is given). */
  routingTable?: RangeTable | readonly RangeEntryInput[];
  strategy?: Strategy;
  modules?: ModuleRegistry;
  hopTimeoutMs?: number;
  maxHops?: number;
  logger?: Logger;
}

export interface LocalCluster {
  readonly network: InProcessNetwork;
  readonly nodes: readonly RingkvNode[];
  node(name: string): RingkvNode;
  stop(): Promise<void>;
}

export async function startLocalCluster(specs: readonly LocalNodeSpec[], network = createInProcessNetwork()): Promise<LocalCluster> {
  const nodes = specs.map((s) =>
    createNode({
      name: s.name,
      transport: network.transport(),
      strategy: s.strategy ?? createRangeStrategy(s.routingTable ?? []),
      ...(s.modules ? { modules: s.modules } : {}),
      ...(s.hopTimeoutMs ? { hopTimeoutMs: s.hopTimeoutMs } : {}),
      ...(s.maxHops ? { maxHops: s.maxHops } : {}),
      ...(s.logger ? { logger: s.logger } : {}),
    }),
  );
  await Promise.all(nodes.map((n) => n.start()));
  return {
    network,
    nodes,
    node(name) {
      const found = nodes.find((n) => n.name === name);
      if (!found) throw new ArgumentError(`no node named ${name} in this cluster`);
      return found;
    },
    async stop() {
      await Promise.all(nodes.map(async (n) => {
        await n.stop();
        await n.transport.close();
      }));
    },
  };
}
