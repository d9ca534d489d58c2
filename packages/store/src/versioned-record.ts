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

/**
 * The record of `siblings`, in a fresh array of its exact size that nothing else refers to (a
 * backend may keep it as it is). Records of the usual shape (bytes, `true` or a tombstone for
 * the value, ASCII actor names) are written here directly; anything else goes through msgpackr.
 * Both are the same msgpack, decoded by msgpackr.
 *
 * Why not msgpackr for all: it packs into a shared 8 KB buffer and allocates a new one (outside
 * the heap) whenever less than 2 KB is left, i.e. every few dozen records, and hands out a view
 * into it that the backend then copies; with three replicas writing every record, that was
 * about 7% of a replicated write's CPU in the in-process ring bench.
 */
export function encodeSiblings(siblings: readonly Sibling[]): Uint8Array {
  return writeRecord(siblings) ?? new Uint8Array(packr.pack([FORMAT, siblings.map((s) => [s.value, s.tombstone ? TOMBSTONE : 0, s.version.vv, s.version.ts, s.version.actor])]));
}

// The record writer's scratch space, grown as needed; a record is copied out of it once whole.
let scratch = new Uint8Array(1024);
let scratchView = new DataView(scratch.buffer);
let at = 0;

function room(bytes: number): void {
  if (at + bytes <= scratch.length) return;
  const grown = new Uint8Array(Math.max(scratch.length * 2, at + bytes));
  grown.set(scratch.subarray(0, at));
  scratch = grown;
  scratchView = new DataView(grown.buffer);
}

function put(byte: number): void {
  scratch[at++] = byte;
}

/** msgpack array header. */
function arrayHeader(n: number): void {
  room(5);
  if (n < 16) put(0x90 | n);
  else if (n < 0x10000) {
    put(0xdc);
    scratchView.setUint16(at, n);
    at += 2;
  } else {
    put(0xdd);
    scratchView.setUint32(at, n);
    at += 4;
  }
}

/** A number as msgpackr writes it: 32-bit integers compactly, anything else as a float64. */
function number(v: number): void {
  room(9);
  if (Number.isInteger(v) && v >= 0 && v <= 0xffffffff) {
    if (v < 0x80) put(v);
    else if (v < 0x100) {
      put(0xcc);
      put(v);
    } else if (v < 0x10000) {
      put(0xcd);
      scratchView.setUint16(at, v);
      at += 2;
    } else {
      put(0xce);
      scratchView.setUint32(at, v);
      at += 4;
    }
  } else if (Number.isInteger(v) && v < 0 && v >= -0x80000000) {
    put(0xd2);
    scratchView.setInt32(at, v);
    at += 4;
  } else {
    put(0xcb);
    scratchView.setFloat64(at, v);
    at += 8;
  }
}

/** An ASCII string; false for any other (what was written then does not matter: the record is abandoned). */
function ascii(s: string): boolean {
  const n = s.length;
  room(5 + n);
  if (n < 32) put(0xa0 | n);
  else if (n < 0x100) {
    put(0xd9);
    put(n);
  } else if (n < 0x10000) {
    put(0xda);
    scratchView.setUint16(at, n);
    at += 2;
  } else {
    put(0xdb);
    scratchView.setUint32(at, n);
    at += 4;
  }
  for (let i = 0; i < n; i++) {
    const c = s.charCodeAt(i);
    if (c > 0x7f) return false;
    scratch[at++] = c;
  }
  return true;
}

function bytes(b: Uint8Array): void {
  const n = b.length;
  room(5 + n);
  if (n < 0x100) {
    put(0xc4);
    put(n);
  } else if (n < 0x10000) {
    put(0xc5);
    scratchView.setUint16(at, n);
    at += 2;
  } else {
    put(0xc6);
    scratchView.setUint32(at, n);
    at += 4;
  }
  scratch.set(b, at);
  at += n;
}

/** `[FORMAT, [[value, flags, vv, ts, actor], ...]]` written directly; undefined when a part is not of the usual shape. */
function writeRecord(siblings: readonly Sibling[]): Uint8Array | undefined {
  at = 0;
  arrayHeader(2);
  put(FORMAT);
  arrayHeader(siblings.length);
  for (const s of siblings) {
    room(2);
    put(0x95);
    const v = s.value;
    if (v instanceof Uint8Array) bytes(v);
    else if (v === true) put(0xc3);
    else if (v === null) put(0xc0);
    else return undefined;
    put(s.tombstone ? TOMBSTONE : 0);
    const { vv, ts, actor } = s.version;
    if (typeof ts !== 'number' || typeof actor !== 'string' || vv === null || typeof vv !== 'object') return undefined;
    const actors = Object.keys(vv);
    if (actors.length >= 16) return undefined;
    room(1);
    put(0x80 | actors.length);
    for (const a of actors) {
      const n = vv[a];
      if (typeof n !== 'number' || !ascii(a)) return undefined;
      number(n);
    }
    number(ts);
    if (!ascii(actor)) return undefined;
  }
  return scratch.slice(0, at);
}

/**
 * Decoded records of backends whose stored arrays never change ({@link Backend.valuesImmutable}),
 * kept on the array itself: a hot object (the bucket object every put reads, a key written
 * again and again) is decoded once per write instead of on every read, merge and fold, and a
 * record the backend no longer holds is forgotten with it. A symbol-keyed property rather than
 * a WeakMap: a WeakMap entry per stored record (one per write on every replica) cost about 5%
 * of a replicated write's CPU in the in-process ring bench, in the map and in the collector's
 * ephemeron work. The property is invisible to everything but this module (not enumerable by
 * key, not copied by a transport or an encoder, which read the bytes). The sibling lists are
 * frozen: every reader shares them.
 */
const DECODED: unique symbol = Symbol('ringkv.decodedRecord');

interface DecodedCarrier extends Uint8Array {
  [DECODED]?: Sibling[];
}

function frozen(siblings: Sibling[]): Sibling[] {
  for (const s of siblings) {
    // Most siblings of a merged record come from an earlier one, frozen then.
    if (Object.isFrozen(s) && Object.isFrozen(s.version) && Object.isFrozen(s.version.vv)) continue;
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
  const carrier = bytes as DecodedCarrier;
  let siblings = carrier[DECODED];
  if (siblings === undefined) {
    siblings = frozen(decodeSiblings(bytes, where));
    carrier[DECODED] = siblings;
  }
  return siblings;
}

/** Records that `bytes`, just stored by an immutable-values backend, decode to `siblings` (a copy is kept). */
export function rememberStored(bytes: Uint8Array, siblings: readonly Sibling[]): void {
  (bytes as DecodedCarrier)[DECODED] = frozen(siblings.slice());
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
