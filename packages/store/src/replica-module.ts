/**
 * The `Replica` module (packages/core/src/replication.ts) the ring uses for read repair,
 * hinted handoff and tombstone reaping. All functions take plain arguments.
 *
 * Reaping rule (no resurrection on this node): an object is removed only when every sibling
 * it holds is a tombstone older than the cutoff, and every sibling any hinted area on this
 * node holds for the same object is dominated by one of those tombstones. Since stored
 * siblings are already merged (dominated ones dropped), "all tombstones" means the delete
 * dominates every value this node ever kept for the key; a concurrent or newer value keeps
 * the tombstone alive. Hinted tombstones are never reaped: they must reach their owner first.
 * Across nodes, the cutoff is the ring's grace period: it must exceed the time a replica can
 * stay stale (handoff and read repair), or a stale replica's old value could come back.
 */
import {
  ArgumentError,
  REPLICA_MODULE,
  bucketBytes,
  describeType,
  descends,
  compareVectors,
  stampOrder,
  type BucketName,
  type BucketSummary,
  type ModuleRegistry,
  type Sibling,
  type VersionedObject,
} from '@ringkv/core';
import type { Backend } from './backend.js';
import { parseHintedField } from './hinted-field.js';
import { checkObjects, decodeSiblings } from './versioned-record.js';
import { randomBytes } from 'node:crypto';
import { LATER, NODE_TABLE, ownerBytes, type VersionedStore } from './versioned-store.js';

export interface ReplicaFunctions {
  merge(objects: unknown, hintFor?: unknown): Promise<'ok'>;
  /**
   * `merge`, answering per object the versions held after the merge that the sent siblings do
   * not cover (what the sender missed): the ring's write fan-out in one storage pass.
   */
  absorb(objects: unknown, hintFor?: unknown): Promise<VersionedObject[]>;
  /**
   * This storage's epoch for `node`: made up (random) the first time, kept with the data after.
   * Storage that lost its data (a wiped folder, a memory store restarted, a reset) has none and
   * makes a new one, so the node's versions start a new actor instead of reusing counters that
   * older copies elsewhere already passed (Riak's kv679).
   */
  epoch(node: unknown): Promise<string>;
  hinted(owner: unknown, limit: unknown): Promise<VersionedObject[]>;
  dropHinted(owner: unknown, objects: unknown): Promise<'ok'>;
  reap(olderThanTs: unknown): Promise<number>;
  buckets(): Promise<BucketSummary[]>;
  /** Up to `limit` objects of one bucket's primary area after the cursor `after`, in key byte order (ownership transfer). */
  scanBucket(bucket: unknown, after: unknown, limit: unknown): Promise<ScanPage>;
  /** Forgets a bucket's primary area on this node (its old owner, once ownership moved). */
  dropBucket(bucket: unknown): Promise<'ok'>;
}

export interface ScanPage {
  readonly objects: VersionedObject[];
  /** Stored bytes of the objects (key + encoded record, as `buckets()` counts them). */
  readonly bytes: number;
  /** The backend's scan cursor, to pass as `after` (opaque); absent when the bucket has no more. */
  readonly next?: Uint8Array;
}

