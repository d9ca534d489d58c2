/**
 * The bucket functions under the ring (packages/core/src/replication.ts):
 *
 * - `write` (create, put, delete): the effect becomes a sibling stamped with the coordinator's
 *   version, merged into the object (`mergeSiblings`: dominated siblings go, concurrent ones
 *   stay). CREATE writes the bucket object (key `''`), DELETE a tombstone. With `hintFor` the
 *   sibling goes to the hinted area held for that owner.
 * - `read` (lookup, get): the objects consulted, as this node sees them (primary and hinted
 *   areas merged), with empty siblings when absent.
 * - `resolve`: the plain reply for the objects the coordinator merged; storage is not touched.
 *
 * A put or delete on a primary whose bucket object is missing answers `'not_found'` and stores
 * nothing, as in plain mode. A fallback (`hintFor`) cannot know: the bucket's create went to
 * the primaries, so it stores the write and answers `'ok'`; existence is the primaries' call.
 */
import {
  ArgumentError,
  joinedVector,
  lastWriterWins,
  stampOrder,
  type BucketName,
  type ReplicaMeta,
  type Sibling,
  type VersionedObject,
  type VersionedReply,
} from '@ringkv/core';
import { bucketBytes, kvFunctionName } from '@ringkv/core';
import { bytesEqual } from './bytes.js';
import type { GetReply, ObjectReply, PutReply } from './plain-kv.js';
import { checkObjects, checkStamp } from './versioned-record.js';
import { LATER, type BucketObjects, type VersionedStore } from './versioned-store.js';

type Answer<T> = T | Promise<T>;

/** Answers are plain values when the store ran the operation inline, promises otherwise. */
export interface VersionedKv {
  create(bucket: Uint8Array, meta: ReplicaMeta): Answer<'ok' | VersionedReply>;
  lookup(bucket: Uint8Array, meta: ReplicaMeta): Answer<boolean | VersionedReply>;
  put(bucket: Uint8Array, key: Uint8Array, value: Uint8Array, meta: ReplicaMeta): Answer<PutReply | VersionedReply>;
  get(bucket: Uint8Array, key: Uint8Array, meta: ReplicaMeta): Answer<GetReply | VersionedReply>;
  delete(bucket: Uint8Array, key: Uint8Array, meta: ReplicaMeta): Answer<PutReply | VersionedReply>;
  /** `KV.Bucket.object`: read like get; resolves to every sibling and the joined vector. */
  object(bucket: Uint8Array, key: Uint8Array, meta: ReplicaMeta): Answer<ObjectReply | VersionedReply>;
}

const BUCKET_KEY = new Uint8Array(0);

/** The value a bucket object's sibling carries: the bucket exists. */
export const BUCKET_EXISTS = true;

