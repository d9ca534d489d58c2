/**
 * `@ringkv/test-utils` (private, source only: vitest and tsx run it as TypeScript): what every
 * ringkv test suite shares. Launchers start real `nats-server` and `redis-server` processes on
 * free loopback ports; node-process helpers start `ringkv node start` children; the line
 * client speaks the text protocol; the compliance suites run unchanged against each
 * implementation of an interface (storage backends, versioned stores, transports).
 * `@ringkv/test-utils/managed-cluster` (a subpath: it needs `@ringkv/ring`) starts managed-cluster
 * members in one process.
 *
 * @example
 * import { describeDistributed, startNatsServer } from '@ringkv/test-utils';
 * describeDistributed('over NATS', () => {
 *   it('starts', async () => { const nats = await startNatsServer(); await nats.stop(); });
 * });
 */
export * from './child-processes.js';
export * from './nats.js';
export * from './redis.js';
export * from './node-process.js';
export * from './line-client.js';
export * from './store-helpers.js';
export * from './backend-contract.js';
export * from './versioned-suite.js';
export * from './scan-contract.js';
export * from './transport-compliance.js';
export * from './text-protocol-suite.js';
export * from './cluster-load.js';
export * from './cluster-state-suite.js';
export * from './text-load-client.js';
export * from './tls.js';
export * from './nats-jwt.js';
