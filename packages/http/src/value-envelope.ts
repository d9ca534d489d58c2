/**
 * How a value keeps its Content-Type: values are bytes end to end, so the HTTP layer wraps the
 * bytes it stores in a small envelope when the type is not the default, and unwraps on read.
 *
 *   "ringkv-http/1 " <content type> TAB <value bytes>
 *
 * - `application/octet-stream` values are stored raw: exactly what the text protocol and
 *   library callers store and read, and raw bytes read over HTTP come back with that type.
 * - The envelope holds a space, a byte no text-protocol value can hold (whitespace separates
 *   tokens), so a value written with `PUT bucket key value` is never taken for an envelope;
 *   and it holds no CR or LF, so the text protocol's GET answers it on one line
 *   (`ringkv-http/1 text/plain<TAB>3`). A raw value that starts with the prefix is wrapped
 *   anyway (typed octet-stream), so HTTP round-trips every byte sequence exactly.
 * - Accepted content types are printable ASCII (no TAB), so the first TAB ends the type.
 *
 * @example
 * const stored = wrapValue(new TextEncoder().encode('{"a":1}'), 'application/json');
 * unwrapValue(stored); // { contentType: 'application/json', value: <{"a":1}> }
 */
import { BadHttpRequestError } from './http-errors.js';

export const DEFAULT_CONTENT_TYPE = 'application/octet-stream';
const MAGIC = new TextEncoder().encode('ringkv-http/1 ');
const TAB = 0x09;
/** Longest Content-Type kept: header values are bounded by the server's header limit anyway. */
export const MAX_CONTENT_TYPE_LENGTH = 256;

export interface TypedValue {
  contentType: string;
  value: Uint8Array;
}

function startsWithMagic(bytes: Uint8Array): boolean {
  if (bytes.length < MAGIC.length) return false;
  for (let i = 0; i < MAGIC.length; i++) if (bytes[i] !== MAGIC[i]) return false;
  return true;
}

/** Checks a request's Content-Type (absent: the default) and normalises its spacing. */
export function checkContentType(header: string | undefined): string {
  if (header === undefined || header.trim() === '') return DEFAULT_CONTENT_TYPE;
  const type = header.trim();
  if (type.length > MAX_CONTENT_TYPE_LENGTH) {
    throw new BadHttpRequestError(`Content-Type is longer than ${MAX_CONTENT_TYPE_LENGTH} characters`);
  }
  // Printable ASCII only (no TAB, which ends the type in the envelope); the rest is refused, not stored.
  if (!/^[\x20-\x7e]+$/.test(type) || !/^[!#$%&'*+.^_`|~0-9A-Za-z-]+\/[!#$%&'*+.^_`|~0-9A-Za-z-]+/.test(type)) {
    throw new BadHttpRequestError('Content-Type must be a media type such as text/plain (printable ASCII)');
  }
  return type;
}

/** The bytes to store for `value` sent with `contentType`. */
export function wrapValue(value: Uint8Array, contentType: string): Uint8Array {
  if (contentType.toLowerCase() === DEFAULT_CONTENT_TYPE && !startsWithMagic(value)) return value;
  const type = new TextEncoder().encode(`${contentType}\t`);
  const out = new Uint8Array(MAGIC.length + type.length + value.length);
  out.set(MAGIC, 0);
  out.set(type, MAGIC.length);
  out.set(value, MAGIC.length + type.length);
  return out;
}

/** The value and type of stored bytes: an envelope is opened, anything else is raw octet-stream. */
export function unwrapValue(stored: Uint8Array): TypedValue {
  if (!startsWithMagic(stored)) return { contentType: DEFAULT_CONTENT_TYPE, value: stored };
  const lf = stored.indexOf(TAB, MAGIC.length);
  if (lf === -1 || lf - MAGIC.length > MAX_CONTENT_TYPE_LENGTH) return { contentType: DEFAULT_CONTENT_TYPE, value: stored };
  const contentType = new TextDecoder().decode(stored.subarray(MAGIC.length, lf));
  if (!/^[\x20-\x7e]+$/.test(contentType)) return { contentType: DEFAULT_CONTENT_TYPE, value: stored };
  return { contentType, value: stored.subarray(lf + 1) };
}
