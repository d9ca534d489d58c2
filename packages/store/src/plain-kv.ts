/**
 * The guide's bucket semantics (PROTOCOL.md section 3) over a backend: CREATE is idempotent,
 * PUT overwrites and never creates a bucket, DELETE of a missing key succeeds, GET of a missing
 * key is "no value". Arguments are already bytes.
 *
 * Every operation runs in its bucket's queue. On a backend with a synchronous face (memory,
 * LMDB) and a bucket with nothing queued, it runs inline instead: it cannot interleave with
 * anything. Memory answers a plain value (the hot path allocates no promise chain); LMDB's
 * writes take effect at once and the answer waits for them to be durable (`written()`), outside
 * the queue, so the next operation on the bucket does not wait for the disk.
 */
import type { KvReply } from '@ringkv/core';
import type { Backend } from './backend.js';
import type { BucketQueue } from './bucket-queue.js';
import { keyString } from './bytes.js';

export type PutReply = KvReply<'put'>;
/**
 * `value` is the value (or null when the key is missing). Under the ring, a caller that asked
 * for siblings also gets `siblings`: every concurrent value in stamp order (null for a delete).
 */
export type GetReply = KvReply<'get'>;
/** `KV.Bucket.object`: get's reply, plus siblings and the joined vclock under the ring. */
export type ObjectReply = KvReply<'object'>;
/** `KV.Bucket.keys`: the live keys of a bucket in byte order, at most `limit` of them. */
export type KeysReply = KvReply<'keys'>;

type Answer<T> = T | Promise<T>;

export interface PlainKv {
  create(bucket: Uint8Array): Answer<'ok'>;
  lookup(bucket: Uint8Array): Answer<boolean>;
  put(bucket: Uint8Array, key: Uint8Array, value: Uint8Array): Answer<PutReply>;
  get(bucket: Uint8Array, key: Uint8Array): Answer<GetReply>;
  delete(bucket: Uint8Array, key: Uint8Array): Answer<PutReply>;
}

export function createPlainKv(backend: Backend, queue: BucketQueue): PlainKv {
  const sync = backend.sync;
  /** `answer` once the writes just made are durable (at once on memory). */
  const acked = <T>(answer: T): Answer<T> => {
    const w = sync?.written?.();
    return w ? w.then(() => answer) : answer;
  };
  return {
    create(bucket) {
      const id = keyString(bucket);
      if (sync && queue.idle(id)) {
        sync.createTable('plain', id, bucket);
        return acked('ok' as const);
      }
      return queue.run(id, async () => {
        await backend.createTable('plain', bucket);
        return 'ok' as const;
      });
    },
    lookup(bucket) {
      const id = keyString(bucket);
      if (sync && queue.idle(id)) return sync.hasTable('plain', id);
      return queue.run(id, () => backend.hasTable('plain', bucket));
    },
    put(bucket, key, value) {
      const id = keyString(bucket);
      if (sync && queue.idle(id)) {
        if (!sync.hasTable('plain', id)) return 'not_found';
        sync.set('plain', id, bucket, key, value);
        return acked('ok' as const);
      }
      return queue.run(id, async () => ((await backend.setIfTable('plain', bucket, key, value)) ? 'ok' : 'not_found'));
    },
    get(bucket, key) {
      const id = keyString(bucket);
      if (sync && queue.idle(id)) {
        if (!sync.hasTable('plain', id)) return 'not_found';
        return { value: sync.get('plain', id, key) ?? null };
      }
      return queue.run(id, async (): Promise<GetReply> => {
        const found = await backend.getIfTable('plain', bucket, key);
        return found === undefined ? 'not_found' : { value: found.value ?? null };
      });
    },
    delete(bucket, key) {
      const id = keyString(bucket);
      if (sync && queue.idle(id)) {
        if (!sync.hasTable('plain', id)) return 'not_found';
        sync.delete('plain', id, key);
        return acked('ok' as const);
      }
      return queue.run(id, async () => ((await backend.deleteIfTable('plain', bucket, key)) === undefined ? 'not_found' : 'ok'));
    },
  };
}
