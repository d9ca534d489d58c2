/**
 * Registers the guide's bucket functions for `route` (names, kinds and replies are the shared
 * API every package relies on):
 *
 * | function | kind | reply |
 * |---|---|---|
 * | `KV.Registry.create(bucket)` | write | `'ok'` (idempotent, data kept) |
 * | `KV.Registry.lookup(bucket)` | read | `boolean` |
 * | `KV.Bucket.put(bucket, key, value)` | write | `'ok'` or `'not_found'` |
 * | `KV.Bucket.get(bucket, key)` | read | `{ value: Uint8Array \| null }` or `'not_found'` |
 * | `KV.Bucket.delete(bucket, key)` | write | `'ok'` or `'not_found'` |
 *
 * Each function checks its arguments (bad ones get an ArgumentError naming the argument) and
 * runs plainly, or, when the ring sets `ctx.meta.replica`, in versioned mode.
 */
import { ArgumentError, bucketBytes, renderBucket, replicaMeta, type CallContext, type ModuleRegistry } from '@ringkv/core';
import { argBytes, bytesEqual, nonEmptyArgBytes } from './bytes.js';
import type { PlainKv } from './plain-kv.js';
import type { VersionedKv } from './versioned-kv.js';

export const REGISTRY_MODULE = 'KV.Registry';
export const BUCKET_MODULE = 'KV.Bucket';

export function registerKvModules(modules: ModuleRegistry, plain: PlainKv, versioned: VersionedKv): void {
  modules.registerModule(REGISTRY_MODULE, {
    create: {
      kind: 'write',
      arity: 1,
      fn: (ctx, bucket: unknown) => {
        const b = bucketArg(ctx, bucket);
        const meta = replicaMeta(ctx.meta);
        return meta ? versioned.create(b, meta) : plain.create(b);
      },
    },
    lookup: {
      kind: 'read',
      arity: 1,
      fn: (ctx, bucket: unknown) => {
        const b = bucketArg(ctx, bucket);
        const meta = replicaMeta(ctx.meta);
        return meta ? versioned.lookup(b, meta) : plain.lookup(b);
      },
    },
  });
  modules.registerModule(BUCKET_MODULE, {
    put: {
      kind: 'write',
      arity: 3,
      fn: (ctx, bucket: unknown, key: unknown, value: unknown) => {
        const b = bucketArg(ctx, bucket);
        const k = nonEmptyArgBytes(key, 'key');
        const v = argBytes(value, 'value');
        const meta = replicaMeta(ctx.meta);
        return meta ? versioned.put(b, k, v, meta) : plain.put(b, k, v);
      },
    },
    get: {
      kind: 'read',
      arity: 2,
      fn: (ctx, bucket: unknown, key: unknown) => {
        const b = bucketArg(ctx, bucket);
        const k = nonEmptyArgBytes(key, 'key');
        const meta = replicaMeta(ctx.meta);
        return meta ? versioned.get(b, k, meta) : plain.get(b, k);
      },
    },
    delete: {
      kind: 'write',
      arity: 2,
      fn: (ctx, bucket: unknown, key: unknown) => {
        const b = bucketArg(ctx, bucket);
        const k = nonEmptyArgBytes(key, 'key');
        const meta = replicaMeta(ctx.meta);
        return meta ? versioned.delete(b, k, meta) : plain.delete(b, k);
      },
    },
  });
}

/**
 * The bucket argument as bytes. It must name the bucket the call was routed by: otherwise the
 * data would land on a node that does not own it.
 */
function bucketArg(ctx: CallContext, bucket: unknown): Uint8Array {
  const bytes = nonEmptyArgBytes(bucket, 'bucket');
  if (ctx.bucket !== bucket && !bytesEqual(bucketBytes(ctx.bucket), bytes)) {
    throw new ArgumentError(
      `bucket argument ${renderBucket(bytes)} differs from the bucket the call was routed by (${renderBucket(ctx.bucket)})`,
    );
  }
  return bytes;
}

