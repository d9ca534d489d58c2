/**
 * MessagePack encoding of the payload domain in one pass, byte for byte what msgpackr's
 * `pack` writes with the codec's options (`useRecords: false`: objects as map16, integers in
 * their smallest form, other numbers as float64, strings as fixstr/str8/16/32, byte strings
 * as bin), so the peer decodes it with the same msgpackr `unpack` as before.
 *
 * Why not msgpackr's `pack`: every `Uint8Array` costs it a walk through its extension classes
 * (six `instanceof` tests), an allocation for the write position and a `TypedArray.set` call,
 * about 0.3 us for a 3-byte value; a replica batch holds several per message (bucket, key,
 * value of every object), so packing a batch of 25 puts cost about 90 us. And every message
 * was walked twice: once by `checkWireValue`, once by `pack`. This walk checks the domain as
 * it writes.
 *
 * It covers the domain's common part: null, undefined, booleans, numbers, strings, byte
 * strings, arrays and plain objects nested at most MAX_WIRE_DEPTH deep. On anything else (a
 * bigint, a value outside the domain, a cycle, an object with 65,536 keys or more) it answers
 * `undefined` and the caller takes the careful path (`checkWireValue`, which names what was
 * refused, then msgpackr), so what is refused and how it is said do not change.
 */
import { MAX_WIRE_DEPTH } from '@ringkv/core';

/** Answered by the walk for a value it leaves to the careful path. */
const BAIL = -1;

let buf = Buffer.allocUnsafe(64 * 1024);
let view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);

function room(pos: number, more: number): void {
  if (pos + more <= buf.length) return;
  let size = buf.length * 2;
  while (size < pos + more) size *= 2;
  const next = Buffer.allocUnsafe(size);
  buf.copy(next, 0, 0, pos);
  buf = next;
  view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
}

/** `[head, body]` (a request's type or a reply's tag, then the payload) as MessagePack, or undefined. */
export function encodeEnvelope(head: string | number, body: unknown): Uint8Array | undefined {
  buf[0] = 0x92;
  let pos = write(head, 1, 0);
  if (pos === BAIL) return undefined;
  pos = write(body, pos, 0);
  if (pos === BAIL) return undefined;
  const out = new Uint8Array(pos);
  out.set(buf.subarray(0, pos));
  return out;
}

/** Writes `value` at `pos`; the position after it, or BAIL. `depth` counts containers from the payload's root. */
function write(value: unknown, pos: number, depth: number): number {
  switch (typeof value) {
    case 'string':
      return writeString(value, pos);
    case 'number':
      return writeNumber(value, pos);
    case 'boolean':
      room(pos, 1);
      buf[pos] = value ? 0xc3 : 0xc2;
      return pos + 1;
    case 'undefined':
      // msgpackr's undefined: fixext 1 of type 0, data 0.
      room(pos, 3);
      buf[pos] = 0xd4;
      buf[pos + 1] = 0;
      buf[pos + 2] = 0;
      return pos + 3;
    case 'object':
      break;
    default:
      return BAIL;
  }
  if (value === null) {
    room(pos, 1);
    buf[pos] = 0xc0;
    return pos + 1;
  }
  if (value instanceof Uint8Array) return writeBytes(value, pos);
  if (depth >= MAX_WIRE_DEPTH) return BAIL;
  if (Array.isArray(value)) {
    const n = value.length;
    room(pos, 5);
    if (n < 0x10) buf[pos++] = 0x90 | n;
    else if (n < 0x10000) {
      buf[pos] = 0xdc;
      buf[pos + 1] = n >> 8;
      buf[pos + 2] = n & 0xff;
      pos += 3;
    } else {
      buf[pos] = 0xdd;
      view.setUint32(pos + 1, n);
      pos += 5;
    }
    for (let i = 0; i < n; i++) {
      pos = write(value[i], pos, depth + 1);
      if (pos === BAIL) return BAIL;
    }
    return pos;
  }
  const proto = Object.getPrototypeOf(value) as unknown;
  if (proto !== Object.prototype && proto !== null) return BAIL;
  const keys = Object.keys(value);
  const n = keys.length;
  if (n >= 0x10000 || Object.getOwnPropertySymbols(value).length > 0) return BAIL;
  // Always map16, as msgpackr writes objects without records.
  room(pos, 3);
  buf[pos] = 0xde;
  buf[pos + 1] = n >> 8;
  buf[pos + 2] = n & 0xff;
  pos += 3;
  for (let i = 0; i < n; i++) {
    const key = keys[i]!;
    pos = writeString(key, pos);
    pos = write((value as Record<string, unknown>)[key], pos, depth + 1);
    if (pos === BAIL) return BAIL;
  }
  return pos;
}

