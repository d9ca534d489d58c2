/**
 * What anti-entropy hashes: one entry per stored object, `(bucket, key) -> hash of the object`.
 *
 * - A **ref** names an object on the wire: 4-byte big-endian bucket length, bucket bytes, key
 *   bytes (an empty key is the bucket object). Length-prefixing keeps it injective for any bytes.
 * - The **entry hash** covers the ref and a canonical form of the sibling set, so two replicas
 *   holding the same siblings agree whatever bytes their storage happened to encode them in,
 *   and two keys that swapped contents still hash differently. 64 bits of a fast
 *   non-cryptographic hash: the purpose is telling versions apart, not resisting an attacker
 *   (a forged collision would only hide a difference until the next write to that key, and
 *   the version stamp it covers is chosen by the coordinator's clock, not by the writer).
 */
import { createHash } from 'node:crypto';
import { bucketBytes, type BucketName, type Sibling } from '@ringkv/core';
import { fmix32, type EntryHash } from './hash-tree.js';

export interface ObjectRef {
  readonly bucket: Uint8Array;
  readonly key: Uint8Array;
}

export function encodeRef(bucket: BucketName, key: Uint8Array): Uint8Array {
  const b = bucketBytes(bucket);
  const n = b.length;
  const out = new Uint8Array(4 + n + key.length);
  // Byte by byte, not a DataView: `out.buffer` would make V8 move a small array off the heap.
  out[0] = n >>> 24;
  out[1] = (n >>> 16) & 0xff;
  out[2] = (n >>> 8) & 0xff;
  out[3] = n & 0xff;
  out.set(b, 4);
  out.set(key, 4 + n);
  return out;
}

/** Bytes as latin1, one char per byte; short runs by a loop (cheaper than wrapping them in a Buffer). */
export function latin1(bytes: Uint8Array): string {
  if (bytes.length > 32) return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('latin1');
  let s = '';
  for (let i = 0; i < bytes.length; i++) s += String.fromCharCode(bytes[i]!);
  return s;
}

/** `refId(encodeRef(bucket, key))`, without building the ref (the tree update names every object written). */
export function refIdOf(bucket: Uint8Array, key: Uint8Array): string {
  const n = bucket.length;
  return String.fromCharCode(n >>> 24, (n >>> 16) & 0xff, (n >>> 8) & 0xff, n & 0xff) + latin1(bucket) + latin1(key);
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

/**
 * A 64-bit hash over a byte stream, in two 32-bit lanes (FNV-1a and a murmur-style multiply
 * with a rotation), each finished with murmur3's avalanche. Not cryptographic: it tells
 * versions apart. It replaced SHA-1 because SHA-1 cost 3 us per object just to set up the
 * hash, about 6% of a replicated write's CPU (every replica hashes every write it stores);
 * this costs a fraction of a microsecond for a small object (docs/decisions.md). Long byte
 * runs (values past 512 bytes) still go through SHA-1, which is faster per byte.
 */
const f64 = new Float64Array(1);
const f64Bytes = new Uint8Array(f64.buffer);

// The hash state: one hash runs at a time (entryHash is synchronous), so module-level lanes
// cost no allocation per object.
let h1 = 0;
let h2 = 0;
let fed = 0;

function hashStart(): void {
  h1 = 0x811c9dc5;
  h2 = 0x9747b28c;
  fed = 0;
}

function hashByte(b: number): void {
  h1 = Math.imul(h1 ^ b, 0x01000193);
  const x = h2 ^ b;
  h2 = Math.imul((x << 13) | (x >>> 19), 0x5bd1e995);
  fed++;
}

function hashNumber(v: number): void {
  f64[0] = v;
  for (let i = 0; i < 8; i++) hashByte(f64Bytes[i]!);
}

/**
 * Past this many bytes a run is hashed natively (SHA-1) and its digest fed in: the byte loop
 * costs about 4.5 ns a byte, SHA-1 about 2.5 us to set up and under 1 ns a byte after.
 */
const NATIVE_HASH_BYTES = 512;

function hashBytes(b: Uint8Array): void {
  hashNumber(b.length);
  if (b.length > NATIVE_HASH_BYTES) {
    const d = createHash('sha1').update(b).digest();
    for (let i = 0; i < d.length; i++) hashByte(d[i]!);
    return;
  }
  for (let i = 0; i < b.length; i++) hashByte(b[i]!);
}

/** UTF-16 code units, length first (so no two strings run into each other). */
function hashString(s: string): void {
  hashNumber(s.length);
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    hashByte(c & 0xff);
    hashByte(c >>> 8);
  }
}

function hashDigest(): EntryHash {
  const hi = fmix32(h1 ^ fed);
  const lo = fmix32((h2 + hi) | 0);
  return { hi, lo };
}

const KIND_DELETE = 1;
const KIND_BYTES = 2;
const KIND_TRUE = 3;
const KIND_JSON = 4;

/** Hash of an object as stored: ref plus canonical siblings. Undefined for no siblings (absent). */
export function entryHash(ref: Uint8Array, siblings: readonly Sibling[]): EntryHash | undefined {
  if (siblings.length === 0) return undefined;
  hashStart();
  hashBytes(ref);
  return hashSiblings(siblings);
}

/** `entryHash(encodeRef(bucket, key), siblings)`: the same bytes fed, without building the ref. */
export function entryHashOf(bucket: Uint8Array, key: Uint8Array, siblings: readonly Sibling[]): EntryHash | undefined {
  if (siblings.length === 0) return undefined;
  const n = bucket.length;
  const total = 4 + n + key.length;
  hashStart();
  hashNumber(total);
  if (total > NATIVE_HASH_BYTES) {
    // Long refs are hashed natively, as hashBytes does: same digest, from the same bytes.
    const d = createHash('sha1').update(encodeRef(bucket, key)).digest();
    for (let i = 0; i < d.length; i++) hashByte(d[i]!);
  } else {
    hashByte(n >>> 24);
    hashByte((n >>> 16) & 0xff);
    hashByte((n >>> 8) & 0xff);
    hashByte(n & 0xff);
    for (let i = 0; i < n; i++) hashByte(bucket[i]!);
    for (let i = 0; i < key.length; i++) hashByte(key[i]!);
  }
  return hashSiblings(siblings);
}

/** The sibling half of an entry hash (after the ref was fed), and the digest. */
function hashSiblings(siblings: readonly Sibling[]): EntryHash {
  hashNumber(siblings.length);
  const ordered = siblings.length === 1 ? siblings : [...siblings].sort(canonicalOrder);
  for (const s of ordered) {
    hashNumber(s.version.ts);
    hashString(s.version.actor);
    const actors = Object.keys(s.version.vv);
    if (actors.length > 1) actors.sort();
    hashNumber(actors.length);
    for (const a of actors) {
      hashString(a);
      hashNumber(s.version.vv[a]!);
    }
    const v = s.value;
    if (s.tombstone) hashByte(KIND_DELETE);
    else if (v instanceof Uint8Array) {
      hashByte(KIND_BYTES);
      hashBytes(v);
    } else if (v === true) hashByte(KIND_TRUE);
    else {
      hashByte(KIND_JSON);
      hashString(JSON.stringify(v) ?? 'undefined');
    }
  }
  const d = hashDigest();
  // {0, 0} means "absent" on the wire; a real object never hashes to it (odds 2^-64, made zero).
  return d.hi === 0 && d.lo === 0 ? { hi: 0, lo: 1 } : d;
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
