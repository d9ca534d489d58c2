/**
 * `KV.Bucket.keys(bucket, limit)`: the live keys of a bucket as this node holds them, for the
 * HTTP API's key listing, read in bounded batches with the backend's ordered scan. Registered as a `plain` function: under the ring it runs on the
 * first live primary alone (like Riak's key listing, a coverage read, not a quorum read), so a
 * key that primary has not received yet (held as a hint elsewhere) is missing until handoff.
 *
 * A node stores a bucket either plainly (range table) or versioned (ring); both areas are
 * looked at, so the function needs no replica metadata. Under the ring a key is live when its
 * last writer is not a delete, and the bucket exists when its bucket object is live.
 */
import { ArgumentError, describeType, lastWriterWins } from '@ringkv/core';
import type { Backend } from './backend.js';
import { compareBytes } from './bytes.js';
import type { KeysReply } from './plain-kv.js';
import { decodeSiblings } from './versioned-record.js';

/** Most keys one call answers, whatever the caller asks: the reply is held in memory whole. */
export const MAX_KEYS_PER_LISTING = 100_000;

/** Entries read per scan batch. */
const BATCH = 1000;

export function createKeyListing(backend: Backend): (bucket: Uint8Array, limit: unknown) => Promise<KeysReply> {
  /**
   * Up to `want` keys of one space's table that pass `keep`, in byte order, read in bounded
   * batches (the backend's ordered scan), so a listing never holds the whole bucket.
   */
  async function collect(space: 'plain' | 'versioned', bucket: Uint8Array, want: number, keep: (field: Uint8Array, value: Uint8Array) => boolean) {
    const keys: Uint8Array[] = [];
    let after: Uint8Array | undefined;
    do {
      const batch = await backend.scan(space, { table: bucket, limit: BATCH, ...(after ? { after } : {}) });
      for (const e of batch.entries) if (keep(e.field, e.value) && keys.length < want) keys.push(e.field);
      after = batch.next;
    } while (after && keys.length < want);
    return keys;
  }

  return async (bucket, limitArg) => {
    const limit = checkLimit(limitArg);
    const plain = await backend.hasTable('plain', bucket);
    let exists = plain;
    if (!exists && (await backend.hasTable('versioned', bucket))) {
      const record = await backend.get('versioned', bucket, new Uint8Array(0));
      exists = record !== undefined && isLive(record);
    }
    if (!exists) return 'not_found';
    // One more than asked: tells whether the answer is complete.
    const keys = [
      ...(plain ? await collect('plain', bucket, limit + 1, () => true) : []),
      ...(await collect('versioned', bucket, limit + 1, (field, record) => field.length > 0 && isLive(record))),
    ].sort(compareBytes);
    return { keys: keys.slice(0, limit), truncated: keys.length > limit };
  };
}

/** Under the ring: present and, by last writer wins, not deleted. */
function isLive(record: Uint8Array): boolean {
  const winner = lastWriterWins(decodeSiblings(record, 'key listing'));
  return winner !== undefined && !winner.tombstone;
}

function checkLimit(limit: unknown): number {
  if (typeof limit !== 'number' || !Number.isInteger(limit) || limit < 1 || limit > MAX_KEYS_PER_LISTING) {
    throw new ArgumentError(`limit must be an integer from 1 to ${MAX_KEYS_PER_LISTING}, got ${describeType(limit)} ${String(limit)}`);
  }
  return limit;
}