export function createReplicaFunctions(backend: Backend, store: VersionedStore, buckets: () => Promise<BucketSummary[]>): ReplicaFunctions {
  // Awaiting a plain value still costs a turn of the microtask queue: the loops below await
  // only what is a promise.

  /**
   * Merges one object, inline when the store can, else in its key's queue. What an inline merge
   * wrote becomes durable (LMDB) by the promise it adds to `durable`, taken at once: a later
   * write of someone else's, while this call awaits a queued merge, would take it otherwise.
   */
  function mergeOne(o: VersionedObject, owner: string | undefined, durable: Promise<void>[]): Sibling[] | Promise<Sibling[]> {
    const bucket = bucketBytes(o.bucket);
    const now = store.now(bucket, o.key, (objs) => objs.merge(o.key, o.siblings, owner));
    if (now === LATER) return store.withKey(bucket, o.key, (objs) => objs.merge(o.key, o.siblings, owner));
    const written = store.written();
    if (written) durable.push(written);
    return now;
  }


  return {
    async merge(objects, hintFor) {
      const checked = checkObjects(objects, 'objects');
      const owner = optionalOwner(hintFor);
      const durable: Promise<void>[] = [];
      for (const o of checked) {
        const merged = mergeOne(o, owner, durable);
        if (merged instanceof Promise) await merged;
      }
      // What was merged inline is durable (LMDB) before it is acknowledged.
      if (durable.length > 0) await Promise.all(durable);
      return 'ok';
    },

    async absorb(objects, hintFor) {
      const checked = checkObjects(objects, 'objects');
      const owner = optionalOwner(hintFor);
      const missed: VersionedObject[] = [];
      const durable: Promise<void>[] = [];
      for (const o of checked) {
        let merged = mergeOne(o, owner, durable);
        if (merged instanceof Promise) merged = await merged;
        const extra = merged.filter((s) => !o.siblings.some((t) => descends(t.version.vv, s.version.vv)));
        if (extra.length > 0) missed.push({ bucket: o.bucket, key: o.key, siblings: extra });
      }
      if (durable.length > 0) await Promise.all(durable);
      return missed;
    },

    async epoch(node) {
      const name = ownerName(node);
      const field = new TextEncoder().encode(name);
      return store.withBucket(NODE_TABLE, async () => {
        const held = await backend.get('hinted', NODE_TABLE, field);
        if (held !== undefined) return new TextDecoder().decode(held);
        const fresh = randomBytes(8).toString('hex');
        await backend.set('hinted', NODE_TABLE, field, new TextEncoder().encode(fresh));
        return fresh;
      });
    },

    async hinted(owner, limit) {
      const name = ownerName(owner);
      if (typeof limit !== 'number' || !Number.isInteger(limit) || limit < 1) {
        throw new ArgumentError(`limit must be a positive integer, got ${describeType(limit)} ${String(limit)}`);
      }
      // A bounded read of the owner's area, not the whole table: handoff takes it batch by batch.
      const { entries } = await backend.scan('hinted', { table: ownerBytes(name), limit });
      return entries.map(({ field, value }) => {
        const { bucket, key } = parseHintedField(field);
        return { bucket, key, siblings: decodeSiblings(value, `hinted object for ${name}`) };
      });
    },

    async dropHinted(owner, objects) {
      const name = ownerName(owner);
      const checked = checkObjects(objects, 'objects');
      for (const o of checked) {
        await store.withKey(bucketBytes(o.bucket as BucketName), o.key, async (objs) => {
          const held = await objs.area(o.key, name);
          // Keep what the handed-off copy does not cover: writes that arrived after it was read.
          const remaining = held.filter((s) => !o.siblings.some((t) => covers(t, s)));
          if (remaining.length !== held.length) await objs.replace(o.key, remaining, name);
        });
      }
      if ((await backend.stats('hinted', ownerBytes(name))).keys === 0) {
        await backend.dropTable('hinted', ownerBytes(name));
        store.forgetOwners();
      }
      return 'ok';
    },

    async reap(olderThanTs) {
      if (typeof olderThanTs !== 'number' || Number.isNaN(olderThanTs)) {
        throw new ArgumentError(`olderThanTs must be a number, got ${describeType(olderThanTs)}`);
      }
      let reaped = 0;
      const owners = await store.owners();
      for (const bucket of await backend.tables('versioned')) {
        for (const [key, raw] of await backend.entries('versioned', bucket)) {
          if (!reapable(decodeSiblings(raw, 'reap'), olderThanTs)) continue;
          // Checked again in the key's queue: a write may have arrived since the scan.
          const gone = await store.withKey(bucket, key, async (objs) => {
            const siblings = await objs.area(key, undefined);
            if (!reapable(siblings, olderThanTs)) return false;
            for (const owner of owners) {
              const held = await objs.area(key, owner);
              if (!held.every((h) => siblings.some((t) => covers(t, h)))) return false;
            }
            await objs.replace(key, [], undefined);
            return true;
          });
          if (gone) reaped++;
        }
      }
      return reaped;
    },

    buckets,

    async scanBucket(bucket, after, limit) {
      const name = bucketArg(bucket);
      if (after !== undefined && after !== null && !(after instanceof Uint8Array)) throw new ArgumentError(`after must be bytes or null, got ${describeType(after)}`);
      if (typeof limit !== 'number' || !Number.isInteger(limit) || limit < 1 || limit > 100_000) {
        throw new ArgumentError(`limit must be an integer from 1 to 100000, got ${String(limit)}`);
      }
      // The backend's ordered, resumable scan: one bounded batch, never the whole bucket in memory.
      const batch = await backend.scan('versioned', { table: name, limit, ...(after instanceof Uint8Array ? { after } : {}) });
      let bytes = 0;
      const objects = batch.entries.map((e) => {
        bytes += e.field.length + e.value.length;
        return { bucket: name, key: e.field, siblings: decodeSiblings(e.value, 'scan') };
      });
      return { objects, bytes, ...(batch.next ? { next: batch.next } : {}) };
    },

    async dropBucket(bucket) {
      const name = bucketArg(bucket);
      await store.withBucket(name, () => backend.dropTable('versioned', name));
      return 'ok';
    },
  };
}

