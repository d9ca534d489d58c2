/**
 * What storage looks like to the store: named hashes of bytes to bytes, grouped in spaces.
 * A backend knows nothing about versions or the KV protocol; it is bytes in, bytes out, so a
 * new backend only has to pass the backend contract of `@ringkv/test-utils` (backend-contract.ts).
 *
 * Spaces keep data of different meaning apart under the same bucket name:
 * - `plain`: the guide's buckets (range table). A table exists once created, even when empty.
 * - `versioned`: msgpack-encoded sibling sets under the ring (the field `''` is the bucket object).
 * - `hinted`: data a fallback holds for a down primary; the table name is the owner's node
 *   name, the field encodes bucket and key (see hinted-field.ts).
 */

export type Space = 'plain' | 'versioned' | 'hinted';
export const SPACES: readonly Space[] = ['plain', 'versioned', 'hinted'];

export type BackendKind = 'memory' | 'redis' | 'lmdb';

/** A position in a space's total order (table bytes, then field bytes); opaque to callers. */
export type ScanCursor = Uint8Array;

export interface ScanOptions {
  /** Only this table (bucket); omit to scan the whole space. */
  table?: Uint8Array;
  /** Resume strictly after this position (the `next` of an earlier batch). */
  after?: ScanCursor;
  /** At most this many entries in the batch (>= 1). */
  limit: number;
}

export interface ScanEntry {
  table: Uint8Array;
  field: Uint8Array;
  value: Uint8Array;
}

export interface ScanBatch {
  entries: ScanEntry[];
  /** Where the next batch starts; absent when the scan is complete. */
  next?: ScanCursor;
}

export interface TableStats {
  /** Number of fields. */
  keys: number;
  /** Sum of field and value lengths, in bytes. */
  bytes: number;
}

/**
 * A synchronous face a backend may offer (memory does). Tables are named by their latin1 key
 * string (`keyString` of the name), which the caller has computed already. Plain KV uses it
 * when a bucket has nothing queued, so the common case costs Map lookups and no promise chain.
 */
export interface SyncBackend {
  hasTable(space: Space, id: string): boolean;
  createTable(space: Space, id: string, name: Uint8Array): boolean;
  get(space: Space, id: string, field: Uint8Array): Uint8Array | undefined;
  /**
   * `handOver`: the caller gives `value` away (it will never read or change it again), so the
   * backend may keep the array itself rather than a copy. Answers the array now stored when
   * the backend hands stored arrays out as they are ({@link Backend.valuesImmutable}).
   */
  set(space: Space, id: string, name: Uint8Array, field: Uint8Array, value: Uint8Array, handOver?: boolean): Uint8Array | void;
  delete(space: Space, id: string, field: Uint8Array): boolean;
  /**
   * For a backend whose writes take effect at once but become durable later (LMDB: visible to
   * the next call, on disk after the next group commit): a promise for the durability of the
   * writes made through this face since the last call, or undefined when there is nothing to
   * wait for. A caller acknowledges a write only once it resolves; it rejects when the write
   * could not be stored (a full disk). Absent on memory, whose writes are final at once.
   */
  written?(): Promise<void> | undefined;
}

export interface Backend {
  readonly kind: BackendKind;
  /** Present when every operation completes synchronously inside. */
  readonly sync?: SyncBackend;
  /**
   * True when a value array handed out is the stored one and is never changed or reused
   * afterwards (a write stores a new array): readers may keep what they derived from it, keyed
   * by the array. Backends that reuse read buffers or hand out copies leave it unset.
   */
  readonly valuesImmutable?: boolean;
  /** Creates table `name` in `space` (idempotent; existing fields kept). True if it was new. */
  createTable(space: Space, name: Uint8Array): Promise<boolean>;
  hasTable(space: Space, name: Uint8Array): Promise<boolean>;
  /** Names of the tables of `space`, in byte order. */
  tables(space: Space): Promise<Uint8Array[]>;
  /** Removes a table and its fields. */
  dropTable(space: Space, name: Uint8Array): Promise<void>;
  /** The value of `field`, or undefined. Does not care whether the table was created. */
  get(space: Space, name: Uint8Array, field: Uint8Array): Promise<Uint8Array | undefined>;
  /** Stores `field`; creates the table when missing. */
  set(space: Space, name: Uint8Array, field: Uint8Array, value: Uint8Array): Promise<void>;
  /** True if the field existed. The table stays (an empty table still exists). */
  delete(space: Space, name: Uint8Array, field: Uint8Array): Promise<boolean>;
  /**
   * The guide's bucket operations each in one step (one round trip on Redis), which only act
   * when the table exists: `undefined` when it does not.
   */
  getIfTable(space: Space, name: Uint8Array, field: Uint8Array): Promise<{ value: Uint8Array | undefined } | undefined>;
  /** Stores `field` if the table exists; false (nothing stored) when it does not. */
  setIfTable(space: Space, name: Uint8Array, field: Uint8Array, value: Uint8Array): Promise<boolean>;
  /** Deletes `field` if the table exists: whether the field existed, or `undefined` when the table does not. */
  deleteIfTable(space: Space, name: Uint8Array, field: Uint8Array): Promise<boolean | undefined>;
  /** Every field and value of a table, in field byte order. */
  entries(space: Space, name: Uint8Array): Promise<Array<[field: Uint8Array, value: Uint8Array]>>;
  /** Fields and bytes (field + value) of a table: kept as it changes on memory, one pass over the table on LMDB (keys, and each value's size read in place: no value is copied) and Redis. */
  stats(space: Space, name: Uint8Array): Promise<TableStats>;
  /**
   * One bounded batch of a space (or of one table) in order: table bytes, then field bytes.
   * Resumable from `next`, also in another process (the cursor holds no state). Entries that
   * exist for the whole scan are returned exactly once, whatever is written meanwhile; entries
   * written or deleted during the scan may or may not appear. `next` is absent once nothing
   * is left after the batch. Empty tables yield nothing.
   */
  scan(space: Space, options: ScanOptions): Promise<ScanBatch>;
  /** Empties every space. */
  clear(): Promise<void>;
  close(): Promise<void>;
}
