/**
 * A node's storage: a backend, the bucket functions registered for `route`, and the
 * bucket-listing message (`BUCKETS_MESSAGE` of the KV protocol) that lists what the node holds (the migration simulation reads it).
 */
import { ArgumentError, BUCKETS_MESSAGE, DEFAULT_REDIS_KEY_PREFIX, describeType, type BucketSummary, type ModuleRegistry, type RingkvNode } from '@ringkv/core';
import type { Backend, BackendKind } from './backend.js';
import { createBucketQueue } from './bucket-queue.js';
import { createKeyListing } from './key-listing.js';
import { registerKvModules } from './kv-module.js';
import { createMemoryBackend } from './memory-backend.js';
import { createPlainKv } from './plain-kv.js';
import { createRedisBackend } from './redis-backend.js';
import { createLmdbBackend, type LmdbBackendOptions } from './lmdb-backend.js';
import { createReplicaFunctions, registerReplicaModule, type ReplicaFunctions } from './replica-module.js';
import { compareBytes, keyString } from './bytes.js';
import { createVersionedKv } from './versioned-kv.js';
import { createVersionedStore, type SerializeBy } from './versioned-store.js';
import { createChangeLog } from './change-log.js';
import { createAntiEntropyFunctions, registerAntiEntropyFunctions } from './replica-anti-entropy.js';
import { createRangeMoveFunctions, registerRangeMoveModule } from './range-move.js';


export interface StoreOptions {
  /** @default 'memory' */
  backend?: BackendKind;
  /** For `backend: 'redis'`. */
  redis?: { url: string; keyPrefix: string };
  /** For `backend: 'lmdb'`: the data folder, durability, value limit. */
  lmdb?: LmdbBackendOptions;
  /** An ioredis-compatible client to use instead of connecting to `redis.url` (e.g. ioredis-mock). */
  client?: unknown;
  /**
   * What one queue covers under the ring: each key (default; writes to different keys of a
   * bucket run concurrently) or each bucket (every operation of a bucket in turn).
   * @default 'key'
   */
  serializeBy?: SerializeBy;
}

export interface Store {
  readonly backend: Backend;
  /** The `Replica` functions, callable directly (the ring calls them through the registry). */
  readonly replica: ReplicaFunctions;
  /** Registers the KV protocol's functions (and `Replica`) in `modules`. */
  register(modules: ModuleRegistry): void;
  /** Serves the bucket listing (`BUCKETS_MESSAGE`) on `node`. */
  attach(node: RingkvNode): void;
  /** What this node stores, bucket by bucket. */
  buckets(): Promise<BucketSummary[]>;
  /** Empties every bucket (the guide's tests start from a reset). */
  reset(): Promise<void>;
  close(): Promise<void>;
}

export async function createStore(options: StoreOptions = {}): Promise<Store> {
  if (options === null || typeof options !== 'object') {
    throw new ArgumentError(`store options must be an object, got ${describeType(options)}`);
  }
  if (options.serializeBy !== undefined && options.serializeBy !== 'key' && options.serializeBy !== 'bucket') {
    throw new ArgumentError(`serializeBy must be 'key' or 'bucket', got ${JSON.stringify(options.serializeBy)}`);
  }
  const backend = await openBackend(options);
  return createStoreOn(backend, { serializeBy: options.serializeBy });
}

const BUCKET_OBJECT_KEY = new Uint8Array(0);

/** A store over a backend you built yourself (tests, custom backends). */
export function createStoreOn(backend: Backend, options: { serializeBy?: SerializeBy | undefined } = {}): Store {
  const queue = createBucketQueue();
  const plain = createPlainKv(backend, queue);
  const changes = createChangeLog();
  const versionedStore = createVersionedStore(backend, queue, options.serializeBy ?? 'key', changes.record);
  const versioned = createVersionedKv(versionedStore);

  async function buckets(): Promise<BucketSummary[]> {
    const found = new Map<string, BucketSummary>();
    const entry = (bucket: Uint8Array) => {
      const id = keyString(bucket);
      let e = found.get(id);
      if (!e) found.set(id, (e = { bucket, keys: 0, bytes: 0 }));
      return e;
    };
    for (const bucket of await backend.tables('plain')) {
      const s = await backend.stats('plain', bucket);
      const e = entry(bucket);
      e.keys += s.keys;
      e.bytes += s.bytes;
    }
    // Under the ring: objects in the primary area, the bucket object (empty key) not counted as
    // a key. Table stats, not a walk: `cluster status` asks every node this every few seconds.
    for (const bucket of await backend.tables('versioned')) {
      const e = entry(bucket);
      const s = await backend.stats('versioned', bucket);
      const bucketObject = await backend.get('versioned', bucket, BUCKET_OBJECT_KEY);
      e.keys += s.keys - (bucketObject === undefined ? 0 : 1);
      e.bytes += s.bytes;
    }
    return [...found.values()].sort((a, b) => compareBytes(a.bucket, b.bucket));
  }
  const replica = createReplicaFunctions(backend, versionedStore, buckets);
  const antiEntropy = createAntiEntropyFunctions(backend, versionedStore, changes);
  const rangeMove = createRangeMoveFunctions(backend, queue);

  return {
    backend,
    replica,
    register(modules) {
      registerKvModules(modules, plain, versioned, createKeyListing(backend));
      registerReplicaModule(modules, replica);
      registerAntiEntropyFunctions(modules, antiEntropy);
      registerRangeMoveModule(modules, rangeMove);
    },
    attach(node) {
      node.handle(BUCKETS_MESSAGE, () => buckets());
    },
    buckets,
    reset: async () => {
      await backend.clear();
      changes.cleared();
      versionedStore.forgetOwners();
    },
    close: () => backend.close(),
  };
}

async function openBackend(options: StoreOptions): Promise<Backend> {
  const kind = options.backend ?? 'memory';
  if (kind === 'memory') return createMemoryBackend();
  if (kind === 'redis') {
    const redis = options.redis;
    if (redis !== undefined && (redis === null || typeof redis !== 'object')) {
      throw new ArgumentError(`redis options must be an object, got ${describeType(redis)}`);
    }
    if (options.client === undefined && !redis?.url) {
      throw new ArgumentError("backend 'redis' needs redis.url (or an ioredis-compatible client)");
    }
    return createRedisBackend({
      keyPrefix: redis?.keyPrefix ?? DEFAULT_REDIS_KEY_PREFIX,
      ...(redis?.url ? { url: redis.url } : {}),
      ...(options.client !== undefined ? { client: options.client } : {}),
    });
  }
  if (kind === 'lmdb') {
    if (options.lmdb === null || typeof options.lmdb !== 'object') {
      throw new ArgumentError("backend 'lmdb' needs lmdb options with a path (the data folder)");
    }
    return createLmdbBackend(options.lmdb);
  }
  throw new ArgumentError(`backend must be 'lmdb', 'memory' or 'redis', got ${JSON.stringify(kind)}`);
}
