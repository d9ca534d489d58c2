/**
 * Bucket names and keys are arbitrary bytes, carried percent-encoded in URL paths
 * (`/buckets/%FF%00/keys/a%2Fb`). Decoding is done here on the raw path, byte by byte, and never
 * through `decodeURIComponent`, which rejects bytes that are not UTF-8 and would make `%2F`
 * indistinguishable from a path separator.
 *
 * @example
 * decodePathSegment('a%2Fb%FF'); // Uint8Array [0x61, 0x2f, 0x62, 0xff]
 * encodePathSegment(new Uint8Array([0x61, 0x2f, 0xff])); // 'a%2F%FF'
 */
import { BadEncodingError } from './http-errors.js';

const encoder = new TextEncoder();
const strictDecoder = new TextDecoder('utf-8', { fatal: true });

function hexValue(c: number): number {
  if (c >= 0x30 && c <= 0x39) return c - 0x30;
  if (c >= 0x41 && c <= 0x46) return c - 0x41 + 10;
  if (c >= 0x61 && c <= 0x66) return c - 0x61 + 10;
  return -1;
}

/** The bytes of one percent-encoded path segment. Throws {@link BadEncodingError} on a broken `%` escape. */
export function decodePathSegment(segment: string, what = 'path segment'): Uint8Array {
  const raw = encoder.encode(segment);
  const out = new Uint8Array(raw.length);
  let n = 0;
  for (let i = 0; i < raw.length; i++) {
    const b = raw[i]!;
    if (b !== 0x25) {
      out[n++] = b;
      continue;
    }
    const hi = hexValue(raw[i + 1] ?? -1);
    const lo = hexValue(raw[i + 2] ?? -1);
    if (hi < 0 || lo < 0) {
      throw new BadEncodingError(`bad percent-encoding in the ${what} at byte ${i}: '%' must be followed by two hex digits`);
    }
    out[n++] = (hi << 4) | lo;
    i += 2;
  }
  return out.slice(0, n);
}

/** RFC 3986 unreserved characters stay as they are; every other byte becomes `%XX`. */
export function encodePathSegment(bytes: Uint8Array): string {
  let s = '';
  for (const b of bytes) {
    const unreserved = (b >= 0x30 && b <= 0x39) || (b >= 0x41 && b <= 0x5a) || (b >= 0x61 && b <= 0x7a) || b === 0x2d || b === 0x2e || b === 0x5f || b === 0x7e;
    s += unreserved ? String.fromCharCode(b) : `%${b.toString(16).toUpperCase().padStart(2, '0')}`;
  }
  return s;
}

/** The path of a request URL, split on `/` without decoding (so `%2F` stays inside its segment). */
export function rawPathSegments(url: string): string[] {
  const q = url.indexOf('?');
  const path = q === -1 ? url : url.slice(0, q);
  return path.split('/').slice(1);
}

/** A name as JSON wants it: its UTF-8 text, or undefined when the bytes are not UTF-8. */
export function utf8OrUndefined(bytes: Uint8Array): string | undefined {
  try {
    return strictDecoder.decode(bytes);
  } catch {
    return undefined;
  }
}
