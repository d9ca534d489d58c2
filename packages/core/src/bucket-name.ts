/**
 * Bucket names are arbitrary bytes. A string name is its UTF-8 encoding, so routing on the
 * first byte of `"ção"` uses 0xC3, not the code point.
 */
import { ArgumentError, EmptyBucketError } from './errors.js';

/** A bucket name: a string (UTF-8) or raw bytes. */
export type BucketName = string | Uint8Array;

const encoder = new TextEncoder();
const strictDecoder = new TextDecoder('utf-8', { fatal: true });

/**
 * Strings up to this long are encoded by a loop when they are ASCII: Node 20's
 * `TextEncoder.encode` costs about a microsecond per call whatever the length (a bucket name
 * or a key is converted on every call, several times per replicated write); the loop costs
 * tens of nanoseconds. Longer strings, and any with a non-ASCII character, take the encoder.
 */
const ASCII_LOOP_MAX = 256;

/** The UTF-8 bytes of `s`, as `new TextEncoder().encode(s)` gives them (a plain Uint8Array), faster for short ASCII. */
export function utf8Bytes(s: string): Uint8Array {
  const n = s.length;
  if (n > ASCII_LOOP_MAX) return encoder.encode(s);
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i++) {
    const c = s.charCodeAt(i);
    if (c > 0x7f) return encoder.encode(s);
    out[i] = c;
  }
  return out;
}

/** The bytes of a bucket name. Throws {@link ArgumentError} for anything but a string or bytes. */
export function bucketBytes(bucket: BucketName): Uint8Array {
  if (typeof bucket === 'string') return utf8Bytes(bucket);
  if (bucket instanceof Uint8Array) return bucket;
  throw new ArgumentError(`bucket must be a string or a Uint8Array, got ${describeType(bucket)}`);
}

/** The routing key of the guide: the first byte of the bucket's bytes. */
export function firstByte(bucket: BucketName): number {
  const bytes = bucketBytes(bucket);
  const first = bytes[0];
  if (first === undefined) {
    throw new EmptyBucketError('bucket name is empty: there is no first byte to route on');
  }
  return first;
}

/**
 * Renders a bucket for messages: valid UTF-8 as a JSON string literal (`"\u0000"`), other
 * bytes as `<<0xff, 0x00>>` so nothing a stranger sends can forge a message.
 */
export function renderBucket(bucket: BucketName): string {
  if (typeof bucket === 'string') return JSON.stringify(bucket);
  try {
    return JSON.stringify(strictDecoder.decode(bucket));
  } catch {
    const shown = Array.from(bucket.subarray(0, 64), (b) => `0x${b.toString(16).padStart(2, '0')}`);
    return `<<${shown.join(', ')}${bucket.length > 64 ? `, ... ${bucket.length} bytes` : ''}>>`;
  }
}

export function describeType(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'array';
  if (v instanceof Uint8Array) return 'bytes';
  return typeof v;
}
