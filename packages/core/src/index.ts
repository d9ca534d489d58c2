/**
 * `@ringkv/core`: the contract every ringkv package builds on.
 *
 * @example
 * import { startLocalCluster } from '@ringkv/core';
 * const cluster = await startLocalCluster([{ name: 'foo@computer-name', routingTable: [{ from: 0, to: 255, node: 'foo@computer-name' }] }]);
 * await cluster.node('foo@computer-name').route('hello', 'Kernel', 'node', []); // 'foo@computer-name'
 */
export * from './errors.js';
export * from './bucket-name.js';
export * from './range-table.js';
export * from './strategy.js';
export * from './range-strategy.js';
export * from './module-registry.js';
export * from './transport.js';
export * from './wire-value.js';
export * from './in-process-transport.js';
export * from './node.js';
export * from './kv-protocol.js';
export * from './local-cluster.js';
export * from './config.js';
export * from './nats-config.js';
export * from './secret.js';
export * from './defaults.js';
export * from './logger.js';
export * from './log-limiter.js';
export * from './version-vector.js';
export * from './replication.js';
export * from './cluster-state.js';
export * from './cluster-model.js';
export * from './range-transition.js';
