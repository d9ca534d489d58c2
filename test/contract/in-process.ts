import { createModuleRegistry, createRangeStrategy, startLocalCluster, type Strategy } from '@ringkv/core';
import { register } from '../fixtures/contract-modules.js';
import { CONTRACT_NODES, CONTRACT_TABLE, type ContractFactory } from './factory.js';

/** A contract cluster of in-process nodes, each with its own strategy from `strategyFor`. */
export function inProcessFactory(name: string, strategy: string, strategyFor: (node: string) => Strategy): ContractFactory {
  return {
    name,
    strategy,
    async setup() {
      const cluster = await startLocalCluster(
        CONTRACT_NODES.map((node) => {
          const modules = createModuleRegistry();
          register(modules);
          return { name: node, strategy: strategyFor(node), modules };
        }),
      );
      const view = strategyFor(CONTRACT_NODES[0]);
      return {
        nodes: CONTRACT_NODES,
        route: (via, bucket, mod, fun, args, options) => cluster.node(via).route(bucket, mod, fun, args, options),
        owner: (bucket) => view.placement(bucket).replicas[0]!.node,
        teardown: () => cluster.stop(),
      };
    },
  };
}

export const rangeInProcess = inProcessFactory('range x in-process', 'range', () => createRangeStrategy(CONTRACT_TABLE));