function bucketArg(bucket: unknown): Uint8Array {
  try {
    const bytes = bucketBytes(bucket as BucketName);
    if (bytes.length === 0) throw new ArgumentError('bucket name is empty');
    return bytes;
  } catch (err) {
    throw new ArgumentError(`bucket: ${(err as Error).message}`);
  }
}


export function registerReplicaModule(modules: ModuleRegistry, fns: ReplicaFunctions): void {
  modules.registerModule(REPLICA_MODULE, {
    merge: { kind: 'write', fn: (_ctx, objects: unknown, hintFor?: unknown) => fns.merge(objects, hintFor) },
    epoch: { kind: 'write', arity: 1, fn: (_ctx, node: unknown) => fns.epoch(node) },
    absorb: { kind: 'write', arity: 2, fn: (_ctx, objects: unknown, hintFor: unknown) => fns.absorb(objects, hintFor) },
    hinted: { kind: 'read', arity: 2, fn: (_ctx, owner: unknown, limit: unknown) => fns.hinted(owner, limit) },
    dropHinted: { kind: 'write', arity: 2, fn: (_ctx, owner: unknown, objects: unknown) => fns.dropHinted(owner, objects) },
    reap: { kind: 'write', arity: 1, fn: (_ctx, olderThanTs: unknown) => fns.reap(olderThanTs) },
    buckets: { kind: 'read', arity: 0, fn: () => fns.buckets() },
    scanBucket: { kind: 'read', arity: 3, fn: (_ctx, bucket: unknown, after: unknown, limit: unknown) => fns.scanBucket(bucket, after, limit) },
    dropBucket: { kind: 'write', arity: 1, fn: (_ctx, bucket: unknown) => fns.dropBucket(bucket) },
  });
}

/** Present, and every sibling a tombstone older than the cutoff. */
function reapable(siblings: readonly Sibling[], olderThanTs: number): boolean {
  return siblings.length > 0 && siblings.every((s) => s.tombstone && s.version.ts < olderThanTs);
}

/** `t` makes `s` redundant: its vector descends from `s`'s (an equal vector must be the same or a later write). */
export function covers(t: Sibling, s: Sibling): boolean {
  if (!descends(t.version.vv, s.version.vv)) return false;
  return compareVectors(t.version.vv, s.version.vv) !== 'equal' || stampOrder(t.version, s.version) >= 0;
}

function ownerName(owner: unknown): string {
  if (typeof owner !== 'string' || owner === '') throw new ArgumentError(`owner must be a non-empty node name, got ${describeType(owner)}`);
  return owner;
}

function optionalOwner(hintFor: unknown): string | undefined {
  if (hintFor === undefined || hintFor === null) return undefined;
  return ownerName(hintFor);
}
