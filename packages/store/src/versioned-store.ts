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
 *
 * On a backend with a synchronous face (memory, LMDB), {@link VersionedStore.now} runs a
 * read-merge-write inline when nothing is queued for the key, as plain mode does: it cannot
 * interleave with anything, so it needs no queue, no promise and no turn of the event loop.
 * Queued operations (a key that is busy, a backend without the face) keep the async path.
 */
import { mergeSiblings, renderBucket, utf8Bytes, type Sibling } from '@ringkv/core';
import type { Backend, SyncBackend } from './backend.js';
import type { BucketQueue } from './bucket-queue.js';
import { keyString } from './bytes.js';
import { hintedField } from './hinted-field.js';
import { decodeStored, encodeSiblings, rememberStored } from './versioned-record.js';

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

/**
 * {@link BucketObjects} answered synchronously, for {@link VersionedStore.now}; valid only
 * inside the function given to it.
 */
export interface SyncBucketObjects {
  area(key: Uint8Array, owner: Owner): Sibling[];
  visible(key: Uint8Array): Sibling[];
  merge(key: Uint8Array, siblings: readonly Sibling[], owner: Owner): Sibling[];
  replace(key: Uint8Array, siblings: readonly Sibling[], owner: Owner): void;
}

/** What {@link VersionedStore.now} answers when the operation cannot run inline: take {@link VersionedStore.withKey}. */
export const LATER: unique symbol = Symbol('later');

/** What one queue covers: one key (the default), or a whole bucket. */
export type SerializeBy = 'key' | 'bucket';

export interface VersionedStore {
  /** Runs `fn` after every operation queued before it for `(bucket, key)`. */
  withKey<T>(bucket: Uint8Array, key: Uint8Array, fn: (objects: BucketObjects) => Promise<T>): Promise<T>;
  /** Runs `fn` in the bucket's own queue (the bucket object's; not a lock over the bucket's keys). */
  withBucket<T>(bucket: Uint8Array, fn: (objects: BucketObjects) => Promise<T>): Promise<T>;
  /**
   * Runs `fn` now, synchronously, when the backend has a synchronous face, nothing is queued
   * or running for `(bucket, key)` and the hinted owners are known; answers {@link LATER}
   * without running it otherwise (the caller then takes {@link VersionedStore.withKey}). A
   * caller that wrote must wait for {@link VersionedStore.written} before acknowledging.
   */
  now<T>(bucket: Uint8Array, key: Uint8Array, fn: (objects: SyncBucketObjects) => T): T | typeof LATER;
  /** Durability of the writes {@link VersionedStore.now} made so far (LMDB), undefined when there is nothing to wait for. */
  written(): Promise<void> | undefined;
  /** Owners that have a hinted area on this node. */
  owners(): Promise<string[]>;
  /** Forget the cached owner list (after a hinted area was dropped, or the backend cleared). */
  forgetOwners(): void;
}

export const ownerBytes = (owner: string): Uint8Array => utf8Bytes(owner);

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

  function queueId(bucket: Uint8Array, key: Uint8Array, table = keyString(bucket)): string {
    if (serializeBy === 'bucket' || key.length === 0) return table;
    // Length-prefixed and marked, so (bucket, key) pairs never share an id with each other.
    return `\u0000${table.length}:${table}${keyString(key)}`;
  }

  const sync = backend.sync;
  const env: SyncEnv | undefined = sync && {
    sync,
    immutable,
    owners: () => ownersCache,
    primaryChanged: (bucket, key) => onPrimaryChange?.(bucket, key),
    hintedWritten(owner) {
      // A new owner's area appeared: the list must be read again. One already listed: it stays.
      if (!ownersCache?.includes(owner)) forgetOwners();
    },
  };

  return {
    withKey: (bucket, key, fn) => queue.run(queueId(bucket, key), () => fn(objectsOf(bucket))),
    withBucket: (bucket, fn) => queue.run(keyString(bucket), () => fn(objectsOf(bucket))),
    now(bucket, key, fn) {
      if (!env) return LATER;
      if (ownersCache === undefined) {
        // Reads merge every hinted area in: without the list this one goes the queued way,
        // and the next ones find it.
        void owners().catch(() => undefined);
        return LATER;
      }
      const table = keyString(bucket);
      // Nothing queued anywhere (the usual case: inline operations never queue): no id to build.
      if (queue.pending() > 0 && !queue.idle(queueId(bucket, key, table))) return LATER;
      return fn(new SyncObjects(env, bucket, table));
    },
    written: () => sync?.written?.(),
    owners,
    forgetOwners,
  };
}

/** What {@link SyncObjects} needs of its store. */
interface SyncEnv {
  readonly sync: SyncBackend;
  readonly immutable: boolean;
  /** The hinted owners, known whenever a SyncObjects exists. */
  owners(): readonly string[] | undefined;
  primaryChanged(bucket: Uint8Array, key: Uint8Array): void;
  hintedWritten(owner: string): void;
}

/**
 * One bucket's objects over the synchronous face. A class rather than closures: one small
 * allocation per operation on the hot path, with the bucket's table id computed once.
 */
class SyncObjects implements SyncBucketObjects {
  constructor(
    private readonly env: SyncEnv,
    private readonly bucket: Uint8Array,
    private readonly table: string,
  ) {}

  private where(key: Uint8Array): () => string {
    return () => `${renderBucket(this.bucket)} key ${renderBucket(key)}`;
  }

  area(key: Uint8Array, owner: Owner): Sibling[] {
    const raw =
      owner === undefined
        ? this.env.sync.get('versioned', this.table, key)
        : this.env.sync.get('hinted', keyString(ownerBytes(owner)), hintedField(this.bucket, key));
    return raw === undefined ? [] : decodeStored(raw, this.where(key), this.env.immutable);
  }

  visible(key: Uint8Array): Sibling[] {
    let merged = this.area(key, undefined);
    for (const owner of this.env.owners() ?? []) merged = mergeSiblings(merged, this.area(key, owner));
    return merged;
  }

  merge(key: Uint8Array, siblings: readonly Sibling[], owner: Owner): Sibling[] {
    const held = this.area(key, owner);
    const merged = mergeSiblings(held, siblings);
    // Nothing new (a bucket object sent along with every write, a repeated repair): no write.
    if (merged.length === held.length && merged.every((s) => held.includes(s))) return merged;
    this.replace(key, merged, owner);
    return merged;
  }

  replace(key: Uint8Array, siblings: readonly Sibling[], owner: Owner): void {
    const { sync } = this.env;
    const [space, table, name, field] =
      owner === undefined
        ? (['versioned', this.table, this.bucket, key] as const)
        : (['hinted', keyString(ownerBytes(owner)), ownerBytes(owner), hintedField(this.bucket, key)] as const);
    if (siblings.length > 0) {
      // The record is a fresh array nobody else holds: the backend may keep it as it is.
      const stored = sync.set(space, table, name, field, encodeSiblings(siblings), true);
      if (stored && this.env.immutable) rememberStored(stored, siblings);
    } else sync.delete(space, table, field);
    if (owner === undefined) this.env.primaryChanged(this.bucket, key);
    else this.env.hintedWritten(owner);
  }
}
