/**
 * Registers the guide's bucket functions for `route`; their names, arities, kinds and reply
 * types are the KV protocol of `@ringkv/core` (`KV_FUNCTIONS`, `KvSignatures`), so a renamed function fails to
 * compile here.
 *
 * Each function checks its arguments (bad ones get an ArgumentError naming the argument) and
 * runs plainly, or, when the ring sets `ctx.meta.replica`, in versioned mode.
 */
import { ArgumentError, bucketBytes, registerKvFunctions, renderBucket, replicaMeta, type CallContext, type ModuleRegistry } from '@ringkv/core';
import { argBytes, bytesEqual, nonEmptyArgBytes } from './bytes.js';
import type { KeysReply, PlainKv } from './plain-kv.js';
import type { VersionedKv } from './versioned-kv.js';

export function registerKvModules(
  modules: ModuleRegistry,
  plain: PlainKv,
  versioned: VersionedKv,
  listKeys: (bucket: Uint8Array, limit: unknown) => Promise<KeysReply>,
): void {
  registerKvFunctions(modules, {
      create: (ctx, bucket) => {
        const b = bucketArg(ctx, bucket);
        const meta = replicaMeta(ctx.meta);
        return meta ? versioned.create(b, meta) : plain.create(b);
      },
      lookup: (ctx, bucket) => {
        const b = bucketArg(ctx, bucket);
        const meta = replicaMeta(ctx.meta);
        return meta ? versioned.lookup(b, meta) : plain.lookup(b);
      },
      put: (ctx, bucket, key, value) => {
        const b = bucketArg(ctx, bucket);
        const k = nonEmptyArgBytes(key, 'key');
        const v = argBytes(value, 'value');
        const meta = replicaMeta(ctx.meta);
        return meta ? versioned.put(b, k, v, meta) : plain.put(b, k, v);
      },
      get: (ctx, bucket, key) => {
        const b = bucketArg(ctx, bucket);
        const k = nonEmptyArgBytes(key, 'key');
        const meta = replicaMeta(ctx.meta);
        return meta ? versioned.get(b, k, meta) : plain.get(b, k);
      },
      object: (ctx, bucket, key) => {
        const b = bucketArg(ctx, bucket);
        const k = nonEmptyArgBytes(key, 'key');
        const meta = replicaMeta(ctx.meta);
        return meta ? versioned.object(b, k, meta) : plain.get(b, k);
      },
      keys: (ctx, bucket, limit) => listKeys(bucketArg(ctx, bucket), limit),
      delete: (ctx, bucket, key) => {
        const b = bucketArg(ctx, bucket);
        const k = nonEmptyArgBytes(key, 'key');
        const meta = replicaMeta(ctx.meta);
        return meta ? versioned.delete(b, k, meta) : plain.delete(b, k);
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