function writeNumber(v: number, pos: number): number {
  room(pos, 9);
  if (v >>> 0 === v) {
    // Non-negative integer of 32 bits or less (-0 included: it is written as 0).
    if (v < 0x80) buf[pos++] = v;
    else if (v < 0x100) {
      buf[pos] = 0xcc;
      buf[pos + 1] = v;
      pos += 2;
    } else if (v < 0x10000) {
      buf[pos] = 0xcd;
      buf[pos + 1] = v >> 8;
      buf[pos + 2] = v & 0xff;
      pos += 3;
    } else {
      buf[pos] = 0xce;
      view.setUint32(pos + 1, v);
      pos += 5;
    }
    return pos;
  }
  if (v >> 0 === v) {
    if (v >= -0x20) buf[pos++] = 0x100 + v;
    else if (v >= -0x80) {
      buf[pos] = 0xd0;
      buf[pos + 1] = v + 0x100;
      pos += 2;
    } else if (v >= -0x8000) {
      buf[pos] = 0xd1;
      view.setInt16(pos + 1, v);
      pos += 3;
    } else {
      buf[pos] = 0xd2;
      view.setInt32(pos + 1, v);
      pos += 5;
    }
    return pos;
  }
  buf[pos] = 0xcb;
  view.setFloat64(pos + 1, v);
  return pos + 9;
}

function writeString(s: string, pos: number): number {
  const chars = s.length;
  if (chars < 0x40) {
    // Short: encoded by a loop, as msgpackr does (a lone surrogate as its 3-byte form), then
    // moved behind a longer header if the bytes outgrew the one-byte header.
    room(pos, 5 + chars * 3);
    let at = pos + 1;
    for (let i = 0; i < chars; i++) {
      let c = s.charCodeAt(i);
      if (c < 0x80) buf[at++] = c;
      else if (c < 0x800) {
        buf[at++] = (c >> 6) | 0xc0;
        buf[at++] = (c & 0x3f) | 0x80;
      } else {
        let c2: number;
        if ((c & 0xfc00) === 0xd800 && ((c2 = s.charCodeAt(i + 1)) & 0xfc00) === 0xdc00) {
          c = 0x10000 + ((c & 0x03ff) << 10) + (c2 & 0x03ff);
          i++;
          buf[at++] = (c >> 18) | 0xf0;
          buf[at++] = ((c >> 12) & 0x3f) | 0x80;
          buf[at++] = ((c >> 6) & 0x3f) | 0x80;
          buf[at++] = (c & 0x3f) | 0x80;
        } else {
          buf[at++] = (c >> 12) | 0xe0;
          buf[at++] = ((c >> 6) & 0x3f) | 0x80;
          buf[at++] = (c & 0x3f) | 0x80;
        }
      }
    }
    const length = at - pos - 1;
    if (length < 0x20) {
      buf[pos] = 0xa0 | length;
      return at;
    }
    // At most 63 chars of 3 bytes: str8.
    buf.copyWithin(pos + 2, pos + 1, at);
    buf[pos] = 0xd9;
    buf[pos + 1] = length;
    return at + 1;
  }
  // Long: Node's UTF-8 writer, as msgpackr uses for these (a lone surrogate becomes U+FFFD).
  const length = Buffer.byteLength(s, 'utf8');
  room(pos, 5 + length);
  pos = lengthHeader(pos, length, 0xd9);
  return pos + buf.write(s, pos, length, 'utf8');
}

function writeBytes(b: Uint8Array, pos: number): number {
  const n = b.length;
  room(pos, 5 + n);
  pos = lengthHeader(pos, n, 0xc4);
  // Short ones by a loop: `set` is a call into the runtime, dearer than a few byte copies.
  if (n <= 32) for (let i = 0; i < n; i++) buf[pos + i] = b[i]!;
  else buf.set(b, pos);
  return pos + n;
}

/**
 * The 8/16/32-bit length header of a str (`code8` 0xd9) or bin (0xc4): the three codes follow
 * each other. The position after it; room for 5 bytes is the caller's.
 */
function lengthHeader(pos: number, n: number, code8: number): number {
  if (n < 0x100) {
    buf[pos] = code8;
    buf[pos + 1] = n;
    return pos + 2;
  }
  if (n < 0x10000) {
    buf[pos] = code8 + 1;
    buf[pos + 1] = n >> 8;
    buf[pos + 2] = n & 0xff;
    return pos + 3;
  }
  buf[pos] = code8 + 2;
  view.setUint32(pos + 1, n);
  return pos + 5;
}
