/**
 * What anti-entropy hashes: one entry per stored object, `(bucket, key) -> hash of the object`.
 *
 * - A **ref** names an object on the wire: 4-byte big-endian bucket length, bucket bytes, key
 *   bytes (an empty key is the bucket object). Length-prefixing keeps it injective for any bytes.
 * - The **entry hash** covers the ref and a canonical form of the sibling set, so two replicas
 *   holding the same siblings agree whatever bytes their storage happened to encode them in,
 *   and two keys that swapped contents still hash differently. SHA-1, first 8 bytes: the
 *   purpose is telling versions apart, not resisting an attacker (a forged collision would
 *   only hide a difference until the next write to that key).
 */
import { createHash } from 'node:crypto';
import { bucketBytes, type BucketName, type Sibling } from '@ringkv/core';
import type { EntryHash } from './hash-tree.js';

export interface ObjectRef {
  readonly bucket: Uint8Array;
  readonly key: Uint8Array;
}

export function encodeRef(bucket: BucketName, key: Uint8Array): Uint8Array {
  const b = bucketBytes(bucket);
  const out = new Uint8Array(4 + b.length + key.length);
  new DataView(out.buffer).setUint32(0, b.length);
  out.set(b, 4);
  out.set(key, 4 + b.length);
  return out;
}

/** The ref's parts, or undefined when the bytes are not a ref (hostile or corrupt input). */
export function decodeRef(ref: Uint8Array): ObjectRef | undefined {
  if (!(ref instanceof Uint8Array) || ref.length < 4) return undefined;
  const len = new DataView(ref.buffer, ref.byteOffset, ref.byteLength).getUint32(0);
  if (len === 0 || 4 + len > ref.length) return undefined;
  return { bucket: ref.slice(4, 4 + len), key: ref.slice(4 + len) };
}

/** A ref as a Map key and tree id: its bytes as latin1, one char per byte (lossless). */
export function refId(ref: Uint8Array): string {
  return Buffer.from(ref.buffer, ref.byteOffset, ref.byteLength).toString('latin1');
}

export function refFromId(id: string): Uint8Array {
  return new Uint8Array(Buffer.from(id, 'latin1'));
}

/** The bucket of a ref id, as its own latin1 id (for grouping refs by bucket without decoding twice). */
export function bucketIdOf(id: string): string {
  const len = ((id.charCodeAt(0) << 24) | (id.charCodeAt(1) << 16) | (id.charCodeAt(2) << 8) | id.charCodeAt(3)) >>> 0;
  return id.slice(4, 4 + len);
}

/** Hash of an object as stored: ref plus canonical siblings. Undefined for no siblings (absent). */
export function entryHash(ref: Uint8Array, siblings: readonly Sibling[]): EntryHash | undefined {
  if (siblings.length === 0) return undefined;
  const h = createHash('sha1');
  h.update(ref);
  for (const s of [...siblings].sort(canonicalOrder)) {
    const vv = Object.entries(s.version.vv)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
      .map(([a, n]) => `${a}=${n}`)
      .join(',');
    const v = s.value;
    const kind = s.tombstone ? 'D' : v instanceof Uint8Array ? 'B' : v === true ? 'T' : 'J';
    h.update(`|${s.version.ts}|${s.version.actor.length}:${s.version.actor}|${vv}|${kind}`);
    if (kind === 'B') {
      h.update(`${(v as Uint8Array).length}:`);
      h.update(v as Uint8Array);
    } else if (kind === 'J') h.update(JSON.stringify(v) ?? 'undefined');
  }
  const d = h.digest();
  const hi = d.readUInt32BE(0);
  const lo = d.readUInt32BE(4);
  // {0, 0} means "absent" on the wire; a real object never hashes to it (odds 2^-64, made zero).
  return hi === 0 && lo === 0 ? { hi: 0, lo: 1 } : { hi, lo };
}

/** Siblings in a fixed order (stored sets are already ordered by stamp; this makes it certain). */
function canonicalOrder(a: Sibling, b: Sibling): number {
  if (a.version.ts !== b.version.ts) return a.version.ts < b.version.ts ? -1 : 1;
  if (a.version.actor !== b.version.actor) return a.version.actor < b.version.actor ? -1 : 1;
  if (!!a.tombstone !== !!b.tombstone) return a.tombstone ? 1 : -1;
  const x = a.value instanceof Uint8Array ? Buffer.from(a.value).toString('hex') : (JSON.stringify(a.value) ?? '');
  const y = b.value instanceof Uint8Array ? Buffer.from(b.value).toString('hex') : (JSON.stringify(b.value) ?? '');
  return x < y ? -1 : x > y ? 1 : 0;
}

/** Whether every sibling is a tombstone (the object is a delete), and the newest of their stamps. */
export function tombstoneTs(siblings: readonly Sibling[]): number | undefined {
  if (siblings.length === 0 || !siblings.every((s) => s.tombstone === true)) return undefined;
  return Math.max(...siblings.map((s) => s.version.ts));
}
