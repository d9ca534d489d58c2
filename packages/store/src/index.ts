/**
 * `@ringkv/store`: buckets as the guide has them (`KV.Registry` create/lookup, `KV.Bucket`
 * get/put/delete), registered as functions `route` calls, over a memory or Redis backend.
 *
 * @example
 * import { createModuleRegistry, startLocalCluster } from '@ringkv/core';
 * import { createStore } from '@ringkv/store';
 *
 * const store = await createStore({ backend: 'memory' });
 * const modules = createModuleRegistry();
 * store.register(modules);
 * const cluster = await startLocalCluster([{ name: 'foo@computer-name', modules, routingTable: [{ from: 0, to: 255, node: 'foo@computer-name' }] }]);
 * const foo = cluster.node('foo@computer-name');
 * store.attach(foo);
 * await foo.route('shopping', 'KV.Registry', 'create', ['shopping']);          // 'ok'
 * await foo.route('shopping', 'KV.Bucket', 'put', ['shopping', 'eggs', '3']);  // 'ok'
 * await foo.route('shopping', 'KV.Bucket', 'get', ['shopping', 'eggs']);       // { value: Uint8Array [0x33] }
 */
export * from './backend.js';
export * from './errors.js';
export * from './memory-backend.js';
export * from './redis-backend.js';
export * from './store.js';
export { BUCKET_MODULE, REGISTRY_MODULE } from './kv-module.js';
export type { GetReply, PutReply } from './plain-kv.js';
export { BUCKET_EXISTS } from './versioned-kv.js';
export type { ReplicaFunctions } from './replica-module.js';
