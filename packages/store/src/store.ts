/**
 * A node's storage: a backend, the bucket functions registered for `route`, and the
 * `kv.buckets` message that lists what the node holds (the migration simulation reads it).
 */
import { ArgumentError, DEFAULT_REDIS_KEY_PREFIX, describeType, type ModuleRegistry, type RingkvNode } from '@ringkv/core';
import type { Backend, BackendKind } from './backend.js';
import { createBucketQueue } from './bucket-queue.js';
import { registerKvModules } from './kv-module.js';
import { createMemoryBackend } from './memory-backend.js';
import { createPlainKv } from './plain-kv.js';
import { createRedisBackend } from './redis-backend.js';

/** Message type answered by {@link Store.attach}: what this node stores. */
export const BUCKETS_MESSAGE = 'kv.buckets';

export interface BucketSummary {
  bucket: Uint8Array;
  /** Keys stored (live or tombstoned, under the ring). */
  keys: number;
  /** Bytes of keys and values (encoded records under the ring). */
  bytes: number;
}

export interface StoreOptions {
  /** @default 'memory' */
  backend?: BackendKind;
  /** For `backend: 'redis'`. */
  redis?: { url: string; keyPrefix: string };
  /** An ioredis-compatible client to use instead of connecting to `redis.url` (e.g. ioredis-mock). */
  client?: unknown;
}

export interface Store {
  readonly backend: Backend;
  /** Registers `KV.Registry`, `KV.Bucket` (and `Replica`) in `modules`. */
  register(modules: ModuleRegistry): void;
  /** Serves `kv.buckets` on `node`. */
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
  const backend = await openBackend(options);
  return createStoreOn(backend);
}

/** A store over a backend you built yourself (tests, custom backends). */
export function createStoreOn(backend: Backend): Store {
  const queue = createBucketQueue();
  const plain = createPlainKv(backend, queue);

  async function buckets(): Promise<BucketSummary[]> {
    const out: BucketSummary[] = [];
    for (const bucket of await backend.tables('plain')) {
      const s = await backend.stats('plain', bucket);
      out.push({ bucket, keys: s.keys, bytes: s.bytes });
    }
    return out;
  }

  return {
    backend,
    register(modules) {
      registerKvModules(modules, plain);
    },
    attach(node) {
      node.handle(BUCKETS_MESSAGE, () => buckets());
    },
    buckets,
    reset: () => backend.clear(),
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
  throw new ArgumentError(`backend must be 'memory' or 'redis', got ${JSON.stringify(kind)}`);
}
