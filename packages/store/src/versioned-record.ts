/**
 * How a versioned object's siblings are stored, and how objects that arrive from other nodes
 * are checked before they touch storage.
 *
 * A record is msgpack: `[1, [[value, flags, vv, ts, actor], ...]]`, where the leading 1 is the
 * format version and `flags` bit 0 marks a tombstone. Tuples rather than objects keep records
 * small: a sibling costs its value plus a few bytes per vector entry. Plain mode never touches
 * this code (no per-call msgpack on the fast path).
 */
import { ArgumentError, describeType, type BucketName, type Sibling, type VersionedObject, type VersionStamp } from '@ringkv/core';
import { Packr } from 'msgpackr';
import { StorageError } from './errors.js';

const FORMAT = 1;
const TOMBSTONE = 1;

const packr = new Packr({ useRecords: false, mapsAsObjects: true, moreTypes: false });

/** Bytes out of msgpack arrive as Buffers; hand out plain Uint8Array views so results compare equal everywhere. */
function plainBytes(v: unknown): unknown {
  return v instanceof Uint8Array && v.constructor !== Uint8Array ? new Uint8Array(v.buffer, v.byteOffset, v.byteLength) : v;
}

export function encodeSiblings(siblings: readonly Sibling[]): Uint8Array {
  return packr.pack([
    FORMAT,
    siblings.map((s) => [s.value, s.tombstone ? TOMBSTONE : 0, s.version.vv, s.version.ts, s.version.actor]),
  ]);
}

/**
 * Decoded records of backends whose stored arrays never change ({@link Backend.valuesImmutable}),
 * keyed by the array itself: a hot object (the bucket object every put reads, a key written
 * again and again) is decoded once per write instead of on every read, merge and fold. Weak,
 * so a record the backend no longer holds is forgotten with it. The sibling lists are frozen:
 * every reader shares them.
 */
const decodedRecords = new WeakMap<Uint8Array, Sibling[]>();

function frozen(siblings: Sibling[]): Sibling[] {
  for (const s of siblings) {
    Object.freeze(s.version.vv);
    Object.freeze(s.version);
    Object.freeze(s);
  }
  return Object.freeze(siblings) as Sibling[];
}

/**
 * {@link decodeSiblings} for a record the backend handed out; with `immutable` (the backend
 * promises the array never changes), the decoded list is kept with the array and shared.
 */
export function decodeStored(bytes: Uint8Array, where: string | (() => string), immutable: boolean): Sibling[] {
  if (!immutable) return decodeSiblings(bytes, where);
  let siblings = decodedRecords.get(bytes);
  if (siblings === undefined) {
    siblings = frozen(decodeSiblings(bytes, where));
    decodedRecords.set(bytes, siblings);
  }
  return siblings;
}

/** Records that `bytes`, just stored by an immutable-values backend, decode to `siblings` (a copy is kept). */
export function rememberStored(bytes: Uint8Array, siblings: readonly Sibling[]): void {
  decodedRecords.set(bytes, frozen(siblings.slice()));
}

/** `where` names the record in errors; a function is only called when one is raised (it is on every read's path). */
export function decodeSiblings(bytes: Uint8Array, where: string | (() => string)): Sibling[] {
  const name = () => (typeof where === 'string' ? where : where());
  let raw: unknown;
  try {
    raw = packr.unpack(bytes);
  } catch (err) {
    throw new StorageError(`stored record for ${name()} cannot be decoded: ${(err as Error).message}`, { cause: err });
  }
  if (!Array.isArray(raw) || raw[0] !== FORMAT || !Array.isArray(raw[1])) {
    throw new StorageError(`stored record for ${name()} has an unknown format`);
  }
  return (raw[1] as unknown[][]).map((t) => {
    const sibling: Sibling = {
      value: plainBytes(t[0]),
      version: { vv: t[2] as Record<string, number>, ts: t[3] as number, actor: t[4] as string },
      ...((t[1] as number) & TOMBSTONE ? { tombstone: true } : {}),
    };
    return sibling;
  });
}

/** Checks a version stamp from the wire; `what` names it in the error. */
export function checkStamp(v: unknown, what: string): VersionStamp {
  if (v === null || typeof v !== 'object') throw new ArgumentError(`${what} must be a version stamp {vv, ts, actor}, got ${describeType(v)}`);
  const { vv, ts, actor } = v as Record<string, unknown>;
  if (vv === null || typeof vv !== 'object' || Array.isArray(vv)) throw new ArgumentError(`${what}.vv must be an object of actor counters`);
  for (const [k, n] of Object.entries(vv)) {
    if (typeof n !== 'number' || !Number.isInteger(n) || n < 0) {
      throw new ArgumentError(`${what}.vv[${JSON.stringify(k)}] must be a non-negative integer, got ${describeType(n)} ${String(n)}`);
    }
  }
  if (typeof ts !== 'number' || !Number.isFinite(ts)) throw new ArgumentError(`${what}.ts must be a finite number, got ${describeType(ts)}`);
  if (typeof actor !== 'string') throw new ArgumentError(`${what}.actor must be a string, got ${describeType(actor)}`);
  return v as VersionStamp;
}

function checkSibling(v: unknown, what: string): Sibling {
  if (v === null || typeof v !== 'object') throw new ArgumentError(`${what} must be a sibling {value, version}, got ${describeType(v)}`);
  const s = v as Record<string, unknown>;
  if (s.tombstone !== undefined && typeof s.tombstone !== 'boolean') throw new ArgumentError(`${what}.tombstone must be a boolean`);
  checkStamp(s.version, `${what}.version`);
  if (!s.tombstone && !(s.value instanceof Uint8Array) && s.value !== true) {
    throw new ArgumentError(`${what}.value must be bytes (or true for a bucket), got ${describeType(s.value)}`);
  }
  if (s.tombstone) return { value: null, tombstone: true, version: s.version as VersionStamp };
  return { value: plainBytes(s.value), version: s.version as VersionStamp };
}

/** Checks a list of {@link VersionedObject}s given to `Replica` functions or under `resolve`. */
export function checkObjects(v: unknown, what: string): VersionedObject[] {
  if (!Array.isArray(v)) throw new ArgumentError(`${what} must be an array of versioned objects, got ${describeType(v)}`);
  return v.map((o, i) => {
    const where = `${what}[${i}]`;
    if (o === null || typeof o !== 'object') throw new ArgumentError(`${where} must be an object {bucket, key, siblings}, got ${describeType(o)}`);
    const { bucket, key, siblings } = o as Record<string, unknown>;
    if (typeof bucket !== 'string' && !(bucket instanceof Uint8Array)) {
      throw new ArgumentError(`${where}.bucket must be a string or a Uint8Array, got ${describeType(bucket)}`);
    }
    if (bucket.length === 0) throw new ArgumentError(`${where}.bucket must not be empty`);
    if (!(key instanceof Uint8Array)) throw new ArgumentError(`${where}.key must be a Uint8Array, got ${describeType(key)}`);
    if (!Array.isArray(siblings)) throw new ArgumentError(`${where}.siblings must be an array, got ${describeType(siblings)}`);
    return {
      bucket: bucket as BucketName,
      key: plainBytes(key) as Uint8Array,
      siblings: siblings.map((s, j) => checkSibling(s, `${where}.siblings[${j}]`)),
    };
  });
}