export function createVersionedKv(store: VersionedStore): VersionedKv {
  /** A write's sibling, checked; throws for read/resolve modes given to a write function. */
  function writeMeta(meta: ReplicaMeta, fn: string): { version: Sibling['version']; owner: string | undefined; gaining: boolean } {
    if (meta.mode !== 'write') throw new ArgumentError(`${fn} is a write function: replica mode must be 'write', got '${meta.mode}'`);
    const version = checkStamp(meta.version, 'replica.version');
    if (meta.hintFor !== undefined && (typeof meta.hintFor !== 'string' || meta.hintFor === '')) {
      throw new ArgumentError('replica.hintFor must be a non-empty node name');
    }
    return { version, owner: meta.hintFor, gaining: meta.gaining === true };
  }

  /** `answer` once the writes made inline are durable (at once on memory). */
  function acked<T>(answer: T): Answer<T> {
    const w = store.written();
    return w ? w.then(() => answer) : answer;
  }

  // Each operation below runs inline when the store can (`store.now`), else in its key's
  // queue; the two bodies are the same steps, the first synchronous, the second awaited.

  /** Writes a key sibling, unless this primary holds no live bucket object. */
  function writeKey(bucket: Uint8Array, key: Uint8Array, sibling: Sibling, owner: string | undefined, gaining = false): Answer<PutReply> {
    // A new owner the bucket is still streaming to stores the write: the bucket object comes with the stream.
    const checked = owner === undefined && !gaining;
    const now = store.now(bucket, key, (objects): PutReply => {
      if (checked && !live(objects.visible(BUCKET_KEY))) return 'not_found';
      objects.merge(key, [sibling], owner);
      return 'ok';
    });
    if (now !== LATER) return now === 'ok' ? acked(now) : now;
    return store.withKey(bucket, key, async (objects) => {
      if (checked && !live(await objects.visible(BUCKET_KEY))) return 'not_found';
      await objects.merge(key, [sibling], owner);
      return 'ok';
    });
  }

  /** The objects read, in the queue of the last key (the one the call is about). */
  function readReply(bucket: Uint8Array, keys: readonly Uint8Array[]): Answer<VersionedReply> {
    const last = keys[keys.length - 1] ?? BUCKET_KEY;
    const now = store.now(bucket, last, (objects): VersionedReply => ({ objects: keys.map((key) => ({ bucket, key, siblings: objects.visible(key) })) }));
    if (now !== LATER) return now;
    return store.withKey(bucket, last, async (objects: BucketObjects) => {
      const out: VersionedObject[] = [];
      for (const key of keys) out.push({ bucket, key, siblings: await objects.visible(key) });
      return { objects: out };
    });
  }

  return {
    create(bucket, meta) {
      const { version, owner } = writeMeta(meta, kvFunctionName('create'));
      const sibling: Sibling = { value: BUCKET_EXISTS, version };
      if (store.now(bucket, BUCKET_KEY, (objects) => objects.merge(BUCKET_KEY, [sibling], owner)) !== LATER) return acked('ok' as const);
      return store.withKey(bucket, BUCKET_KEY, (objects) => objects.merge(BUCKET_KEY, [sibling], owner)).then(() => 'ok' as const);
    },
    lookup(bucket, meta) {
      if (meta.mode === 'read') return readReply(bucket, [BUCKET_KEY]);
      if (meta.mode === 'resolve') return live(find(resolved(meta.objects), bucket, BUCKET_KEY));
      throw new ArgumentError(`${kvFunctionName('lookup')} is a read function: replica mode must be 'read' or 'resolve', got 'write'`);
    },
    put(bucket, key, value, meta) {
      const { version, owner, gaining } = writeMeta(meta, kvFunctionName('put'));
      return writeKey(bucket, key, { value, version }, owner, gaining);
    },
    get(bucket, key, meta) {
      if (meta.mode === 'read') return readReply(bucket, [BUCKET_KEY, key]);
      if (meta.mode === 'resolve') {
        const objects = resolved(meta.objects);
        if (!live(find(objects, bucket, BUCKET_KEY))) return 'not_found';
        const siblings = find(objects, bucket, key);
        const winner = lastWriterWins(siblings);
        const value = winner && !winner.tombstone ? (winner.value as Uint8Array) : null;
        // The coordinator leaves several siblings only when the caller asked for them
        // (route option `siblings`): answer every concurrent value, deletes as null.
        if (siblings.length > 1) {
          const ordered = [...siblings].sort((x, y) => stampOrder(x.version, y.version));
          return { value, siblings: ordered.map((s) => (s.tombstone ? null : (s.value as Uint8Array))) };
        }
        return { value };
      }
      throw new ArgumentError(`${kvFunctionName('get')} is a read function: replica mode must be 'read' or 'resolve', got 'write'`);
    },
    object(bucket, key, meta) {
      if (meta.mode === 'read') return readReply(bucket, [BUCKET_KEY, key]);
      if (meta.mode === 'resolve') {
        const objects = resolved(meta.objects);
        if (!live(find(objects, bucket, BUCKET_KEY))) return 'not_found';
        const siblings = find(objects, bucket, key).sort((x, y) => stampOrder(x.version, y.version));
        const winner = lastWriterWins(siblings);
        return {
          value: winner && !winner.tombstone ? (winner.value as Uint8Array) : null,
          siblings: siblings.map((s) => (s.tombstone ? null : (s.value as Uint8Array))),
          vclock: joinedVector(siblings),
        };
      }
      throw new ArgumentError("KV.Bucket.object is a read function: replica mode must be 'read' or 'resolve', got 'write'");
    },
    delete(bucket, key, meta) {
      const { version, owner, gaining } = writeMeta(meta, kvFunctionName('delete'));
      return writeKey(bucket, key, { value: null, tombstone: true, version }, owner, gaining);
    },
  };
}

/** Present and, by last writer wins among its siblings, not deleted. */
function live(siblings: readonly Sibling[]): boolean {
  const winner = lastWriterWins(siblings);
  return winner !== undefined && !winner.tombstone;
}

/** The objects the coordinator merged, checked (once per call: they may come from a stranger). */
function resolved(objects: unknown): VersionedObject[] {
  return checkObjects(objects, 'replica.objects');
}

/** The siblings of `(bucket, key)` among checked objects ([] when absent). */
function find(checked: readonly VersionedObject[], bucket: Uint8Array, key: Uint8Array): Sibling[] {
  const found = checked.find((o) => bytesEqual(key, o.key) && bytesEqual(bucket, bucketBytes(o.bucket as BucketName)));
  return found ? [...found.siblings] : [];
}
