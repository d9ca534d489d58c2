/**
 * `@ringkv/store`: buckets as the guide has them (the KV protocol of `@ringkv/core`: create,
 * lookup, get, put, delete), registered as functions `route` calls, over a memory or Redis
 * backend.
 *
 * @example
 * import { createModuleRegistry, kvCall, startLocalCluster } from '@ringkv/core';
 * import { createStore } from '@ringkv/store';
 *
 * const store = await createStore({ backend: 'memory' });
 * const modules = createModuleRegistry();
 * store.register(modules);
 * const cluster = await startLocalCluster([{ name: 'foo@computer-name', modules, routingTable: [{ from: 0, to: 255, node: 'foo@computer-name' }] }]);
 * const foo = cluster.node('foo@computer-name');
 * store.attach(foo);
 * await kvCall(foo, 'create', ['shopping']);         // 'ok'
 * await kvCall(foo, 'put', ['shopping', 'eggs', '3']); // 'ok'
 * await kvCall(foo, 'get', ['shopping', 'eggs']);      // { value: Uint8Array [0x33] }
 */
export * from './backend.js';
export * from './errors.js';
export * from './memory-backend.js';
export * from './redis-backend.js';
export * from './lmdb-backend.js';
export * from './store.js';
/** The listing message and its entries live in the KV protocol of `@ringkv/core`. */
export { BUCKETS_MESSAGE, type BucketSummary } from '@ringkv/core';
export type { GetReply, KeysReply, ObjectReply, PutReply } from './plain-kv.js';
export { MAX_KEYS_PER_LISTING } from './key-listing.js';
export { BUCKET_EXISTS } from './versioned-kv.js';
export type { ReplicaFunctions, ScanPage } from './replica-module.js';
