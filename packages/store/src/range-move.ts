/**
 * The `RangeMove` module (@ringkv/core range-transition.ts): what a managed range-table
 * cluster needs of a node's plain buckets to move them between nodes. The old owner scans a
 * bucket in bounded pages; the new owner absorbs each page; the old owner drops the bucket at
 * cleanup. Every operation runs in the bucket's queue, so it never interleaves with the
 * guide's operations on the same bucket.
 */
import { ArgumentError, describeType, RANGE_MOVE_MODULE, type ModuleRegistry, type RangeMovePage } from '@ringkv/core';
import type { Backend } from './backend.js';
import type { BucketQueue } from './bucket-queue.js';
import { keyString, nonEmptyArgBytes } from './bytes.js';

export interface RangeMoveFunctions {
  /** Up to `limit` entries of a plain bucket after the cursor `after`, in key byte order. */
  scan(bucket: unknown, after: unknown, limit: unknown): Promise<RangeMovePage>;
  /** Creates the bucket if needed and stores the entries (a page the old owner sent). */
  absorb(bucket: unknown, entries: unknown): Promise<'ok'>;
  /** Forgets a plain bucket (its former owner, once ownership moved). */
  drop(bucket: unknown): Promise<'ok'>;
  /** The plain buckets this node holds, in byte order. */
  buckets(): Promise<Uint8Array[]>;
}

/** At most this many entries per page (a bound on one message). */
const MAX_PAGE = 10_000;

export function createRangeMoveFunctions(backend: Backend, queue: BucketQueue): RangeMoveFunctions {
  return {
    async scan(bucket, after, limit) {
      const name = nonEmptyArgBytes(bucket, 'bucket');
      if (after !== undefined && after !== null && !(after instanceof Uint8Array))
        throw new ArgumentError(`after must be bytes or null, got ${describeType(after)}`);
      if (typeof limit !== 'number' || !Number.isInteger(limit) || limit < 1 || limit > MAX_PAGE) {
        throw new ArgumentError(`limit must be an integer from 1 to ${MAX_PAGE}, got ${String(limit)}`);
      }
      return queue.run(keyString(name), async () => {
        const exists = await backend.hasTable('plain', name);
        if (!exists) return { exists: false, entries: [], bytes: 0 };
        const batch = await backend.scan('plain', { table: name, limit, ...(after instanceof Uint8Array ? { after } : {}) });
        let bytes = 0;
        const entries = batch.entries.map((e): [Uint8Array, Uint8Array] => {
          bytes += e.field.length + e.value.length;
          return [e.field, e.value];
        });
        return { exists: true, entries, bytes, ...(batch.next ? { next: batch.next } : {}) };
      });
    },

    async absorb(bucket, entries) {
      const name = nonEmptyArgBytes(bucket, 'bucket');
      if (!Array.isArray(entries) || entries.length > MAX_PAGE) throw new ArgumentError(`entries must be a list of at most ${MAX_PAGE} [key, value] pairs`);
      for (const [i, e] of entries.entries()) {
        if (!Array.isArray(e) || e.length !== 2 || !(e[0] instanceof Uint8Array) || e[0].length === 0 || !(e[1] instanceof Uint8Array)) {
          throw new ArgumentError(`entries[${i}] must be [key bytes (non-empty), value bytes]`);
        }
      }
      const pairs = entries as [Uint8Array, Uint8Array][];
      const id = keyString(name);
      return queue.run(id, async () => {
        const sync = backend.sync;
        if (sync) {
          // One durability wait for the page (one group commit on LMDB), not one per entry:
          // the old owner holds the bucket's writes while the page is stored.
          sync.createTable('plain', id, name);
          for (const [key, value] of pairs) sync.set('plain', id, name, key, value);
          await sync.written?.();
        } else {
          await backend.createTable('plain', name);
          await Promise.all(pairs.map(([key, value]) => backend.set('plain', name, key, value)));
        }
        return 'ok' as const;
      });
    },

    async drop(bucket) {
      const name = nonEmptyArgBytes(bucket, 'bucket');
      await queue.run(keyString(name), () => backend.dropTable('plain', name));
      return 'ok';
    },

    buckets: () => backend.tables('plain'),
  };
}

export function registerRangeMoveModule(modules: ModuleRegistry, fns: RangeMoveFunctions): void {
  modules.registerModule(RANGE_MOVE_MODULE, {
    scan: { kind: 'read', arity: 3, fn: (_ctx, bucket: unknown, after: unknown, limit: unknown) => fns.scan(bucket, after, limit) },
    absorb: { kind: 'write', arity: 2, fn: (_ctx, bucket: unknown, entries: unknown) => fns.absorb(bucket, entries) },
    drop: { kind: 'write', arity: 1, fn: (_ctx, bucket: unknown) => fns.drop(bucket) },
    buckets: { kind: 'read', arity: 0, fn: () => fns.buckets() },
  });
}
