/**
 * Buckets, keys and values are arbitrary bytes. These helpers turn API arguments into bytes
 * (strings are UTF-8 encoded) and bytes into Map keys without ever decoding them as UTF-8,
 * which would silently replace invalid sequences such as 0xff or 0xc3 0x28.
 */
import { ArgumentError, describeType, utf8Bytes } from '@ringkv/core';

/**
 * The bytes of a bucket name, key or value argument. `what` names the argument in the error.
 * Throws {@link ArgumentError} for anything but a string or a Uint8Array.
 */
export function argBytes(v: unknown, what: string): Uint8Array {
  if (v instanceof Uint8Array) return v;
  if (typeof v === 'string') return utf8Bytes(v);
  throw new ArgumentError(`${what} must be a string or a Uint8Array, got ${describeType(v)}`);
}

/** Like {@link argBytes}, but an empty name or key is an error (nothing can address it). */
export function nonEmptyArgBytes(v: unknown, what: string): Uint8Array {
  const bytes = argBytes(v, what);
  if (bytes.length === 0) throw new ArgumentError(`${what} must not be empty`);
  return bytes;
}

/**
 * A lossless string form of bytes, one char per byte (latin1): cheap to build, usable as a
 * Map key, and reversible with {@link fromKeyString}.
 */
export function keyString(bytes: Uint8Array): string {
  // Short names and keys (the common case, converted on every operation) are built char by
  // char: cheaper than wrapping them in a Buffer first. Long ones take the native path.
  if (bytes.length <= SHORT_KEY_BYTES) {
    let s = '';
    for (let i = 0; i < bytes.length; i++) s += String.fromCharCode(bytes[i]!);
    return s;
  }
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('latin1');
}

const SHORT_KEY_BYTES = 32;

export function fromKeyString(s: string): Uint8Array {
  return new Uint8Array(Buffer.from(s, 'latin1'));
}

/**
 * A copy that owns its memory (a caller's buffer may be a view into a larger, reused one).
 * Not `bytes.slice()`: on a Node Buffer (what msgpack and sockets hand out) that is a view.
 */
export function ownBytes(bytes: Uint8Array): Uint8Array {
  return new Uint8Array(bytes);
}

export function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** Byte-wise order, for deterministic listings. */
export function compareBytes(a: Uint8Array, b: Uint8Array): number {
  return Buffer.compare(a, b);
}
