/**
 * Versioned objects over a backend: the sibling set of `(bucket, key)` in the primary area
 * (space `versioned`, table = bucket, field = key, `''` for the bucket object) or in the hinted
 * area of an owner (space `hinted`, table = owner, field = {@link hintedField}).
 *
 * Every read-merge-write runs inside {@link VersionedStore.withKey}, i.e. in the key's queue,
 * so two writes to one object never interleave between their read and their write, while
 * writes to other keys of the same bucket go on concurrently (with `serializeBy: 'bucket'`,
 * every key of a bucket shares one queue, as before). Operations on the bucket object (key
 * `''`) use the bucket's own queue, the one plain operations use too.
 */
import { mergeSiblings, renderBucket, type Sibling } from '@ringkv/core';
import type { Backend } from './backend.js';
import type { BucketQueue } from './bucket-queue.js';
import { keyString } from './bytes.js';
import { hintedField } from './hinted-field.js';
import { decodeStored, encodeSiblings, rememberStored } from './versioned-record.js';

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** Where an object lives on this node: the primary area, or the area held for a down owner. */
export type Owner = string | undefined;

/** Operations on one bucket's objects, valid only inside {@link VersionedStore.withKey} (for that key) or {@link VersionedStore.withBucket}. */
export interface BucketObjects {
  /** Siblings of the object in one area ([] when absent). */
  area(key: Uint8Array, owner: Owner): Promise<Sibling[]>;
  /** Siblings of the object as this node sees it: the primary area merged with every hinted area. */
  visible(key: Uint8Array): Promise<Sibling[]>;
  /** Merges `siblings` into the object in one area and stores the result. */
  merge(key: Uint8Array, siblings: readonly Sibling[], owner: Owner): Promise<Sibling[]>;
  /** Replaces the object in one area (removes it when `siblings` is empty). */
  replace(key: Uint8Array, siblings: readonly Sibling[], owner: Owner): Promise<void>;
}

/** What one queue covers: one key (the default), or a whole bucket. */
export type SerializeBy = 'key' | 'bucket';

export interface VersionedStore {
  /** Runs `fn` after every operation queued before it for `(bucket, key)`. */
  withKey<T>(bucket: Uint8Array, key: Uint8Array, fn: (objects: BucketObjects) => Promise<T>): Promise<T>;
  /** Runs `fn` in the bucket's own queue (the bucket object's; not a lock over the bucket's keys). */
  withBucket<T>(bucket: Uint8Array, fn: (objects: BucketObjects) => Promise<T>): Promise<T>;
  /** Owners that have a hinted area on this node. */
  owners(): Promise<string[]>;
  /** Forget the cached owner list (after a hinted area was dropped, or the backend cleared). */
  forgetOwners(): void;
}

export const ownerBytes = (owner: string): Uint8Array => encoder.encode(owner);

/**
 * The node's own records (its epoch), in the `hinted` space under a table name no node can have
 * (node names are printable ASCII): kept and lost with the data, never taken for an owner.
 */
export const NODE_TABLE = new Uint8Array([0]);

/**
 * `onPrimaryChange` hears every change of the primary area (anti-entropy's change log); it is
 * called after the backend took the write.
 */
export function createVersionedStore(
  backend: Backend,
  queue: BucketQueue,
  serializeBy: SerializeBy = 'key',
  onPrimaryChange?: (bucket: Uint8Array, key: Uint8Array) => void,
): VersionedStore {
  // Every read merges the hinted areas in, so the owner list is asked for on every read; it
  // only changes when a hinted area is written or dropped, so it is kept until then.
  let ownersCache: string[] | undefined;
  const immutable = backend.valuesImmutable === true;
  // The stored array of what was just written, to file its decoded form under (see decodeStored).
  const storedArray = immutable && backend.sync ? backend.sync : undefined;
  let generation = 0;
  const forgetOwners = () => {
    ownersCache = undefined;
    generation++;
  };
  async function owners(): Promise<string[]> {
    if (ownersCache) return ownersCache;
    const asked = generation;
    const out: string[] = [];
    for (const b of await backend.tables('hinted')) if (b[0] !== 0) out.push(decoder.decode(b));
    // A hinted area written or dropped while listing: this list may be stale, do not keep it.
    if (asked === generation) ownersCache = out;
    return out;
  }

  function objectsOf(bucket: Uint8Array): BucketObjects {
    const where = (key: Uint8Array) => `${renderBucket(bucket)} key ${renderBucket(key)}`;
    const locate = (key: Uint8Array, owner: Owner) =>
      owner === undefined
        ? ({ space: 'versioned', table: bucket, field: key } as const)
        : ({ space: 'hinted', table: ownerBytes(owner), field: hintedField(bucket, key) } as const);

    const objects: BucketObjects = {
      async area(key, owner) {
        const at = locate(key, owner);
        const raw = await backend.get(at.space, at.table, at.field);
        return raw === undefined ? [] : decodeStored(raw, () => where(key), immutable);
      },
      async visible(key) {
        let merged = await objects.area(key, undefined);
        for (const owner of await owners()) merged = mergeSiblings(merged, await objects.area(key, owner));
        return merged;
      },
      async merge(key, siblings, owner) {
        const held = await objects.area(key, owner);
        const merged = mergeSiblings(held, siblings);
        // Nothing new (a bucket object sent along with every write, a repeated repair): no write.
        if (merged.length === held.length && merged.every((s) => held.includes(s))) return merged;
        await objects.replace(key, merged, owner);
        return merged;
      },
      async replace(key, siblings, owner) {
        const at = locate(key, owner);
        if (siblings.length > 0) {
          await backend.set(at.space, at.table, at.field, encodeSiblings(siblings));
          const stored = storedArray?.get(at.space, keyString(at.table), at.field);
          if (stored) rememberStored(stored, siblings);
        } else await backend.delete(at.space, at.table, at.field);
        if (owner === undefined) onPrimaryChange?.(bucket, key);
        // After the write: a list read while it was in flight must not stay cached.
        if (owner !== undefined) forgetOwners();
      },
    };
    return objects;
  }

  function queueId(bucket: Uint8Array, key: Uint8Array): string {
    const id = keyString(bucket);
    if (serializeBy === 'bucket' || key.length === 0) return id;
    // Length-prefixed and marked, so (bucket, key) pairs never share an id with each other.
    return `\u0000${id.length}:${id}${keyString(key)}`;
  }

  return {
    withKey: (bucket, key, fn) => queue.run(queueId(bucket, key), () => fn(objectsOf(bucket))),
    withBucket: (bucket, fn) => queue.run(keyString(bucket), () => fn(objectsOf(bucket))),
    owners,
    forgetOwners,
  };
}
