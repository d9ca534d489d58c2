/**
 * The guide's bucket semantics (PROTOCOL.md section 3) over a backend: CREATE is idempotent,
 * PUT overwrites and never creates a bucket, DELETE of a missing key succeeds, GET of a missing
 * key is "no value". Arguments are already bytes; every operation runs in its bucket's queue.
 */
import type { Backend } from './backend.js';
import type { BucketQueue } from './bucket-queue.js';
import { keyString } from './bytes.js';

export type PutReply = 'ok' | 'not_found';
export type GetReply = { value: Uint8Array | null } | 'not_found';

export interface PlainKv {
  create(bucket: Uint8Array): Promise<'ok'>;
  lookup(bucket: Uint8Array): Promise<boolean>;
  put(bucket: Uint8Array, key: Uint8Array, value: Uint8Array): Promise<PutReply>;
  get(bucket: Uint8Array, key: Uint8Array): Promise<GetReply>;
  delete(bucket: Uint8Array, key: Uint8Array): Promise<PutReply>;
}

export function createPlainKv(backend: Backend, queue: BucketQueue): PlainKv {
  return {
    create: (bucket) =>
      queue.run(keyString(bucket), async () => {
        await backend.createTable('plain', bucket);
        return 'ok' as const;
      }),
    lookup: (bucket) => queue.run(keyString(bucket), () => backend.hasTable('plain', bucket)),
    put: (bucket, key, value) =>
      queue.run(keyString(bucket), async () => {
        if (!(await backend.hasTable('plain', bucket))) return 'not_found' as const;
        await backend.set('plain', bucket, key, value);
        return 'ok' as const;
      }),
    get: (bucket, key) =>
      queue.run(keyString(bucket), async (): Promise<GetReply> => {
        if (!(await backend.hasTable('plain', bucket))) return 'not_found';
        return { value: (await backend.get('plain', bucket, key)) ?? null };
      }),
    delete: (bucket, key) =>
      queue.run(keyString(bucket), async () => {
        if (!(await backend.hasTable('plain', bucket))) return 'not_found' as const;
        await backend.delete('plain', bucket, key);
        return 'ok' as const;
      }),
  };
}
