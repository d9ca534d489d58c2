/**
 * The `Replica` functions anti-entropy uses (packages/core/src/replication.ts): an ordered,
 * resumable scan of the primary area, the change log since a point, the current objects for a
 * list of refs, and the reaping of exact tombstone objects every replica was confirmed to hold.
 */
import {
  ArgumentError,
  bucketBytes,
  describeType,
  type BucketName,
  type ModuleRegistry,
  REPLICA_MODULE,
  type Sibling,
  type VersionedObject,
} from '@ringkv/core';
import type { Backend } from './backend.js';
import { keyString } from './bytes.js';
import type { ChangeLog } from './change-log.js';
import { checkObjects, decodeSiblings, decodeStored } from './versioned-record.js';
import type { VersionedStore } from './versioned-store.js';
import { covers } from './replica-module.js';

/** Largest batch a caller may ask for in one call. */
const MAX_BATCH = 100_000;

export interface AntiEntropyFunctions {
  /** Up to `limit` objects of the primary area after `after`, in (bucket, key) byte order. */
  scan(after: unknown, limit: unknown): Promise<{ objects: VersionedObject[]; next: Uint8Array | null }>;
  /** Objects changed after `since`, with their current siblings ([] when removed). */
  changes(since: unknown, limit: unknown): Promise<{ reset: boolean; seq: number; objects: VersionedObject[]; more: boolean }>;
  /** Current primary-area objects for `refs` ([{bucket, key}]); empty siblings when absent. */
  fetch(refs: unknown): Promise<VersionedObject[]>;
  /**
   * Removes each object whose stored siblings are exactly the given ones and all tombstones,
   * and that no hinted area on this node holds anything newer for. Anything else is kept.
   */
  reapExact(objects: unknown): Promise<number>;
}

export function createAntiEntropyFunctions(backend: Backend, store: VersionedStore, log: ChangeLog): AntiEntropyFunctions {
  const immutable = backend.valuesImmutable === true;
  const decoded = (raw: Uint8Array | undefined) => (raw === undefined ? [] : decodeStored(raw, 'anti-entropy read', immutable));
  /** A stored object's siblings; read through the synchronous face when there is one (the tree update reads every object written). */
  function primary(bucket: Uint8Array, key: Uint8Array): Sibling[] | Promise<Sibling[]> {
    if (backend.sync) return decoded(backend.sync.get('versioned', keyString(bucket), key));
    return backend.get('versioned', bucket, key).then(decoded);
  }

  return {
    async scan(after, limit) {
      const n = batchLimit(limit);
      if (after !== null && after !== undefined && !(after instanceof Uint8Array)) {
        throw new ArgumentError(`after must be a scan cursor (bytes) or null, got ${describeType(after)}`);
      }
      const batch = n === 0 ? { entries: [] } : await backend.scan('versioned', { ...(after ? { after } : {}), limit: n });
      return {
        objects: batch.entries.map((e) => ({ bucket: e.table, key: e.field, siblings: decodeSiblings(e.value, 'anti-entropy scan') })),
        next: batch.next ?? null,
      };
    },

    async changes(since, limit) {
      if (typeof since !== 'number' || !Number.isSafeInteger(since) || since < 0) {
        throw new ArgumentError(`since must be a non-negative integer, got ${describeType(since)}`);
      }
      const batch = log.read(since, batchLimit(limit));
      const objects: VersionedObject[] = [];
      for (const { bucket, key } of batch.refs) {
        const siblings = primary(bucket, key);
        objects.push({ bucket, key, siblings: siblings instanceof Promise ? await siblings : siblings });
      }
      return { reset: batch.reset, seq: batch.seq, objects, more: batch.more };
    },

    async fetch(refs) {
      if (!Array.isArray(refs) || refs.length > MAX_BATCH)
        throw new ArgumentError(`refs must be an array of at most ${MAX_BATCH} {bucket, key}`);
      const out: VersionedObject[] = [];
      for (const [i, r] of refs.entries()) {
        const { bucket, key } = (r ?? {}) as { bucket?: unknown; key?: unknown };
        if (!(key instanceof Uint8Array)) throw new ArgumentError(`refs[${i}].key must be a Uint8Array, got ${describeType(key)}`);
        let b: Uint8Array;
        try {
          b = bucketBytes(bucket as BucketName);
        } catch {
          throw new ArgumentError(`refs[${i}].bucket must be a string or a Uint8Array, got ${describeType(bucket)}`);
        }
        out.push({ bucket: b, key, siblings: await primary(b, key) });
      }
      return out;
    },

    async reapExact(objects) {
      const checked = checkObjects(objects, 'objects');
      let reaped = 0;
      for (const o of checked) {
        if (o.siblings.length === 0 || !o.siblings.every((s) => s.tombstone)) continue;
        await store.withBucket(bucketBytes(o.bucket), async (objs) => {
          const held = await objs.area(o.key, undefined);
          if (!sameSet(held, o.siblings)) return;
          for (const owner of await store.owners()) {
            const hinted = await objs.area(o.key, owner);
            if (!hinted.every((h) => held.some((t) => covers(t, h)))) return;
          }
          await objs.replace(o.key, [], undefined);
          reaped++;
        });
      }
      return reaped;
    },
  };
}

export function registerAntiEntropyFunctions(modules: ModuleRegistry, fns: AntiEntropyFunctions): void {
  modules.registerModule(REPLICA_MODULE, {
    scan: { kind: 'read', arity: 2, fn: (_ctx, after: unknown, limit: unknown) => fns.scan(after, limit) },
    changes: { kind: 'read', arity: 2, fn: (_ctx, since: unknown, limit: unknown) => fns.changes(since, limit) },
    fetch: { kind: 'read', arity: 1, fn: (_ctx, refs: unknown) => fns.fetch(refs) },
    reapExact: { kind: 'write', arity: 1, fn: (_ctx, objects: unknown) => fns.reapExact(objects) },
  });
}

function batchLimit(limit: unknown): number {
  if (typeof limit !== 'number' || !Number.isInteger(limit) || limit < 0 || limit > MAX_BATCH) {
    throw new ArgumentError(`limit must be an integer from 0 to ${MAX_BATCH}, got ${describeType(limit)} ${String(limit)}`);
  }
  return limit;
}

function stampKey(s: Sibling): string {
  return JSON.stringify([s.version.ts, s.version.actor, s.version.vv, s.tombstone === true]);
}

function sameSet(a: readonly Sibling[], b: readonly Sibling[]): boolean {
  if (a.length !== b.length) return false;
  const keys = new Set(a.map(stampKey));
  return b.every((s) => keys.has(stampKey(s)));
}
