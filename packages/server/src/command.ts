/**
 * The commands of the text protocol and the pure parser from one request line to one command.
 * Command words are case-sensitive and each takes an exact number of tokens (`SUBSCRIBE b` is
 * the newest guide's optional extension); anything else
 * (unknown word, wrong count, lowercase, blank line) is an unknown command.
 *
 * @example
 * parseLine(new TextEncoder().encode('CREATE  shopping  '));
 * // { op: 'CREATE', bucket: <shopping> }
 * parseLine(new TextEncoder().encode('GET shopping')); // { error: 'unknown' }
 */
import { tokenize } from './tokenizer.js';

export type Command =
  | { readonly op: 'CREATE'; readonly bucket: Uint8Array }
  | { readonly op: 'GET'; readonly bucket: Uint8Array; readonly key: Uint8Array }
  | { readonly op: 'PUT'; readonly bucket: Uint8Array; readonly key: Uint8Array; readonly value: Uint8Array }
  | { readonly op: 'DELETE'; readonly bucket: Uint8Array; readonly key: Uint8Array }
  | { readonly op: 'SUBSCRIBE'; readonly bucket: Uint8Array };

export type ParsedLine = Command | { readonly error: 'unknown' };

const UNKNOWN: ParsedLine = Object.freeze({ error: 'unknown' });

// Command words as byte strings, compared without decoding (tokens may be invalid UTF-8).
const WORDS = {
  CREATE: [0x43, 0x52, 0x45, 0x41, 0x54, 0x45],
  GET: [0x47, 0x45, 0x54],
  PUT: [0x50, 0x55, 0x54],
  DELETE: [0x44, 0x45, 0x4c, 0x45, 0x54, 0x45],
  SUBSCRIBE: [0x53, 0x55, 0x42, 0x53, 0x43, 0x52, 0x49, 0x42, 0x45],
} as const;

function is(token: Uint8Array, word: readonly number[]): boolean {
  if (token.length !== word.length) return false;
  for (let i = 0; i < word.length; i++) if (token[i] !== word[i]) return false;
  return true;
}

/** Parses one request line (without its LF). Tokens in the result are views into `line`. */
export function parseLine(line: Uint8Array): ParsedLine {
  const t = tokenize(line);
  const [w, a, b, c] = t;
  if (w === undefined || a === undefined) return UNKNOWN;
  switch (t.length) {
    case 2:
      if (is(w, WORDS.CREATE)) return { op: 'CREATE', bucket: a };
      if (is(w, WORDS.SUBSCRIBE)) return { op: 'SUBSCRIBE', bucket: a };
      return UNKNOWN;
    case 3:
      if (is(w, WORDS.GET)) return { op: 'GET', bucket: a, key: b! };
      if (is(w, WORDS.DELETE)) return { op: 'DELETE', bucket: a, key: b! };
      return UNKNOWN;
    case 4:
      return is(w, WORDS.PUT) ? { op: 'PUT', bucket: a, key: b!, value: c! } : UNKNOWN;
    default:
      return UNKNOWN;
  }
}
