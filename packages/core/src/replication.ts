/**
 * The contract between a replicating strategy (the ring) and versioning storage (the store).
 * The range table never sets `ctx.meta.replica`, so storage behaves plainly under it.
 *
 * Under the ring, registered functions are called with `ctx.meta.replica` set:
 *
 * - a `write` function gets `{ mode: 'write', version, hintFor? }`: it must store its effect as a
 *   sibling stamped `version`, merged (`mergeSiblings`) with what it holds; a delete stores a
 *   tombstone. With `hintFor`, the data is held for that (down) primary until handoff.
 * - a `read` function gets `{ mode: 'read' }`: it must answer a {@link VersionedReply} for what
 *   it read instead of the plain value.
 * - the coordinator then merges the replies and calls the same `read` function once more, on
 *   itself, with `{ mode: 'resolve', objects }` (the merged objects, siblings already resolved
 *   to one by the coordinator's policy unless the caller asked for siblings): the function
 *   answers the plain result it would give for that state, without touching its storage.
 *
 * Storage that supports this also registers the `Replica` module (see {@link REPLICA_MODULE}),
 * which the ring uses for read repair and hinted handoff.
 */
import type { Sibling, VersionStamp } from './version-vector.js';
import type { BucketName } from './bucket-name.js';

export interface ReplicaWriteMeta {
  readonly mode: 'write';
  readonly version: VersionStamp;
  /** Set on a fallback: the primary this write is held for. */
  readonly hintFor?: string;
  /**
   * Set while ownership moves, on a new owner the bucket is still streaming to: store the write
   * even though the bucket object has not arrived yet (it will, with the stream).
   */
  readonly gaining?: boolean;
}

export interface ReplicaReadMeta {
  readonly mode: 'read';
}

export interface ReplicaResolveMeta {
  readonly mode: 'resolve';
  readonly objects: readonly VersionedObject[];
}

export type ReplicaMeta = ReplicaWriteMeta | ReplicaReadMeta | ReplicaResolveMeta;

/** One stored object: a key inside a bucket (`key` is empty for the bucket itself). */
export interface VersionedObject {
  readonly bucket: BucketName;
  readonly key: Uint8Array;
  readonly siblings: readonly Sibling[];
}

/** What a `read` function answers under `mode: 'read'`: the objects it consulted. */
export interface VersionedReply {
  readonly objects: readonly VersionedObject[];
}

/**
 * Functions of the `Replica` module versioning storage registers (all take plain arguments):
 *
 * - `Replica.merge(objects: VersionedObject[], hintFor?: string | null)` (write): merge siblings in.
 * - `Replica.hinted(owner: string, limit: number)` (read): up to `limit` objects held for `owner`.
 * - `Replica.dropHinted(owner: string, objects: VersionedObject[])` (write): forget hinted copies
 *   that `objects` cover (only if nothing newer arrived meanwhile).
 * - `Replica.reap(olderThanTs: number)` (write): remove tombstones older than the timestamp.
 * - `Replica.buckets()` (read): `[{ bucket, keys, bytes }]` of what this node stores.
 * - `Replica.absorb(objects, hintFor)` (write, optional): `merge`, answering per object the
 *   versions held afterwards that the sent siblings do not cover; without it the ring merges
 *   and then runs the write's read function to find them.
 * - `Replica.epoch(node: string)` (write, optional): the storage's epoch for `node`, made up the
 *   first time and kept with the data; storage that lost its data answers a new one. The ring
 *   stamps versions with the actor `<node>#<epoch>` (one actor per node and data lifetime).
 * - `Replica.scan(after, limit)` (read): primary-area objects in (bucket, key) order, resumable.
 * - `Replica.changes(since, limit)` (read): objects changed since a sequence number (anti-entropy).
 * - `Replica.fetch(refs)` (read): primary-area objects for `[{ bucket, key }]`.
 * - `Replica.reapExact(objects)` (write): remove exactly these all-tombstone objects if unchanged.
 * - `Replica.scanBucket(bucket, after, limit)` (read): one bucket's primary area in key order,
 *   `{ objects, bytes, next? }` (ownership transfer streams it in bounded batches).
 * - `Replica.dropBucket(bucket)` (write): forget a bucket's primary area (its former owner, at cleanup).
 */
export const REPLICA_MODULE = 'Replica';

export function replicaMeta(meta: Readonly<Record<string, unknown>>): ReplicaMeta | undefined {
  const r = meta.replica as ReplicaMeta | undefined;
  return r && (r.mode === 'write' || r.mode === 'read' || r.mode === 'resolve') ? r : undefined;
}
